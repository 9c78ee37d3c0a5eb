r"""Train the demo's scene classifier (either scene variant).

``captum-fido train-classifier`` (:mod:`captum_fido.cli.train_classifier`)
runs :func:`train_classifier`::

    captum-fido train-classifier                       # default scenes
    captum-fido train-classifier --variant context \
        --init captum_fido/demo/weights/classifier.pt \
        --n-train 8000 --lr 1e-3 --threads 1           # context scenes
    captum-fido train-classifier --tiny                # smoke test

The full run generates ``--n-train`` training scenes of the chosen
``--variant`` (see :mod:`captum_fido.demo.scenes`), trains
:class:`~captum_fido.demo.models.SceneClassifier` with AdamW and a one-cycle
schedule, reports validation accuracy after each epoch and test accuracy at
the end, and writes the state_dict where ``out`` says (the command:
``outputs/classifier.pt`` or ``outputs/classifier_<variant>.pt``, or
``--out``; never inside the installed package) plus a ``.json`` beside it
(settings, losses, accuracies, seconds, threads). Seeded: the same arguments
give the same weights on the same machine. The shipped files are
:func:`weights_path`; load a trained one with
:func:`~captum_fido.demo.pretrained.load_classifier` (``path=``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from captum_fido._utils import validation as V
from captum_fido.demo._training import (
    WEIGHTS_DIR,
    TrainingClock,
    finish_training,
    seed_everything,
)
from captum_fido.demo.models import SceneClassifier
from captum_fido.demo.scenes import VARIANTS, load_split

__all__ = ["train_classifier", "evaluate_accuracy", "weights_path"]


def weights_path(variant: str = "default") -> Path:
    r"""Where the shipped classifier of a scene variant lives.

    Args:
        variant (str, optional): One of
            :data:`~captum_fido.demo.scenes.VARIANTS`. Default ``"default"``.

    Returns:
        ``weights/classifier.pt`` for ``"default"``, otherwise
        ``weights/classifier_<variant>.pt``.

    Examples::

        >>> weights_path("context").name
        'classifier_context.pt'
    """
    V.check_choice(variant, "variant", list(VARIANTS), text=True)
    suffix = "" if variant == "default" else f"_{variant}"
    return WEIGHTS_DIR / f"classifier{suffix}.pt"


@torch.no_grad()
def evaluate_accuracy(
    model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 256
) -> float:
    r"""Top-1 accuracy of ``model`` (put in eval mode) on ``images``.

    Args:
        model (nn.Module): A classifier returning logits; it is left in eval
            mode.
        images (Tensor): ``(N, C, H, W)`` inputs.
        labels (Tensor): ``(N,)`` class indices.
        batch_size (int, optional): Images per forward pass. Default 256.

    Returns:
        float, the share of ``images`` whose top logit is the label.

    Examples::

        >>> from captum_fido.demo.pretrained import load_classifier
        >>> from captum_fido.demo.scenes import load_split
        >>> images, labels = load_split("test", 64)
        >>> evaluate_accuracy(load_classifier(), images, labels) > 0.9
        True
    """
    model.eval()
    correct = 0
    for i in range(0, len(images), batch_size):
        pred = model(images[i : i + batch_size]).argmax(1)
        correct += int((pred == labels[i : i + batch_size]).sum())
    return correct / len(images)


def _augment(x: Tensor, g: torch.Generator) -> Tensor:
    n = x.shape[0]
    flip = torch.rand(n, generator=g) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    gain = 0.8 + 0.4 * torch.rand(n, 1, 1, 1, generator=g)
    shift = 0.1 * (torch.rand(n, 1, 1, 1, generator=g) - 0.5)
    return (x * gain + shift).clamp(0, 1)


def train_classifier(
    n_train: int = 16000,
    n_val: int = 1000,
    n_test: int = 2000,
    epochs: int = 3,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    max_steps: Optional[int] = None,
    width: int = 32,
    out: Union[Path, str, None] = None,
    show_progress: bool = True,
    variant: str = "default",
    init: Union[Path, str, None] = None,
) -> Dict[str, Any]:
    r"""Train the classifier and (optionally) save it.

    Args:
        n_train, n_val, n_test (int): Scenes per split.
        epochs (int): Passes over the training scenes.
        batch_size (int): Mini-batch size.
        lr (float): Peak learning rate of the one-cycle schedule.
        seed (int): Seed of initialisation, shuffling and augmentation.
        max_steps (int, optional): Stop after this many steps (smoke tests).
        width (int): Width of :class:`SceneClassifier`.
        out (Path, optional): Where to write the state_dict (a ``.json``
            summary goes beside it). Default ``None``: nothing is written
            (the shipped file of ``variant`` is :func:`weights_path`).
        show_progress (bool): Show tqdm bars.
        variant (str): Scene variant to train and evaluate on, one of
            :data:`~captum_fido.demo.scenes.VARIANTS`. Default ``"default"``.
        init (Path, optional): A :class:`SceneClassifier` state_dict (of the
            same ``width``) to start from instead of a random initialisation,
            e.g. ``weights/classifier.pt`` to fine-tune the default-scene
            classifier on another variant. Default ``None``.

    Returns:
        dict with ``val_accuracy``, ``test_accuracy``, ``final_loss``,
        ``seconds`` (wall time), ``cpu_seconds``, ``threads``
        (``torch.get_num_threads()``), ``steps`` and ``settings``.

    Examples::

        >>> summary = train_classifier(n_train=64, n_val=16, n_test=16,
        ...                            max_steps=2, width=8, out=None,
        ...                            variant="context")
        >>> summary["steps"]
        2
    """
    if out is not None and not isinstance(out, (str, Path)):
        raise TypeError(f"out must be a path or None, got {type(out).__name__}")
    weights_path(variant)  # validates variant
    g, clock = seed_everything(seed), TrainingClock()
    train = load_split("train", n_train, variant=variant)
    val = load_split("val", n_val, variant=variant)
    model = _new_classifier(width, init)
    total = -(-n_train // batch_size) * epochs  # whole epochs
    total = total if max_steps is None else min(total, max_steps)
    bar = tqdm(total=total, desc=f"classifier ({variant})", disable=not show_progress)
    losses, history, step = _fit(model, train, val, g, total, batch_size, lr, bar)
    bar.close()
    del train
    test_acc = evaluate_accuracy(model, *load_split("test", n_test, variant=variant))
    summary = {
        "val_accuracy": history[-1],
        "val_history": history,
        "test_accuracy": test_acc,
        "n_test": n_test,
        "final_loss": sum(losses[-50:]) / len(losses[-50:]),
        **clock.summary(step),
        "settings": dict(
            variant=variant,
            n_train=n_train,
            n_val=n_val,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            width=width,
            init=None if init is None else Path(init).name,
        ),
    }
    return finish_training(
        model,
        summary,
        None if out is None else Path(out),
        f"classifier ({variant}): test accuracy {test_acc:.4f} on {n_test} "
        f"held-out scenes, {summary['seconds']:.0f} s, "
        f"{summary['threads']} thread(s)",
    )


def _new_classifier(width: int, init: Union[Path, str, None]) -> SceneClassifier:
    r"""A :class:`SceneClassifier`, started from the state_dict ``init`` when
    one is given."""
    model = SceneClassifier(width=width)
    if init is not None:
        if not isinstance(init, (str, Path)):
            raise TypeError(f"init must be a path or None, got {type(init).__name__}")
        if not Path(init).is_file():
            raise ValueError(f"init must be an existing state_dict file, got {init}")
        model.load_state_dict(torch.load(init, map_location="cpu", weights_only=True))
    return model


def _fit(
    model: SceneClassifier,
    train: Tuple[Tensor, Tensor],
    val: Tuple[Tensor, Tensor],
    g: torch.Generator,
    total: int,
    batch_size: int,
    lr: float,
    bar: Any,
) -> Tuple[List[float], List[float], int]:
    r"""``total`` AdamW steps on one-cycle learning rates over shuffled,
    augmented mini-batches, the validation accuracy after each pass; returns
    the step losses, the accuracies and the steps taken."""
    (x_train, y_train), n_train = train, train[0].shape[0]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total)
    step = 0
    losses: List[float] = []
    history: List[float] = []
    while step < total:
        model.train()
        order = torch.randperm(n_train, generator=g)
        for i in range(0, n_train, batch_size):
            if step >= total:
                break
            idx = order[i : i + batch_size]
            logits = model(_augment(x_train[idx], g))
            loss = F.cross_entropy(logits, y_train[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.3f}")
        val_acc = evaluate_accuracy(model, *val)
        history.append(val_acc)
        bar.write(f"epoch {len(history)}: val accuracy {val_acc:.4f}")
    return losses, history, step


if __name__ == "__main__":  # the command moved to captum_fido.cli
    raise SystemExit("run `captum-fido train-classifier`")
