r"""Captum's perturbation methods with a zero baseline against the same
methods with the generative and the Local in-fill baselines (issue 11).

Runs the comparison harness (:func:`captum_fido.evaluation.run_comparison`)
with the 15 specs of :func:`captum_fido.evaluation.methods.perturbation_methods`
(FeatureAblation, Occlusion, ShapleyValueSampling, KernelShap, Lime x
zero / in-painter / Local) on the scenes domain, then writes:

- ``OUT/per_image.csv`` (rows appended chunk by chunk: a rerun resumes),
  ``OUT/settings.json``, ``OUT/results.csv``, ``OUT/table.md``;
- ``OUT/paired.md``: per metric, every method x baseline with its 95%
  bootstrap interval, and the paired difference in-fill minus zero (same
  images, 2,000 resamples) with a verdict: *helped* / *hurt* when the
  interval excludes 0, *no significant difference* otherwise;
- ``--figure``: the first test images with every method's map.

Usage::

    MPLBACKEND=Agg nohup python benchmarks/infill_baselines.py \
        --n-images 32 --n-val 6 > outputs/infill_baselines.log 2>&1 &
    python benchmarks/infill_baselines.py --report-only   # tables + figure
    python benchmarks/infill_baselines.py --quick   # 2 images, outputs/quick/
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from _runner import benchmark_parser, parse, write_json, write_text

from captum_fido.demo.domains import comparison_data, load_domain
from captum_fido.demo.infillers import demo_infillers
from captum_fido.evaluation.figure import plot_map_grid
from captum_fido.evaluation.harness import ComparisonSettings, read_rows, run_comparison
from captum_fido.evaluation.methods import PERTURBATION_METHODS, perturbation_methods
from captum_fido.evaluation.report import (
    MethodSummary,
    bootstrap_ci,
    paired_difference,
    per_image_values,
    summarise,
    write_results,
    write_table,
)
from captum_fido.infillers import NoisyLinearInfiller
from captum_fido.metrics import DEFAULT_ALPHAS

#: (key, label, lower is better) of the paired tables.
METRICS: Tuple[Tuple[str, str, bool], ...] = (
    ("deletion_road", "deletion (ROAD)", True),
    ("deletion_inpainter", "deletion (in-painter)", True),
    ("insertion_road", "insertion (ROAD)", False),
    ("insertion_inpainter", "insertion (in-painter)", False),
    ("wsl_error", "WSL error", True),
    ("saliency_metric", "Saliency Metric", True),
    ("pointing", "pointing game", False),
    ("outside_mass", "map mass outside box", True),
)
FILLS = ("inpainter", "local")
#: Settings a resumed run must share with the rows already written.
ROW_SETTINGS = (
    "seed",
    "patch",
    "window",
    "stride",
    "n_samples",
    "n_permutations",
    "ppe",
    "n_stability",
    "n_sanity",
    "curve_points",
)
Rows = List[Dict[str, object]]
_QUICK_OUT = Path("outputs/quick/infill_baselines")
#: ``--quick``: every method on 2 images with few samples, under outputs/.
QUICK = dict(
    n_images=2,
    n_val=1,
    n_samples=16,
    n_permutations=1,
    out=_QUICK_OUT,
    preview=_QUICK_OUT / "preview",
    figure=_QUICK_OUT / "maps.png",
)


def _parser() -> argparse.ArgumentParser:
    p = benchmark_parser(
        __doc__, out="docs/results/infill_baselines", out_help="folder of the rows"
    )
    p.add_argument("--n-images", type=int, default=32, help="test images")
    p.add_argument("--n-val", type=int, default=8, help="val images (WSL alpha)")
    p.add_argument("--patch", type=int, default=8, help="square feature side")
    p.add_argument("--window", type=int, default=12, help="Occlusion window")
    p.add_argument("--stride", type=int, default=6, help="Occlusion stride")
    p.add_argument("--n-samples", type=int, default=128, help="KernelShap/Lime")
    p.add_argument("--n-permutations", type=int, default=2, help="Shapley sampling")
    p.add_argument("--ppe", type=int, default=16, help="perturbations_per_eval")
    p.add_argument("--n-stability", type=int, default=0, help="images re-seeded")
    p.add_argument("--n-sanity", type=int, default=0, help="randomisation images")
    p.add_argument(
        "--curve-points", type=int, default=6, help="deletion/insertion points"
    )
    p.add_argument("--chunk-size", type=int, default=8, help="images per chunk")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--methods", default=None, help="comma-separated subset")
    p.add_argument(
        "--preview", type=Path, default=Path("outputs/infill_baselines_preview")
    )
    p.add_argument(
        "--figure", type=Path, default=Path("docs/images/infill_baselines.png")
    )
    p.add_argument("--report-only", action="store_true", help="tables from rows")
    return p


def _check_settings(a: argparse.Namespace) -> None:
    r"""Record the row settings; refuse to extend rows made with others."""
    wanted = {k: getattr(a, k) for k in ROW_SETTINGS}
    path = a.out / "settings.json"
    if path.is_file():
        found = json.loads(path.read_text())
        changed = {k: v for k, v in wanted.items() if found.get(k) != v}
        if changed:
            raise SystemExit(f"{a.out} holds rows made with other settings: {changed}")
        return
    write_json(path, wanted)


def run(a: argparse.Namespace) -> None:
    domain = load_domain("scenes")
    infillers = demo_infillers()
    fills = {"inpainter": infillers["Inpainter"], "local": infillers["Local"]}
    specs = perturbation_methods(
        fills,
        patch=a.patch,
        occlusion_window=a.window,
        occlusion_stride=a.stride,
        n_samples=a.n_samples,
        n_permutations=a.n_permutations,
        perturbations_per_eval=a.ppe,
    )
    if a.methods:
        wanted = {m.strip() for m in a.methods.split(",")}
        specs = [s for s in specs if s.name in wanted]
    settings = ComparisonSettings(
        seed=a.seed,
        chunk_size=a.chunk_size,
        n_stability=a.n_stability,
        n_sanity=a.n_sanity,
        fractions=tuple(i / (a.curve_points - 1) for i in range(a.curve_points)),
    )
    started = time.time()
    run_comparison(
        domain.load_classifier(),
        comparison_data(domain, a.n_images, a.n_val),
        specs,
        {"inpainter": fills["inpainter"], "road": NoisyLinearInfiller()},
        a.out / "per_image.csv",
        settings,
        preview_dir=a.preview,
    )
    print(f"infill_baselines: ran in {time.time() - started:.0f} s")


def _values(rows: Rows, s: MethodSummary, key: str) -> Dict[int, float]:
    r"""Test-image values of ``key`` for one method, at its chosen threshold."""
    k = 0
    if s.threshold.startswith("alpha="):
        k = list(DEFAULT_ALPHAS).index(float(s.threshold.split("=")[1]))
    mine = [r for r in rows if r["method"] == s.method and r["split"] == "test"]
    return per_image_values(mine, key, k)


def _fmt(mean: float, low: float, high: float, signed: bool = False) -> str:
    if math.isnan(mean):
        return "–"
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"{f.format(mean)} [{f.format(low)}, {f.format(high)}]"


#: Table cells for the verdicts.
SHORT = {"no significant difference": "n.s.", "too few images": "too few"}
#: Fewer paired images than this give no verdict (the interval means little).
MIN_IMAGES = 5


def verdict(low: float, high: float, lower_is_better: bool, n: int) -> str:
    r"""``helped`` / ``hurt`` when the paired interval excludes 0."""
    if n < MIN_IMAGES:
        return "too few images"
    if math.isnan(low) or low <= 0 <= high:
        return "no significant difference"
    better = high < 0 if lower_is_better else low > 0
    return "helped" if better else "hurt"


def paired_lines(rows: Rows) -> List[str]:
    r"""One Markdown table per metric: method x baseline and in-fill - zero."""
    by_name = {s.method: s for s in summarise(rows)}
    lines: List[str] = []
    for key, label, lower in METRICS:
        lines += [
            f"### {label} ({'lower' if lower else 'higher'} is better)",
            "",
            "| method | zero | in-painter | Local | in-painter - zero | Local - zero |",
            "|---|---|---|---|---|---|",
        ]
        for method in PERTURBATION_METHODS:
            names = [f"{method} ({b})" for b in ("zero", *FILLS)]
            if not all(n in by_name for n in names):
                continue
            values = [_values(rows, by_name[n], key) for n in names]
            cells = [method]
            for v in values:
                finite = [x for x in v.values() if not math.isnan(x)]
                cells.append(_fmt(*bootstrap_ci(finite)))
            for v in values[1:]:
                mean, low, high, n = paired_difference(v, values[0])
                cells.append(
                    f"{_fmt(mean, low, high, True)} (n={n}) "
                    f"{verdict(low, high, lower, n)}"
                )
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def verdict_lines(rows: Rows) -> List[str]:
    r"""A table and one sentence per Captum method and in-filler: on which
    metrics the in-fill baseline helped, hurt or made no significant
    difference (paired interval of in-fill minus zero)."""
    by_name = {s.method: s for s in summarise(rows)}
    labels = {"inpainter": "in-painter", "local": "Local"}
    table = [
        "| method | in-fill | " + " | ".join(m[1] for m in METRICS) + " |",
        "|---|---|" + "---|" * len(METRICS),
    ]
    sentences: List[str] = []
    for method in PERTURBATION_METHODS:
        zero = by_name.get(f"{method} (zero)")
        for fill in FILLS:
            other = by_name.get(f"{method} ({fill})")
            if zero is None or other is None:
                continue
            words = []
            for key, _, lower in METRICS:
                diff = paired_difference(
                    _values(rows, other, key), _values(rows, zero, key)
                )
                words.append(verdict(diff[1], diff[2], lower, diff[3]))
            short = [SHORT.get(w, w) for w in words]
            table.append(f"| {method} | {labels[fill]} | " + " | ".join(short) + " |")
            parts = [
                f"{word}: "
                + ", ".join(m[1] for m, w in zip(METRICS, words) if w == word)
                for word in dict.fromkeys(words)
            ]
            sentences.append(
                f"- **{method}**, {labels[fill]}: " + "; ".join(parts) + "."
            )
    return table + [""] + sentences


def report(a: argparse.Namespace) -> None:
    rows = read_rows(a.out / "per_image.csv")
    if not rows:
        raise SystemExit(f"no rows in {a.out / 'per_image.csv'}")
    summaries = summarise(rows, seed=a.seed)
    n_test = len({r["image_id"] for r in rows if r["split"] == "test"})
    n_val = len({r["image_id"] for r in rows if r["split"] == "val"})
    write_results(summaries, a.out / "results.csv")
    title = f"scenes: {n_test} test images ({n_val} val), zero vs in-fill baselines"
    write_table(summaries, a.out / "table.md", title)
    intro = [
        f"# {title}",
        "",
        "Means over test images with 95% bootstrap intervals; differences are "
        "paired over the same images (2,000 resamples). helped / hurt: the "
        "interval of the difference in-fill minus zero excludes 0 on the better "
        "/ worse side; n.s.: it contains 0 (no significant difference). "
        "Deletion and insertion areas average the images whose fully in-filled "
        "image moves the log-odds by more than 1.",
        "",
    ]
    verdicts = ["## In-fill minus zero, per method", "", *verdict_lines(rows), ""]
    tables = ["## Per metric", "", *paired_lines(rows)]
    write_text(a.out / "paired.md", "\n".join(intro + verdicts + tables))
    domain = load_domain("scenes")
    images, _, boxes = domain.load_split("test", 4)
    plot_map_grid(
        images,
        boxes,
        list(range(4)),
        [s.method for s in summaries if s.family == "captum-perturbation"],
        a.preview,
        a.figure,
    )
    print(f"infill_baselines: wrote {a.out} and {a.figure}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    a = parse(_parser(), argv, quick=QUICK)
    if not a.report_only:
        _check_settings(a)
        run(a)
    report(a)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
