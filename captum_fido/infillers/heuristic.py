r"""The paper's four heuristic infillers (Chang et al. 2019, section 4.1)."""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from captum_fido._utils import validation as V
from captum_fido.infillers import functional as IF
from captum_fido.infillers._base import Infiller

__all__ = ["MeanInfiller", "BlurInfiller", "RandomInfiller", "LocalInfiller"]


class MeanInfiller(Infiller):
    r"""Fill with a constant per-channel colour.

    Args:
        mean (sequence of float, optional): Per-channel fill values in the
            model's input space, typically the data set mean (``0`` for
            ImageNet-normalised inputs, as in the reference code): finite,
            one per channel (or one for all). ``None`` (default) uses each
            image's own per-channel mean, which reads the dropped pixels
            (``honest`` is then ``False``).

    Examples::

        >>> fill = MeanInfiller(mean=[0.485, 0.456, 0.406])
        >>> ref = fill(torch.rand(2, 3, 32, 32), torch.ones(2, 1, 32, 32))
    """

    uses_mask = False

    def __init__(self, mean: Optional[Sequence[float]] = None) -> None:
        self.mean = None if mean is None else V.check_finite_values(mean, "mean")
        self.honest = mean is not None

    def fill(
        self, x: Tensor, keep_mask: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        return IF.mean_fill(x, self.mean)


class BlurInfiller(Infiller):
    r"""Gaussian blur of the whole image (Fong & Vedaldi 2017).

    Args:
        sigma (float, optional): Standard deviation in pixels (paper: 10),
            finite and > 0. The kernel covers +-3 sigma, capped to fit the
            image.

    Examples::

        >>> fill = BlurInfiller(sigma=10.0)
        >>> ref = fill(torch.rand(2, 3, 64, 64), torch.ones(2, 1, 64, 64))
        >>> fill.honest  # the blur reads the pixels it replaces
        False
    """

    uses_mask = False
    honest = False

    def __init__(self, sigma: float = 10.0) -> None:
        self.sigma = V.check_finite(sigma, "sigma")
        if not self.sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")

    def fill(
        self, x: Tensor, keep_mask: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        return IF.blur_fill(x, self.sigma)


class RandomInfiller(Infiller):
    r"""A uniform random colour plus Gaussian noise (Dabkowski & Gal 2017).

    The reference code draws the colour and noise in ``[0, 1]`` pixel space
    and then normalises; ``low``/``high`` give the pixel range of *your*
    inputs, and ``normalize_mean``/``normalize_std`` map pixel values into
    the model's input space when the model takes normalised images.

    Args:
        noise_std (float, optional): Noise standard deviation as a fraction of
            the pixel range (paper: 0.2).
        low (float, optional): Lowest pixel value. Default 0.
        high (float, optional): Highest pixel value. Default 1.
        normalize_mean (sequence of float, optional): Per-channel mean
            subtracted after sampling.
        normalize_std (sequence of float, optional): Per-channel std divided
            by after sampling.

    Examples::

        >>> fill = RandomInfiller(
        ...     normalize_mean=[0.485, 0.456, 0.406],
        ...     normalize_std=[0.229, 0.224, 0.225],
        ... )
        >>> x, keep = torch.rand(2, 3, 32, 32), torch.ones(2, 1, 32, 32)
        >>> ref = fill(x, keep, generator=torch.Generator().manual_seed(0))
    """

    uses_mask = False
    stochastic = True

    def __init__(
        self,
        noise_std: float = 0.2,
        low: float = 0.0,
        high: float = 1.0,
        normalize_mean: Optional[Sequence[float]] = None,
        normalize_std: Optional[Sequence[float]] = None,
    ) -> None:
        self.noise_std = V.check_nonnegative(noise_std, "noise_std")
        self.low = V.check_finite(low, "low")
        self.high = V.check_finite(high, "high")
        if not self.high > self.low:
            raise ValueError(f"high must be greater than low, got {low=}, {high=}")
        if (normalize_mean is None) != (normalize_std is None):
            raise ValueError("give both normalize_mean and normalize_std, or neither")
        self.normalize_mean = (
            None
            if normalize_mean is None
            else V.check_finite_values(normalize_mean, "normalize_mean")
        )
        self.normalize_std = (
            None
            if normalize_std is None
            else V.check_finite_values(normalize_std, "normalize_std")
        )
        if self.normalize_std is not None and self.normalize_mean is not None:
            if any(v <= 0 for v in self.normalize_std):
                raise ValueError(
                    f"normalize_std values must be positive, got {self.normalize_std}"
                )
            if len(self.normalize_std) != len(self.normalize_mean):
                raise ValueError(
                    "normalize_mean and normalize_std must have one value per "
                    f"channel each, got {len(self.normalize_mean)} and "
                    f"{len(self.normalize_std)}"
                )

    def fill(
        self, x: Tensor, keep_mask: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        filled = IF.random_fill(x, self.noise_std, self.low, self.high, generator)
        if self.normalize_mean is not None and self.normalize_std is not None:
            mean = IF.mean_fill(x[:, :, :1, :1], self.normalize_mean)
            std = IF.mean_fill(x[:, :, :1, :1], self.normalize_std)
            filled = (filled - mean) / std
        return filled


class LocalInfiller(Infiller):
    r"""Mean of the observed pixels in a square window around each pixel.

    Honest: it reads only pixels with ``keep_mask == 1``. It is two
    sum-pooling operations, with no Python loop over pixels.

    Args:
        window (int, optional): Odd window side (paper: 15).
        fallback (str, optional): Fill for pixels whose window holds no
            observed pixel: ``"image"`` (default) uses the mean of the image's
            observed pixels, ``"zero"`` uses 0 like the reference code.

    Examples::

        >>> fill = LocalInfiller(window=15)
        >>> x = torch.rand(2, 3, 64, 64)
        >>> keep = (torch.rand(2, 1, 64, 64) > 0.5).float()
        >>> phi = keep * x + (1 - keep) * fill(x, keep)
    """

    def __init__(self, window: int = 15, fallback: str = "image") -> None:
        if isinstance(window, bool) or not isinstance(window, int):
            raise TypeError(
                f"window must be a positive odd integer, got {type(window).__name__}"
            )
        if window < 1 or window % 2 == 0:
            raise ValueError(f"window must be a positive odd integer, got {window!r}")
        if fallback not in ("image", "zero"):
            raise ValueError(f"fallback must be 'image' or 'zero', got {fallback!r}")
        self.window = window
        self.fallback = fallback

    def fill(
        self, x: Tensor, keep_mask: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        return IF.local_mean_fill(x, keep_mask, self.window, self.fallback)
