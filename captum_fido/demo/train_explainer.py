r"""Train the demo's amortised FIDO explainer on the scenes domain.

Usage::

    python -m captum_fido.demo.train_explainer             # the shipped recipe
    python -m captum_fido.demo.train_explainer --tiny      # smoke run

Trains a :class:`~captum_fido.attr.MaskExplainerNet` on the scenes domain's
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

import argparse
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import numpy as np

import captum_fido
from captum_fido._utils.cli import (
    float_at_least,
    int_at_least,
    make_parser,
    output_folder,
)
from captum_fido.attr import FIDO_DEFAULTS, train_explainer
from captum_fido.demo._training import save_state, set_threads

__all__ = ["main", "train_scenes_explainer", "EXPLAINER_SETTINGS"]

#: The shipped explainer's training settings (the demo's FIDO-SSR settings:
#: l1 1e-4, as ``python -m captum_fido compare`` uses).
EXPLAINER_SETTINGS: Dict[str, Any] = dict(
    steps=2400,
    batch_size=16,
    n_samples=1,
    l1_coeff=1e-4,
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
    from captum_fido.demo.compare import demo_infillers
    from captum_fido.demo.domains import load_domain

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
    window = min(20, len(history.loss))
    summary: Dict[str, Any] = {
        "loss_first": float(np.mean(history.loss[:window])),
        "loss_last": float(np.mean(history.loss[-window:])),
        "log_odds_last": float(np.mean(history.log_odds[-window:])),
        "keep_last": float(np.mean(history.keep[-window:])),
        "seconds": history.seconds,
        "classifier_rows": history.classifier_rows,
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
    print(
        f"explainer: loss {summary['loss_first']:.3f} -> {summary['loss_last']:.3f}, "
        f"keep {summary['keep_last']:.2f}, {summary['seconds']:.0f} s"
    )
    if out is not None:
        save_state(net, Path(out), summary)
        print(f"wrote {out}")
    return summary


def _check_out(p: argparse.ArgumentParser, out: Path) -> None:
    r"""Refuse, before any work, an ``--out`` inside the installed package
    (a command never overwrites package files, the shipped weights above
    all) or one that cannot be written."""
    package = Path(captum_fido.__file__).resolve().parent
    target = out.resolve()
    if target == package or package in target.parents:
        p.error(
            f"--out {out} is inside the installed package ({package}); write the "
            "weights elsewhere (default outputs/explainer_scenes.pt) and load "
            "them with captum_fido.demo.pretrained.load_explainer(path)"
        )
    if out.suffix.lower() == ".json":
        p.error(f"--out {out}: the JSON summary goes beside the weights; name a .pt")
    if out.is_dir():
        p.error(f"--out {out} is a folder; give a file name")
    output_folder(p, "--out", out.parent)


def main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    r"""Command line of :func:`train_scenes_explainer`.

    Args:
        argv (list of str, optional): The arguments (default ``sys.argv``).
        prog (str, optional): The program name for ``usage:`` lines.

    Returns:
        int, the exit status (0).

    Examples::

        >>> main(["--tiny", "--no-progress", "--out", "/tmp/explainer.pt"])
        0
    """
    s = EXPLAINER_SETTINGS
    p = make_parser(
        "train-explainer",
        "Train the amortised FIDO-SSR explainer on the scenes domain.",
        prog,
    )
    at_least_1 = int_at_least(1)
    p.add_argument("--steps", type=at_least_1, default=s["steps"], help="Adam steps")
    p.add_argument(
        "--batch-size", type=at_least_1, default=s["batch_size"], help="images a step"
    )
    p.add_argument(
        "--n-samples",
        type=at_least_1,
        default=s["n_samples"],
        help="mask samples per image a step",
    )
    p.add_argument(
        "--l1-coeff",
        type=float_at_least(0.0),
        default=s["l1_coeff"],
        help="FIDO's sparsity weight",
    )
    p.add_argument(
        "--n-scenes",
        type=at_least_1,
        default=s["n_scenes"],
        help="training scenes generated",
    )
    p.add_argument(
        "--lr", type=float_at_least(1e-12), default=s["lr"], help="Adam learning rate"
    )
    p.add_argument(
        "--width", type=at_least_1, default=s["width"], help="network channels"
    )
    p.add_argument(
        "--seed", type=int_at_least(0), default=s["seed"], help="random seed"
    )
    p.add_argument(
        "--threads",
        type=at_least_1,
        default=None,
        help="torch threads (default: $OMP_NUM_THREADS or 1)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("outputs/explainer_scenes.pt"),
        help="weights file to write, a .json summary beside it (never inside "
        "the installed package)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--tiny", action="store_true", help="smoke run: 3 steps, 32 scenes")
    a = p.parse_args(argv)
    _check_out(p, a.out)
    set_threads(a.threads)
    started = time.time()
    train_scenes_explainer(
        steps=3 if a.tiny else a.steps,
        batch_size=4 if a.tiny else a.batch_size,
        n_samples=a.n_samples,
        l1_coeff=a.l1_coeff,
        n_scenes=32 if a.tiny else a.n_scenes,
        lr=a.lr,
        width=4 if a.tiny else a.width,
        seed=a.seed,
        out=a.out,
        show_progress=not a.no_progress,
    )
    print(f"train-explainer: {time.time() - started:.0f} s wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
