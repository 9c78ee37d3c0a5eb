r"""The shipped digit classifier and VAE.

The weights live in ``captum_fido/demo/digits/weights``: each ``.pt`` file
holds a ``state_dict`` and the held-out metrics recorded when it was trained
(``info``); the ``.json`` beside it repeats those metrics, readable without
torch. :func:`load_pretrained` loads both models in eval mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Union

import torch
from torch import nn

from captum_fido.demo.digits.models import DigitClassifier, DigitVAE

__all__ = [
    "WEIGHTS_DIR",
    "CLASSIFIER_FILE",
    "VAE_FILE",
    "DigitModels",
    "load_pretrained",
]

#: Where the trained weights are shipped.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CLASSIFIER_FILE = "digit_classifier.pt"
VAE_FILE = "digit_vae.pt"


@dataclass(frozen=True)
class DigitModels:
    r"""The shipped digit models (eval mode) and their training metadata.

    Attributes:
        classifier: the trained :class:`DigitClassifier`.
        vae: the trained :class:`DigitVAE`.
        classifier_info: metrics recorded when training the classifier
            (``test_accuracy``, ``n_train``, ``n_test``, ...).
        vae_info: metrics recorded when training the VAE (``test_l1``,
            ``test_mse`` per pixel, ...).

    Examples::

        >>> models = load_pretrained()
        >>> models.vae.latent_dim
        10
        >>> models.classifier(torch.rand(2, 1, 16, 16)).shape
        torch.Size([2, 10])
    """

    classifier: DigitClassifier
    vae: DigitVAE
    classifier_info: Dict[str, float]
    vae_info: Dict[str, float]


def _load(path: Path, model: nn.Module) -> Dict[str, float]:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: train the digit models with `captum-fido train-digits`"
        )
    payload = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return {k: float(v) for k, v in payload.get("info", {}).items()}


def load_pretrained(weights_dir: Union[str, Path, None] = None) -> DigitModels:
    r"""The trained classifier and VAE, in eval mode, on the CPU.

    Args:
        weights_dir (str or Path, optional): Folder with
            ``digit_classifier.pt`` and ``digit_vae.pt``. Default: the weights
            shipped with the package.

    Returns:
        DigitModels: the models and the metrics recorded when training them
        (``test_accuracy`` for the classifier, ``test_l1`` / ``test_mse``
        per pixel for the VAE's reconstructions).

    Examples::

        >>> from captum_fido.demo.digits import load_pretrained
        >>> models = load_pretrained()
        >>> models.classifier_info["test_accuracy"] > 0.97
        True
    """
    folder = WEIGHTS_DIR if weights_dir is None else Path(weights_dir)
    classifier = DigitClassifier()
    vae = DigitVAE()
    classifier_info = _load(folder / CLASSIFIER_FILE, classifier)
    vae_info = _load(folder / VAE_FILE, vae)
    return DigitModels(classifier, vae, classifier_info, vae_info)
