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

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import (
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
from captum_fido._utils.model_state import preserve_module_state
from captum_fido._utils.scores import OUTPUT_TYPES, check_model_output, num_classes
from captum_fido.evaluation._rows_file import (
    CHECK_COLUMN,
    DONE,
    FAILED,
    Row,
    append_rows,
    read_rows,
    scan_rows,
    write_rows,
)
from captum_fido.evaluation._rows_file import merge_rows as merge_rows
from captum_fido.evaluation._rows_file import row_check as row_check
from captum_fido.evaluation._scoring import (
    BASELINES,
    StageFailed,
    base_row,
    baseline_rows,
    method_rows,
)
from captum_fido.evaluation._scoring import preview_path as preview_path
from captum_fido.evaluation.methods import MethodSpec, RowCounter
from captum_fido.infillers import Infiller

# The rows file (CHECK_COLUMN, row_check, read_rows, merge_rows, append_rows,
# write_rows) and the scoring of a chunk (BASELINES, preview_path) live in
# ._rows_file and ._scoring; their names stay importable from here.
__all__ = ["EvalData", "ComparisonSettings", "run_comparison", "BASELINES"]

#: Longest ``reason`` kept in a failed row (the error's first characters).
_REASON_CHARS = 500


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
    scan = scan_rows(out_csv)
    if scan.repeated:
        # A retried pair's new row was appended after its failed one: the
        # file keeps one row per pair (read_rows already took the last).
        columns = [*scan.columns] + [CHECK_COLUMN] * (CHECK_COLUMN not in scan.columns)
        write_rows(out_csv, scan.rows, columns)
    return read_rows(out_csv)


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
                rows = baseline_rows(model, data, settings)
            else:
                rows = method_rows(
                    counter, spec, data, eval_infillers, settings, preview_dir
                )
        except StageFailed:
            raise
        except Exception as err:  # an error outside the method's own call
            raise StageFailed("metrics", err) from err
        return [r | {"status": DONE} for r in rows]

    try:
        return rows_of(chunk)
    except StageFailed as failure:
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
        except StageFailed as failure:
            rows += _failed_rows(alone, spec, failure)
    return rows


def _failed_rows(
    data: EvalData, spec: Optional[MethodSpec], failure: StageFailed
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
        base_row(data, i, name, family)
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
