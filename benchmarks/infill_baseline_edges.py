r"""Where FeatureAblation puts its credit with zero, Local and in-painter baselines.

``docs/infill_baselines.md`` found that the demo's generative in-painter as
a baseline *hurt* FeatureAblation's localisation (pointing game, mass
outside the box) and suggested why: the in-painter completes a block inside
the object from the rest of the object, so removing it barely moves the
class, and the credit goes to blocks on the object's edge and outside it.
This script measures that directly. On the scenes domain's first
``--n-images`` test scenes, FeatureAblation on 8 x 8 px blocks (as in the
comparison) with each baseline; every block is classed by its overlap with
the ground-truth box: *interior* (entirely inside), *edge* (partly inside)
or *outside*. For each baseline it reports, with 95% bootstrap intervals
over images,

- the share of the map's total absolute attribution on each class of block;
- the mean target log-odds drop from removing one interior block (the
  attribution is the logit's drop; for the scenes classifier the logit and
  the log-odds move together to first order).

Usage::

    python benchmarks/infill_baseline_edges.py --n-images 32 \
        --out docs/results/infill_baselines/edges.json
    python benchmarks/infill_baseline_edges.py --quick   # 2 images
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch
from _runner import benchmark_parser, parse, write_run
from captum.attr import FeatureAblation
from torch import Tensor

from captum_fido import InfillBaseline
from captum_fido.demo.domains import load_domain
from captum_fido.demo.infillers import demo_infillers
from captum_fido.evaluation import bootstrap_ci, paired_difference
from captum_fido.evaluation.methods import patch_mask
from captum_fido.infillers import LocalInfiller

PATCH = 8
CLASSES = ("interior", "edge", "outside")


def block_classes(box: Tensor, size: int) -> Dict[str, Tensor]:
    r"""Per block id (row-major), whether it is interior, edge or outside."""
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    inside = torch.zeros(size, size)
    inside[y0:y1, x0:x1] = 1.0
    per_row = size // PATCH
    share = inside.view(per_row, PATCH, per_row, PATCH).mean(dim=(1, 3)).flatten()
    return {
        "interior": share == 1.0,
        "edge": (share > 0) & (share < 1.0),
        "outside": share == 0,
    }


def run(n_images: int) -> Dict[str, Dict[str, List[float]]]:
    r"""Per baseline and statistic, one value per image."""
    domain = load_domain("scenes")
    model = domain.load_classifier()
    images, labels, boxes = domain.load_split("test", n_images)
    size = images.shape[-1]
    mask = patch_mask(size, size, PATCH)
    infillers = demo_infillers()
    baselines = {
        "zero": None,
        "Local": LocalInfiller(window=5),
        "in-painter": infillers["Inpainter"],
    }
    out: Dict[str, Dict[str, List[float]]] = {}
    for name, fill in baselines.items():
        started = time.perf_counter()
        kwargs = dict(target=labels, feature_mask=mask, perturbations_per_eval=16)
        if fill is None:
            attr = FeatureAblation(model).attribute(images, baselines=0.0, **kwargs)
        else:
            ib = InfillBaseline(model, fill, seed=0)
            attr = ib.attribute(FeatureAblation, images, **kwargs)
        # One value per block: the attribution is constant within a block.
        per_block = attr.detach()[:, 0, ::PATCH, ::PATCH].flatten(1)
        stats: Dict[str, List[float]] = {f"share_{c}": [] for c in CLASSES}
        stats["interior_drop"] = []
        for i in range(n_images):
            classes = block_classes(boxes[i], size)
            total = per_block[i].abs().sum().clamp_min(1e-12)
            for c in CLASSES:
                stats[f"share_{c}"].append(
                    float(per_block[i, classes[c]].abs().sum() / total)
                )
            interior = per_block[i, classes["interior"]]
            stats["interior_drop"].append(
                float(interior.mean()) if interior.numel() else float("nan")
            )
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)
        out[name] = stats
    return out


def report(values: Dict[str, Dict[str, List[float]]]) -> str:
    r"""Markdown: means with CIs, and in-fill minus zero, paired."""
    keys = [f"share_{c}" for c in CLASSES] + ["interior_drop"]
    lines = [
        "| baseline | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for name, stats in values.items():
        cells = [name]
        for k in keys:
            v = [x for x in stats[k] if x == x]  # images with interior blocks
            mean, lo, hi = bootstrap_ci(v, seed=0)
            cells.append(f"{mean:.3f} [{lo:.3f}, {hi:.3f}]")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| in-fill - zero (paired) | " + " | ".join(keys) + " |"]
    lines.append("|---|" + "---|" * len(keys))
    for name in [n for n in values if n != "zero"]:
        cells = [name]
        for k in keys:
            a = {i: v for i, v in enumerate(values[name][k]) if v == v}
            b = {i: v for i, v in enumerate(values["zero"][k]) if v == v}
            d, lo, hi, n = paired_difference(a, b)
            cells.append(f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}] (n={n})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = benchmark_parser(
        __doc__, out="outputs/infill_baseline_edges.json", out_help="results JSON"
    )
    p.add_argument("--n-images", type=int, default=32)
    quick = dict(n_images=2, out=Path("outputs/quick/infill_baseline_edges.json"))
    a = parse(p, argv, quick=quick)
    values = run(a.n_images)
    table = report(values)
    settings = {"n_images": a.n_images, "patch": PATCH, "perturbations_per_eval": 16}
    write_run(a.out, settings, values, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
