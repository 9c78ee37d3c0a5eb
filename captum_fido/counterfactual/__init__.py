r"""Generative counterfactual introspection (Liu, Kailkhura et al., 2019).

Criticisms (the smallest edit in a generator's latent space that makes a
classifier choose another class) and prototypes (the edit that makes it more
confident in the same class), as a Captum attribution.

>>> from captum_fido.counterfactual import LatentCounterfactual
>>> method = LatentCounterfactual(classifier, generator, encoder)
>>> result = method.explain(images, target=3)  # a CounterfactualResult
>>> attr = method.attribute(images, target=3)  # images - counterfactual

The package holds the method only: ``_options`` (the search options, declared
once), ``_search`` (the bisection over lambda), ``_solver`` (Adam on the
latent codes), ``_query`` (the images and targets, checked once),
``_checks`` (what the encoder and generator return), ``_prototype``
(:func:`prototype_confidence`) and ``_result``. Trained models for
handwritten digits and their demo live in :mod:`captum_fido.demo.digits`.
"""

from captum_fido.counterfactual._prototype import prototype_confidence
from captum_fido.counterfactual._result import CounterfactualResult
from captum_fido.counterfactual._search import LatentCounterfactual

__all__ = ["LatentCounterfactual", "CounterfactualResult", "prototype_confidence"]
