r"""The digit classifier and VAE explained by the latent counterfactual demo.

- :class:`DigitClassifier`, a two-block CNN (the classifier to explain);
- :class:`DigitVAE`, a VAE with a 10-D latent space like the paper's MNIST
  DCGAN, whose :attr:`~DigitVAE.encoder` (image to posterior mean) and
  :attr:`~DigitVAE.decoder` (latent code to image) are the encoder and
  generator of :class:`~captum_fido.counterfactual.LatentCounterfactual`.

:mod:`captum_fido.demo.digits.train` trains them;
:func:`captum_fido.demo.digits.pretrained.load_pretrained` loads the shipped
weights.
"""

from __future__ import annotations

from typing import Tuple

import torch
from torch import Tensor, nn

from captum_fido.demo.digits.data import IMAGE_SIZE, N_CLASSES

__all__ = [
    "LATENT_DIM",
    "DigitClassifier",
    "DigitEncoder",
    "DigitDecoder",
    "DigitVAE",
]

#: Size of the VAE's latent space (the paper's MNIST generator also has 10).
LATENT_DIM = 10


class DigitClassifier(nn.Module):
    r"""Two conv blocks and a linear head: ``(N, 1, 16, 16)`` to 10 logits.

    Args:
        width (int, optional): Channels of the first conv block (the second
            has ``2 * width``). Default 16.

    Examples::

        >>> model = DigitClassifier()
        >>> model(torch.rand(4, 1, 16, 16)).shape
        torch.Size([4, 10])
    """

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
    r"""Image to the mean (``forward``) or the full Gaussian posterior.

    An MLP on the flattened ``(N, 1, 16, 16)`` image; ``forward`` gives the
    posterior mean ``(N, latent_dim)`` and :meth:`posterior` the mean and the
    log-variance.

    Args:
        latent_dim (int, optional): Size of the latent code. Default
            :data:`LATENT_DIM` (10).
        hidden (int, optional): Width of the first hidden layer (the second
            has ``hidden // 2``). Default 256.

    Examples::

        >>> encoder = DigitEncoder()
        >>> x = torch.rand(4, 1, 16, 16)
        >>> encoder(x).shape
        torch.Size([4, 10])
        >>> mean, log_var = encoder.posterior(x)
    """

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
    ``[0, 1]``.

    An MLP whose output goes through a sigmoid in ``forward``; :meth:`logits`
    gives the pixel logits before it.

    Args:
        latent_dim (int, optional): Size of the latent code. Default
            :data:`LATENT_DIM` (10).
        hidden (int, optional): Width of the last hidden layer (the first has
            ``hidden // 2``). Default 256.

    Examples::

        >>> decoder = DigitDecoder()
        >>> decoder(torch.randn(4, 10)).shape
        torch.Size([4, 1, 16, 16])
    """

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
    r"""A VAE on the 16x16 digits: :attr:`encoder` and :attr:`decoder`.

    ``encoder`` is a :class:`DigitEncoder` and ``decoder`` a
    :class:`DigitDecoder` of the same sizes; ``forward`` is the deterministic
    reconstruction ``decoder(encoder(x))``.

    Args:
        latent_dim (int, optional): Size of the latent code. Default
            :data:`LATENT_DIM` (10).
        hidden (int, optional): Hidden width of the encoder and decoder.
            Default 256.

    Examples::

        >>> vae = DigitVAE()
        >>> x = torch.rand(4, 1, 16, 16)
        >>> vae.encoder(x).shape, vae(x).shape
        (torch.Size([4, 10]), torch.Size([4, 1, 16, 16]))
    """

    def __init__(self, latent_dim: int = LATENT_DIM, hidden: int = 256) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = DigitEncoder(latent_dim, hidden)
        self.decoder = DigitDecoder(latent_dim, hidden)

    def forward(self, x: Tensor) -> Tensor:
        r"""The deterministic reconstruction ``decoder(encoder(x))``."""
        return self.decoder(self.encoder(x))
