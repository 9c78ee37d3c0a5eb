r"""Amortised FIDO against per-image FIDO-SSR, side by side in one run.

On the scenes domain's test images, with the same in-filler (the demo's
Blur, which the shipped explainer was trained with), the comparison harness
(:func:`captum_fido.evaluation.run_comparison`) runs and scores

- per-image FIDO-SSR (``--steps`` x ``--n-samples``, l1 ``--l1-coeff``),
- amortised FIDO-SSR (the shipped explainer: one explainer pass, no
  classifier pass),
- amortised + refinement (``--refine-steps`` FIDO steps per image from the
  amortised mask, ``--n-samples`` samples: a tenth of the passes by default),

with every metric of the harness, classifier passes and wall time per image.
Writes ``OUT/per_image.csv`` (resumable), ``OUT/results.csv``,
``OUT/table.md``, ``OUT/goal.md`` (paired differences against per-image
FIDO with bootstrap intervals, the issue's goal checks and the cost ratios)
and ``OUT/maps.png``.

Usage::

    python benchmarks/amortised.py --n-images 32 --out outputs/amortised/bench
    python benchmarks/amortised.py --only-fido ...   # per-image rows first
    python benchmarks/amortised.py --quick           # 2 images, short runs
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from _runner import benchmark_parser, copy_file, parse, write_text

from captum_fido.demo import DEMO_L1_COEFF
from captum_fido.demo.domains import load_domain
from captum_fido.demo.infillers import demo_infillers
from captum_fido.demo.pretrained import load_explainer
from captum_fido.evaluation.figure import plot_map_grid
from captum_fido.evaluation.harness import ComparisonSettings, EvalData, run_comparison
from captum_fido.evaluation.methods import (
    MethodSpec,
    amortised_methods,
    mask_methods,
)
from captum_fido.evaluation.report import (
    MethodSummary,
    paired_difference,
    per_image_values,
    summarise,
    write_results,
    write_table,
)
from captum_fido.infillers import NoisyLinearInfiller

#: Metrics of the paired comparison: (key, lower is better).
PAIRED = (
    ("deletion_inpainter", True),
    ("deletion_road", True),
    ("insertion_inpainter", False),
    ("insertion_road", False),
    ("pointing", False),
    ("outside_mass", True),
    ("map_outside_box", True),
    ("wsl_error", True),
    ("saliency_metric", True),
)
#: The issue's goal: these metrics within 10% of per-image FIDO.
GOAL_METRICS = ("deletion_inpainter", "pointing")


#: ``--quick``: a smoke run of the whole pipeline.
QUICK = dict(
    n_images=2,
    steps=4,
    n_samples=2,
    refine_steps=2,
    out=Path("outputs/quick/amortised"),
)


def _parser() -> argparse.ArgumentParser:
    p = benchmark_parser(__doc__, out="outputs/amortised/bench", out_help="folder")
    p.add_argument("--n-images", type=int, default=32)
    p.add_argument("--steps", type=int, default=80, help="per-image FIDO steps")
    p.add_argument("--n-samples", type=int, default=4)
    p.add_argument("--refine-steps", type=int, default=8)
    p.add_argument("--l1-coeff", type=float, default=DEMO_L1_COEFF)
    p.add_argument("--weights", type=Path, default=None, help="explainer weights")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--figure", type=Path, default=None, help="copy maps.png here")
    p.add_argument(
        "--only-fido", action="store_true", help="run per-image FIDO rows only"
    )
    return p


def _methods(a: argparse.Namespace, fill: object) -> List[MethodSpec]:
    fido = [
        s
        for s in mask_methods(
            {"Blur": fill},  # type: ignore[dict-item]
            a.steps,
            a.l1_coeff,
            bbmp_infillers=(),
            n_samples=a.n_samples,
        )
        if s.family == "fido-ssr"
    ]
    if a.only_fido:
        return fido
    explainer = load_explainer(a.weights)
    refine = {"refine_steps": a.refine_steps, "n_samples": a.n_samples}
    return fido + amortised_methods(explainer, fill, "Blur", refine)  # type: ignore[arg-type]


def _goal_lines(
    rows: Sequence[Dict[str, object]],
    summaries: Sequence[MethodSummary],
    reference: str,
    seed: int,
) -> List[str]:
    r"""Paired differences against ``reference``, the goal checks and costs."""
    by_name = {s.method: s for s in summaries}
    ref = by_name[reference]
    lines = [
        f"Paired against {reference} (a - b over the same test images, "
        "95% bootstrap CI; relative = ratio of means).",
        "",
        "| method | metric | a | b | a - b [95% CI] (n) | a / b |",
        "|---|---|---|---|---|---|",
    ]
    for s in summaries:
        if s.method == reference or s.family == "baseline":
            continue
        mine = [r for r in rows if r["method"] == s.method and r["split"] == "test"]
        theirs = [r for r in rows if r["method"] == reference and r["split"] == "test"]
        for key, _ in PAIRED:
            d = paired_difference(
                per_image_values(mine, key), per_image_values(theirs, key), seed=seed
            )
            a_mean, b_mean = s.values[key][0], ref.values[key][0]
            lines.append(
                f"| {s.method} | {key} | {a_mean:.3f} | {b_mean:.3f} | "
                f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] ({d[3]}) | "
                f"{_ratio(a_mean, b_mean)} |"
            )
    lines += ["", "| method | goal metric | within 10% of per-image FIDO? |"]
    lines.append("|---|---|---|")
    for s in summaries:
        if s.method == reference or s.family == "baseline":
            continue
        for key, lower in PAIRED:
            if key in GOAL_METRICS:
                a_mean, b_mean = s.values[key][0], ref.values[key][0]
                ok = a_mean <= 1.1 * b_mean if lower else a_mean >= 0.9 * b_mean
                lines.append(
                    f"| {s.method} | {key} | {'yes' if ok else 'no'} "
                    f"({_ratio(a_mean, b_mean)} of FIDO's) |"
                )
    lines += ["", "| method | passes / image | s / image | passes ratio | s ratio |"]
    lines.append("|---|---|---|---|---|")
    for s in summaries:
        if s.family == "baseline":
            continue
        p, t = s.values["passes"][0], s.values["seconds"][0]
        p_ref, t_ref = ref.values["passes"][0], ref.values["seconds"][0]
        lines.append(
            f"| {s.method} | {p:.1f} | {t:.4f} | {_ratio(p, p_ref)} | "
            f"{_ratio(t, t_ref)} |"
        )
    return lines


def _ratio(a: float, b: float) -> str:
    if math.isnan(a) or math.isnan(b) or b == 0:
        return "–"
    return f"{a / b:.3g}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    a = parse(_parser(), argv, quick=QUICK)
    started = time.time()
    domain = load_domain("scenes")
    infillers = demo_infillers()
    methods = _methods(a, infillers["Blur"])
    images, labels, boxes = domain.load_split("test", a.n_images)
    ids = list(range(a.n_images))
    data = EvalData(images, labels, boxes, ids, ["test"] * a.n_images)
    eval_infillers = {
        "inpainter": infillers["Inpainter"],
        "road": NoisyLinearInfiller(),
    }
    rows = run_comparison(
        domain.load_classifier(),
        data,
        methods,
        eval_infillers,
        a.out / "per_image.csv",
        ComparisonSettings(seed=a.seed),
        preview_dir=a.out / "preview",
    )
    names = [m.name for m in methods]
    rows = [r for r in rows if r["method"] in names]
    summaries = summarise(rows, seed=a.seed)
    write_results(summaries, a.out / "results.csv")
    write_table(summaries, a.out / "table.md", f"scenes: {a.n_images} test images")
    if not a.only_fido:
        goal = _goal_lines(rows, summaries, names[0], a.seed)
        write_text(a.out / "goal.md", "\n".join(goal) + "\n")
        print("\n".join(goal))
        figure = plot_map_grid(
            images[:4], boxes[:4], ids[:4], names, a.out / "preview", a.out / "maps.png"
        )
        if figure is not None and a.figure is not None:
            copy_file(figure, a.figure)
    print((a.out / "table.md").read_text())
    print(f"amortised benchmark: {time.time() - started:.0f} s wall; wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
