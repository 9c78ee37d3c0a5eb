r"""Scoring one chunk of a comparison: the maps of one method (timed, its
classifier passes counted) and every metric of each image's row, or the rows
of the localisation baselines; a failure says whether making the maps or
scoring them failed (:class:`StageFailed`).
:func:`~captum_fido.evaluation.harness.run_comparison` calls these."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional

import torch
from torch import Tensor, nn

from captum_fido._utils.files import save_torch_atomic
from captum_fido.evaluation._rows_file import Row
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

if TYPE_CHECKING:  # the harness defines them and imports this module
    from captum_fido.evaluation.harness import ComparisonSettings, EvalData

__all__ = [
    "BASELINES",
    "StageFailed",
    "baseline_rows",
    "base_row",
    "method_rows",
    "explain",
    "preview_path",
]

#: Rows of the localisation baselines (paper Table 1): no map, just a box.
BASELINES = ("Max (whole image)", "Center (half area)")

#: ``stability_status`` by how many of the two seeds' maps collapsed.
_STABILITY_STATUS = ("ok", "collapsed in one seed", "collapsed")


class StageFailed(Exception):
    r"""A failure while making the maps (``stage`` ``"method"``) or scoring
    them (``"metrics"``)."""

    def __init__(self, stage: str, error: Exception) -> None:
        super().__init__(f"{stage}: {error}")
        self.stage, self.error = stage, error


def baseline_rows(
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
                base_row(data, i, name, "baseline")
                | {
                    "wsl_by_threshold": str(int(correct[i])),
                    "sm_by_threshold": f"{float(sm[i]):.6g}",
                }
            )
    return rows


def base_row(data: EvalData, i: int, method: str, family: str) -> Row:
    return {
        "image_id": int(data.image_ids[i]),
        "split": data.splits[i],
        "method": method,
        "family": family,
        "label": int(data.labels[i]),
    }


def method_rows(
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
        maps = explain(counter, spec, data, settings.seed)
    except Exception as err:  # the method itself failed on these images
        raise StageFailed("method", err) from err
    seconds = (time.perf_counter() - start) / n
    passes = counter.rows / n
    # Empty or flooded maps explain nothing; the verdict never ranks them.
    statuses = map_status(maps)
    rows = [
        base_row(data, i, spec.name, spec.family)
        | {
            "infiller": spec.infiller or "",
            "seconds": f"{seconds:.4g}",
            "passes": f"{passes:.6g}",
            "map_status": statuses[i],
        }
        for i in range(n)
    ]
    scoring = _Scoring(model, spec, data, maps, settings)
    scoring.add_localisation(rows)
    scoring.add_curves(rows, eval_infillers)
    scoring.add_stability_and_sanity(rows)
    scoring.save_preview(preview_dir)
    return rows


def explain(model: nn.Module, spec: MethodSpec, data: EvalData, seed: int) -> Tensor:
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


@dataclass(frozen=True)
class _Scoring:
    r"""One method's maps ``(N, H, W)`` on one chunk, and what scores them;
    each ``add_*`` writes its metrics into the chunk's rows."""

    model: nn.Module
    spec: MethodSpec
    data: EvalData
    maps: Tensor
    settings: ComparisonSettings

    def add_localisation(self, rows: List[Row]) -> None:
        r"""Pointing game, mass outside the box, and WSL / Saliency Metric for
        each threshold: ``alpha * mean`` for every alpha (the report picks
        alpha on the val split), preceded for probabilistic maps by 0.5, the
        paper's rule for FIDO. The alphas are scored for probabilistic maps
        too: a map whose values all stay below 0.5 has an empty MAP mask and
        a whole-image box at 0.5 however well it ranks the object's pixels
        (see ``docs/reproduction.md``, the WSL anomaly)."""
        model, data, maps = self.model, self.data, self.maps
        gt = list(data.boxes)
        hits = pointing_game(maps, gt).hits
        outside_map = map_outside_box(maps, gt, 0.5)
        outside_mass = mass_outside_box(maps, gt)
        thresholds: List[Dict[str, float]] = [{"alpha": a} for a in DEFAULT_ALPHAS]
        if self.spec.probabilistic:
            thresholds.insert(0, {"threshold": 0.5})
        correct, sms = [], []
        for kw in thresholds:
            boxes = salient_boxes(maps, **kw)
            correct.append(wsl_correct(boxes, gt))
            sms.append(
                saliency_metric(
                    model, data.images, boxes, data.labels, self.settings.output_type
                )
            )
        for i, row in enumerate(rows):
            row["pointing_hit"] = int(hits[i])
            row["outside_mass"] = f"{float(outside_mass[i]):.6g}"
            row["map_outside_box"] = f"{float(outside_map[i]):.6g}"
            row["wsl_by_threshold"] = "".join(str(int(c[i])) for c in correct)
            row["sm_by_threshold"] = ";".join(f"{float(s[i]):.6g}" for s in sms)

    def add_curves(
        self, rows: List[Row], eval_infillers: Mapping[str, Infiller]
    ) -> None:
        r"""Deletion and insertion areas under each evaluation in-filler, one
        image at a time with that image's seed (independent of chunking)."""
        data, model, settings = self.data, self.model, self.settings
        fractions, output_type = settings.fractions, settings.output_type
        for i, row in enumerate(rows):
            x, y = data.images[i : i + 1], data.labels[i : i + 1]
            m = self.maps[i : i + 1]
            seed = settings.seed + int(data.image_ids[i])
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

    def add_stability_and_sanity(self, rows: List[Row]) -> None:
        r"""Stability over seeds (mask methods) and the model-randomisation
        check on the images with the lowest ids.

        ``stability_status`` says what the stability cell measures: ``"ok"``
        (two informative maps), ``"collapsed"`` (both seeds' maps are empty
        or flooded, :func:`~captum_fido.metrics.map_status`: they explain
        nothing, so their correlation, mostly noise, is not reported and the
        cell is empty) or ``"collapsed in one seed"`` (the seed decided
        whether the method collapsed: instability, reported)."""
        model, spec, maps, settings = self.model, self.spec, self.maps, self.settings
        ids = [int(i) for i in self.data.image_ids]
        chosen = [
            i for i, image_id in enumerate(ids) if image_id < settings.n_stability
        ]
        if chosen and spec.family != "captum":
            sub = self.data.subset(chosen)
            again = explain(model, spec, sub, settings.seed + 1)
            corr = stability(torch.stack([maps[chosen], again]))
            first, second = map_status(maps[chosen]), map_status(again)
            for j, i in enumerate(chosen):
                collapsed = (first[j] != "ok") + (second[j] != "ok")
                rows[i]["stability_status"] = _STABILITY_STATUS[collapsed]
                rows[i]["stability"] = "" if collapsed == 2 else f"{float(corr[j]):.6g}"
        sane = [i for i, image_id in enumerate(ids) if image_id < settings.n_sanity]
        if sane:
            sub = self.data.subset(sane)
            # Two stages: the output block alone, then every block (the
            # model's top-level children with parameters, randomised from the
            # output).
            blocks = [
                n
                for n, c in model.named_children()
                if any(True for _ in c.parameters())
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

    def save_preview(self, preview_dir: Optional[Path]) -> None:
        r"""Keep the maps of the images below ``settings.preview`` for
        figures, in ``preview_dir`` (``None``: keep none)."""
        if preview_dir is None:
            return
        for i, image_id in enumerate(self.data.image_ids):
            if int(image_id) < self.settings.preview:
                path = preview_path(preview_dir, self.spec.name, int(image_id))
                path.parent.mkdir(parents=True, exist_ok=True)
                save_torch_atomic(self.maps[i].clone(), path)


def _finite(value: Tensor) -> str:
    v = float(value)
    return "" if math.isnan(v) else f"{v:.6g}"


def preview_path(preview_dir: Path, method: str, image_id: int) -> Path:
    r"""Where the map of ``method`` on image ``image_id`` is kept for figures
    (one file each, so parallel processes never write the same file)."""
    slug = "".join(c if c.isalnum() else "_" for c in method)
    return Path(preview_dir) / f"{slug}__{image_id}.pt"
