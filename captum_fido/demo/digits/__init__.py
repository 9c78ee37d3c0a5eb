r"""Handwritten digits: the demo domain of the latent counterfactuals.

Kept apart from the method: :mod:`captum_fido.counterfactual` never imports
it.

- :mod:`captum_fido.demo.digits.data`: scikit-learn's digits at 16x16 and
  their fixed held-out split (:func:`load_digit_data`).
- :mod:`captum_fido.demo.digits.models`: the CNN classifier and the VAE.
- :mod:`captum_fido.demo.digits.pretrained`: the shipped weights
  (:func:`load_pretrained`).
- :mod:`captum_fido.demo.digits.train`: the training functions
  (``captum-fido train-digits`` runs them).
- :mod:`captum_fido.demo.digits.plotting`: optimisation-path figures
  (``captum-fido counterfactual`` draws them).
"""

from captum_fido.demo.digits.data import (
    IMAGE_SIZE,
    N_CLASSES,
    DigitData,
    load_digit_data,
)
from captum_fido.demo.digits.models import (
    LATENT_DIM,
    DigitClassifier,
    DigitDecoder,
    DigitEncoder,
    DigitVAE,
)
from captum_fido.demo.digits.pretrained import (
    WEIGHTS_DIR,
    DigitModels,
    load_pretrained,
)

__all__ = [
    "IMAGE_SIZE",
    "LATENT_DIM",
    "N_CLASSES",
    "WEIGHTS_DIR",
    "DigitData",
    "load_digit_data",
    "DigitClassifier",
    "DigitEncoder",
    "DigitDecoder",
    "DigitVAE",
    "DigitModels",
    "load_pretrained",
]
