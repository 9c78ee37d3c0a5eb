r"""Goal 2: eight images in one call versus eight separate calls.

Same seed, so the maps must agree (each image has its own random stream);
the time ratio is measured side by side. On CPU the classifier's compute
dominates, so batching is expected to cost about the same (goal: no more);
on a GPU batching pays (goal: <= 0.3x), measured where one is available.

Run: python benchmarks/batching.py [--size 160] [--steps 4] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Dict

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import interleaved, median_ratio  # noqa: E402

from captum_fido import FIDO  # noqa: E402
from captum_fido.infillers import BlurInfiller  # noqa: E402


def main(argv=None) -> Dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu"
    )
    args = parser.parse_args(argv)

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
    print(
        f"{args.images} images x 8 samples, resnet18 {args.size}px, {args.steps} steps, {device}"
    )
    print(f"  max |batched - separate| map difference: {diff:.2e}")
    print(
        f"  one batched call / {args.images} separate calls: {ratio:.3f}x (goal {goal})"
    )
    return {"batch_over_separate": ratio, "max_map_difference": diff}


if __name__ == "__main__":
    main()
