r"""``captum-fido demo``: FIDO next to Captum's baselines on demo scenes.

Explains a few held-out test scenes with FIDO-SSR (the shipped in-painter)
and Captum's Saliency, LayerGradCam and Deconvolution
(:func:`~captum_fido.demo.showcase.explain_scenes`), writes one figure
(:func:`~captum_fido.demo.showcase.plot`) and prints, per method, the share
of each map's mass inside the ground-truth box.

Examples::

    captum-fido demo [--out outputs/demo.png] [--n-images 4] [--steps 300]
                     [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

import torch

from captum_fido.cli._common import (
    figure_path,
    float_at_least,
    int_at_least,
    make_parser,
)
from captum_fido.demo.scenes import SPLITS
from captum_fido.demo.showcase import box_mass, explain_scenes, plot

__all__ = ["main"]


def _parser(prog: Optional[str]) -> argparse.ArgumentParser:
    p = make_parser(
        "demo",
        "Explain demo scenes with FIDO-SSR (trained inpainter) and Captum's "
        "Saliency, LayerGradCam and Deconvolution; write a figure.",
        prog,
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("outputs/demo.png"),
        help="figure file (.png when the name has no suffix)",
    )
    p.add_argument(
        "--n-images", type=int_at_least(1), default=4, help="test scenes to explain"
    )
    p.add_argument(
        "--steps",
        type=int_at_least(1),
        default=None,
        help="FIDO optimisation steps (default: FIDO's)",
    )
    p.add_argument("--seed", type=int_at_least(0), default=0, help="FIDO's seed")
    p.add_argument(
        "--n-samples",
        type=int_at_least(1),
        default=None,
        help="mask samples per image per step (default: FIDO's)",
    )
    p.add_argument(
        "--offset", type=int_at_least(0), default=0, help="index of the first scene"
    )
    p.add_argument(
        "--l1-coeff",
        type=float_at_least(0.0),
        default=None,
        help="a fixed FIDO sparsity weight (default: FIDO's adaptive weight, "
        "which follows the model's logit scale)",
    )
    p.add_argument(
        "--threads",
        type=int_at_least(0),
        default=1,
        help="torch intra-op threads (1: the models are tiny, and on a busy "
        "machine more threads are slower; 0 keeps torch's default)",
    )
    return p


def main(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> int:
    r"""Run the demo command (``captum-fido demo --help`` lists the options).

    Args:
        argv (list of str, optional): The command's arguments.
        prog (str, optional): The program name for ``usage:`` lines.

    Returns:
        int, the exit status (0).

    Examples::

        >>> main(["--n-images", "2", "--steps", "50", "--out", "/tmp/demo.png"])
        0
    """
    p = _parser(prog)
    a = p.parse_args(argv)
    n_test = SPLITS["test"][1]
    if a.offset + a.n_images > n_test:
        p.error(
            f"--offset {a.offset} with --n-images {a.n_images} runs past the "
            f"{n_test} test scenes"
        )
    out = figure_path(p, "--out", a.out)
    if a.threads:
        torch.set_num_threads(a.threads)
    result = explain_scenes(
        a.n_images, a.steps, a.seed, a.n_samples, a.offset, a.l1_coeff
    )
    steps = result.details.steps_run
    print(f"FIDO-SSR: {a.n_images} images x {steps} steps in {result.seconds:.1f} s")
    print("share of map mass inside the ground-truth box (mean over images):")
    for name, m in result.maps.items():
        print(f"  {name:24s} {float(box_mass(m, result.boxes).mean()):.3f}")
    cf = result.details.counterfactual_probs
    print(f"classifier confidence on FIDO counterfactuals: mean {float(cf.mean()):.3f}")
    print(f"wrote {plot(result, out)}")
    return 0
