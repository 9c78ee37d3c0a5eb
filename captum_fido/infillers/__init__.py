r"""Infillers: what FIDO puts in place of the pixels it drops.

Every infiller follows one protocol, ``reference = infiller(x, keep_mask,
generator=None)`` (see :class:`Infiller`). The paper's heuristics live here;
learned in-painters plug in through the same protocol.
"""

from captum_fido.infillers._base import (
    CallableInfiller,
    Infiller,
    as_infiller,
    check_infill_output,
    warn_if_dishonest,
)
from captum_fido.infillers.heuristic import (
    BlurInfiller,
    LocalInfiller,
    MeanInfiller,
    RandomInfiller,
)
from captum_fido.infillers.module import ModuleInfiller, VAEInfiller
from captum_fido.infillers.opencv import OpenCVInfiller
from captum_fido.infillers.road import NoisyLinearInfiller
from captum_fido.infillers.tabular import (
    FeatureMeanInfiller,
    GaussianConditionalInfiller,
    NearestNeighbourInfiller,
    TabularInfiller,
)

__all__ = [
    "Infiller",
    "CallableInfiller",
    "as_infiller",
    "warn_if_dishonest",
    "check_infill_output",
    "MeanInfiller",
    "BlurInfiller",
    "RandomInfiller",
    "LocalInfiller",
    "ModuleInfiller",
    "VAEInfiller",
    "OpenCVInfiller",
    "NoisyLinearInfiller",
    "TabularInfiller",
    "GaussianConditionalInfiller",
    "NearestNeighbourInfiller",
    "FeatureMeanInfiller",
]
