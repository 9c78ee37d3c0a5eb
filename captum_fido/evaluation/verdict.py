r"""A comparison's verdict: for every metric, which maps to trust.

A table of means with overlapping intervals does not say which method to
use. :func:`compare_verdict` reads the comparison's per-image rows and, for
every metric,

- states its direction (lower or higher is better),
- names the best method (the best mean over the test images),
- splits the other methods into those *not distinguishable* from the best
  (the paired bootstrap interval of their difference from the best, on the
  images both have, contains 0) and those distinguishably worse,

then ranks the methods by how many quality metrics they are best or not
distinguishable from the best on. Methods whose maps are empty (nothing
selected) or flooded (nearly everything selected), as
:func:`captum_fido.metrics.map_status` defines them, explain nothing: an
empty map scores no mass outside the box, the best value there is. They are
flagged, with the count of such maps, and never ranked. Methods that failed
on some test images (rows with ``status`` ``failed``) are not ranked either:
their means leave those images out, and they may be the hard ones. Failed
rows are counted, with their first reason, and never scored.

Paired intervals cancel how hard each image is, so they separate methods
with fewer images than unpaired ones; but they say nothing beyond the images,
model, domain and settings of the run, and they are not corrected for the
many comparisons a table of methods and metrics makes (:func:`format_verdict`
writes this next to the numbers, with the number of images each metric
rests on).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from captum_fido.evaluation._verdict_text import (
    COLLAPSED,
    format_verdict,
    write_verdict,
)
from captum_fido.evaluation.report import (
    BASE_METRICS,
    MethodSummary,
    bootstrap_ci,
    curve_keys,
    is_failed,
    paired_difference,
    per_image_values,
    summarise,
)
from captum_fido.metrics import DEFAULT_ALPHAS

__all__ = [
    "MetricVerdict",
    "Verdict",
    "metric_directions",
    "compare_verdict",
    "format_verdict",
    "write_verdict",
    "COST_METRICS",
]

Row = Mapping[str, object]

#: Metrics that measure cost, not the map: reported, never counted in the
#: summary ranking.
COST_METRICS = ("seconds", "passes")


@dataclass(frozen=True)
class MetricVerdict:
    r"""The verdict on one metric.

    Attributes:
        key: The metric's column, e.g. ``"wsl_error"`` or ``"deletion_road"``.
        label: Its name in words, e.g. ``"WSL error"``.
        lower_is_better: The metric's direction.
        best: The method with the best mean among the ranked ones (``None``
            when no ranked method has a value).
        best_mean, best_low, best_high: Its mean over its test images with
            the bootstrap interval.
        n_images: The images the best method's mean rests on.
        tied: Methods not distinguishable from the best: the paired interval
            of ``method - best`` on the images both have contains 0 (or
            rests on fewer than 2 images), best mean first.
        worse: Methods whose paired interval excludes 0, on the worse side.
        differences: method -> ``(mean, low, high, n_pairs)`` of
            ``method - best`` (:func:`~captum_fido.evaluation.paired_difference`).
        means: method -> mean over its test images, for every method with a
            value (flagged ones included, so they can be shown, not ranked).
        no_value: Ranked methods without any value on this metric (e.g.
            stability of a Captum method).

    Examples::

        >>> verdict = compare_verdict(rows)  # rows from run_comparison
        >>> wsl = verdict.metric("wsl_error")
        >>> wsl.best, wsl.tied, wsl.lower_is_better
    """

    key: str
    label: str
    lower_is_better: bool
    best: Optional[str]
    best_mean: float
    best_low: float
    best_high: float
    n_images: int
    tied: Tuple[str, ...]
    worse: Tuple[str, ...]
    differences: Dict[str, Tuple[float, float, float, int]]
    means: Dict[str, float]
    no_value: Tuple[str, ...]

    @property
    def min_pairs(self) -> int:
        r"""The fewest images any paired comparison with the best rests on."""
        counts = [d[3] for d in self.differences.values()]
        return min(counts) if counts else self.n_images


@dataclass(frozen=True)
class Verdict:
    r"""The verdict on a whole comparison.

    Attributes:
        metrics: One :class:`MetricVerdict` per metric, in the table's order.
        ranking: ``(method, top, counted, mean_rank)`` for every ranked
            method, best first: ``top`` quality metrics on which it is the
            best or not distinguishable from it, out of ``counted`` metrics
            with a value, ``mean_rank`` its mean position (1 = best mean) over
            those metrics, which breaks ties.
        statuses: method -> ``{"ok": n, "empty": n, "flooded": n,
            "unknown": n}``: its test maps by
            :func:`~captum_fido.metrics.map_status` (``unknown`` for rows
            written before the status was recorded).
        flagged: Methods not ranked: their share of empty or flooded maps
            exceeds ``max_collapsed``.
        n_test_images: Test images in the rows.
        level: Coverage of the intervals.
        max_collapsed: Largest share of empty or flooded maps a ranked
            method may have.
        baselines: baseline row name -> metric -> mean (the Max and Center
            boxes: localisation without a map, for reference).
        failed: method -> ``(n_failed, n_test, reason)``: the test images
            it failed on (counted, not scored; the method is not ranked), its
            test images, and the first failure's reason. The baselines'
            failures are counted in the summaries (``n_failed``).

    Examples::

        >>> verdict = compare_verdict(rows)  # rows from run_comparison
        >>> method, top, counted, _ = verdict.ranking[0]
        >>> print(format_verdict(verdict))
    """

    metrics: Tuple[MetricVerdict, ...]
    ranking: Tuple[Tuple[str, int, int, float], ...]
    statuses: Dict[str, Dict[str, int]]
    flagged: Tuple[str, ...]
    n_test_images: int
    level: float = 0.95
    max_collapsed: float = 0.0
    baselines: Dict[str, Dict[str, float]] = field(default_factory=dict)
    failed: Dict[str, Tuple[int, int, str]] = field(default_factory=dict)

    def metric(self, key: str) -> MetricVerdict:
        r"""The verdict on metric ``key`` (``KeyError`` if there is none)."""
        for m in self.metrics:
            if m.key == key:
                return m
        raise KeyError(f"no metric {key!r}; have {[m.key for m in self.metrics]}")


def metric_directions(rows: Sequence[Row]) -> List[Tuple[str, str, bool]]:
    r"""``(key, label, lower_is_better)`` of every metric in ``rows``: the
    table's metrics, then the deletion (lower is better) and insertion
    (higher is better) areas under each evaluation in-filler.

    Args:
        rows (sequence of dict): Per-image rows of a comparison.

    Returns:
        list of ``(key, label, lower_is_better)``

    Examples::

        >>> rows = [{"deletion_road": "0.2", "insertion_road": "0.6"}]
        >>> for key, label, lower in metric_directions(rows)[-2:]:
        ...     print(key, label, "lower" if lower else "higher")
        deletion_road deletion (road) lower
        insertion_road insertion (road) higher
    """
    out = list(BASE_METRICS)
    for key in curve_keys(rows):
        kind, fill = key.split("_", 1)
        out.append((key, f"{kind} ({fill})", kind == "deletion"))
    return out


def _threshold_index(summary: MethodSummary) -> int:
    r"""The index into ``wsl_by_threshold`` that the summary used."""
    if summary.threshold.startswith("alpha="):
        wanted = summary.threshold.split("=", 1)[1]
        for k, alpha in enumerate(DEFAULT_ALPHAS):
            if f"{alpha:g}" == wanted:
                return k
    return 0


def _statuses(rows: Sequence[Row]) -> Dict[str, int]:
    counts = {"ok": 0, "empty": 0, "flooded": 0, "unknown": 0}
    for r in rows:
        status = str(r.get("map_status") or "unknown")
        counts[status if status in counts else "unknown"] += 1
    return counts


def _finite(values: Mapping[int, float]) -> Dict[int, float]:
    return {i: v for i, v in values.items() if not math.isnan(v)}


def _by_method(
    test: Sequence[Row],
) -> Tuple[Dict[str, List[Row]], Dict[str, Tuple[int, int, str]]]:
    r"""The scored test rows of each method, by image id; and for each
    method (not a baseline) that failed on some: ``(n_failed, n_test,
    first reason)``."""
    mine: Dict[str, List[Row]] = {}
    failures: Dict[str, List[Row]] = {}
    for r in sorted(test, key=lambda r: int(str(r["image_id"]))):
        kept = failures if is_failed(r) else mine
        kept.setdefault(str(r["method"]), []).append(r)
    failed = {
        m: (len(f), len(f) + len(mine.get(m, [])), str(f[0].get("reason") or ""))
        for m, f in failures.items()
        if str(f[0].get("family")) != "baseline"
    }
    return mine, failed


def _values(
    rows: Sequence[Row],
    summary: Optional[MethodSummary],
    directions: Sequence[Tuple[str, str, bool]],
) -> Dict[str, Dict[int, float]]:
    r"""Per metric, one method's finite values by image id (WSL at the
    threshold its summary chose)."""
    k = _threshold_index(summary) if summary is not None else 0
    return {key: _finite(per_image_values(rows, key, k)) for key, _, _ in directions}


def compare_verdict(
    rows: Sequence[Row],
    summaries: Optional[Sequence[MethodSummary]] = None,
    max_collapsed: float = 0.0,
    n_boot: int = 2000,
    seed: int = 0,
) -> Verdict:
    r"""The verdict of a comparison's per-image rows (see the module's
    description for the rules).

    Only the ``test`` rows are judged; the WSL threshold of each method is
    the one :func:`~captum_fido.evaluation.summarise` chose on the ``val``
    rows. The baselines without a map (Max and Center boxes) are kept for
    reference and never ranked.

    Args:
        rows (sequence of dict): The comparison's per-image rows (e.g.
            ``per_image.csv`` read with ``csv.DictReader``). A
            ``map_status`` column (``ok``, ``empty`` or ``flooded``) flags
            maps that explain nothing; rows without it count as unknown.
            Rows with ``status`` ``failed`` are counted in
            :attr:`Verdict.failed` and never scored.
        summaries (sequence of MethodSummary, optional): From
            :func:`~captum_fido.evaluation.summarise` on the same rows
            (computed when ``None``).
        max_collapsed (float, optional): Largest share, in ``[0, 1)``, of a
            method's test maps that may be empty or flooded for it to be
            ranked. Default 0: one such map flags the method.
        n_boot (int, optional): Bootstrap resamples of each interval.
            Default 2000.
        seed (int, optional): Seed of the resampling. Default 0.

    Returns:
        :class:`Verdict`

    Raises:
        ValueError: ``max_collapsed`` outside ``[0, 1)``, or no test rows.

    Examples::

        >>> from captum_fido.evaluation.harness import read_rows
        >>> rows = read_rows(Path("outputs/cmp/per_image.csv"))
        >>> verdict = compare_verdict(rows)
        >>> verdict.metric("deletion_road").best
        'FIDO-SSR (Inpainter)'
    """
    if not 0.0 <= float(max_collapsed) < 1.0:
        raise ValueError(f"max_collapsed must be in [0, 1), got {max_collapsed!r}")
    test = [r for r in rows if r.get("split") == "test"]
    if not test:
        raise ValueError("rows must hold test rows (split 'test'); got none")
    if summaries is None:
        summaries = summarise(rows, seed=seed)
    by_method = {s.method: s for s in summaries}
    mine, failed = _by_method(test)
    baselines = [m for m in mine if str(mine[m][0].get("family")) == "baseline"]
    methods = [m for m in mine if m not in baselines]
    statuses = {m: _statuses(mine[m]) for m in methods}
    flagged = tuple(
        m
        for m in methods
        if sum(statuses[m][s] for s in COLLAPSED)
        > max_collapsed * sum(statuses[m].values())
    )
    # A method's means leave out the images it failed on (maybe the hard
    # ones): it is not ranked against methods scored on every image.
    ranked = [m for m in methods if m not in flagged and m not in failed]
    directions = metric_directions(rows)
    values = {
        m: _values(mine[m], by_method.get(m), directions) for m in methods + baselines
    }
    verdicts = tuple(
        _metric_verdict(key, label, lower, values, methods, ranked, n_boot, seed)
        for key, label, lower in directions
    )
    reference = {
        b: {
            key: float(np.mean(list(values[b][key].values())))
            for key, _, _ in directions
            if values[b][key]
        }
        for b in baselines
    }
    return Verdict(
        metrics=verdicts,
        ranking=_ranking(verdicts, ranked),
        statuses=statuses,
        flagged=flagged,
        n_test_images=len({str(r["image_id"]) for r in test}),
        level=0.95,
        max_collapsed=float(max_collapsed),
        baselines=reference,
        failed=failed,
    )


def _metric_verdict(
    key: str,
    label: str,
    lower: bool,
    values: Mapping[str, Mapping[str, Mapping[int, float]]],
    methods: Sequence[str],
    ranked: Sequence[str],
    n_boot: int,
    seed: int,
) -> MetricVerdict:
    means = {
        m: float(np.mean(list(values[m][key].values())))
        for m in methods
        if values[m][key]
    }
    candidates = [m for m in ranked if m in means]
    no_value = tuple(m for m in ranked if m not in means)
    if not candidates:
        nan = math.nan
        return MetricVerdict(
            key, label, lower, None, nan, nan, nan, 0, (), (), {}, means, no_value
        )
    sign = 1.0 if lower else -1.0
    # The best mean; the first in the table's order on an exact tie.
    best = min(candidates, key=lambda m: sign * means[m])
    best_values = values[best][key]
    mean, low, high = bootstrap_ci(list(best_values.values()), n_boot, seed)
    differences: Dict[str, Tuple[float, float, float, int]] = {}
    tied: List[str] = []
    worse: List[str] = []
    for m in sorted(candidates, key=lambda m: sign * means[m]):
        if m == best:
            continue
        diff = paired_difference(values[m][key], best_values, n_boot, seed)
        differences[m] = diff
        _, d_low, d_high, n_pairs = diff
        # Fewer than two shared images give no interval: no evidence either way.
        if n_pairs < 2 or d_low <= 0.0 <= d_high:
            tied.append(m)
        else:
            worse.append(m)
    return MetricVerdict(
        key=key,
        label=label,
        lower_is_better=lower,
        best=best,
        best_mean=mean,
        best_low=low,
        best_high=high,
        n_images=len(best_values),
        tied=tuple(tied),
        worse=tuple(worse),
        differences=differences,
        means=means,
        no_value=no_value,
    )


def _ranking(
    verdicts: Sequence[MetricVerdict], ranked: Sequence[str]
) -> Tuple[Tuple[str, int, int, float], ...]:
    r"""Methods by the number of quality metrics (resting on two images or
    more) on which they are the best or not distinguishable from it; ties
    broken by the mean position."""
    entries = []
    for m in ranked:
        top, counted, positions = 0, 0, []
        for v in verdicts:
            # One image gives no interval: such a metric cannot rank anyone.
            if v.key in COST_METRICS or v.n_images < 2 or m not in v.means:
                continue
            counted += 1
            top += int(m == v.best or m in v.tied)
            order = sorted(
                (x for x in v.means if x in ranked),
                key=lambda x: v.means[x] if v.lower_is_better else -v.means[x],
            )
            positions.append(order.index(m) + 1)
        mean_rank = float(np.mean(positions)) if positions else math.inf
        entries.append((m, top, counted, mean_rank))
    return tuple(sorted(entries, key=lambda e: (-e[1], e[3])))
