r"""Evaluation of saliency maps (any method's, not only FIDO's).

Metrics take maps and models, never attribution objects, so they judge
Captum's baselines and ours alike: deletion and insertion curves under any
evaluation in-filler (e.g. ROAD's
:class:`~captum_fido.infillers.NoisyLinearInfiller`), WSL error, the Saliency
Metric, the pointing game, the share of the map outside the box, stability
over seeds, infiller quality and the model-randomisation sanity check.
"""

from captum_fido.metrics.collapse import (
    EMPTY_BELOW,
    FLOODED_AREA,
    MAP_STATUSES,
    map_status,
)
from captum_fido.metrics.deletion import (
    DeletionCurve,
    InsertionCurve,
    deletion_curve,
    insertion_curve,
)
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
    mass_outside_box,
    max_box,
    saliency_metric,
    salient_box,
    salient_boxes,
    stability,
    wsl_correct,
    wsl_error,
)
from captum_fido.metrics.pointing import (
    PointingGameResult,
    default_pointing_tolerance,
    pointing_game,
)
from captum_fido.metrics.randomisation import (
    RandomisationResult,
    model_randomisation,
    randomisable_layers,
    spearman_correlation,
)

__all__ = [
    "map_status",
    "EMPTY_BELOW",
    "FLOODED_AREA",
    "MAP_STATUSES",
    "DeletionCurve",
    "deletion_curve",
    "InsertionCurve",
    "insertion_curve",
    "DEFAULT_ALPHAS",
    "center_box",
    "choose_alpha",
    "map_outside_box",
    "mass_outside_box",
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
    "PointingGameResult",
    "default_pointing_tolerance",
    "pointing_game",
    "RandomisationResult",
    "model_randomisation",
    "randomisable_layers",
    "spearman_correlation",
]
