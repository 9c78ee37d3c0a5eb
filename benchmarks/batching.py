r"""Goal 2: eight images in one call versus eight separate calls.

Same seed, so the maps must agree (each image has its own random stream);
the time ratio is measured side by side. On CPU the classifier's compute
dominates, so batching is expected to cost about the same (goal: no more);
on a GPU batching pays (goal: <= 0.3x), measured where one is available.

Run: python benchmarks/batching.py [--size 160] [--steps 4] [--device cpu]
[--out FILE.json] (``--quick``: 4 images of 64 px, 2 steps, 1 repeat).
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torchvision
from _runner import (
    benchmark_parser,
    interleaved,
    median_ratio,
    parse,
    settings,
    write_run,
)

from captum_fido import FIDO
from captum_fido.infillers import BlurInfiller


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = benchmark_parser(__doc__, threads=0, out_help="results JSON")
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu"
    )
    args = parse(
        parser, argv, quick=dict(size=64, steps=2, images=4, repeats=1, threads=1)
    )

    torch.manual_seed(0)
    device = torch.device(args.device)
    model = torchvision.models.resnet18(weights=None).eval().to(device)
    x = torch.rand(args.images, 3, args.size, args.size, device=device)
    targets = list(range(args.images))
    fido = FIDO(model, BlurInfiller(sigma=10.0))
    kw = dict(n_steps=args.steps, n_samples=8, seed=0)

    def batched():
        return fido.attribute(x, target=targets, **kw)

    def separate():
        return torch.cat(
            [
                fido.attribute(x[i : i + 1], target=t, **kw)
                for i, t in enumerate(targets)
            ]
        )

    diff = (batched() - separate()).abs().max().item()
    times = interleaved(
        {"batched": batched, "separate": separate}, repeats=args.repeats, warmup=0
    )
    ratio = median_ratio(times, "batched", "separate")
    goal = "<= 1.0 on CPU" if device.type == "cpu" else "<= 0.3 on GPU"
    table = "\n".join(
        [
            f"{args.images} images x 8 samples, resnet18 {args.size}px, {args.steps} steps, {device}",
            f"  max |batched - separate| map difference: {diff:.2e}",
            f"  one batched call / {args.images} separate calls: {ratio:.3f}x (goal {goal})",
        ]
    )
    res = {"batch_over_separate": ratio, "max_map_difference": diff}
    write_run(args.out, settings(args), res, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
