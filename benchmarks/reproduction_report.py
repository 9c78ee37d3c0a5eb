r"""Write ``docs/reproduction.md`` from the comparison harness's output.

Each claim of the FIDO paper is tested with paired bootstrap intervals over
the same test images (the difference of two methods on each image, resampled
2,000 times), and given a plain verdict:

- *holds*: the 95% interval of the difference lies on the paper's side of 0;
- *does not hold*: it lies on the other side;
- *cannot tell*: it contains 0.

Usage::

    python benchmarks/reproduction_report.py          # docs/reproduction.md from
                                                      # the committed runs
    python benchmarks/reproduction_report.py --quick  # the same, to outputs/quick/
    python -m captum_fido compare --out outputs/report_scenes ...   # new runs
    python benchmarks/reproduction_report.py outputs/report_scenes \
        outputs/report_context --out outputs/reproduction.md

The runs' data are kept in ``docs/results/<domain>/`` (per-image rows,
results, table, settings and the weights' checksums).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from _runner import benchmark_parser, parse, write_text

from captum_fido.evaluation.harness import read_rows
from captum_fido.evaluation.report import (
    MethodSummary,
    paired_difference,
    per_image_values,
    summarise,
)

#: Where the committed runs' rows are kept (``docs/results/<domain>/``).
COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "results"
HEURISTICS = ("Mean", "Blur", "Random", "Local")
GENERATIVE = "Inpainter"
Rows = List[Dict[str, object]]


#: Per rows list, the list (so that its id is not reused) and its summaries.
_SUMMARIES: Dict[int, Tuple[Rows, Dict[str, MethodSummary]]] = {}


def _summaries(rows: Rows) -> Dict[str, MethodSummary]:
    r"""``summarise(rows)`` by method, computed once per rows list: it
    resamples every metric of every method, and the report asks for it once
    per comparison (a minute of the report's time, before)."""
    hit = _SUMMARIES.get(id(rows))
    if hit is None or hit[0] is not rows:
        hit = (rows, {s.method: s for s in summarise(rows)})
        _SUMMARIES[id(rows)] = hit
    return hit[1]


def _test_rows(rows: Rows, method: str) -> Rows:
    return [r for r in rows if r["method"] == method and r["split"] == "test"]


def _values(rows: Rows, method: str, key: str) -> Dict[int, float]:
    summaries = _summaries(rows)
    mine = _test_rows(rows, method)
    if method not in summaries:
        return {}
    # The threshold the summary used for this metric (0.5 or the alpha
    # chosen on the val rows).
    return per_image_values(mine, key, summaries[method].index(key))


def _verdict(diff: Tuple[float, float, float, int], lower_is_paper: bool) -> str:
    mean, low, high, n = diff
    if n == 0 or math.isnan(mean):
        return "cannot tell (no images)"
    if (high < 0) if lower_is_paper else (low > 0):
        return "holds"
    if (low > 0) if lower_is_paper else (high < 0):
        return "does not hold"
    return "cannot tell"


def _fmt(diff: Tuple[float, float, float, int]) -> str:
    mean, low, high, n = diff
    return f"{mean:+.3f} [{low:+.3f}, {high:+.3f}] (n={n})"


def compare_pair(
    rows: Rows, a: str, b: str, key: str, lower_is_paper: bool
) -> Tuple[str, str]:
    r"""``a - b`` on ``key`` and the verdict for "a is better than b"."""
    diff = paired_difference(_values(rows, a, key), _values(rows, b, key))
    return _fmt(diff), _verdict(diff, lower_is_paper)


#: A claim's comparison: (claim, method a, method b, metric, lower is the paper's side).
Check = Tuple[str, str, str, str, bool]


def claim_checks() -> List[Check]:
    r"""Every (claim, comparison) the report tests."""
    gen = f"FIDO-SSR ({GENERATIVE})"
    checks: List[Tuple[str, str, str, str, bool]] = []
    for h in HEURISTICS:
        checks.append(
            (
                "1. less map off the object (MAP mask outside box)",
                gen,
                f"FIDO-SSR ({h})",
                "map_outside_box",
                True,
            )
        )
        checks.append(
            (
                "1. less map off the object (map mass outside box)",
                gen,
                f"FIDO-SSR ({h})",
                "outside_mass",
                True,
            )
        )
        checks.append(
            (
                "2. better Saliency Metric",
                gen,
                f"FIDO-SSR ({h})",
                "saliency_metric",
                True,
            )
        )
    for fido in (gen, f"FIDO-SDR ({GENERATIVE})"):
        for bbmp in ("BBMP (Blur)", "BBMP-CA tau=0.5"):
            for ev in ("inpainter", "road"):
                checks.append(
                    (
                        f"3. FIDO beats BBMP on deletion ({ev} in-fill)",
                        fido,
                        bbmp,
                        f"deletion_{ev}",
                        True,
                    )
                )
    for fill in ("Blur", GENERATIVE):
        checks.append(
            (
                "4. SSR fewer artifacts than SDR (mass outside box)",
                f"FIDO-SSR ({fill})",
                f"FIDO-SDR ({fill})",
                "outside_mass",
                True,
            )
        )
    for base in ("Center (half area)", "Max (whole image)"):
        checks.append(
            ("6. WSL error below the baselines", gen, base, "wsl_error", True)
        )
    return checks


def claim_lines(rows: Rows, domain: str) -> List[str]:
    r"""One table row per (claim, comparison) on one domain."""
    lines = []
    for claim, a, b, key, lower in claim_checks():
        diff, verdict = compare_pair(rows, a, b, key, lower)
        lines.append(
            f"| {domain} | {claim} | {a} vs {b} | {key} | {diff} | {verdict} |"
        )
    return lines


def preset_lines(defaults: Rows, paper: Rows, domain: str) -> List[str]:
    r"""Each claim's comparison on the paper preset's test images, at the
    defaults and at the paper's settings, when the paper run has both
    methods; and whether the verdict is the same."""
    test = [r for r in paper if r["split"] == "test"]
    ids = {str(r["image_id"]) for r in test}
    methods = {str(r["method"]) for r in test}
    same = [r for r in defaults if r["split"] == "val" or str(r["image_id"]) in ids]
    lines = []
    for claim, a, b, key, lower in claim_checks():
        if a not in methods or b not in methods:
            continue
        d_diff, d_verdict = compare_pair(same, a, b, key, lower)
        p_diff, p_verdict = compare_pair(paper, a, b, key, lower)
        agree = "same" if d_verdict == p_verdict else "**differs**"
        lines.append(
            f"| {domain} | {claim} | {a} vs {b} | {key} | {d_diff} {d_verdict} "
            f"| {p_diff} {p_verdict} | {agree} |"
        )
    return lines


def tau_lines(rows: Rows, domain: str) -> List[str]:
    r"""Claim 5: BBMP-CA's results move with its threshold tau."""
    summaries = _summaries(rows)
    out = []
    for key in ("wsl_error", "outside_mass", "deletion_inpainter", "deletion_road"):
        cells = []
        for tau in ("1", "0.7", "0.5", "0.3", "0.1", "0"):
            s = summaries.get(f"BBMP-CA tau={tau}")
            if s is None:
                cells.append("–")
            else:
                mean, low, high, _ = s.values[key]
                cells.append(f"{mean:.3f} [{low:.3f}, {high:.3f}]")
        out.append(f"| {domain} | {key} | " + " | ".join(cells) + " |")
    return out


def generative_gain(rows: Rows) -> Dict[str, str]:
    r"""Inpainter minus the best heuristic (by mean), per metric."""
    summaries = _summaries(rows)
    out = {}
    for key, lower in (
        ("outside_mass", True),
        ("saliency_metric", True),
        ("deletion_road", True),
        ("insertion_road", False),
        ("pointing", False),
    ):
        means = {
            h: summaries[f"FIDO-SSR ({h})"].values[key][0]
            for h in HEURISTICS
            if f"FIDO-SSR ({h})" in summaries
        }
        if not means:
            continue
        best = (min if lower else max)(means, key=lambda h: means[h])
        diff = paired_difference(
            _values(rows, f"FIDO-SSR ({GENERATIVE})", key),
            _values(rows, f"FIDO-SSR ({best})", key),
        )
        out[key] = f"{_fmt(diff)} vs {best}: {_verdict(diff, lower)}"
    return out


def render(
    runs: Sequence[Tuple[str, Path]],
    infiller_table: Optional[Path],
    paper_runs: Sequence[Tuple[str, Path]] = (),
) -> str:
    parts = [HEADER]
    for domain, path in runs:
        title, _, table = (path / "table.md").read_text().split("\n", 2)
        # The run's own title says how many images and which settings.
        parts.append(f"\n## Results table: {title.lstrip('# ')}\n")
        parts.append(table)
        parts.append(
            "\nMaps of the first test images (the run's `maps.png`, kept as "
            f"`docs/images/compare_{domain}.png`):\n\n"
            f"![maps of {domain}](images/compare_{domain}.png)\n"
        )
    parts.append("\n## The paper's claims\n")
    parts.append(
        "| domain | claim | comparison (a vs b) | metric | a - b, 95% CI | verdict |"
    )
    parts.append("|---|---|---|---|---|---|")
    rows = {domain: read_rows(path / "per_image.csv") for domain, path in runs}
    for domain, _ in runs:
        parts += claim_lines(rows[domain], domain)
    parts += _preset_section(rows, paper_runs)
    parts.append("\n### 5. BBMP-CA across tau (mean [95% CI])\n")
    parts.append(
        "The thresholds the runs above carry ('–': not run); the paper's "
        "whole sweep is measured in [BBMP-CA across tau]"
        "(#bbmp-ca-across-tau-the-papers-sweep-measured) below.\n"
    )
    parts.append("| domain | metric | tau=1 | 0.7 | 0.5 | 0.3 | 0.1 | 0 |")
    parts.append("|---|---|---|---|---|---|---|---|")
    for domain, _ in runs:
        parts += tau_lines(rows[domain], domain)
    parts.append("\n## Where generative in-filling wins\n")
    parts.append(
        "FIDO-SSR with the in-painter minus FIDO-SSR with the best heuristic for that metric (paired, 95% CI; 'holds' = the in-painter is better).\n"
    )
    parts.append("| domain | metric | difference and verdict |")
    parts.append("|---|---|---|")
    for domain, _ in runs:
        for key, text in generative_gain(rows[domain]).items():
            parts.append(f"| {domain} | {key} | {text} |")
    if infiller_table is not None and infiller_table.is_file():
        parts.append("\n## 7. Infiller quality (paper Fig. 16)\n")
        parts.append(infiller_table.read_text().split("\n", 1)[1])
    return "\n".join(parts) + "\n"


def _preset_section(
    rows: Dict[str, Rows], paper_runs: Sequence[Tuple[str, Path]]
) -> List[str]:
    r"""The claims at the defaults and at the paper's settings, on the paper
    run's images (nothing without paper runs)."""
    found = [(d, p) for d, p in paper_runs if d in rows]
    if not found:
        return []
    parts = [
        "\n### Do the defaults change the verdicts?\n",
        "The same claims on the test images of a run at the paper's settings "
        "(`compare --preset paper`: 300 steps, 8 FIDO samples, the fixed "
        "sparsity and TV weights), each at the defaults (the rows above, "
        "restricted to those images) and at the paper's settings.\n",
        "| domain | claim | comparison (a vs b) | metric | defaults: a - b, verdict "
        "| paper's settings: a - b, verdict | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    paper = {d: read_rows(p / "per_image.csv") for d, p in found}
    for domain, _ in found:
        parts += preset_lines(rows[domain], paper[domain], domain)
    parts += [
        "\nA verdict on maps that explain nothing says little: the share of "
        "empty or flooded maps (`map_status`) of each method on the same "
        "images, at the defaults and at the paper's settings.\n",
        "| domain | method | defaults: empty / flooded of n "
        "| paper's settings: empty / flooded of n |",
        "|---|---|---|---|",
    ]
    for domain, _ in found:
        parts += collapse_lines(rows[domain], paper[domain], domain)
    return parts


def _collapsed(rows: Rows, method: str, ids: Sequence[str]) -> str:
    mine = [r for r in _test_rows(rows, method) if str(r["image_id"]) in ids]
    empty = sum(r.get("map_status") == "empty" for r in mine)
    flooded = sum(r.get("map_status") == "flooded" for r in mine)
    return f"{empty} / {flooded} of {len(mine)}"


def collapse_lines(defaults: Rows, paper: Rows, domain: str) -> List[str]:
    r"""Per method of the paper run: its empty and flooded maps on the paper
    run's test images, at the defaults and at the paper's settings."""
    test = [r for r in paper if r["split"] == "test"]
    ids = sorted({str(r["image_id"]) for r in test})
    methods = sorted({str(r["method"]) for r in test if r.get("family") != "baseline"})
    return [
        f"| {domain} | {m} | {_collapsed(defaults, m, ids)} "
        f"| {_collapsed(paper, m, ids)} |"
        for m in methods
    ]


HEADER = """# Reproduction report: does counterfactual in-filling give better maps?

Generated by `benchmarks/reproduction_report.py` from the comparison
harness's output (`python -m captum_fido compare`); every number below is
measured on the demo domains, with 95% bootstrap intervals over test images.
Claims are tested with *paired* differences (the same images for both
methods). Verdicts: **holds** (the interval lies on the paper's side of 0),
**does not hold** (on the other side), **cannot tell** (it contains 0).
The findings in words, and how the runs were made, follow the tables:
[What we found](#what-we-found-read-with-the-tables-above).
"""


def main(argv: Optional[Sequence[str]] = None) -> int:
    root = Path(__file__).resolve().parents[1]
    p = benchmark_parser(
        __doc__, out=root / "docs/reproduction.md", out_help="the report"
    )
    p.add_argument(
        "runs",
        nargs="*",
        type=Path,
        default=[COMMITTED / "scenes", COMMITTED / "context"],
        help="output folders of compare (default: the committed runs, "
        "docs/results/scenes and docs/results/context)",
    )
    p.add_argument(
        "--infiller-table", type=Path, default=root / "docs/infiller_quality.md"
    )
    p.add_argument(
        "--paper-runs",
        nargs="*",
        type=Path,
        default=[COMMITTED / "paper_scenes", COMMITTED / "paper_context"],
        help="output folders of compare --preset paper, named paper_<domain> "
        "(default: the committed ones; folders that do not exist are skipped)",
    )
    p.add_argument(
        "--notes",
        type=Path,
        default=Path(__file__).with_name("reproduction_notes.md"),
        help="markdown appended at the end",
    )
    # The report of the committed runs, written elsewhere: a check that the
    # report still reads the harness's output.
    a = parse(p, argv, quick=dict(out=Path("outputs/quick/reproduction.md")))
    runs = [(path.name.replace("report_", ""), path) for path in a.runs]
    paper = [
        (path.name.replace("paper_", ""), path)
        for path in a.paper_runs
        if (path / "per_image.csv").is_file()
    ]
    text = render(runs, a.infiller_table, paper)
    if a.notes is not None:
        text += "\n" + a.notes.read_text()
    write_text(a.out, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
