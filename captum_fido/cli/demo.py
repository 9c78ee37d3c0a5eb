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
    add_float,
    add_int,
    add_path,
    add_seed,
    document_main,
    figure_path,
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
    add_path(
        p,
        "--out",
        Path("outputs/demo.png"),
        "figure file (.png when the name has no suffix)",
    )
    add_int(p, "--n-images", 4, "test scenes to explain")
    add_int(p, "--steps", None, "FIDO optimisation steps (default: FIDO's)")
    add_seed(p, help="FIDO's seed")
    add_int(p, "--n-samples", None, "mask samples per image per step (default: FIDO's)")
    add_int(p, "--offset", 0, "index of the first scene", low=0)
    add_float(
        p,
        "--l1-coeff",
        None,
        "a fixed FIDO sparsity weight (default: FIDO's adaptive weight, which "
        "follows the model's logit scale)",
    )
    add_int(
        p,
        "--threads",
        1,
        "torch intra-op threads (1: the models are tiny, and on a busy machine "
        "more threads are slower; 0 keeps torch's default)",
        low=0,
    )
    return p


@document_main
def main(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> int:
    r"""Run the demo command (``captum-fido demo --help`` lists the options).

    {main_args}

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
