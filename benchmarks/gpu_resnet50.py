r"""Goal 6: FIDO-SSR on ResNet-50 at 224 px on a GPU (goal: <= 1 s per image).

Runs FIDO with the default settings (300 steps x 8 samples, Blur infiller)
on CUDA inputs, in float32 and with bfloat16 autocast + channels_last, and
prints seconds per image for 1 and 8 images per call. On a machine without
CUDA it says so and exits without measuring.

Run: python benchmarks/gpu_resnet50.py [--steps 300] [--out FILE.json]
(``--quick``: 5 steps).
"""

from __future__ import annotations

import time
from typing import Dict, List, Optional, Sequence

import torch
import torchvision
from _runner import benchmark_parser, parse, settings, skip, write_run

from captum_fido import FIDO
from captum_fido.infillers import BlurInfiller


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = benchmark_parser(__doc__, threads=0, out_help="results JSON")
    parser.add_argument("--steps", type=int, default=300)
    args = parse(parser, argv, quick=dict(steps=5))
    if not torch.cuda.is_available():
        skip("no CUDA device: the ResNet-50 GPU benchmark needs a GPU")
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    model = torchvision.models.resnet50(weights=None).eval().to(device)
    res: Dict[str, float] = {}
    lines: List[str] = [f"ResNet-50 224 px, {args.steps} steps x 8 samples, CUDA"]
    for label, kw, fmt in [
        ("fp32", {}, torch.contiguous_format),
        (
            "bf16+channels_last",
            dict(autocast_dtype=torch.bfloat16, channels_last=True),
            torch.channels_last,
        ),
    ]:
        m = model.to(memory_format=fmt)
        fido = FIDO(m, BlurInfiller(10.0))
        for n in (1, 8):
            x = torch.rand(n, 3, 224, 224, device=device)
            fido.attribute(x, target=list(range(n)), n_steps=5, seed=0, **kw)  # warm-up
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            fido.attribute(x, target=list(range(n)), n_steps=args.steps, seed=0, **kw)
            torch.cuda.synchronize()
            per_image = (time.perf_counter() - t0) / n
            res[f"s_per_image_{label}_n{n}"] = per_image
            lines.append(
                f"  {label:<20} N={n}: {per_image:.2f} s per image (goal <= 1 s)"
            )
    write_run(args.out, settings(args), res, "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
