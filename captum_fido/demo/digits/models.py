r"""Handwritten digits for the latent counterfactual demo.

scikit-learn's ``load_digits`` (1,797 greyscale 8x8 digits from 43 writers)
is upsampled bilinearly to 16x16 and scaled to ``[0, 1]``. A fixed, seeded
split holds out 20 % of the digits. Two small models are trained on the rest
by ``python -m captum_fido.counterfactual.train_digits``:

- :class:`DigitClassifier`, a two-block CNN (the classifier to explain);
- :class:`DigitVAE`, a VAE with a 10-D latent space like the paper's MNIST
  DCGAN, whose :attr:`~DigitVAE.encoder` (image to posterior mean) and
  :attr:`~DigitVAE.decoder` (latent code to image) are the encoder and
  generator of :class:`~captum_fido.counterfactual.LatentCounterfactual`.

Their weights ship in ``captum_fido/counterfactual/weights``;
:func:`load_pretrained` loads them in eval mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

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

#: Side of the upsampled digit images.
IMAGE_SIZE = 16
#: Size of the VAE's latent space (the paper's MNIST generator also has 10).
LATENT_DIM = 10
N_CLASSES = 10
#: Where the trained weights are shipped.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CLASSIFIER_FILE = "digit_classifier.pt"
VAE_FILE = "digit_vae.pt"


@dataclass(frozen=True)
class DigitData:
    r"""The digits split into training and held-out parts.

    Attributes:
        train_images: ``(n_train, 1, 16, 16)`` float32 in ``[0, 1]``.
        train_labels: ``(n_train,)`` int64.
        test_images: ``(n_test, 1, 16, 16)`` held-out digits.
        test_labels: ``(n_test,)``.
    """

    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor


def load_digit_data(test_share: float = 0.2, seed: int = 0) -> DigitData:
    r"""scikit-learn's digits, upsampled to 16x16, split with a fixed seed.

    Args:
        test_share (float, optional): Share of digits held out. Default: 0.2.
        seed (int, optional): Seed of the split permutation. Default: 0 (the
            split the shipped models were trained on).

    Returns:
        DigitData: the training and held-out images and labels.
    """
    if not 0.0 < test_share < 1.0:
        raise ValueError(f"test_share must lie in (0, 1), got {test_share}")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(np.asarray(bunch.images, dtype=np.float32)) / 16.0
    images = F.interpolate(
        images.unsqueeze(1),
        size=(IMAGE_SIZE, IMAGE_SIZE),
        mode="bilinear",
        align_corners=False,
    ).clamp(0.0, 1.0)
    labels = torch.from_numpy(np.asarray(bunch.target, dtype=np.int64))
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    n_test = int(round(test_share * len(labels)))
    test, train = order[:n_test], order[n_test:]
    return DigitData(images[train], labels[train], images[test], labels[test])


class DigitClassifier(nn.Module):
    r"""Two conv blocks and a linear head: ``(N, 1, 16, 16)`` to 10 logits."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.25),
            nn.Linear(2 * width * (IMAGE_SIZE // 4) ** 2, 64),
            nn.ReLU(),
            nn.Linear(64, N_CLASSES),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class DigitEncoder(nn.Module):
    r"""Image to the mean (``forward``) or the full Gaussian posterior."""

    def __init__(self, latent_dim: int = LATENT_DIM, hidden: int = 256) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(),
            nn.Linear(IMAGE_SIZE * IMAGE_SIZE, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden // 2),
            nn.ReLU(),
        )
        self.mean = nn.Linear(hidden // 2, latent_dim)
        self.log_var = nn.Linear(hidden // 2, latent_dim)

    def posterior(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        r"""``(mean, log_variance)`` of ``q(z | x)``, each ``(N, latent_dim)``."""
        h = self.body(x)
        return self.mean(h), self.log_var(h)

    def forward(self, x: Tensor) -> Tensor:
        return self.mean(self.body(x))


class DigitDecoder(nn.Module):
    r"""Latent code ``(N, latent_dim)`` to an image ``(N, 1, 16, 16)`` in
    ``[0, 1]``."""

    def __init__(self, latent_dim: int = LATENT_DIM, hidden: int = 256) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(latent_dim, hidden // 2),
            nn.ReLU(),
            nn.Linear(hidden // 2, hidden),
            nn.ReLU(),
            nn.Linear(hidden, IMAGE_SIZE * IMAGE_SIZE),
        )

    def logits(self, z: Tensor) -> Tensor:
        r"""Pixel logits before the sigmoid (for the training loss)."""
        return self.body(z).view(-1, 1, IMAGE_SIZE, IMAGE_SIZE)

    def forward(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.logits(z))


class DigitVAE(nn.Module):
    r"""A VAE on the 16x16 digits: :attr:`encoder` and :attr:`decoder`."""

    def __init__(self, latent_dim: int = LATENT_DIM, hidden: int = 256) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = DigitEncoder(latent_dim, hidden)
        self.decoder = DigitDecoder(latent_dim, hidden)

    def forward(self, x: Tensor) -> Tensor:
        r"""The deterministic reconstruction ``decoder(encoder(x))``."""
        return self.decoder(self.encoder(x))


@dataclass(frozen=True)
class DigitModels:
    r"""The shipped digit models (eval mode) and their training metadata."""

    classifier: DigitClassifier
    vae: DigitVAE
    classifier_info: Dict[str, float]
    vae_info: Dict[str, float]


def _load(path: Path, model: nn.Module) -> Dict[str, float]:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: train the digit models with "
            "`python -m captum_fido.counterfactual.train_digits`"
        )
    payload = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return {k: float(v) for k, v in payload.get("info", {}).items()}


def load_pretrained(weights_dir: Optional[Path] = None) -> DigitModels:
    r"""The trained classifier and VAE, in eval mode, on the CPU.

    Args:
        weights_dir (Path, optional): Folder with ``digit_classifier.pt`` and
            ``digit_vae.pt``. Default: the weights shipped with the package.

    Returns:
        DigitModels: the models and the metrics recorded when training them
        (``test_accuracy`` for the classifier, ``test_l1`` / ``test_mse``
        per pixel for the VAE's reconstructions).
    """
    folder = WEIGHTS_DIR if weights_dir is None else Path(weights_dir)
    classifier = DigitClassifier()
    vae = DigitVAE()
    classifier_info = _load(folder / CLASSIFIER_FILE, classifier)
    vae_info = _load(folder / VAE_FILE, vae)
    return DigitModels(classifier, vae, classifier_info, vae_info)
