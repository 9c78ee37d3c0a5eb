r"""``captum-fido train-classifier``: train the demo's scene classifier
(:func:`~captum_fido.demo.train_classifier.train_classifier`) on either
scene variant.

It writes ``outputs/classifier.pt`` (``outputs/classifier_<variant>.pt``
for another variant) or ``--out``, never inside the installed package; load
the file with ``captum_fido.demo.pretrained.load_classifier(path)``.

Examples::

    captum-fido train-classifier --tiny --out /tmp/classifier.pt   # smoke
    captum-fido train-classifier --variant context \
        --init captum_fido/demo/weights/classifier.pt --n-train 8000 --lr 1e-3
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

from captum_fido.cli._common import add_float, add_int, add_path, document_main
from captum_fido.cli._training import TrainingCommand
from captum_fido.demo.scenes import VARIANTS
from captum_fido.demo.train_classifier import train_classifier, weights_path

__all__ = ["main"]


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--variant", choices=VARIANTS, default="default", help="scene variant"
    )
    add_int(p, "--n-train", 16000, "training scenes")
    add_int(p, "--epochs", 3, "epochs")
    add_int(p, "--batch-size", 64, "scenes a step")
    add_float(p, "--lr", 3e-3, "peak one-cycle learning rate", low=1e-12)
    add_int(p, "--steps", None, "stop after N steps")
    add_int(p, "--n-val", 1000, "validation scenes")
    add_int(p, "--n-test", 2000, "test scenes")
    add_path(
        p, "--init", None, "start from this state_dict (e.g. weights/classifier.pt)"
    )


#: The parser and checks the training commands share (--seed, --out, ...).
COMMAND = TrainingCommand(
    "train-classifier",
    "Train the demo's scene classifier on a scene variant; write its "
    "state_dict and a JSON summary beside it.",
    _options,
    out_default=None,
    out_help="state_dict file to write, a .json summary beside it (default: "
    "outputs/classifier.pt, outputs/classifier_<variant>.pt for another "
    "variant; never inside the installed package)",
    use="load it with captum_fido.demo.pretrained.load_classifier(path)",
    tiny="smoke test: 64 scenes, 3 steps, narrow model",
    default_out=lambda a: Path("outputs") / weights_path(a.variant).name,
)


@document_main
def main(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> int:
    r"""Run the train-classifier command (its ``--help`` lists the options).

    {main_args}

    Examples::

        >>> main(["--tiny", "--variant", "context", "--out", "/tmp/c.pt"])
        0
    """
    a = COMMAND.parse(argv, prog)
    if a.tiny:
        a.n_train, a.steps, a.epochs = 64, a.steps or 3, 1
    train_classifier(
        n_train=a.n_train,
        n_val=64 if a.tiny else a.n_val,
        n_test=64 if a.tiny else a.n_test,
        epochs=a.epochs,
        batch_size=a.batch_size,
        lr=a.lr,
        seed=a.seed,
        max_steps=a.steps,
        width=8 if a.tiny else 32,
        out=a.out,
        show_progress=not a.no_progress,
        variant=a.variant,
        init=a.init,
    )
    return 0
