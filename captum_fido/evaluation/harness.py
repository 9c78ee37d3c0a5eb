r"""Run many saliency methods over a data set and score every map.

:func:`run_comparison` explains the images chunk by chunk with each method,
scores each map with the metrics of :mod:`captum_fido.metrics` and appends one
row per (image, method) to ``per_image.csv`` as soon as a chunk is done, so an
interrupted run resumes where it stopped. Everything an image's row holds
depends only on that image, its id and the seed (mask methods draw from
per-image streams; stochastic evaluation in-fillers are seeded per image), so
a run split over processes (:mod:`captum_fido.evaluation.distributed`) or
resumed gives the rows of one uninterrupted run, up to float rounding (a
different batch composition changes the order of floating-point operations
in the classifier: last-digit differences).
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from captum_fido.evaluation.methods import MethodSpec, RowCounter
from captum_fido.infillers import Infiller
from captum_fido.metrics import (
    DEFAULT_ALPHAS,
    center_box,
    deletion_curve,
    insertion_curve,
    map_outside_box,
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


def run_comparison(
    model: nn.Module,
    data: EvalData,
    methods: Sequence[MethodSpec],
    eval_infillers: Mapping[str, Infiller],
    out_csv: Path,
    settings: ComparisonSettings = ComparisonSettings(),
    preview_dir: Optional[Path] = None,
    previous: Sequence[Row] = (),
) -> List[Row]:
    r"""Explain and score every image with every method; append rows to
    ``out_csv`` chunk by chunk and skip (image, method) pairs already there.

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
        previous (sequence of rows, optional): Rows written elsewhere (by
            another process's file); their (image, method) pairs are skipped.

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
    done = {
        (int(str(r["image_id"])), str(r["method"]))
        for r in [*read_rows(out_csv), *previous]
    }
    counter = RowCounter(model)
    chunks = list(_chunks(len(data.image_ids), settings.chunk_size))
    bar = tqdm(
        total=len(chunks) * (len(methods) + 1),
        desc="compare",
        disable=not settings.show_progress,
    )
    for rows in chunks:
        chunk = data.subset(rows)
        for spec in [None, *methods]:
            name = "baselines" if spec is None else spec.name
            bar.set_postfix_str(name[:28])
            todo = _missing(chunk, spec, done)
            if todo:
                part = chunk.subset(todo)
                new = (
                    _baseline_rows(model, part, settings)
                    if spec is None
                    else _method_rows(
                        counter, spec, part, eval_infillers, settings, preview_dir
                    )
                )
                append_rows(out_csv, new)
                done.update((int(str(r["image_id"])), str(r["method"])) for r in new)
            bar.update(1)
    bar.close()
    return read_rows(out_csv)


def _chunks(n: int, size: int) -> Iterator[List[int]]:
    for start in range(0, n, size):
        yield list(range(start, min(n, start + size)))


def _missing(
    chunk: EvalData, spec: Optional[MethodSpec], done: Set[Tuple[int, str]]
) -> List[int]:
    names = BASELINES if spec is None else (spec.name,)
    return [
        i
        for i, image_id in enumerate(chunk.image_ids)
        if any((int(image_id), name) not in done for name in names)
    ]


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
    maps = _explain(counter, spec, data, settings.seed)
    seconds = (time.perf_counter() - start) / n
    passes = counter.rows / n
    rows = [
        _base_row(data, i, spec.name, spec.family)
        | {
            "infiller": spec.infiller or "",
            "seconds": f"{seconds:.4g}",
            "passes": f"{passes:.6g}",
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
    each threshold (one, 0.5, for probabilistic maps; ``alpha * mean`` for
    every alpha otherwise: the report picks alpha on the val split)."""
    gt = list(data.boxes)
    hits = pointing_game(maps, gt).hits
    outside_map = map_outside_box(maps, gt, 0.5)
    outside_mass = mass_outside_box(maps, gt)
    thresholds = (
        [{"threshold": 0.5}]
        if spec.probabilistic
        else [{"alpha": a} for a in DEFAULT_ALPHAS]
    )
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
    check on the images with the lowest ids."""
    ids = [int(i) for i in data.image_ids]
    chosen = [i for i, image_id in enumerate(ids) if image_id < settings.n_stability]
    if chosen and spec.family != "captum":
        sub = data.subset(chosen)
        again = _explain(model, spec, sub, settings.seed + 1)
        corr = stability(torch.stack([maps[chosen], again]))
        for j, i in enumerate(chosen):
            rows[i]["stability"] = f"{float(corr[j]):.6g}"
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
            torch.save(maps[i].clone(), path)


def read_rows(path: Path) -> List[Row]:
    r"""The rows of a per-image CSV (none if it does not exist)."""
    if not Path(path).is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def append_rows(path: Path, rows: Sequence[Row]) -> None:
    r"""Append rows; the header is the union of the file's and the rows'
    columns (the file is rewritten when new columns appear)."""
    if not rows:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    old = read_rows(path)
    columns: List[str] = list(old[0].keys()) if old else []
    for row in rows:
        columns += [k for k in row if k not in columns and not k.startswith("_")]
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    rewrite = not old or set(columns) != set(old[0].keys())
    with open(path, "w" if rewrite else "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        if rewrite:
            writer.writeheader()
            writer.writerows(old)
        writer.writerows(clean)
