r"""FIDO's marginalisation over in-fills, measured: one fill per mask or several.

The paper's objective is an expectation over plausible in-fills (its Eq. 1:
the class probability averaged over completions of the observed pixels). With
the deterministic in-painter that expectation has one term. The sampling
in-painter (:func:`captum_fido.demo.pretrained.load_sampler_infiller`) draws a
new completion per call, and FIDO's ``n_infills`` scores each mask sample on
that many of them, averaging the probability before the log-odds.

Arms, each FIDO (``--objective``, default SSR) at the defaults' budget on the
same test images and seeds:

- ``Inpainter``: the deterministic in-painter (the report's FIDO-CA);
- ``Sampler x1``: the sampler, one fill per mask (``n_infills=1``);
- ``Sampler x4``: the sampler, the probability averaged over 4 fills per mask
  (``n_infills=4``: 4 times the classifier rows);
- ``Sampler 16 masks``: the sampler, one fill per mask but 4 times the mask
  samples (``n_samples=16``): the same rows as ``x4``, spent on masks instead
  of fills, which separates marginalising from spending more.

Every map is scored by the comparison harness
(:func:`captum_fido.evaluation.run_comparison`: the report's metrics, with the
deterministic in-painter and ROAD as evaluation in-fillers). The table gives
each arm's means with 95% bootstrap intervals over images, and each arm minus
``Sampler x1`` paired per image. Rows are kept in ``--out``'s folder, so a
rerun resumes.

Usage::

    python benchmarks/marginalisation.py                 # 48 scenes, SSR
    python benchmarks/marginalisation.py --domain context --n 32
    python benchmarks/marginalisation.py --quick         # smoke run
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from _runner import benchmark_parser, parse, settings, write_run
from torch import Tensor, nn

from captum_fido import FIDO
from captum_fido.demo.domains import DOMAINS, comparison_data, load_domain
from captum_fido.demo.pretrained import load_inpainter_infiller, load_sampler_infiller
from captum_fido.evaluation import run_comparison
from captum_fido.evaluation.harness import ComparisonSettings, read_rows
from captum_fido.evaluation.methods import MethodSpec
from captum_fido.evaluation.report import (
    bootstrap_ci,
    is_failed,
    paired_difference,
    per_image_values,
)
from captum_fido.infillers import Infiller, NoisyLinearInfiller

OUT = Path("docs/results/marginalisation")
#: Metrics of the table: (row key, label, lower is better).
METRICS: Tuple[Tuple[str, str, bool], ...] = (
    ("outside_mass", "mass outside box", True),
    ("map_outside_box", "MAP mask outside box", True),
    ("wsl_error", "WSL error (0.5)", True),
    ("pointing", "pointing", False),
    ("deletion_inpainter", "deletion (in-painter)", True),
    ("deletion_road", "deletion (ROAD)", True),
    ("insertion_inpainter", "insertion (in-painter)", False),
    ("insertion_road", "insertion (ROAD)", False),
)
BASE = "Sampler x1"
Row = Dict[str, object]


def arms(
    objective: str,
    deterministic: Infiller,
    sampler: Infiller,
    fills: int,
    n_steps: Optional[int] = None,
) -> List[MethodSpec]:
    r"""The four arms as harness methods (maps ``(N, H, W)``); ``n_steps``
    other than FIDO's default only for a smoke run."""

    def spec(name: str, infiller: Infiller, **options: int) -> MethodSpec:
        def explain(model: nn.Module, x: Tensor, y: Tensor, seed: int) -> Tensor:
            fido = FIDO(model, infiller, objective=objective)
            attr = fido.attribute(x, target=y, seed=seed, n_steps=n_steps, **options)
            return attr[:, 0].detach().float()

        return MethodSpec(name, f"fido-{objective}", name, explain, True)

    return [
        spec("Inpainter", deterministic),
        spec(BASE, sampler),
        spec(f"Sampler x{fills}", sampler, n_infills=fills),
        spec(f"Sampler {4 * fills} masks", sampler, n_samples=4 * fills),
    ]


def summary(rows: Sequence[Row], methods: Sequence[str]) -> Dict[str, object]:
    r"""Per arm: each metric's mean with its 95% interval and, for the arms
    other than :data:`BASE`, the paired difference to it; seconds and
    classifier rows per image."""
    done = [r for r in rows if not is_failed(r) and r["split"] == "test"]
    base = [r for r in done if r["method"] == BASE]
    out: Dict[str, object] = {}
    for method in methods:
        mine = [r for r in done if r["method"] == method]
        if not mine:
            continue
        entry: Dict[str, object] = {
            "n_images": len(mine),
            "seconds_per_image": sum(float(str(r["seconds"])) for r in mine)
            / len(mine),
            "passes_per_image": sum(float(str(r["passes"])) for r in mine) / len(mine),
        }
        for key, _, _ in METRICS:
            values = [
                v for v in per_image_values(mine, key).values() if not math.isnan(v)
            ]
            entry[key] = [*bootstrap_ci(values), len(values)]
            if method != BASE and base:
                entry[f"{key}_minus_base"] = list(
                    paired_difference(
                        per_image_values(mine, key), per_image_values(base, key)
                    )
                )
        out[method] = entry
    return out


def table(found: Dict[str, object], domain: str, objective: str) -> str:
    r"""Markdown: means per arm, then the paired differences to :data:`BASE`."""
    labels = [label for _, label, _ in METRICS]
    head = f"| {domain}, FIDO-{objective.upper()} | " + " | ".join(labels)
    lines = [head + " | rows / image | s / image |", "|---" * (len(labels) + 3) + "|"]
    for method, e in found.items():
        entry = dict(e)  # type: ignore[call-overload]
        cells = [_ci(entry[k]) for k, _, _ in METRICS]
        lines.append(
            f"| {method} (n={entry['n_images']}) | "
            + " | ".join(cells)
            + f" | {entry['passes_per_image']:.0f} | {entry['seconds_per_image']:.1f} |"
        )
    lines += ["", f"| minus {BASE}, paired | " + " | ".join(labels) + " |"]
    lines.append("|---" * (len(labels) + 1) + "|")
    for method, e in found.items():
        entry = dict(e)  # type: ignore[call-overload]
        if method == BASE:
            continue
        cells = [_signed(entry[f"{k}_minus_base"], lower) for k, _, lower in METRICS]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _ci(v: Sequence[float]) -> str:
    if math.isnan(v[0]):
        return "–"
    return f"{v[0]:.3f} [{v[1]:.3f}, {v[2]:.3f}]"


def _signed(d: Sequence[float], lower_is_better: bool) -> str:
    r"""``+0.012 [+0.003, +0.020]``, with *better* or *worse* when the
    interval excludes 0."""
    if math.isnan(d[0]):
        return "–"
    text = f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]"
    if d[1] > 0 or d[2] < 0:
        better = (d[2] < 0) == lower_is_better
        text += " better" if better else " worse"
    return text


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = benchmark_parser(__doc__, out=OUT, out_help="results folder")
    p.add_argument("--domain", choices=sorted(DOMAINS), default="scenes")
    p.add_argument("--objective", choices=("ssr", "sdr"), default="ssr")
    p.add_argument("--n", type=int, default=48, help="test images")
    p.add_argument("--fills", type=int, default=4, help="in-fills per mask (x arm)")
    p.add_argument("--chunk-size", type=int, default=8)
    a = parse(p, argv, quick=dict(n=2, out=Path("outputs/quick/marginalisation")))
    started = time.time()
    domain = load_domain(a.domain)
    model = domain.load_classifier()
    deterministic = load_inpainter_infiller()
    # A smoke run takes 4 steps: the arms run, their numbers are not cited.
    steps = 4 if a.quick else None
    specs = arms(a.objective, deterministic, load_sampler_infiller(), a.fills, steps)
    name = f"{a.domain}_{a.objective}"
    rows_csv = Path(a.out) / f"per_image_{name}.csv"
    run_comparison(
        model,
        comparison_data(domain, a.n, 0),
        specs,
        {"inpainter": deterministic, "road": NoisyLinearInfiller()},
        rows_csv,
        ComparisonSettings(
            seed=0,
            chunk_size=a.chunk_size,
            n_stability=0,
            n_sanity=0,
            show_progress=not a.quick,
        ),
    )
    methods = [s.name for s in specs]
    rows = [r for r in read_rows(rows_csv) if r["method"] in methods]
    found = summary(rows, methods)
    text = table(found, a.domain, a.objective)
    run = {**settings(a), "seconds": time.time() - started}
    write_run(Path(a.out) / f"summary_{name}.json", run, found, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
