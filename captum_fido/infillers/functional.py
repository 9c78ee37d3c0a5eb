r"""Stateless in-filling functions behind the infiller classes.

Each function takes an ``(N, C, H, W)`` image batch and returns a reference of
the same shape. The classes in :mod:`captum_fido.infillers` are thin wrappers
that hold the parameters.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "mean_fill",
    "blur_fill",
    "random_fill",
    "local_mean_fill",
    "gaussian_kernel_size",
    "box_sum",
    "pyramid_fill",
]


def _channel_tensor(values: Sequence[float], x: Tensor, name: str) -> Tensor:
    t = torch.as_tensor(values, dtype=x.dtype, device=x.device).flatten()
    if t.numel() not in (1, x.shape[1]):
        raise ValueError(
            f"{name} must have 1 or C={x.shape[1]} values, got {t.numel()}"
        )
    return t.view(1, -1, 1, 1)


def mean_fill(x: Tensor, mean: Optional[Sequence[float]] = None) -> Tensor:
    r"""Fill with a constant colour per channel.

    Args:
        x: Images ``(N, C, H, W)``.
        mean: Per-channel values (e.g. the data set mean in the model's input
            space). ``None`` uses each image's own per-channel mean, which reads
            the pixels being filled.

    Returns:
        ``(N, C, H, W)`` tensor, constant within each channel of each image.

    Examples::

        >>> from captum_fido.infillers.functional import mean_fill
        >>> ref = mean_fill(torch.rand(2, 3, 8, 8), mean=[0.5, 0.4, 0.3])
        >>> ref[0, :, 0, 0]
        tensor([0.5000, 0.4000, 0.3000])
    """
    if mean is None:
        return x.mean(dim=(2, 3), keepdim=True).expand_as(x).clone()
    return _channel_tensor(mean, x, "mean").expand_as(x).clone()


def gaussian_kernel_size(sigma: float, height: int, width: int) -> int:
    r"""Odd kernel size covering +-3 sigma, capped so reflect padding fits.

    Args:
        sigma (float): Standard deviation of the Gaussian, in pixels.
        height (int): Image height.
        width (int): Image width.

    Returns:
        int: ``2 * ceil(3 * sigma) + 1``, capped at
        ``2 * min(height, width) - 1`` and at least 1.

    Examples::

        >>> from captum_fido.infillers.functional import gaussian_kernel_size
        >>> gaussian_kernel_size(10.0, 224, 224)
        61
        >>> gaussian_kernel_size(10.0, 16, 16)
        31
    """
    size = 2 * math.ceil(3.0 * sigma) + 1
    # Reflect padding needs pad < side, i.e. size <= 2 * side - 1.
    cap = 2 * min(height, width) - 1
    size = min(size, cap if cap % 2 == 1 else cap - 1)
    return max(size, 1)


def _gaussian_kernel1d(size: int, sigma: float, like: Tensor) -> Tensor:
    # The same kernel as torchvision's gaussian_blur (sampled, normalised).
    half = (size - 1) * 0.5
    pdf = torch.exp(
        -0.5
        * (
            torch.linspace(-half, half, size, dtype=like.dtype, device=like.device)
            / sigma
        )
        ** 2
    )
    return pdf / pdf.sum()


def blur_fill(x: Tensor, sigma: float = 10.0) -> Tensor:
    r"""Gaussian blur of the whole image with reflect padding.

    Numerically torchvision's ``gaussian_blur`` (same kernel, same padding),
    computed as two 1-D convolutions: with sigma 10 the kernel is 61 wide, and
    the separable form does 122 instead of 3,721 multiply-adds per pixel.

    Args:
        x (Tensor): Images ``(N, C, H, W)``.
        sigma (float, optional): Standard deviation in pixels. Default 10.
            The kernel size is :func:`gaussian_kernel_size`; below 3 the
            images are returned unchanged (a copy).

    Returns:
        Tensor: The blurred images, ``x``'s shape.

    Examples::

        >>> from captum_fido.infillers.functional import blur_fill
        >>> blur_fill(torch.rand(2, 3, 64, 64), sigma=5.0).shape
        torch.Size([2, 3, 64, 64])
    """
    size = gaussian_kernel_size(sigma, x.shape[-2], x.shape[-1])
    if size < 3:
        return x.clone()
    c = x.shape[1]
    k = _gaussian_kernel1d(size, sigma, x)
    pad = size // 2
    out = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    out = F.conv2d(out, k.view(1, 1, size, 1).expand(c, 1, size, 1), groups=c)
    return F.conv2d(out, k.view(1, 1, 1, size).expand(c, 1, 1, size), groups=c)


def random_fill(
    x: Tensor,
    noise_std: float = 0.2,
    low: float = 0.0,
    high: float = 1.0,
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    r"""One uniform random colour per image plus Gaussian pixel noise.

    The colour is drawn uniformly in ``[low, high]`` per channel, noise with
    standard deviation ``noise_std * (high - low)`` is added and the result is
    clipped to ``[low, high]`` (the reference implementation does this in
    ``[0, 1]`` pixel space).

    Args:
        x (Tensor): Images ``(N, C, H, W)``; only their shape, dtype and
            device are used.
        noise_std (float, optional): Noise standard deviation as a fraction
            of ``high - low``. Default 0.2.
        low (float, optional): Lowest pixel value. Default 0.
        high (float, optional): Highest pixel value. Default 1.
        generator (torch.Generator, optional): Source of the random numbers.
            Default ``None``: torch's global generator.

    Returns:
        Tensor: Random images of ``x``'s shape, values in ``[low, high]``.

    Examples::

        >>> from captum_fido.infillers.functional import random_fill
        >>> g = torch.Generator().manual_seed(0)
        >>> ref = random_fill(torch.rand(2, 3, 32, 32), generator=g)
        >>> bool((ref >= 0).all() and (ref <= 1).all())
        True
    """
    n, c = x.shape[:2]
    span = high - low
    colour = torch.rand(
        (n, c, 1, 1), generator=generator, dtype=x.dtype, device=x.device
    )
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    filled = colour * span + low + noise * (noise_std * span)
    return filled.clamp_(low, high)


def box_sum(x: Tensor, window: int) -> Tensor:
    r"""Sum over a ``window x window`` box around each pixel (zero padding).

    Two separable sum-poolings (``avg_pool2d`` with ``divisor_override=1``):
    ``2 * window`` additions per pixel instead of ``window ** 2``.

    Args:
        x (Tensor): Values ``(N, C, H, W)``.
        window (int): Odd window side.

    Returns:
        Tensor: The window sums, ``x``'s shape.

    Examples::

        >>> from captum_fido.infillers.functional import box_sum
        >>> box_sum(torch.ones(1, 1, 4, 4), 3)
        tensor([[[[4., 6., 6., 4.],
                  [6., 9., 9., 6.],
                  [6., 9., 9., 6.],
                  [4., 6., 6., 4.]]]])
    """
    pad = window // 2
    rows = F.avg_pool2d(x, (window, 1), stride=1, padding=(pad, 0), divisor_override=1)
    return F.avg_pool2d(
        rows, (1, window), stride=1, padding=(0, pad), divisor_override=1
    )


def local_mean_fill(
    x: Tensor, keep_mask: Tensor, window: int = 15, fallback: str = "image"
) -> Tensor:
    r"""Mean of the observed pixels in a ``window x window`` neighbourhood.

    Implemented with two sum-poolings (``avg_pool2d`` without padded zeros
    counted), so it never reads a pixel whose ``keep_mask`` is 0.

    Args:
        x: Images ``(N, C, H, W)``.
        keep_mask: ``(N, 1, H, W)``, 1 = observed.
        window: Odd window side.
        fallback: Where a window holds no observed pixel: ``"image"`` uses the
            mean of all observed pixels of that image (0 if none is observed),
            ``"zero"`` uses 0 as the reference implementation did.

    Returns:
        ``(N, C, H, W)`` local means, defined at every pixel (observed ones
        included).

    Examples::

        >>> from captum_fido.infillers.functional import local_mean_fill
        >>> x = torch.rand(2, 3, 32, 32)
        >>> keep = (torch.rand(2, 1, 32, 32) > 0.5).float()
        >>> ref = local_mean_fill(x, keep, window=7)
        >>> phi = keep * x + (1 - keep) * ref
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd integer, got {window}")
    if fallback not in ("image", "zero"):
        raise ValueError(f"fallback must be 'image' or 'zero', got {fallback!r}")
    keep = keep_mask.to(x.dtype)
    summed = box_sum(x * keep, window)
    counts = box_sum(keep, window)
    local = summed / counts.clamp_min(1.0)
    if fallback == "zero":
        return local.masked_fill(counts == 0, 0.0)
    total = keep.sum(dim=(2, 3), keepdim=True)
    image_mean = (x * keep).sum(dim=(2, 3), keepdim=True) / total.clamp_min(1.0)
    return torch.where(counts > 0, local, image_mean.expand_as(local))


def pyramid_fill(
    x: Tensor, keep_mask: Tensor, empty_value: float = 0.0, grow_steps: int = 2
) -> Tensor:
    r"""Fill holes from the observed pixels through an image pyramid.

    *Push*: the observed pixels and the keep-mask are sum-pooled by 2 down
    to one pixel, so every level holds, per cell, the mean of the observed
    pixels it covers (where it covers any). *Pull*: from the coarsest level
    up, each level first extends its known cells ``grow_steps`` cells into
    the holes (a cell next to known ones takes their mean, as Telea's
    outside-in order does; levels from 8 cells a side to half the input's
    resolution), and the cells still unknown take the bilinearly upsampled
    fill of the level above. Colours thus continue from a hole's
    border at every scale instead of blending towards the hole's global
    mean. Observed pixels keep their values. Honest (dropped pixels are
    never read) and in torch only, so it stays on the input's device.

    On 300 demo scenes the classifier's confidence under random FIDO-shaped
    holes is as high as after OpenCV's Navier-Stokes in-painting (0.515 vs
    0.513 with half the image dropped, 0.320 vs 0.321 with three quarters;
    0.475 and 0.275 without growing), at a sixth of its cost.

    Args:
        x (Tensor): Images ``(N, C, H, W)``, any size.
        keep_mask (Tensor): ``(N, 1, H, W)``, 1 = observed (values above
            0.5 count as observed).
        empty_value (float, optional): The fill of an image with no observed
            pixel. Default 0.
        grow_steps (int, optional): Cells each level extends its known
            cells by before taking the coarser fill (0: plain push-pull).
            Default 2.

    Returns:
        ``(N, C, H, W)`` tensor like ``x``: ``x`` at observed pixels, the
        pyramid's fill elsewhere.

    Examples::

        >>> from captum_fido.infillers.functional import pyramid_fill
        >>> x = torch.arange(16.0).view(1, 1, 4, 4)
        >>> keep = torch.ones(1, 1, 4, 4)
        >>> keep[..., 1:3, 1:3] = 0  # a 2 x 2 hole in the middle
        >>> filled = pyramid_fill(x, keep)
        >>> bool((filled * keep == x * keep).all())
        True
        >>> round(float(filled[0, 0, 1:3, 1:3].mean()), 2)  # the border's mean
        7.5
    """
    keep = (keep_mask > 0.5).to(x.dtype)
    sums, counts = [x * keep], [keep]
    while max(sums[-1].shape[-2:]) > 1:
        # Sums, not means: a cell's estimate is sums / counts at every level.
        sums.append(_pool2(sums[-1]))
        counts.append(_pool2(counts[-1]))
    fill = torch.full_like(sums[-1], float(empty_value))
    # The levels that grow: from 8 cells a side (below, the upsampled fill
    # does as well) to half the input's resolution (growing the input itself
    # cost 40% of the fill for a 2% lower classifier confidence on in-fills).
    for level in range(len(sums) - 1, -1, -1):
        level_sum, level_count = sums[level], counts[level]
        if fill.shape[-2:] != level_sum.shape[-2:]:
            fill = F.interpolate(
                fill, size=level_sum.shape[-2:], mode="bilinear", align_corners=False
            )
        known = (level_count > 0).to(x.dtype)
        value = level_sum / level_count.clamp_min(1e-12) * known
        if level > 0 and min(level_sum.shape[-2:]) >= _MIN_GROW_SIDE:
            for _ in range(grow_steps):
                value, known = _grow(value, known)
        fill = torch.where(known > 0, value, fill)
    return torch.where(keep > 0, x, fill)


#: Smallest level side at which ``pyramid_fill`` grows its known cells.
_MIN_GROW_SIDE = 8


def _grow(value: Tensor, known: Tensor) -> Tuple[Tensor, Tensor]:
    r"""One outside-in step: unknown cells next to known ones take the mean
    of their known 3 x 3 neighbours. ``value`` is 0 where unknown."""
    c = value.shape[1]
    # 3 x 3 sums as a depthwise convolution: about twice as fast as
    # avg_pool2d with divisor_override on the CPU.
    ones = value.new_ones(c + 1, 1, 3, 3)
    pooled = F.conv2d(torch.cat([value, known], 1), ones, padding=1, groups=c + 1)
    total, neighbours = pooled[:, :c], pooled[:, c:]
    new = (known == 0) & (neighbours > 0)
    value = torch.where(new, total / neighbours.clamp_min(1e-12), value)
    return value, torch.where(new, torch.ones_like(known), known)


def _pool2(x: Tensor) -> Tensor:
    r"""2 x 2 sum-pooling; an odd side's last row or column pools alone."""
    return F.avg_pool2d(x, 2, ceil_mode=True, divisor_override=1)
