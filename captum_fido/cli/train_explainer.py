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

from captum_fido.cli._common import (
    float_at_least,
    int_at_least,
    make_parser,
    set_threads,
    weights_file,
)
from captum_fido.demo.train_explainer import EXPLAINER_SETTINGS, train_scenes_explainer

__all__ = ["main"]

#: How to use a trained file, said by ``--help`` and by a refused ``--out``.
USE = "load it with captum_fido.demo.pretrained.load_explainer(path)"


def _parser(prog: Optional[str]) -> argparse.ArgumentParser:
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
        f"the installed package); {USE}",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--tiny", action="store_true", help="smoke run: 3 steps, 32 scenes")
    return p


def main(argv: Optional[Sequence[str]] = None, prog: Optional[str] = None) -> int:
    r"""Run the train-explainer command (its ``--help`` lists the options).

    Args:
        argv (list of str, optional): The arguments (default ``sys.argv``).
        prog (str, optional): The program name for ``usage:`` lines.

    Returns:
        int, the exit status (0).

    Examples::

        >>> main(["--tiny", "--no-progress", "--out", "/tmp/explainer.pt"])
        0
    """
    p = _parser(prog)
    a = p.parse_args(argv)
    weights_file(p, "--out", a.out, USE)
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
