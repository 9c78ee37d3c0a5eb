r"""Goal 1: FIDO / BBMP cost relative to the classifier's own passes.

Compares, side by side in one process, ``n_steps`` steps of FIDO-SSR (Blur,
``n_samples`` samples) on torchvision's resnet18 (``weights=None``, 224 px)
with the same number of bare forward passes plus backward passes to the input
(``torch.autograd.grad`` w.r.t. the input, no parameter gradients) on the same
batch shape. The same for BBMP (one row per step). Then profiles FIDO's loop
with ``torch.profiler`` and reports each labelled part's share of the time.

Run: python benchmarks/overhead.py [--steps 30] [--repeats 3] [--out FILE.json]
(``--quick``: 112 px, 5 steps, 1 repeat).
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch
import torchvision
from _runner import (
    bare_passes,
    benchmark_parser,
    interleaved,
    median,
    median_ratio,
    parse,
    settings,
    write_run,
)

from captum_fido import BBMP, FIDO
from captum_fido.infillers import BlurInfiller

PARTS = (
    "fido.mask_sample",
    "fido.infill",
    "fido.compose",
    "fido.classifier_forward",
    "fido.backward",
    "fido.regularisers",
    "fido.optimizer",
)


def profile_parts(fn) -> Dict[str, float]:
    r"""Share of wall time per labelled part of the loop."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    totals = {e.key: e.cpu_time_total for e in prof.key_averages() if e.key in PARTS}
    whole = sum(totals.values()) or 1.0
    return {k: totals.get(k, 0.0) / whole for k in PARTS}


def main(argv: Optional[Sequence[str]] = None) -> int:
    # Torch's default threads: the published ratios were measured so.
    parser = benchmark_parser(__doc__, threads=0, out_help="results JSON")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=224)
    args = parse(parser, argv, quick=dict(steps=5, repeats=1, size=112, threads=1))

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
    lines = [
        f"resnet18 {args.size}px, {steps} steps x {args.repeats} interleaved repeats",
        f"  FIDO-SSR (B=8) / bare fwd+bwd-to-input: {res['fido_over_bare']:.3f}x (goal <= 1.10)",
        f"  BBMP (B=1)     / bare fwd+bwd-to-input: {res['bbmp_over_bare']:.3f}x (goal <= 1.10)",
    ]
    shares = profile_parts(
        lambda: fido.attribute(
            x, target=0, n_steps=max(5, steps // 3), n_samples=8, seed=0
        )
    )
    lines.append("  FIDO loop profile (share of labelled time):")
    for k, v in shares.items():
        lines.append(f"    {k.replace('fido.', ''):<20} {100 * v:5.1f}%")
        res[f"share_{k.replace('fido.', '')}"] = v
    write_run(args.out, settings(args), res, "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
