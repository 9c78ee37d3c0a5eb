r"""captum_fido: counterfactual, in-fill based saliency as Captum attributions.

>>> from captum_fido import FIDO, BBMP
>>> from captum_fido.infillers import BlurInfiller
>>> attr = FIDO(model, BlurInfiller()).attribute(x, target=c)
"""

from captum_fido import infillers, metrics
from captum_fido.attr import (
    BBMP,
    FIDO,
    FIDOSDR,
    FIDOSSR,
    AmortisedFIDO,
    CollapsedMapWarning,
    InfillBaseline,
    MaskOptimizationDetails,
    log_odds,
)
from captum_fido.counterfactual import (
    CounterfactualResult,
    LatentCounterfactual,
    prototype_confidence,
)
from captum_fido.explain import explain_dataset

__version__ = "0.1.0"

__all__ = [
    "FIDO",
    "AmortisedFIDO",
    "FIDOSSR",
    "FIDOSDR",
    "BBMP",
    "InfillBaseline",
    "MaskOptimizationDetails",
    "CollapsedMapWarning",
    "log_odds",
    "infillers",
    "metrics",
    "LatentCounterfactual",
    "CounterfactualResult",
    "prototype_confidence",
    "explain_dataset",
    "__version__",
]
