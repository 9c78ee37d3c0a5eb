r"""Generative counterfactual introspection (Liu, Kailkhura et al., 2019).

Criticisms (the smallest edit in a generator's latent space that makes a
classifier choose another class) and prototypes (the edit that makes it more
confident in the same class), as a Captum attribution.

>>> from captum_fido.counterfactual import LatentCounterfactual
>>> method = LatentCounterfactual(classifier, generator, encoder)
>>> result = method.explain(images, target=3)  # a CounterfactualResult
>>> attr = method.attribute(images, target=3)  # images - counterfactual

Trained models for handwritten digits live in
:mod:`captum_fido.counterfactual.digits`.
"""

from captum_fido.counterfactual._latent import (
    LatentCounterfactual,
    prototype_confidence,
)
from captum_fido.counterfactual._result import CounterfactualResult

__all__ = ["LatentCounterfactual", "CounterfactualResult", "prototype_confidence"]
