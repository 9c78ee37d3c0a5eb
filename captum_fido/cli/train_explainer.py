r"""``captum-fido train-explainer``: train the amortised FIDO-SSR explainer of
the scenes domain (:func:`~captum_fido.demo.train_explainer.train_scenes_explainer`)
and write its weights, never inside the installed package.

Examples::

    captum-fido train-explainer --tiny --out /tmp/explainer.pt   # smoke run
    captum-fido train-explainer          # the shipped recipe, outputs/...
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Optional, Sequence

from captum_fido.cli._common import add_float, add_int, document_main
from captum_fido.cli._training import TrainingCommand
from captum_fido.demo.train_explainer import EXPLAINER_SETTINGS, train_scenes_explainer

__all__ = ["main"]


def _options(p: argparse.ArgumentParser) -> None:
    s = EXPLAINER_SETTINGS
    add_int(p, "--steps", s["steps"], "Adam steps")
    add_int(p, "--batch-size", s["batch_size"], "images a step")
    add_int(p, "--n-samples", s["n_samples"], "mask samples per image a step")
    add_float(p, "--l1-coeff", s["l1_coeff"], "FIDO's sparsity weight")
    add_int(p, "--n-scenes", s["n_scenes"], "training scenes generated")
    add_float(p, "--lr", s["lr"], "Adam learning rate", low=1e-12)
    add_int(p, "--width", s["width"], "network channels")


#: The parser and checks the training commands share (--seed, --out, ...).
COMMAND = TrainingCommand(
    "train-explainer",
    "Train the amortised FIDO-SSR explainer on the scenes domain.",
    _options,
    out_default=Path("outputs/explainer_scenes.pt"),
    out_help="weights file to write, a .json summary beside it (never inside "
    "the installed package)",
    use="load it with captum_fido.demo.pretrained.load_explainer(path)",
    tiny="smoke run: 3 steps, 32 scenes",
    seed=EXPLAINER_SETTINGS["seed"],
)


@document_main
def main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    r"""Run the train-explainer command (its ``--help`` lists the options).

    {main_args}

    Examples::

        >>> main(["--tiny", "--no-progress", "--out", "/tmp/explainer.pt"])
        0
    """
    a = COMMAND.parse(argv, prog)
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
