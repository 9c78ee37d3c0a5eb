r"""Refinement schedules for amortised FIDO at a tenth of per-image FIDO's passes.

Per-image FIDO-SSR at the demo's settings costs 321 classifier rows per
image (80 steps x 4 samples, plus the clean pass); refinement of the
amortised map with ``k`` steps x ``s`` samples costs ``k * s + 1``. This
script compares schedules of 33 rows (8 x 4, 16 x 2, 32 x 1, and 8 x 4 at a
lower learning rate) with the shipped explainer on the scenes domain's test
images, every one paired against per-image FIDO-SSR on the same images with
the comparison harness's metrics (the same settings as
``benchmarks/amortised.py``, without the stability and randomisation
checks).

Usage::

    python benchmarks/amortised_refine_schedules.py --n-images 32 \
        --out outputs/amortised/refine_schedules
    python benchmarks/amortised_refine_schedules.py --quick  # 2 images, 8 steps
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, List, Optional, Sequence

from _runner import benchmark_parser, parse, write_text
from torch import Tensor, nn

from captum_fido.attr import AmortisedFIDO, MaskExplainerNet
from captum_fido.demo import DEMO_L1_COEFF
from captum_fido.demo.domains import load_domain
from captum_fido.demo.infillers import demo_infillers
from captum_fido.demo.pretrained import load_explainer
from captum_fido.evaluation.harness import ComparisonSettings, EvalData, run_comparison
from captum_fido.evaluation.methods import MethodSpec, mask_methods
from captum_fido.evaluation.report import paired_difference, per_image_values
from captum_fido.infillers import Infiller, NoisyLinearInfiller

#: (name, refinement options): 33 classifier rows per image each.
SCHEDULES = (
    ("amortised, no refinement", {"refine_steps": 0}),
    ("refine 8 x 4", {"refine_steps": 8, "n_samples": 4}),
    ("refine 16 x 2", {"refine_steps": 16, "n_samples": 2}),
    ("refine 32 x 1", {"refine_steps": 32, "n_samples": 1}),
    ("refine 8 x 4, lr 0.1", {"refine_steps": 8, "n_samples": 4, "lr": 0.1}),
)
METRICS = (
    "deletion_inpainter",
    "deletion_road",
    "insertion_inpainter",
    "insertion_road",
    "pointing",
    "outside_mass",
)


def _spec(name: str, net: MaskExplainerNet, fill: Infiller, options: Any) -> MethodSpec:
    def explain(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
        extra = {"seed": seed, **options} if options["refine_steps"] else {}
        method = AmortisedFIDO(model, net, fill)
        return method.attribute(x, target=y, **extra)[:, 0].detach().float()

    return MethodSpec(name, "fido-amortised", "Blur", explain, True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = benchmark_parser(__doc__, out="outputs/amortised/refine", out_help="folder")
    p.add_argument("--n-images", type=int, default=32)
    p.add_argument("--steps", type=int, default=80, help="per-image FIDO steps")
    quick = dict(n_images=2, steps=8, out=Path("outputs/quick/refine_schedules"))
    a = parse(p, argv, quick=quick)
    started = time.time()
    domain, infillers = load_domain("scenes"), demo_infillers()
    fill, net = infillers["Blur"], load_explainer()
    fido = [
        s
        for s in mask_methods(
            {"Blur": fill}, a.steps, DEMO_L1_COEFF, bbmp_infillers=(), n_samples=4
        )
        if s.family == "fido-ssr"
    ]
    specs = fido + [_spec(n, net, fill, o) for n, o in SCHEDULES]
    images, labels, boxes = domain.load_split("test", a.n_images)
    ids = list(range(a.n_images))
    rows = run_comparison(
        domain.load_classifier(),
        EvalData(images, labels, boxes, ids, ["test"] * a.n_images),
        specs,
        {"inpainter": infillers["Inpainter"], "road": NoisyLinearInfiller()},
        a.out / "per_image.csv",
        ComparisonSettings(seed=0, n_stability=0, n_sanity=0),
    )
    reference = [r for r in rows if r["method"] == fido[0].name]
    lines: List[str] = [
        f"Paired against {fido[0].name} on {a.n_images} test scenes: "
        "a - b [95% bootstrap CI]; deletion and outside mass: lower is better.",
        "",
        "| schedule | rows / image | " + " | ".join(METRICS) + " |",
        "|---|---|" + "---|" * len(METRICS),
    ]
    for name, _ in SCHEDULES:
        mine = [r for r in rows if r["method"] == name]
        cells = [name, str(mine[0]["passes"])]
        for key in METRICS:
            d = paired_difference(
                per_image_values(mine, key), per_image_values(reference, key)
            )
            cells.append(f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]")
        lines.append("| " + " | ".join(cells) + " |")
    print("\n".join(lines))
    write_text(a.out / "paired.md", "\n".join(lines) + "\n")
    print(f"refine schedules: {time.time() - started:.0f} s wall; wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
