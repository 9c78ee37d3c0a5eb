r"""Run many saliency methods over a data set and score every map.

:func:`run_comparison` explains the images chunk by chunk with each method,
scores each map with the metrics of :mod:`captum_fido.metrics` and appends one
row per (image, method) to ``per_image.csv`` as soon as a chunk is done, so an
interrupted run resumes where it stopped.

Nothing written is lost: appends are flushed to disk and each row carries a
checksum (:data:`CHECK_COLUMN`); a record that a killed run left incomplete or
that is malformed is left out on reading (with a warning) and recomputed, and
a file that must change beyond an append (new columns, a damaged record) is
written anew and renamed over the old one, never rewritten in place.

An image's row depends on the image, its id, the seed (mask methods draw from
per-image streams; stochastic evaluation in-fillers are seeded per image) and,
in the last float digits, on the chunk it is explained with (the batch
changes the order of floating-point operations in the classifier). Chunks are
fixed by ``chunk_size`` and the images' order, a resumed run recomputes a
chunk whole, and processes share the work by whole chunks
(:meth:`~captum_fido.evaluation.distributed.Shard.take_chunks`), so a run
split over processes or resumed gives exactly the rows of one uninterrupted
run with the same ``chunk_size`` (on the same hardware and thread count).

A method that raises on some images does not stop the comparison: when a
chunk fails, each of its images is tried alone (so one bad image fails by
itself), and the images that still fail get a row with ``status`` ``failed``,
the ``stage`` that failed (``method``: making the maps; ``metrics``: scoring
them) and the ``reason`` (the error, one line), with a warning; rows that
were scored say ``status`` ``done``. These are the columns and words of
:func:`captum_fido.explain.explain_dataset`'s index. The summaries count
failed rows and never score them (:func:`~captum_fido.evaluation.summarise`);
a resumed run keeps them unless ``retry_failed``.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import (
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
)

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from captum_fido._utils import validation as V
from captum_fido._utils.files import atomic_path, save_torch_atomic
from captum_fido._utils.model_state import preserve_module_state
from captum_fido._utils.scores import OUTPUT_TYPES, check_model_output, num_classes
from captum_fido.evaluation.methods import MethodSpec, RowCounter
from captum_fido.infillers import Infiller
from captum_fido.metrics import (
    DEFAULT_ALPHAS,
    center_box,
    deletion_curve,
    insertion_curve,
    map_outside_box,
    map_status,
    mass_outside_box,
    max_box,
    model_randomisation,
    pointing_game,
    saliency_metric,
    salient_boxes,
    stability,
    wsl_correct,
)

__all__ = ["EvalData", "ComparisonSettings", "run_comparison", "BASELINES"]

#: ``status`` of a row whose image a method (or its scoring) failed on.
FAILED = "failed"
#: ``status`` of a scored row.
DONE = "done"
#: Longest ``reason`` kept in a failed row (the error's first characters).
_REASON_CHARS = 500

#: Rows of the localisation baselines (paper Table 1): no map, just a box.
BASELINES = ("Max (whole image)", "Center (half area)")

Row = Dict[str, object]


@dataclass(frozen=True)
class EvalData:
    r"""Images with ground truth, each with a stable id and a split.

    Attributes:
        images: ``(N, C, H, W)``.
        labels: ``(N,)`` true classes (the explained targets).
        boxes: ``(N, 4)`` ground-truth boxes ``(x0, y0, x1, y1)``.
        image_ids: ``N`` ints, unique; seeds derive from them.
        splits: ``N`` of ``"val"`` (chooses WSL thresholds) or ``"test"``.

    Raises:
        ValueError: for inconsistent shapes, repeated ids or another split.

    Examples::

        >>> data = EvalData(
        ...     images=torch.rand(2, 3, 64, 64),
        ...     labels=torch.tensor([0, 3]),
        ...     boxes=torch.tensor([[8.0, 8.0, 40.0, 40.0], [0.0, 16.0, 32.0, 64.0]]),
        ...     image_ids=[0, 1],
        ...     splits=["val", "test"],
        ... )
        >>> data.subset([1]).image_ids
        [1]
    """

    images: Tensor
    labels: Tensor
    boxes: Tensor
    image_ids: Sequence[int]
    splits: Sequence[str]

    def __post_init__(self) -> None:
        n = self.images.shape[0]
        if self.images.dim() != 4:
            raise ValueError(
                f"images must be (N, C, H, W), got {tuple(self.images.shape)}"
            )
        for name, value in (("labels", self.labels), ("image_ids", self.image_ids)):
            if len(value) != n:
                raise ValueError(f"{name} must have {n} entries, got {len(value)}")
        if tuple(self.boxes.shape) != (n, 4):
            raise ValueError(
                f"boxes must have shape ({n}, 4), got {tuple(self.boxes.shape)}"
            )
        if len(set(int(i) for i in self.image_ids)) != n:
            raise ValueError("image_ids must be unique")
        if len(self.splits) != n or set(self.splits) - {"val", "test"}:
            raise ValueError("splits must hold 'val' or 'test' for every image")
        _check_images_and_labels(self)

    def subset(self, rows: Sequence[int]) -> EvalData:
        r"""The images at positions ``rows`` (not ids), in that order."""
        index = torch.as_tensor(list(rows), dtype=torch.long)
        return EvalData(
            self.images[index],
            self.labels[index],
            self.boxes[index],
            [int(self.image_ids[i]) for i in rows],
            [self.splits[i] for i in rows],
        )


@dataclass(frozen=True)
class ComparisonSettings:
    r"""How maps are scored.

    Attributes:
        seed: Base seed; image ``i`` uses ``seed + id``.
        fractions: Points of the deletion and insertion curves.
        chunk_size: Images explained together by each method.
        n_stability: Images (the lowest ids) whose mask-method maps are
            recomputed with another seed (stability, paper A.3).
        n_sanity: Images (the lowest ids) of the model-randomisation check
            (Adebayo et al.): maps after randomising the model's output block,
            then all its blocks (top-level children), cascading.
        preview: Images (the lowest ids) whose maps are kept for the figure.
        show_progress: tqdm bars.
        output_type: What the model returns: ``"logits"`` (default),
            ``"probs"`` or ``"log_probs"``.

    Examples::

        >>> settings = ComparisonSettings(seed=1, chunk_size=4, show_progress=False)
        >>> settings.fractions[:3]
        (0.0, 0.1, 0.2)
    """

    seed: int = 0
    fractions: Tuple[float, ...] = tuple(i / 10 for i in range(11))
    chunk_size: int = 8
    n_stability: int = 4
    n_sanity: int = 2
    preview: int = 4
    show_progress: bool = True
    output_type: str = "logits"

    def __post_init__(self) -> None:
        V.check_nonnegative_int(self.seed, "seed")
        V.check_positive_int(self.chunk_size, "chunk_size")
        for name in ("n_stability", "n_sanity", "preview"):
            V.check_nonnegative_int(getattr(self, name), name)
        V.check_bool(self.show_progress, "show_progress")
        if self.output_type not in OUTPUT_TYPES:
            raise ValueError(
                f"output_type must be one of {OUTPUT_TYPES}, got {self.output_type!r}"
            )
        fractions = V.check_finite_values(self.fractions, "fractions")
        if (
            len(fractions) < 2
            or not all(0.0 <= f <= 1.0 for f in fractions)
            or not all(a < b for a, b in zip(fractions, fractions[1:]))
        ):
            raise ValueError(
                "fractions must be at least two strictly increasing values in "
                f"[0, 1] (the points of the deletion and insertion curves), got "
                f"{tuple(self.fractions)}"
            )


def _check_images_and_labels(data: EvalData) -> None:
    r"""What every metric will check, checked once before any work: finite
    float images, integer labels >= 0, boxes inside the images."""
    if not isinstance(data.images, Tensor) or not data.images.is_floating_point():
        raise TypeError(
            "images must be a floating-point tensor, got "
            f"{getattr(data.images, 'dtype', type(data.images).__name__)}"
        )
    if not bool(torch.isfinite(data.images).all()):
        raise ValueError("images hold NaN or infinite values")
    labels = data.labels
    if (
        not isinstance(labels, Tensor)
        or labels.dim() != 1
        or labels.is_floating_point()
        or labels.is_complex()
        or labels.dtype == torch.bool
    ):
        raise TypeError(
            "labels must be a 1-D integer tensor of classes, got "
            f"{getattr(labels, 'dtype', type(labels).__name__)}"
        )
    if bool((labels < 0).any()):
        raise ValueError(f"labels must be classes >= 0, got {labels.tolist()}")
    h, w = int(data.images.shape[2]), int(data.images.shape[3])
    V.check_boxes(list(data.boxes), len(labels), (h, w), "boxes")


def _check_labels_against(model: nn.Module, data: EvalData, output_type: str) -> None:
    r"""One clean pass on the first image: the labels (the explained targets)
    must be classes of the model, before any method runs."""
    if not len(data.image_ids):
        return
    with torch.no_grad(), preserve_module_state(model):
        output = check_model_output(model(data.images[:1]), 1, output_type, "model")
    V.check_targets_in_range(data.labels, num_classes(output))


def run_comparison(
    model: nn.Module,
    data: EvalData,
    methods: Sequence[MethodSpec],
    eval_infillers: Mapping[str, Infiller],
    out_csv: Path,
    settings: ComparisonSettings = ComparisonSettings(),
    preview_dir: Optional[Path] = None,
    previous: Sequence[Row] = (),
    unit_seconds: Optional[Mapping[str, float]] = None,
    retry_failed: bool = False,
) -> List[Row]:
    r"""Explain and score every image with every method; append rows to
    ``out_csv`` chunk by chunk and skip (image, method) pairs already there.

    An image a method fails on (after a failed chunk, each image is tried
    alone) gets a row with ``status`` ``"failed"``, the ``stage`` and the
    ``reason`` instead of scores, with a warning, and the comparison goes on
    (see the module's description); scored rows have ``status`` ``"done"``.

    Args:
        model (nn.Module): The classifier (logits), in eval mode.
        data (EvalData): The images to explain.
        methods (sequence of MethodSpec): What to run.
        eval_infillers (mapping): name -> in-filler of the deletion and
            insertion curves (e.g. a generative in-painter and ROAD's).
        out_csv (Path): The per-image rows (created or extended).
        settings (ComparisonSettings): Seeds, curve points, subsets.
        preview_dir (Path, optional): Where the maps of the first
            ``settings.preview`` images are saved for the figure.
        previous (sequence of dict, optional): Rows written elsewhere (by
            another process's file); their (image, method) pairs are skipped.
        unit_seconds (mapping, optional): method name (and ``"baselines"``)
            -> estimated seconds per image
            (:attr:`~captum_fido.evaluation.cost.CostEstimate.unit_seconds`):
            the progress bar weighs each chunk and method by it, so its
            remaining time follows the methods' real costs. Default: every
            chunk and method weighs the same.
        retry_failed (bool, optional): Run again the (image, method) pairs
            an earlier run recorded as failed (their chunks are recomputed
            whole). Default ``False``: they are kept as they are.

    Returns:
        list of dict: The rows of ``out_csv``, old and new.

    Examples::

        >>> from pathlib import Path
        >>> from captum_fido.infillers import NoisyLinearInfiller
        >>> specs = captum_methods(lambda m: m.layer4)  # e.g. a torchvision ResNet
        >>> rows = run_comparison(model.eval(), data, specs,
        ...                       {"road": NoisyLinearInfiller()},
        ...                       Path("out/per_image.csv"),
        ...                       ComparisonSettings(show_progress=False))
        >>> summaries = summarise(rows)
    """
    V.check_bool(retry_failed, "retry_failed")
    _check_labels_against(model, data, settings.output_type)
    done = {
        (int(str(r["image_id"])), str(r["method"]))
        for r in [*read_rows(out_csv), *previous]
        if not (retry_failed and r.get("status") == FAILED)
    }
    counter = RowCounter(model)
    chunks = list(_chunks(len(data.image_ids), settings.chunk_size))

    def weight(spec: Optional[MethodSpec], n: int) -> float:
        if unit_seconds is None:
            return 1.0
        return n * float(
            unit_seconds.get("baselines" if spec is None else spec.name, 1.0)
        )

    bar = tqdm(
        total=sum(weight(s, len(c)) for c in chunks for s in [None, *methods]),
        desc="compare",
        disable=not settings.show_progress,
        # Units weigh estimated seconds: show the share done and the time
        # left, not a count of units; the rate is the mean since the start.
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}",
        smoothing=0,
    )
    for rows in chunks:
        chunk = data.subset(rows)
        for spec in [None, *methods]:
            name = "baselines" if spec is None else spec.name
            bar.set_postfix_str(name[:28])
            if _missing(chunk, spec, done):
                # The whole chunk, even when only some of its rows are
                # missing: an image's numbers depend (in the last float
                # digits) on the batch it is explained in, so every row
                # comes from the batch an uninterrupted run would use.
                new = _chunk_rows(
                    model, counter, spec, chunk, eval_infillers, settings, preview_dir
                )
                new = [
                    r
                    for r in new
                    if (int(str(r["image_id"])), str(r["method"])) not in done
                ]
                append_rows(out_csv, new)
                done.update((int(str(r["image_id"])), str(r["method"])) for r in new)
                bar.update(weight(spec, len(rows)))
            else:
                # Work a previous run did: out of the total, not into the
                # rate, so the time left is not underestimated on a resume.
                bar.total -= weight(spec, len(rows))
                bar.refresh()
    bar.close()
    scan = _scan(out_csv)
    if scan.repeated:
        # A retried pair's new row was appended after its failed one: the
        # file keeps one row per pair (read_rows already took the last).
        columns = [*scan.columns] + [CHECK_COLUMN] * (CHECK_COLUMN not in scan.columns)
        write_rows(out_csv, scan.rows, columns)
    return read_rows(out_csv)


class _StageFailed(Exception):
    r"""A failure while making the maps (``stage`` ``"method"``) or scoring
    them (``"metrics"``)."""

    def __init__(self, stage: str, error: Exception) -> None:
        super().__init__(f"{stage}: {error}")
        self.stage, self.error = stage, error


def _chunk_rows(
    model: nn.Module,
    counter: RowCounter,
    spec: Optional[MethodSpec],
    chunk: EvalData,
    eval_infillers: Mapping[str, Infiller],
    settings: ComparisonSettings,
    preview_dir: Optional[Path],
) -> List[Row]:
    r"""The rows of one chunk and one method (``None``: the baselines): the
    chunk's rows when it succeeds; otherwise each image tried alone, and a
    failed row for each image that still fails."""

    def rows_of(data: EvalData) -> List[Row]:
        try:
            if spec is None:
                rows = _baseline_rows(model, data, settings)
            else:
                rows = _method_rows(
                    counter, spec, data, eval_infillers, settings, preview_dir
                )
        except _StageFailed:
            raise
        except Exception as err:  # an error outside the method's own call
            raise _StageFailed("metrics", err) from err
        return [r | {"status": DONE} for r in rows]

    try:
        return rows_of(chunk)
    except _StageFailed as failure:
        if len(chunk.image_ids) == 1:
            return _failed_rows(chunk, spec, failure)
    # One image's failure must not cost the others their rows: each alone.
    if chunk.images.is_cuda:
        torch.cuda.empty_cache()
    rows: List[Row] = []
    for i in range(len(chunk.image_ids)):
        alone = chunk.subset([i])
        try:
            rows += rows_of(alone)
        except _StageFailed as failure:
            rows += _failed_rows(alone, spec, failure)
    return rows


def _failed_rows(
    data: EvalData, spec: Optional[MethodSpec], failure: _StageFailed
) -> List[Row]:
    r"""Rows saying that the images of ``data`` failed, and why (warned)."""
    err = failure.error
    reason = " ".join(f"{type(err).__name__}: {err}".split())
    if len(reason) > _REASON_CHARS:
        reason = reason[: _REASON_CHARS - 3] + "..."
    names = BASELINES if spec is None else (spec.name,)
    ids = [int(i) for i in data.image_ids]
    warnings.warn(
        f"compare: {' and '.join(names)} failed ({failure.stage}) on image ids "
        f"{ids}: {reason}. Their rows say status 'failed' and are counted, not "
        "scored; the comparison goes on",
        stacklevel=4,
    )
    family = "baseline" if spec is None else spec.family
    extra: Row = {} if spec is None else {"infiller": spec.infiller or ""}
    return [
        _base_row(data, i, name, family)
        | extra
        | {"status": FAILED, "stage": failure.stage, "reason": reason}
        for name in names
        for i in range(len(ids))
    ]


def _chunks(n: int, size: int) -> Iterator[List[int]]:
    for start in range(0, n, size):
        yield list(range(start, min(n, start + size)))


def _missing(
    chunk: EvalData, spec: Optional[MethodSpec], done: Set[Tuple[int, str]]
) -> bool:
    r"""Whether some (image, method) row of the chunk is not written yet."""
    names = BASELINES if spec is None else (spec.name,)
    return any(
        (int(image_id), name) not in done
        for image_id in chunk.image_ids
        for name in names
    )


def _baseline_rows(
    model: nn.Module, data: EvalData, settings: ComparisonSettings
) -> List[Row]:
    r"""WSL correctness and Saliency Metric of the Max and Center boxes."""
    n, _, h, w = data.images.shape
    rows: List[Row] = []
    for name, box in zip(BASELINES, (max_box(h, w), center_box(h, w))):
        boxes = box.expand(n, 4)
        correct = wsl_correct(boxes, list(data.boxes))
        sm = saliency_metric(
            model, data.images, boxes, data.labels, settings.output_type
        )
        for i in range(n):
            rows.append(
                _base_row(data, i, name, "baseline")
                | {
                    "wsl_by_threshold": str(int(correct[i])),
                    "sm_by_threshold": f"{float(sm[i]):.6g}",
                }
            )
    return rows


def _base_row(data: EvalData, i: int, method: str, family: str) -> Row:
    return {
        "image_id": int(data.image_ids[i]),
        "split": data.splits[i],
        "method": method,
        "family": family,
        "label": int(data.labels[i]),
    }


def _method_rows(
    counter: RowCounter,
    spec: MethodSpec,
    data: EvalData,
    eval_infillers: Mapping[str, Infiller],
    settings: ComparisonSettings,
    preview_dir: Optional[Path],
) -> List[Row]:
    r"""Explain ``data`` with ``spec`` (timed, passes counted) and score it."""
    n = data.images.shape[0]
    model = counter.model
    counter.rows = 0
    start = time.perf_counter()
    try:
        maps = _explain(counter, spec, data, settings.seed)
    except Exception as err:  # the method itself failed on these images
        raise _StageFailed("method", err) from err
    seconds = (time.perf_counter() - start) / n
    passes = counter.rows / n
    # Empty or flooded maps explain nothing; the verdict never ranks them.
    statuses = map_status(maps)
    rows = [
        _base_row(data, i, spec.name, spec.family)
        | {
            "infiller": spec.infiller or "",
            "seconds": f"{seconds:.4g}",
            "passes": f"{passes:.6g}",
            "map_status": statuses[i],
        }
        for i in range(n)
    ]
    _add_localisation(rows, model, spec, data, maps, settings)
    _add_curves(rows, model, data, maps, eval_infillers, settings)
    _add_stability_and_sanity(rows, model, spec, data, maps, settings)
    _save_preview(preview_dir, spec, data, maps, settings)
    return rows


def _explain(model: nn.Module, spec: MethodSpec, data: EvalData, seed: int) -> Tensor:
    r"""Maps ``(N, H, W)``; mask methods draw from per-image streams seeded by
    the run's seed, so the maps do not depend on how images are chunked."""
    maps = spec.explain(model, data.images, data.labels, seed)
    if tuple(maps.shape) != (data.images.shape[0], *data.images.shape[2:]):
        raise ValueError(
            f"method {spec.name} returned maps of shape {tuple(maps.shape)}"
        )
    finite = torch.isfinite(maps.detach()).flatten(1).all(dim=1)
    if not bool(finite.all()):
        ids = [int(data.image_ids[i]) for i in (~finite).nonzero()[:, 0].tolist()]
        raise ValueError(
            f"method {spec.name} returned NaN or infinite maps for image ids {ids} "
            f"(seed {seed}); no row is written for them"
        )
    return maps.detach().float().clamp(0, 1)


def _add_localisation(
    rows: List[Row],
    model: nn.Module,
    spec: MethodSpec,
    data: EvalData,
    maps: Tensor,
    settings: ComparisonSettings,
) -> None:
    r"""Pointing game, mass outside the box, and WSL / Saliency Metric for
    each threshold: ``alpha * mean`` for every alpha (the report picks alpha
    on the val split), preceded for probabilistic maps by 0.5, the paper's
    rule for FIDO. The alphas are scored for probabilistic maps too: a map
    whose values all stay below 0.5 has an empty MAP mask and a whole-image
    box at 0.5 however well it ranks the object's pixels (see
    ``docs/reproduction.md``, the WSL anomaly)."""
    gt = list(data.boxes)
    hits = pointing_game(maps, gt).hits
    outside_map = map_outside_box(maps, gt, 0.5)
    outside_mass = mass_outside_box(maps, gt)
    thresholds: List[Dict[str, float]] = [{"alpha": a} for a in DEFAULT_ALPHAS]
    if spec.probabilistic:
        thresholds.insert(0, {"threshold": 0.5})
    correct, sms = [], []
    for kw in thresholds:
        boxes = salient_boxes(maps, **kw)
        correct.append(wsl_correct(boxes, gt))
        sms.append(
            saliency_metric(
                model, data.images, boxes, data.labels, settings.output_type
            )
        )
    for i, row in enumerate(rows):
        row["pointing_hit"] = int(hits[i])
        row["outside_mass"] = f"{float(outside_mass[i]):.6g}"
        row["map_outside_box"] = f"{float(outside_map[i]):.6g}"
        row["wsl_by_threshold"] = "".join(str(int(c[i])) for c in correct)
        row["sm_by_threshold"] = ";".join(f"{float(s[i]):.6g}" for s in sms)


def _add_curves(
    rows: List[Row],
    model: nn.Module,
    data: EvalData,
    maps: Tensor,
    eval_infillers: Mapping[str, Infiller],
    settings: ComparisonSettings,
) -> None:
    r"""Deletion and insertion areas under each evaluation in-filler, one
    image at a time with that image's seed (independent of chunking)."""
    for i, row in enumerate(rows):
        x, m, y = data.images[i : i + 1], maps[i : i + 1], data.labels[i : i + 1]
        seed = settings.seed + int(data.image_ids[i])
        fractions, output_type = settings.fractions, settings.output_type
        for name, fill in eval_infillers.items():
            deletion = deletion_curve(
                model, x, m, y, fill, fractions, output_type, seed
            )
            insertion = insertion_curve(
                model, x, m, y, fill, fractions, output_type, seed
            )
            row[f"deletion_{name}"] = f"{float(deletion.area[0]):.6g}"
            row[f"insertion_{name}"] = f"{float(insertion.area[0]):.6g}"
            row[f"suppression_{name}"] = f"{float(deletion.suppression[0]):.6g}"


def _add_stability_and_sanity(
    rows: List[Row],
    model: nn.Module,
    spec: MethodSpec,
    data: EvalData,
    maps: Tensor,
    settings: ComparisonSettings,
) -> None:
    r"""Stability over seeds (mask methods) and the model-randomisation
    check on the images with the lowest ids.

    ``stability_status`` says what the stability cell measures: ``"ok"``
    (two informative maps), ``"collapsed"`` (both seeds' maps are empty or
    flooded, :func:`~captum_fido.metrics.map_status`: they explain nothing,
    so their correlation, mostly noise, is not reported and the cell is
    empty) or ``"collapsed in one seed"`` (the seed decided whether the
    method collapsed: instability, reported)."""
    ids = [int(i) for i in data.image_ids]
    chosen = [i for i, image_id in enumerate(ids) if image_id < settings.n_stability]
    if chosen and spec.family != "captum":
        sub = data.subset(chosen)
        again = _explain(model, spec, sub, settings.seed + 1)
        corr = stability(torch.stack([maps[chosen], again]))
        first, second = map_status(maps[chosen]), map_status(again)
        for j, i in enumerate(chosen):
            collapsed = (first[j] != "ok") + (second[j] != "ok")
            rows[i]["stability_status"] = ("ok", "collapsed in one seed", "collapsed")[
                collapsed
            ]
            rows[i]["stability"] = "" if collapsed == 2 else f"{float(corr[j]):.6g}"
    sane = [i for i, image_id in enumerate(ids) if image_id < settings.n_sanity]
    if sane:
        sub = data.subset(sane)
        # Two stages: the output block alone, then every block (the model's
        # top-level children with parameters, randomised from the output).
        blocks = [
            n for n, c in model.named_children() if any(True for _ in c.parameters())
        ]
        result = model_randomisation(
            model,
            sub.images,
            sub.labels,
            lambda m, x, y: spec.explain(m, x, y, settings.seed),
            layers=blocks,
            seed=settings.seed,
        )
        for j, i in enumerate(sane):
            rows[i]["randomisation_top"] = _finite(result.correlations[0, j])
            rows[i]["randomisation_all"] = _finite(result.correlations[-1, j])


def _finite(value: Tensor) -> str:
    v = float(value)
    return "" if math.isnan(v) else f"{v:.6g}"


def preview_path(preview_dir: Path, method: str, image_id: int) -> Path:
    r"""Where the map of ``method`` on image ``image_id`` is kept for figures
    (one file each, so parallel processes never write the same file)."""
    slug = "".join(c if c.isalnum() else "_" for c in method)
    return Path(preview_dir) / f"{slug}__{image_id}.pt"


def _save_preview(
    preview_dir: Optional[Path],
    spec: MethodSpec,
    data: EvalData,
    maps: Tensor,
    settings: ComparisonSettings,
) -> None:
    if preview_dir is None:
        return
    for i, image_id in enumerate(data.image_ids):
        if int(image_id) < settings.preview:
            path = preview_path(preview_dir, spec.name, int(image_id))
            path.parent.mkdir(parents=True, exist_ok=True)
            save_torch_atomic(maps[i].clone(), path)


#: The column holding each row's checksum (CRC-32 of its other values): a row
#: that does not match it was torn by a crash and is recomputed.
CHECK_COLUMN = "row_check"
#: Columns every per-image row has; a row without them is malformed.
_REQUIRED = ("image_id", "split", "method")


def row_check(row: Mapping[str, object]) -> str:
    r"""The checksum of a row: CRC-32 (8 hex digits) of its non-empty values
    with their column names, in column-name order, so a column added to the
    file later (empty in old rows) does not change it.

    Args:
        row (mapping): Column -> value (values are compared as ``str``).

    Returns:
        str: 8 lowercase hex digits.

    Examples::

        >>> row_check({"image_id": 0, "method": "Saliency"})
        '...'
        >>> row_check({"image_id": "0", "method": "Saliency", "extra": ""}) == (
        ...     row_check({"image_id": 0, "method": "Saliency"}))
        True
    """
    parts = [
        f"{k}\x1e{v}"
        for k, v in sorted((str(k), str(v)) for k, v in row.items())
        if k != CHECK_COLUMN and v != ""
    ]
    return f"{zlib.crc32(chr(0x1F).join(parts).encode('utf-8')):08x}"


@dataclass
class _Scan:
    r"""What a per-image CSV holds: its header, its valid rows (the last of
    any repeated (image, method) pair) and the line numbers of the records
    left out (torn, malformed or failing their checksum)."""

    columns: List[str]
    rows: List[Row]
    bad_lines: List[int]
    repeated: int = 0

    @property
    def clean(self) -> bool:
        r"""Whether appending to the file keeps it valid as it is."""
        return not self.bad_lines and not self.repeated


def _scan(path: Path) -> _Scan:
    r"""Read and validate a per-image CSV (an absent or empty file holds no
    rows). Raises ``ValueError`` when the header itself is unusable."""
    if not path.is_file():
        return _Scan([], [], [])
    text = path.read_bytes().decode("utf-8", errors="replace")
    bad: List[int] = []
    # A record is complete only with its line end: a run killed mid-write
    # leaves the last one without it.
    end = text.rfind("\n") + 1
    if end < len(text):
        bad.append(text.count("\n", 0, end) + 1)
        text = text[:end]
    records = list(csv.reader(io.StringIO(text, newline="")))
    if not records:
        return _Scan([], [], bad)
    columns = records[0]
    if (
        len(set(columns)) != len(columns)
        or any(c == "" or "\x00" in c for c in columns)
        or any(c not in columns for c in _REQUIRED)
    ):
        raise ValueError(
            f"{path} does not start with a per-image header (it needs the columns "
            f"{', '.join(_REQUIRED)}, each named once); it is not a per_image.csv "
            "of this harness, or its first line is damaged: move it away and run "
            "again to start afresh"
        )
    by_pair: Dict[Tuple[int, str], Row] = {}
    repeated = 0
    for line, values in enumerate(records[1:], start=2):
        if not values:
            continue  # a blank line holds nothing
        row = _valid_row(columns, values)
        if row is None:
            bad.append(line)
            continue
        pair = (int(str(row["image_id"])), str(row["method"]))
        repeated += pair in by_pair
        by_pair.pop(pair, None)
        by_pair[pair] = row
    return _Scan(columns, list(by_pair.values()), sorted(bad), repeated)


def _valid_row(columns: List[str], values: List[str]) -> Optional[Row]:
    r"""The row of a record, or ``None`` when it is malformed: another number
    of fields than the header, a NUL byte or undecodable text (a torn write),
    no image id, method or split, or a checksum that does not match."""
    if len(values) != len(columns) or any("\x00" in v or "\ufffd" in v for v in values):
        return None
    row: Row = dict(zip(columns, values))
    try:
        int(str(row["image_id"]))
    except ValueError:
        return None
    if not row["method"] or row["split"] not in ("val", "test"):
        return None
    if CHECK_COLUMN in row and row[CHECK_COLUMN] != row_check(row):
        return None
    return row


def read_rows(path: Path) -> List[Row]:
    r"""The valid rows of a per-image CSV (none if it does not exist).

    Records that a killed run left incomplete (no line end), malformed ones
    (another number of fields than the header, no image id, method or split)
    and rows whose :data:`CHECK_COLUMN` checksum does not match are left out
    with a warning, so a resumed run recomputes them; of a repeated
    (image, method) pair the last row is kept.

    Args:
        path (Path): The CSV file.

    Returns:
        list of dict: One dict per valid row, column -> value (strings).

    Raises:
        ValueError: the file does not start with a per-image header.

    Examples::

        >>> rows = read_rows(Path("out/per_image.csv"))
        >>> sorted({r["method"] for r in rows})
    """
    path = Path(path)
    scan = _scan(path)
    _warn_bad(path, scan, "left out; a resumed run recomputes them")
    return scan.rows


def merge_rows(rows: Iterable[Row]) -> List[Row]:
    r"""One row per (image, method) of rows put together from several
    per-image files (the processes' files of a sharded run, an earlier run's
    merged file).

    A scored row wins over a ``failed`` one whatever their order: a failed row
    an earlier run recorded and the scored row of its retry
    (``retry_failed``) sit in different files, and the files come in no
    particular order. Of rows with the same status the last is kept, as
    :func:`read_rows` keeps the last of a file's repeated rows. Each pair
    keeps the place of its first row.

    Args:
        rows (iterable of dict): Per-image rows (``image_id``, ``method``,
            ``status``; a row without ``status`` counts as scored).

    Returns:
        list of dict: One row per (image, method).

    Examples::

        >>> failed = {"image_id": "3", "method": "M", "status": "failed"}
        >>> done = {"image_id": "3", "method": "M", "status": "done"}
        >>> merge_rows([done, failed]) == merge_rows([failed, done]) == [done]
        True
    """
    merged: Dict[Tuple[int, str], Row] = {}
    for row in rows:
        pair = (int(str(row["image_id"])), str(row["method"]))
        kept = merged.get(pair)
        if kept is None or row.get("status") != FAILED or kept.get("status") == FAILED:
            merged[pair] = row
    return list(merged.values())


def _warn_bad(path: Path, scan: _Scan, what: str) -> None:
    if scan.bad_lines:
        shown = ", ".join(str(n) for n in scan.bad_lines[:10])
        more = "" if len(scan.bad_lines) <= 10 else ", ..."
        warnings.warn(
            f"{path}: {len(scan.bad_lines)} incomplete or malformed row(s) "
            f"(line {shown}{more}) {what}",
            stacklevel=3,
        )


def append_rows(path: Path, rows: Sequence[Row]) -> None:
    r"""Add rows to a per-image CSV without ever putting earlier rows at risk.

    Each row gets its :data:`CHECK_COLUMN` checksum. When the file is sound
    and already has every column, the rows are appended and flushed to disk
    (a crash leaves at most one incomplete last record, which
    :func:`read_rows` leaves out). Otherwise (new columns, a damaged or
    repeated record, an older file without checksums) the whole file is
    written anew to a temporary file and renamed over it, so a crash leaves
    the old file or the new one, never a mixture. Columns whose names start
    with ``_`` are not written.

    Args:
        path (Path): The CSV file (created with its folder if absent).
        rows (sequence of dict): The rows to add.

    Examples::

        >>> append_rows(Path("out/per_image.csv"),
        ...             [{"image_id": 0, "split": "test", "method": "Saliency"}])
    """
    if not rows:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scan = _scan(path)
    columns = [c for c in scan.columns if c != CHECK_COLUMN]
    new = [
        {str(k): v for k, v in r.items() if not str(k).startswith("_")} for r in rows
    ]
    for row in new:
        columns += [k for k in row if k not in columns and k != CHECK_COLUMN]
    columns.append(CHECK_COLUMN)
    new = [r | {CHECK_COLUMN: row_check(r)} for r in new]
    if scan.clean and scan.columns == columns:
        with open(path, "a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, fieldnames=columns, restval="").writerows(new)
            f.flush()
            os.fsync(f.fileno())
        return
    _warn_bad(path, scan, "dropped from the file; a resumed run recomputes them")
    write_rows(path, [*scan.rows, *new], columns)


def write_rows(
    path: Path, rows: Sequence[Row], columns: Optional[Sequence[str]] = None
) -> None:
    r"""Write a per-image CSV atomically (a temporary file renamed over
    ``path``): a crash leaves the old file or the new one, never a part.

    Args:
        path (Path): The CSV file (its folder is created).
        rows (sequence of dict): All its rows; each gets its
            :data:`CHECK_COLUMN` checksum.
        columns (sequence of str, optional): The header; default the
            rows' columns in order of appearance (checksum last).

    Examples::

        >>> write_rows(Path("out/per_image.csv"), merged_rows)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = [
        {str(k): v for k, v in r.items() if not str(k).startswith("_")} for r in rows
    ]
    if columns is None:
        columns = []
        for row in clean:
            columns += [k for k in row if k not in columns and k != CHECK_COLUMN]
        columns.append(CHECK_COLUMN)
    checked = [r | {CHECK_COLUMN: row_check(r)} for r in clean]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(columns), restval="")
            writer.writeheader()
            writer.writerows(checked)
