r"""Evaluation of saliency maps (any method's, not only FIDO's).

Metrics take maps and models, never attribution objects, so they judge
Captum's baselines and ours alike.
"""

from captum_fido.metrics.deletion import DeletionCurve, deletion_curve
from captum_fido.metrics.infill_quality import (
    InfillQualityTable,
    confidence_under_masks,
    infiller_confidence,
    random_grid_masks,
)
from captum_fido.metrics.localization import (
    DEFAULT_ALPHAS,
    center_box,
    choose_alpha,
    map_outside_box,
    max_box,
    saliency_metric,
    salient_box,
    salient_boxes,
    stability,
    wsl_correct,
    wsl_error,
)

__all__ = [
    "DeletionCurve",
    "deletion_curve",
    "DEFAULT_ALPHAS",
    "center_box",
    "choose_alpha",
    "map_outside_box",
    "max_box",
    "saliency_metric",
    "salient_box",
    "salient_boxes",
    "stability",
    "wsl_correct",
    "wsl_error",
    "InfillQualityTable",
    "confidence_under_masks",
    "infiller_confidence",
    "random_grid_masks",
]
