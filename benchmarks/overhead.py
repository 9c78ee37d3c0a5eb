r"""Goal 1: FIDO / BBMP cost relative to the classifier's own passes.

Compares, side by side in one process, ``n_steps`` steps of FIDO-SSR (Blur,
``n_samples`` samples) on torchvision's resnet18 (``weights=None``, 224 px)
with the same number of bare forward passes plus backward passes to the input
(``torch.autograd.grad`` w.r.t. the input, no parameter gradients) on the same
batch shape. The same for BBMP (one row per step). Then profiles FIDO's loop
with ``torch.profiler`` and reports each labelled part's share of the time.

Run: python benchmarks/overhead.py [--steps 30] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Dict

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import interleaved, median, median_ratio  # noqa: E402

from captum_fido import BBMP, FIDO  # noqa: E402
from captum_fido.infillers import BlurInfiller  # noqa: E402

PARTS = (
    "fido.mask_sample",
    "fido.infill",
    "fido.compose",
    "fido.classifier_forward",
    "fido.backward",
    "fido.regularisers",
    "fido.optimizer",
)


def bare_passes(model: torch.nn.Module, x: torch.Tensor, rows: int, steps: int) -> None:
    for _ in range(steps):
        xb = x.expand(rows, *x.shape[1:]).clone().requires_grad_(True)
        out = model(xb)
        torch.autograd.grad(out[:, 0].sum(), xb)


def profile_parts(fn) -> Dict[str, float]:
    r"""Share of wall time per labelled part of the loop."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    totals = {e.key: e.cpu_time_total for e in prof.key_averages() if e.key in PARTS}
    whole = sum(totals.values()) or 1.0
    return {k: totals.get(k, 0.0) / whole for k in PARTS}


def main(argv=None) -> Dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    x = torch.rand(1, 3, args.size, args.size)
    fido = FIDO(model, BlurInfiller(sigma=10.0), objective="ssr")
    bbmp = BBMP(model, BlurInfiller(sigma=10.0))
    steps = args.steps
    runs = {
        "fido": lambda: fido.attribute(x, target=0, n_steps=steps, n_samples=8, seed=0),
        "bare8": lambda: bare_passes(model, x, 8, steps),
        "bbmp": lambda: bbmp.attribute(x, target=0, n_steps=steps, seed=0),
        "bare1": lambda: bare_passes(model, x, 1, steps),
    }
    times = interleaved(runs, repeats=args.repeats)
    res = {
        "fido_over_bare": median_ratio(times, "fido", "bare8"),
        "bbmp_over_bare": median_ratio(times, "bbmp", "bare1"),
        "fido_step_s": median(times["fido"]) / steps,
        "bare8_step_s": median(times["bare8"]) / steps,
    }
    print(f"resnet18 {args.size}px, {steps} steps x {args.repeats} interleaved repeats")
    print(
        f"  FIDO-SSR (B=8) / bare fwd+bwd-to-input: {res['fido_over_bare']:.3f}x (goal <= 1.10)"
    )
    print(
        f"  BBMP (B=1)     / bare fwd+bwd-to-input: {res['bbmp_over_bare']:.3f}x (goal <= 1.10)"
    )
    shares = profile_parts(
        lambda: fido.attribute(
            x, target=0, n_steps=max(5, steps // 3), n_samples=8, seed=0
        )
    )
    print("  FIDO loop profile (share of labelled time):")
    for k, v in shares.items():
        print(f"    {k.replace('fido.', ''):<20} {100 * v:5.1f}%")
        res[f"share_{k.replace('fido.', '')}"] = v
    return res


if __name__ == "__main__":
    main()
