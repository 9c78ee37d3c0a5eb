r"""A comparison's verdict in words: :func:`format_verdict` writes the
:class:`~captum_fido.evaluation.verdict.Verdict` of
:func:`~captum_fido.evaluation.verdict.compare_verdict` as Markdown, section by
section, and :func:`write_verdict` writes it to a file."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, List, Mapping, Optional, Sequence

from captum_fido._utils.files import write_text_atomic
from captum_fido.metrics import EMPTY_BELOW, FLOODED_AREA

if TYPE_CHECKING:  # the verdict module imports this one
    from captum_fido.evaluation.verdict import MetricVerdict, Verdict

__all__ = ["format_verdict", "write_verdict"]

#: Per-image statuses of a map that explains nothing (see ``map_status``).
COLLAPSED = ("empty", "flooded")

#: Metrics shown as percentages.
_PERCENT = ("wsl_error", "pointing")


def _number(key: str, value: float) -> str:
    if math.isnan(value):
        return "–"
    if key in _PERCENT:
        return f"{100 * value:.1f}"
    if key == "passes":
        return f"{value:.0f}"
    return f"{value:.3g}" if key == "seconds" else f"{value:.3f}"


def _label(v: MetricVerdict) -> str:
    return f"{v.label} %" if v.key in _PERCENT else v.label


def _names(names: Sequence[str], limit: int = 12) -> str:
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def _collapsed_text(counts: Mapping[str, int]) -> str:
    total = sum(counts.values())
    parts = [f"{counts[s]} of {total} maps {s}" for s in COLLAPSED if counts[s]]
    return ", ".join(parts)


def format_verdict(verdict: Verdict, title: Optional[str] = None) -> str:
    r"""The verdict as Markdown: the summary ranking, one line per metric,
    the flagged methods, and what the intervals can and cannot tell.

    Args:
        verdict (Verdict): From :func:`compare_verdict`.
        title (str, optional): Words after "Verdict" in the heading, e.g.
            the domain and settings.

    Returns:
        str: Markdown text (it reads as plain text in a terminal too).

    Examples::

        >>> text = format_verdict(compare_verdict(rows), "scenes, 8 images")
        >>> text.splitlines()[0]
        '# Verdict: scenes, 8 images'
    """
    pct = f"{verdict.level:.0%}"
    lines = [f"# Verdict: {title}" if title else "# Verdict", ""]
    lines += _summary_lines(verdict, pct)
    lines += _metric_lines(verdict, pct)
    lines += _collapsed_lines(verdict)
    lines += _failed_lines(verdict)
    lines += [
        "",
        "## What these intervals can and cannot tell",
        "",
        _caveats(verdict),
    ]
    return "\n".join(lines) + "\n"


def _summary_lines(verdict: Verdict, pct: str) -> List[str]:
    r"""What was compared, and the methods ranked (ten at most by name)."""
    lines: List[str] = []
    n_methods = len(
        {m for m, *_ in verdict.ranking} | set(verdict.flagged) | set(verdict.failed)
    )
    lines.append(
        f"{n_methods} methods on {verdict.n_test_images} test "
        f"images. For every metric: the best mean, and the methods not "
        f"distinguishable from it (the paired {pct} bootstrap interval of their "
        "difference from the best, on the same images, contains 0)."
    )
    lines += ["", "## Summary ranking", ""]
    if not verdict.ranking:
        lines.append(
            "No method is ranked: every method has maps that explain nothing "
            "or failed on some images."
        )
    seconds = {
        m: v.means.get(m, math.nan)
        for v in verdict.metrics
        if v.key == "seconds"
        for m in v.means
    }
    for place, (method, top, counted, _) in enumerate(verdict.ranking[:10], 1):
        cost = seconds.get(method, math.nan)
        cost_text = "" if math.isnan(cost) else f"; {cost:.3g} s / image"
        lines.append(
            f"{place}. {method}: best or not distinguishable from the best on "
            f"{top} of {counted} metrics{cost_text}"
        )
    if len(verdict.ranking) > 10:
        rest = [m for m, *_ in verdict.ranking[10:]]
        lines.append(f"\nThen: {_names(rest, 30)}.")
    return lines


def _metric_lines(verdict: Verdict, pct: str) -> List[str]:
    r"""How the ranking counts, and one table row per metric."""
    lines: List[str] = [
        "",
        "Counted over the quality metrics below that rest on two images or "
        "more (not seconds or classifier passes). Being in the top group on a "
        "metric means the run could not tell the method from the best, not "
        "that it is as good.",
        "",
        "## Per metric",
        "",
        f"| metric | better | best: mean [{pct} interval] | not distinguishable "
        "from the best | distinguishably worse | images |",
        "|---|---|---|---|---|---|",
    ]
    for v in verdict.metrics:
        direction = "lower" if v.lower_is_better else "higher"
        if v.best is None:
            lines.append(
                f"| {_label(v)} | {direction} | no ranked method has a value | "
                "– | – | 0 |"
            )
            continue
        best = (
            f"{v.best} {_number(v.key, v.best_mean)} "
            f"[{_number(v.key, v.best_low)}, {_number(v.key, v.best_high)}]"
        )
        images = (
            f"{v.n_images}"
            if v.min_pairs == v.n_images
            else f"{v.n_images} (pairs: {v.min_pairs} or more)"
        )
        tied = (
            "one image: no interval (not counted in the ranking)"
            if v.n_images < 2
            else _names(v.tied)
        )
        worse = f"{len(v.worse)} method" + ("" if len(v.worse) == 1 else "s")
        lines.append(
            f"| {_label(v)} | {direction} | {best} | {tied} | {worse} | {images} |"
        )
    references = [
        f"{name}: "
        + ", ".join(
            f"{_label(v)} {_number(v.key, verdict.baselines[name][v.key])}"
            for v in verdict.metrics
            if v.key in verdict.baselines[name]
        )
        for name in verdict.baselines
    ]
    if references:
        lines += ["", "Boxes without a map, for reference: " + "; ".join(references)]
    return lines


def _collapsed_lines(verdict: Verdict) -> List[str]:
    r"""The methods not ranked for maps that explain nothing, and why."""
    lines: List[str] = ["", "## Maps that explain nothing", ""]
    if verdict.flagged:
        for m in verdict.flagged:
            lines.append(
                f"- {m}: {_collapsed_text(verdict.statuses[m])}: not ranked "
                "(its scores describe maps of nothing: an empty map has no "
                "mass outside the box)."
            )
    else:
        lines.append("No ranked method has an empty or flooded map.")
    unknown = [m for m, c in verdict.statuses.items() if c["unknown"]]
    if unknown:
        lines.append(
            f"- Map status not recorded (rows of an older run) for {_names(unknown)}: "
            "their maps could not be checked."
        )
    lines += [
        "",
        f"Empty: every value below {EMPTY_BELOW:g}; flooded: the map's mean, the "
        f"share selected, at least {FLOODED_AREA:g} "
        "(`captum_fido.metrics.map_status`). "
        + (
            "A method with any such map is not ranked."
            if verdict.max_collapsed == 0
            else f"A method with more than {verdict.max_collapsed:.0%} of such "
            "maps is not ranked."
        ),
    ]
    return lines


def _failed_lines(verdict: Verdict) -> List[str]:
    r"""The methods not ranked for images they failed on."""
    lines: List[str] = ["", "## Images a method failed on", ""]
    if verdict.failed:
        for m, (n, total, reason) in verdict.failed.items():
            lines.append(
                f"- {m}: failed on {n} of {total} test images (counted, not "
                "scored; `status` failed in `per_image.csv`): not ranked, as its "
                f"means leave those images out. First reason: {reason}"
            )
    else:
        lines.append("No method failed on any test image.")
    return lines


def _caveats(verdict: Verdict) -> str:
    few = [
        f"{_label(v)} ({v.n_images})"
        for v in verdict.metrics
        if v.best is not None and v.n_images < verdict.n_test_images
    ]
    text = (
        f"The intervals rest on {verdict.n_test_images} test images"
        + (f"; some metrics on fewer: {', '.join(few)}" if few else "")
        + ". A paired interval that excludes 0 says the difference is unlikely "
        "to be resampling noise over these images: it holds for this model, "
        "this domain and these settings (steps, sparsity weight, in-fillers), "
        "not beyond them. Intervals are not corrected for the number of "
        f"comparisons ({len(verdict.ranking)} ranked methods, "
        f"{len(verdict.metrics)} metrics), so with many methods a few "
        "separations are expected by chance. 'Not distinguishable' is not "
        "'equal': "
    )
    if verdict.n_test_images < 30:
        text += (
            f"with {verdict.n_test_images} images an interval is wide, and "
            "'not distinguishable' mostly says that more images are needed "
            "(`--n-images`)."
        )
    else:
        text += "a difference smaller than the interval's width can still exist."
    return text


def write_verdict(verdict: Verdict, path: Path, title: Optional[str] = None) -> Path:
    r"""Write :func:`format_verdict`'s Markdown to ``path`` (atomically: a
    temporary file in the same folder, then renamed).

    Args:
        verdict (Verdict): From :func:`compare_verdict`.
        path (Path): The Markdown file (its folder is created).
        title (str, optional): As for :func:`format_verdict`.

    Returns:
        Path: ``path``.

    Examples::

        >>> write_verdict(compare_verdict(rows), Path("out/verdict.md"))
        PosixPath('out/verdict.md')
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, format_verdict(verdict, title))
    return path
