r"""Summaries of a comparison: per-method means with bootstrap confidence
intervals, the paper's Table 1 layout, and a figure grid of maps.

WSL thresholds for maps that are not probabilities are chosen per method on
the ``val`` rows (the ``alpha`` with the lowest WSL error) and applied to the
``test`` rows, which alone enter the summaries. FIDO and BBMP maps are
thresholded at 0.5 (the paper's rule, ``wsl_error``) and, so that every method
is localised by one rule, also at the ``alpha`` chosen on their ``val`` rows
(``wsl_error_alpha``; for other maps the two are the same). Deletion areas average over
images whose in-filled image moves the log-odds by more than 1
(``suppression > 1``), where the normalised curve means something.

Rows whose ``status`` is ``failed`` (the method, or the scoring of its map,
failed on that image: see :mod:`captum_fido.evaluation.harness`) are counted,
never scored: they enter no mean, and each summary says how many there are.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from captum_fido._utils.files import atomic_path, write_text_atomic
from captum_fido.metrics import DEFAULT_ALPHAS

__all__ = [
    "MethodSummary",
    "summarise",
    "bootstrap_ci",
    "paired_difference",
    "write_results",
    "write_table",
    "per_image_values",
    "is_failed",
]

Row = Mapping[str, object]

#: Columns of every summary besides the curves: (key, label, lower is better).
BASE_METRICS: Tuple[Tuple[str, str, bool], ...] = (
    ("wsl_error", "WSL error", True),
    ("saliency_metric", "Saliency Metric", True),
    ("pointing", "pointing game", False),
    ("outside_mass", "map mass outside box", True),
    ("map_outside_box", "MAP mask outside box", True),
    ("stability", "stability over seeds", False),
    ("randomisation_top", "rank corr., top layer random", True),
    ("randomisation_all", "rank corr., all layers random", True),
    ("seconds", "seconds / image", True),
    ("passes", "classifier passes / image", True),
)


@dataclass(frozen=True)
class MethodSummary:
    r"""One method's test-split means with 95% bootstrap intervals.

    Attributes:
        method, family: As in the rows.
        n_images: Test images scored (failed ones left out).
        threshold: The WSL threshold used (``"theta=0.5"`` or ``"alpha=..."``).
        values: metric -> ``(mean, low, high, n)``.
        n_failed: Test images the method failed on (``status`` ``failed``):
            counted here, in no mean.
        alpha_threshold: The threshold of ``wsl_error_alpha`` (``"alpha=..."``
            chosen on the val rows; ``""`` when the rows hold no alpha, as
            rows of FIDO and BBMP written before the alphas were scored).
        indices: metric -> index into ``wsl_by_threshold`` /
            ``sm_by_threshold`` of the threshold used (``-1``: none); what
            :func:`per_image_values` takes as ``k`` (see :meth:`index`).

    Examples::

        >>> summary = summarise(rows)[0]  # rows from run_comparison
        >>> summary.method, summary.threshold
        >>> mean, low, high, n = summary.values["wsl_error"]
    """

    method: str
    family: str
    n_images: int
    threshold: str
    values: Dict[str, Tuple[float, float, float, int]]
    n_failed: int = 0
    alpha_threshold: str = ""
    indices: Mapping[str, int] = field(default_factory=dict)

    def index(self, key: str) -> int:
        r"""The ``k`` of :func:`per_image_values` for metric ``key``: the
        index of the threshold this summary used (0 for metrics without one).

        Args:
            key (str): A metric, e.g. ``"wsl_error_alpha"``.

        Returns:
            int: ``-1`` when the rows hold no such threshold.

        Examples::

            >>> summary = summarise(rows)[0]
            >>> per_image_values(test_rows, "wsl_error_alpha",
            ...                  summary.index("wsl_error_alpha"))
        """
        return int(self.indices.get(key, 0))


def is_failed(row: Row) -> bool:
    r"""Whether a per-image row records a failure (``status`` ``failed``)
    rather than scores; rows without a ``status`` (older runs) were scored.

    Args:
        row (dict): One per-image row.

    Returns:
        bool

    Examples::

        >>> is_failed({"image_id": "3", "status": "failed", "reason": "..."})
        True
        >>> is_failed({"image_id": "3", "status": "done"}), is_failed({})
        (False, False)
    """
    return str(row.get("status") or "") == "failed"


def bootstrap_ci(
    values: Sequence[float], n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> Tuple[float, float, float]:
    r"""Mean and percentile bootstrap interval over images (NaN if empty).

    NaN values are left out; one value gives a zero-width interval.

    Args:
        values (sequence of float): One value per image.
        n_boot (int, optional): Bootstrap resamples. Default 2000.
        seed (int, optional): Seed of the resampling. Default 0.
        level (float, optional): Coverage of the interval. Default 0.95.

    Returns:
        ``(mean, low, high)``

    Examples::

        >>> mean, low, high = bootstrap_ci([0.1, 0.4, 0.35, 0.2, 0.3])
        >>> round(mean, 2), low <= mean <= high
        (0.27, True)
    """
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    if x.size == 0:
        return (math.nan, math.nan, math.nan)
    if x.size == 1:
        return (float(x[0]), float(x[0]), float(x[0]))
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    tail = (1.0 - level) / 2
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(x.mean()), float(low), float(high)


def paired_difference(
    a: Mapping[int, float], b: Mapping[int, float], n_boot: int = 2000, seed: int = 0
) -> Tuple[float, float, float, int]:
    r"""Mean of ``a - b`` over the images both have, with its bootstrap
    interval and the number of images: paired, so image difficulty cancels.

    Args:
        a (mapping): Image id -> metric value of one method.
        b (mapping): Image id -> metric value of the other.
        n_boot (int, optional): Bootstrap resamples. Default 2000.
        seed (int, optional): Seed of the resampling. Default 0.

    Returns:
        ``(mean, low, high, n_images)``

    Examples::

        >>> a = {0: 0.30, 1: 0.50, 2: 0.40}
        >>> b = {0: 0.20, 1: 0.45, 2: 0.30, 3: 0.9}  # image 3: b only, left out
        >>> mean, low, high, n = paired_difference(a, b)
        >>> round(mean, 3), n
        (0.083, 3)
    """
    common = sorted(set(a) & set(b))
    diffs = [a[i] - b[i] for i in common if not math.isnan(a[i] - b[i])]
    mean, low, high = bootstrap_ci(diffs, n_boot, seed)
    return mean, low, high, len(diffs)


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _threshold_index(val_rows: Sequence[Row], probabilistic: bool) -> Tuple[int, str]:
    r"""The WSL threshold: 0.5 for probability maps, else the alpha with the
    lowest WSL error on the val rows (the smallest alpha on ties)."""
    lengths = {len(str(r.get("wsl_by_threshold", ""))) for r in val_rows}
    if probabilistic or lengths in ({1}, set()):
        return 0, "theta=0.5" if probabilistic else "box"
    return _best_alpha(val_rows, 0)


def _alpha_index(
    val_rows: Sequence[Row], probabilistic: bool, theta: Tuple[int, str]
) -> Tuple[int, str]:
    r"""The alpha of ``wsl_error_alpha``: for probability maps the one with
    the lowest WSL error on the val rows among the alphas after 0.5 (``-1``
    when a val row holds none); for other maps ``theta``, their threshold."""
    if not probabilistic:
        return theta
    n = 1 + len(DEFAULT_ALPHAS)
    lengths = {len(str(r.get("wsl_by_threshold", ""))) for r in val_rows}
    if lengths != {n}:
        return -1, ""
    return _best_alpha(val_rows, 1)


def _best_alpha(val_rows: Sequence[Row], first: int) -> Tuple[int, str]:
    r"""The alpha (flags ``first ..``) with the lowest mean WSL error on the
    val rows, the smallest on ties, as ``(index into the flags, label)``."""
    errors = [
        np.mean([1 - int(str(r["wsl_by_threshold"])[first + k]) for r in val_rows])
        for k in range(len(DEFAULT_ALPHAS))
    ]
    k = int(np.argmin(errors))
    return first + k, f"alpha={DEFAULT_ALPHAS[k]:g}"


def per_image_values(rows: Sequence[Row], key: str, k: int = 0) -> Dict[int, float]:
    r"""image id -> value of ``key`` (``wsl_error``, ``wsl_error_alpha`` and
    ``saliency_metric`` read threshold ``k``, NaN where a row has none;
    deletion areas are NaN where suppression <= 1).

    Insertion areas are NaN where suppression <= 1 too, and ``pointing``
    reads the ``pointing_hit`` column.

    Args:
        rows (sequence of dict): One method's per-image rows (e.g. read from
            ``per_image.csv``).
        key (str): A metric, e.g. ``"wsl_error"``, ``"pointing"`` or
            ``"deletion_road"``.
        k (int, optional): The threshold's index in ``wsl_by_threshold``
            and ``sm_by_threshold``: into :data:`DEFAULT_ALPHAS` for maps
            that are not probabilities; for FIDO and BBMP maps 0 is 0.5 and
            ``1 + i`` the alpha ``DEFAULT_ALPHAS[i]``
            (:meth:`MethodSummary.index` gives the one a summary used).
            Default 0.

    Returns:
        dict: image id -> value (NaN where the row has none).

    Examples::

        >>> rows = [{"image_id": "0", "pointing_hit": "1"},
        ...         {"image_id": "1", "pointing_hit": "0"}]
        >>> per_image_values(rows, "pointing")
        {0: 1.0, 1: 0.0}
    """
    out: Dict[int, float] = {}
    for r in rows:
        image_id = int(str(r["image_id"]))
        if key in ("wsl_error", "wsl_error_alpha"):
            flags = str(r.get("wsl_by_threshold", ""))
            inside = 0 <= k < len(flags)
            out[image_id] = 1.0 - int(flags[k]) if inside else math.nan
        elif key == "saliency_metric":
            parts = str(r.get("sm_by_threshold", "")).split(";")
            inside = 0 <= k < len(parts) and parts[0] != ""
            out[image_id] = _float(parts[k]) if inside else math.nan
        elif key == "pointing":
            out[image_id] = _float(r.get("pointing_hit"))
        elif key.startswith(("deletion_", "insertion_")):
            name = key.split("_", 1)[1]
            moves = _float(r.get(f"suppression_{name}")) > 1.0
            out[image_id] = _float(r.get(key)) if moves else math.nan
        else:
            out[image_id] = _float(r.get(key))
    return out


def curve_keys(rows: Sequence[Row]) -> List[str]:
    r"""The deletion and insertion columns present, e.g. ``deletion_road``."""
    keys = sorted(
        {k for r in rows for k in r if k.startswith(("deletion_", "insertion_"))}
    )
    return [k for k in keys if k.startswith("deletion_")] + [
        k for k in keys if k.startswith("insertion_")
    ]


def summarise(rows: Sequence[Row], seed: int = 0) -> List[MethodSummary]:
    r"""Per-method summaries, in the order methods first appear in ``rows``.

    Each metric is averaged over the method's test rows with a bootstrap
    interval (:func:`bootstrap_ci`); the WSL threshold is 0.5 for FIDO and
    BBMP maps and chosen on the val rows for the others, and
    ``wsl_error_alpha`` thresholds every map at the alpha chosen on its val
    rows. Failed rows
    (:func:`is_failed`) are counted in ``n_failed`` and enter no mean. The
    rows are
    aggregated in order of image id whatever order they are given in, so
    the numbers depend only on the set of rows and ``seed`` (a run sharded
    over processes gives the summaries of one).

    Args:
        rows (sequence of dict): The comparison's per-image rows
            (``per_image.csv`` of :func:`~captum_fido.evaluation.run_comparison`).
        seed (int, optional): Seed of the bootstrap. Default 0.

    Returns:
        list of :class:`MethodSummary`

    Examples::

        >>> summaries = summarise(rows)  # rows from run_comparison
        >>> [s.method for s in summaries]
    """
    order: List[str] = []
    for r in rows:
        if r["method"] not in order:
            order.append(str(r["method"]))
    # Aggregate in one fixed order (image id, then method), whatever order
    # the rows come in (processes, resumed runs): sums and the seeded
    # bootstrap's resamples then never depend on it.
    rows = sorted(rows, key=lambda r: (int(str(r["image_id"])), str(r["method"])))
    keys = [k for k, _, _ in BASE_METRICS] + ["wsl_error_alpha"] + curve_keys(rows)
    summaries = []
    for method in order:
        mine = [r for r in rows if r["method"] == method]
        family = str(mine[0]["family"])
        probabilistic = family.startswith(("fido", "bbmp"))
        scored = [r for r in mine if not is_failed(r)]
        val = [r for r in scored if r["split"] == "val"]
        k, threshold = _threshold_index(val, probabilistic)
        k_alpha, alpha = _alpha_index(val, probabilistic, (k, threshold))
        indices = {"wsl_error": k, "saliency_metric": k, "wsl_error_alpha": k_alpha}
        test = [r for r in scored if r["split"] == "test"]
        failed = sum(is_failed(r) and r["split"] == "test" for r in mine)
        values = {}
        for key in keys:
            per_image = per_image_values(test, key, indices.get(key, 0))
            finite = [v for v in per_image.values() if not math.isnan(v)]
            mean, low, high = bootstrap_ci(finite, seed=seed)
            values[key] = (mean, low, high, len(finite))
        summaries.append(
            MethodSummary(
                method, family, len(test), threshold, values, failed, alpha, indices
            )
        )
    return summaries


def write_results(summaries: Sequence[MethodSummary], path: Path) -> Path:
    r"""``results.csv``: one row per method, ``n_images`` scored and
    ``n_failed`` (test images the method failed on), the WSL thresholds
    (``wsl_threshold``, ``wsl_alpha_threshold``), then ``<metric>``,
    ``<metric>_low``, ``<metric>_high`` and ``<metric>_n`` for every metric.

    Args:
        summaries (sequence of MethodSummary): From :func:`summarise`.
        path (Path): The CSV file (its folder is created).

    Returns:
        Path: ``path``.

    Examples::

        >>> from pathlib import Path
        >>> write_results(summarise(rows), Path("out/results.csv"))
        PosixPath('out/results.csv')
    """
    path = Path(path)
    keys = list(summaries[0].values) if summaries else []
    header = ["method", "family", "n_images", "n_failed", "wsl_threshold"]
    header += ["wsl_alpha_threshold"]
    for key in keys:
        header += [key, f"{key}_low", f"{key}_high", f"{key}_n"]
    # Built whole, then written to a temporary file renamed over ``path``: a
    # crash or an error leaves the previous results.csv, never a part.
    f = io.StringIO(newline="")
    writer = csv.writer(f)
    writer.writerow(header)
    for s in summaries:
        cells: List[object] = [
            s.method,
            s.family,
            s.n_images,
            s.n_failed,
            s.threshold,
            s.alpha_threshold,
        ]
        for key in keys:
            mean, low, high, n = s.values[key]
            cells += [f"{mean:.6g}", f"{low:.6g}", f"{high:.6g}", n]
        writer.writerow(cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        # Bytes: the csv module's line ends stay as written on every system.
        tmp.write_bytes(f.getvalue().encode("utf-8"))
    return path


def _cell(
    value: Tuple[float, float, float, int], scale: float = 1.0, digits: int = 3
) -> str:
    mean, low, high, _ = value
    if math.isnan(mean):
        return "–"
    m, lo, hi = (f"{v * scale:.{digits}f}" for v in (mean, low, high))
    return f"{m} [{lo}, {hi}]"


def write_table(
    summaries: Sequence[MethodSummary], path: Path, title: Optional[str] = None
) -> Path:
    r"""``table.md``: the paper's Table 1 layout (WSL error %, Saliency
    Metric) extended with the curves, pointing game and cost.

    Metric cells are means with their 95% bootstrap intervals; the cost
    cells (seconds and passes per image) are plain means. A method that
    failed on some test images says how many after its name; its means
    leave them out.

    Args:
        summaries (sequence of MethodSummary): From :func:`summarise`.
        path (Path): The markdown file (its folder is created).
        title (str, optional): A ``# title`` heading above the table.

    Returns:
        Path: ``path``.

    Examples::

        >>> from pathlib import Path
        >>> write_table(summarise(rows), Path("out/table.md"), "scenes: 64 images")
        PosixPath('out/table.md')
    """
    curves = (
        [k for k in summaries[0].values if k.startswith(("deletion_", "insertion_"))]
        if summaries
        else []
    )
    head = ["method", "WSL err %", "WSL err % (alpha)", "SM"]
    head += [k.replace("_", " ") for k in curves]
    head += ["pointing %", "mass outside box", "s / image", "passes / image"]
    lines = [f"# {title}\n" if title else "", "| " + " | ".join(head) + " |"]
    lines.append("|" + "---|" * len(head))
    for s in summaries:
        v = s.values
        name = s.method if not s.n_failed else f"{s.method} ({s.n_failed} failed)"
        cells = [name, _cell(v["wsl_error"], 100, 1)]
        # Summaries made before the alpha column have no such value.
        alpha = v.get("wsl_error_alpha", (math.nan, math.nan, math.nan, 0))
        cells += [_cell(alpha, 100, 1), _cell(v["saliency_metric"])]
        cells += [_cell(v[k]) for k in curves]
        cells += [_cell(v["pointing"], 100, 1), _cell(v["outside_mass"])]
        cells += [_plain(v["seconds"], 3), _plain(v["passes"], 0)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "Means over test images with 95% bootstrap intervals. WSL err %: FIDO "
        "and BBMP maps thresholded at 0.5 (the paper's rule), other maps at "
        "alpha * mean with alpha chosen on the val images; (alpha): every map "
        "at the alpha chosen on its val images ('–' where its rows hold none). "
        "Lower is better: "
        "WSL error, Saliency Metric, deletion, mass outside the box, seconds and "
        "passes; higher is better: insertion and the pointing game. Curves "
        "average images whose fully in-filled image moves the log-odds by more "
        "than 1. Images a method failed on (`status` failed in "
        "`per_image.csv`, with the reason) are counted after its name and "
        "left out of its means. Overlapping intervals do not say which map to "
        "trust: "
        "`verdict.md` compares the methods on the same images and flags empty "
        "or flooded maps, which can score well while explaining nothing."
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(
        path, "\n".join(line for line in lines if line is not None) + "\n"
    )
    return path


def _plain(value: Tuple[float, float, float, int], digits: int) -> str:
    return "–" if math.isnan(value[0]) else f"{value[0]:.{digits}f}"
