r"""Train the demo's amortised FIDO explainer on the scenes domain.

``captum-fido train-explainer`` (:mod:`captum_fido.cli.train_explainer`) runs
:func:`train_scenes_explainer`::

    captum-fido train-explainer             # the shipped recipe
    captum-fido train-explainer --tiny      # smoke run

It trains a :class:`~captum_fido.attr.MaskExplainerNet` on the scenes domain's
training images with FIDO-SSR's loss (:func:`~captum_fido.attr.train_explainer`)
for the shipped classifier, with the demo's Blur in-filler (the fastest: its
fill is computed once per batch), and writes the weights (by default
``outputs/explainer_scenes.pt``) with a JSON summary (settings, losses, wall
time) beside it. It never writes into the installed package: the shipped
``weights/explainer_scenes.pt`` is replaced only by copying a file there by
hand. Load a file with :func:`captum_fido.demo.pretrained.load_explainer`.

For your own model and data, call :func:`captum_fido.attr.train_explainer`
directly::

    net, history = train_explainer(
        model, loader, infiller,      # loader yields (images, targets)
        options=FIDO_DEFAULTS.replace(n_steps=2000, n_samples=4, l1_coeff=1e-4),
    )
    maps = AmortisedFIDO(model, net, infiller).attribute(images, target=labels)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from captum_fido.attr import FIDO_DEFAULTS, train_explainer
from captum_fido.demo import DEMO_L1_COEFF
from captum_fido.demo._training import finish_training

__all__ = ["train_scenes_explainer", "EXPLAINER_SETTINGS"]

#: The shipped explainer's training settings (FIDO-SSR with the demo's fixed
#: sparsity weight, :data:`~captum_fido.demo.DEMO_L1_COEFF`).
EXPLAINER_SETTINGS: Dict[str, Any] = dict(
    steps=2400,
    batch_size=16,
    n_samples=1,
    l1_coeff=DEMO_L1_COEFF,
    n_scenes=12000,
    lr=3e-3,
    width=16,
    seed=0,
)


def train_scenes_explainer(
    steps: int,
    batch_size: int,
    n_samples: int,
    l1_coeff: float,
    n_scenes: int,
    lr: float,
    width: int,
    seed: int,
    out: Optional[Path],
    show_progress: bool = True,
) -> Dict[str, Any]:
    r"""Train the scenes explainer with the shipped classifier and the
    demo's Blur in-filler; write it (and its JSON summary) to ``out``.

    The shipped weights were trained with :data:`EXPLAINER_SETTINGS`.

    Args:
        steps (int): Adam steps (FIDO's ``n_steps``).
        batch_size (int): Images a step.
        n_samples (int): Mask samples per image a step.
        l1_coeff (float): FIDO's sparsity weight.
        n_scenes (int): Training scenes generated.
        lr (float): Adam's learning rate.
        width (int): Channels of the
            :class:`~captum_fido.attr.MaskExplainerNet`'s first block.
        seed (int): Random seed.
        out (Path, optional): Weights file to write (a ``.json`` summary goes
            beside it); ``None`` writes nothing.
        show_progress (bool, optional): Show a progress bar. Default True.

    Returns:
        The summary: settings, first and last losses (means of 20 steps),
        mean keep fraction at the end, ``seconds`` (wall) and
        ``classifier_rows``.

    Examples::

        >>> summary = train_scenes_explainer(
        ...     steps=3, batch_size=4, n_samples=1, l1_coeff=1e-4, n_scenes=32,
        ...     lr=3e-3, width=4, seed=0, out=None, show_progress=False,
        ... )
        >>> summary["settings"]["architecture"]
        'MaskExplainerNet'
        >>> shipped = train_scenes_explainer(**EXPLAINER_SETTINGS, out=None)
    """
    from captum_fido.demo.domains import load_domain
    from captum_fido.demo.infillers import demo_infillers

    domain = load_domain("scenes")
    images, labels, _ = domain.load_split("train", n_scenes)
    model = domain.load_classifier()
    fill = demo_infillers()["Blur"]
    options = FIDO_DEFAULTS.replace(
        n_steps=steps, n_samples=n_samples, l1_coeff=l1_coeff
    )
    net, history = train_explainer(
        model,
        (images, labels),
        fill,
        options=options,
        batch_size=batch_size,
        lr=lr,
        width=width,
        seed=seed,
        show_progress=show_progress,
    )
    summary: Dict[str, Any] = {
        **_measured(history),
        "settings": dict(
            architecture="MaskExplainerNet",
            domain="scenes",
            infiller="Blur (demo_infillers)",
            objective=net.objective,
            n_classes=net.n_classes,
            in_channels=net.in_channels,
            width=width,
            steps=steps,
            batch_size=batch_size,
            n_samples=n_samples,
            l1_coeff=l1_coeff,
            tv_coeff=options.effective_tv(on_grid=True),
            temperature=options.temperature,
            n_scenes=n_scenes,
            lr=lr,
            seed=seed,
        ),
    }
    return finish_training(
        net,
        summary,
        out,
        f"explainer: loss {summary['loss_first']:.3f} -> {summary['loss_last']:.3f}, "
        f"keep {summary['keep_last']:.2f}, {summary['seconds']:.0f} s",
    )


def _measured(history: Any) -> Dict[str, Any]:
    r"""First and last losses, last log-odds and keep fraction (means over 20
    steps), the wall time and the classifier rows of a training
    (``history``: what :func:`~captum_fido.attr.train_explainer` measured)."""
    window = min(20, len(history.loss))
    return {
        "loss_first": float(np.mean(history.loss[:window])),
        "loss_last": float(np.mean(history.loss[-window:])),
        "log_odds_last": float(np.mean(history.log_odds[-window:])),
        "keep_last": float(np.mean(history.keep[-window:])),
        "seconds": history.seconds,
        "classifier_rows": history.classifier_rows,
    }


if __name__ == "__main__":  # the command moved to captum_fido.cli
    raise SystemExit("run `captum-fido train-explainer`")
