r"""The attribution methods and the mask-optimisation loop they share."""

from captum_fido._utils.scores import log_odds
from captum_fido.attr._alternatives import Explanation, alternative_explanations
from captum_fido.attr._amortised import (
    AmortisedFIDO,
    MaskExplainerNet,
    train_explainer,
)
from captum_fido.attr._bbmp import BBMP
from captum_fido.attr._collapse import CollapsedMapWarning
from captum_fido.attr._details import MaskOptimizationDetails
from captum_fido.attr._fido import FIDO, FIDOSDR, FIDOSSR
from captum_fido.attr._infill_baseline import (
    SENTINEL,
    InfillBaseline,
    interpretable_similarity,
)
from captum_fido.attr._masks import (
    ContinuousMask,
    MaskDistribution,
    RelaxedBernoulliMask,
)
from captum_fido.attr._options import (
    BBMP_DEFAULTS,
    BBMP_L1_RATIO,
    BBMP_PAPER,
    FIDO_DEFAULTS,
    FIDO_PAPER,
    PRESET_NAMES,
    MaskOptions,
)
from captum_fido.attr._plots import plot_explanations, plot_uncertainty
from captum_fido.attr._uncertainty import MapUncertainty, map_uncertainty

__all__ = [
    "FIDO",
    "AmortisedFIDO",
    "MaskExplainerNet",
    "train_explainer",
    "FIDOSSR",
    "FIDOSDR",
    "BBMP",
    "InfillBaseline",
    "SENTINEL",
    "interpretable_similarity",
    "MaskOptimizationDetails",
    "MaskOptions",
    "FIDO_DEFAULTS",
    "BBMP_DEFAULTS",
    "FIDO_PAPER",
    "BBMP_PAPER",
    "BBMP_L1_RATIO",
    "PRESET_NAMES",
    "CollapsedMapWarning",
    "MaskDistribution",
    "RelaxedBernoulliMask",
    "ContinuousMask",
    "log_odds",
    "Explanation",
    "alternative_explanations",
    "plot_explanations",
    "MapUncertainty",
    "map_uncertainty",
    "plot_uncertainty",
]
