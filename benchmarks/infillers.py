r"""Goal 7: cost of each infiller per call, against the classifier's passes.

Every infiller runs without autograd on 8 rows of 224 x 224 (one FIDO step at
the default batch size); the Local infill is two separable sum-poolings.

Run: python benchmarks/infillers.py [--size 224] [--rows 8] [--out FILE.json]
(``--quick``: 112 px, 1 repeat).
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
    parse,
    settings,
    write_run,
)

from captum_fido.infillers import (
    BlurInfiller,
    LocalInfiller,
    MeanInfiller,
    RandomInfiller,
)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = benchmark_parser(__doc__, threads=0, out_help="results JSON")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parse(parser, argv, quick=dict(size=112, repeats=1, threads=1))
    torch.manual_seed(0)
    x = torch.rand(args.rows, 3, args.size, args.size)
    keep = (torch.rand(args.rows, 1, args.size, args.size) > 0.5).float()
    gen = torch.Generator().manual_seed(0)
    infillers = {
        "Mean": MeanInfiller(),
        "Blur": BlurInfiller(10.0),
        "Random": RandomInfiller(),
        "Local": LocalInfiller(15),
    }
    model = torchvision.models.resnet18(weights=None).eval()
    runs = {
        name: (lambda f=f: f(x, keep, generator=gen)) for name, f in infillers.items()
    }
    runs["classifier"] = lambda: bare_passes(model, x[:1], args.rows, 1)
    times = interleaved(runs, repeats=args.repeats)
    base = median(times["classifier"])
    lines = [
        f"infiller call on {args.rows} x 3 x {args.size}^2, vs one resnet18 fwd+bwd step"
    ]
    res: Dict[str, float] = {}
    for name in infillers:
        t = median(times[name])
        res[f"{name.lower()}_over_classifier"] = t / base
        lines.append(
            f"  {name:<7} {1e3 * t:8.2f} ms  = {100 * t / base:5.2f}% of a classifier step"
        )
    write_run(args.out, settings(args), res, "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
