r"""Goal 3: BBMP against TorchRay's extremal perturbation at equal classifier work.

Both run one classifier row per step on the same resnet18 (``weights=None``,
224 px) and input. Per-step cost is the slope between a short and a long run
(setup excluded); totals are compared at the long run. Both are also given as
ratios to a bare forward + backward-to-input pass.

TorchRay is optional (``pip install torchray``); without it this benchmark
says so and reports BBMP alone.

Run: python benchmarks/torchray_peer.py [--short 10] [--long 60] [--out FILE.json]
(``--quick``: 2 and 5 steps, 1 repeat).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
import torchvision
from _runner import (
    bare_passes,
    benchmark_parser,
    interleaved,
    median,
    parse,
    settings,
    write_run,
)

from captum_fido import BBMP
from captum_fido.infillers import BlurInfiller


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = benchmark_parser(__doc__, threads=0, out_help="results JSON")
    parser.add_argument("--short", type=int, default=10)
    parser.add_argument("--long", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parse(parser, argv, quick=dict(short=2, long=5, repeats=1, threads=1))
    try:
        from torchray.attribution.extremal_perturbation import extremal_perturbation
    except ImportError:
        extremal_perturbation = None
        print(
            "TorchRay is not installed (pip install torchray): peer comparison skipped"
        )

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    x = torch.rand(1, 3, 224, 224)
    bbmp = BBMP(model, BlurInfiller(sigma=10.0))
    runs = {}
    for k in (args.short, args.long):
        runs[f"bbmp{k}"] = lambda k=k: bbmp.attribute(x, target=0, n_steps=k, seed=0)
        if extremal_perturbation is not None:
            runs[f"ep{k}"] = lambda k=k: extremal_perturbation(
                model, x, 0, areas=[0.1], max_iter=k
            )
    runs["bare"] = lambda: bare_passes(model, x, 1, args.long)
    times = interleaved(runs, repeats=args.repeats)
    dk = args.long - args.short
    bare = median(times["bare"]) / args.long
    bbmp_step = (
        median(times[f"bbmp{args.long}"]) - median(times[f"bbmp{args.short}"])
    ) / dk
    res: Dict[str, float] = {"bbmp_step_over_bare": bbmp_step / bare}
    lines: List[str] = [
        f"resnet18 224px, 1 row per step; per-step slope between {args.short} and {args.long} steps",
        f"  BBMP per step / bare fwd+bwd: {bbmp_step / bare:.2f}x",
    ]
    if extremal_perturbation is not None:
        ep_step = (
            median(times[f"ep{args.long}"]) - median(times[f"ep{args.short}"])
        ) / dk
        total = median(times[f"bbmp{args.long}"]) / median(times[f"ep{args.long}"])
        res.update(
            ep_step_over_bare=ep_step / bare,
            bbmp_step_over_ep_step=bbmp_step / ep_step,
            bbmp_total_over_ep_total=total,
        )
        lines += [
            f"  TorchRay EP per step / bare fwd+bwd: {ep_step / bare:.2f}x",
            f"  BBMP per step / TorchRay per step: {bbmp_step / ep_step:.2f}x (goal <= 0.6)",
            f"  BBMP total / TorchRay total ({args.long} steps): {total:.2f}x",
        ]
    write_run(args.out, settings(args), res, "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
