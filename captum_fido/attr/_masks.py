r"""Mask distributions: the one place where FIDO and BBMP differ.

The shared optimisation loop (:mod:`captum_fido.attr._loop`) asks a mask
distribution for four things: initial parameters on the coarse grid, the
expected keep-mask at full resolution (the attribution and the regularisers
use it), a differentiable sample of keep-masks for a batch of rows, and the
binary mask an infiller may observe for each of those rows.

Where the parameters live is a *layout*: :class:`GridLayout` (the default, a
coarse grid bilinearly upsampled to the image, samples drawn per pixel) or
:class:`SegmentLayout` (one parameter per segment of a ``feature_mask``,
gathered to the segment's pixels, samples drawn per segment).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions.utils import clamp_probs

__all__ = [
    "MaskDistribution",
    "RelaxedBernoulliMask",
    "ContinuousMask",
    "upsample",
    "relaxed_bernoulli_sample",
    "GridLayout",
    "SegmentLayout",
    "MaskLayout",
]


def upsample(grid: Tensor, size: Tuple[int, int]) -> Tensor:
    r"""Bilinear upsampling of ``(N, 1, h, w)`` grid values to ``size``."""
    if tuple(grid.shape[-2:]) == tuple(size):
        return grid
    return F.interpolate(grid, size=size, mode="bilinear", align_corners=False)


def relaxed_bernoulli_sample(
    probs: Tensor, temperature: float, uniforms: Tensor
) -> Tensor:
    r"""Concrete (Gumbel-sigmoid) sample with explicit uniform noise.

    The same reparameterisation as
    ``torch.distributions.RelaxedBernoulli(temperature, probs=probs).rsample()``,
    which draws ``uniforms`` from the global generator; taking the noise as an
    argument lets every image keep its own seeded stream.
    """
    probs = clamp_probs(probs)
    uniforms = clamp_probs(uniforms)
    logits = torch.log(probs) - torch.log1p(-probs)
    noise = torch.log(uniforms) - torch.log1p(-uniforms)
    return torch.sigmoid((logits + noise) / temperature)


class MaskDistribution(ABC):
    r"""Interface of a distribution over keep-masks, parameterised on a grid.

    A method's ``mask_distribution(options)`` returns one per ``attribute`` call;
    the shared loop calls :meth:`init_params`, :meth:`keep_probability`,
    :meth:`sample`, :meth:`observed` and :meth:`hard_sample`, and the optional
    hooks :meth:`project` and :meth:`anneal`; :meth:`pixel_std` serves the map
    uncertainty. Subclasses implement the five abstract methods.

    Examples::

        >>> dist = RelaxedBernoulliMask(temperature=0.1)
        >>> params = dist.init_params(2, (14, 14), like=images)
        >>> dist.keep_probability(params).shape
        torch.Size([2, 1, 14, 14])
    """

    #: Human-readable name used in progress bars and errors.
    name: str = "mask"
    #: Whether :meth:`sample` consumes uniform noise.
    needs_noise: bool = True
    #: Whether :meth:`observed` reads the parameters' cells (the layout's
    #: grid or segments, then spread to their pixels) instead of each
    #: pixel's sample.
    observes_cells: bool = False

    @abstractmethod
    def init_params(self, n: int, grid: Tuple[int, ...], like: Tensor) -> Tensor:
        r"""Initial parameters ``(n, 1, *grid)`` on ``like``'s device and dtype
        (``grid`` is a layout's parameter shape: ``(h, w)`` or ``(S,)``)."""

    @abstractmethod
    def keep_probability(self, params: Tensor) -> Tensor:
        r"""Keep probability on the coarse grid, differentiable."""

    @abstractmethod
    def sample(self, keep_prob: Tensor, uniforms: Optional[Tensor]) -> Tensor:
        r"""Differentiable keep-mask samples from full-resolution ``keep_prob``."""

    @abstractmethod
    def observed(self, keep_sample: Tensor, uniforms: Optional[Tensor]) -> Tensor:
        r"""Binary mask the infiller may observe, for the same rows."""

    @abstractmethod
    def hard_sample(self, keep_prob: Tensor, uniforms: Optional[Tensor]) -> Tensor:
        r"""A binary mask drawn from the distribution (for counterfactuals)."""

    def project(self, params: Tensor) -> None:  # noqa: B027 (optional hook)
        r"""Bring parameters back into their domain after an update."""

    def anneal(self, progress: float) -> None:  # noqa: B027 (optional hook)
        r"""Set schedule-dependent state for the step at ``progress`` in
        ``[0, 1]`` (0: first step, 1: last)."""

    def pixel_std(self, keep_prob: Tensor) -> Tensor:
        r"""Per-pixel standard deviation of the keep-mask given its full-
        resolution keep probability (zero for a deterministic mask)."""
        return torch.zeros_like(keep_prob)


class RelaxedBernoulliMask(MaskDistribution):
    r"""FIDO's factorised Bernoulli keep-mask, relaxed with Concrete samples.

    Parameters are logits on the coarse grid, initialised to 0 (p = 0.5 as in
    the paper). The upsampled probabilities are relaxed per pixel at
    ``temperature``; the infiller observes the rounded sample, as the
    reference implementation does. With ``temperature_final`` the
    temperature falls geometrically (linearly in log) from ``temperature``
    at the first step to ``temperature_final`` at the last (:meth:`anneal`).

    Args:
        temperature (float, optional): Concrete relaxation temperature.
            Default 0.1 (the paper's).
        temperature_final (float, optional): Temperature at the last step;
            ``None`` (default) keeps ``temperature`` throughout.

    Examples::

        >>> dist = RelaxedBernoulliMask(temperature=0.1, temperature_final=0.01)
        >>> dist.anneal(1.0)  # the last step
        >>> keep_prob = torch.full((2, 1, 32, 32), 0.5)
        >>> soft = dist.sample(keep_prob, torch.rand(2, 1, 32, 32))
        >>> dist.observed(soft, None).unique()  # what the infiller sees
        tensor([0., 1.])
    """

    name = "FIDO"

    def __init__(
        self, temperature: float = 0.1, temperature_final: Optional[float] = None
    ) -> None:
        self.start = float(temperature)
        self.final = self.start if temperature_final is None else temperature_final
        self.temperature = self.start

    def anneal(self, progress: float) -> None:
        self.temperature = self.start * (self.final / self.start) ** progress

    def pixel_std(self, keep_prob: Tensor) -> Tensor:
        # Each pixel is one Bernoulli draw (or its segment's): sqrt(p (1 - p)).
        return (keep_prob * (1.0 - keep_prob)).clamp_min(0.0).sqrt()

    def init_params(self, n: int, grid: Tuple[int, ...], like: Tensor) -> Tensor:
        return torch.zeros((n, 1, *grid), dtype=like.dtype, device=like.device)

    def keep_probability(self, params: Tensor) -> Tensor:
        return torch.sigmoid(params)

    def sample(self, keep_prob: Tensor, uniforms: Optional[Tensor]) -> Tensor:
        if uniforms is None:
            raise ValueError("RelaxedBernoulliMask.sample needs uniform noise")
        return relaxed_bernoulli_sample(keep_prob, self.temperature, uniforms)

    def observed(self, keep_sample: Tensor, uniforms: Optional[Tensor]) -> Tensor:
        return (keep_sample.detach() > 0.5).to(keep_sample.dtype)

    def hard_sample(self, keep_prob: Tensor, uniforms: Optional[Tensor]) -> Tensor:
        if uniforms is None:
            raise ValueError("RelaxedBernoulliMask.hard_sample needs uniform noise")
        return (uniforms < keep_prob).to(keep_prob.dtype)


class ContinuousMask(MaskDistribution):
    r"""BBMP's deterministic continuous keep-mask in ``[0, 1]``.

    Initialised to ``start`` and clamped to ``[0, 1]`` after each step (Fong
    & Vedaldi 2017 start at 1, keep everything). The infiller observes
    ``mask > tau``, the BBMP-CA thresholding of Chang et al. (section 4.4).

    Why BBMP-CA starts at ``tau``: the in-fill is a constant of the
    gradient, and ``d phi / d mask = x - infill``. Started at 1 with
    ``tau < 1`` the infiller observes every pixel, returns the image, and the
    gradient is zero everywhere: the mask never moves and the map is empty.
    Started at ``tau`` nothing is observed (``tau > tau`` is false), every
    pixel has a gradient, and a pixel becomes observed once the optimisation
    raises it above ``tau``: the paper's definition, ``r = 1[m > tau]``,
    unchanged.

    Why ``r`` is thresholded on the mask's cells (``observes_cells``), the
    grid's parameters spread to their pixels, not on the bilinearly
    upsampled mask: upsampled, a pixel's value mixes its neighbouring cells,
    so a pixel of a deleted cell (``m = 0``) next to a kept one is observed
    at any ``tau`` below the mix. Every deleted region then loses a cell's
    width at its border, and at low ``tau`` small regions vanish: at
    ``tau = 0`` thresholding pixels left 14 of 16 demo scenes' maps empty,
    thresholding cells none.

    Args:
        tau (float, optional): Threshold of the observed mask: infillers see
            the pixels with ``mask > tau``. Default 0.5.
        start (float, optional): The mask's initial value. Default 1.

    Examples::

        >>> dist = ContinuousMask(tau=0.3)
        >>> mask = torch.tensor([[[[0.2, 0.5]]]])
        >>> dist.observed(dist.sample(mask, None), None)
        tensor([[[[0., 1.]]]])
    """

    name = "BBMP"
    needs_noise = False
    observes_cells = True

    def __init__(self, tau: float = 0.5, start: float = 1.0) -> None:
        self.tau = float(tau)
        self.start = float(start)

    def init_params(self, n: int, grid: Tuple[int, ...], like: Tensor) -> Tensor:
        return torch.full(
            (n, 1, *grid), self.start, dtype=like.dtype, device=like.device
        )

    def keep_probability(self, params: Tensor) -> Tensor:
        return params

    def sample(self, keep_prob: Tensor, uniforms: Optional[Tensor]) -> Tensor:
        return keep_prob

    def observed(self, keep_sample: Tensor, uniforms: Optional[Tensor]) -> Tensor:
        return (keep_sample.detach() > self.tau).to(keep_sample.dtype)

    def hard_sample(self, keep_prob: Tensor, uniforms: Optional[Tensor]) -> Tensor:
        return keep_prob

    def project(self, params: Tensor) -> None:  # noqa: B027 (optional hook)
        with torch.no_grad():
            params.clamp_(0.0, 1.0)


class GridLayout:
    r"""Mask parameters on a coarse ``(h, w)`` grid, bilinearly upsampled to
    the image; samples are drawn per pixel from the upsampled probabilities.

    Args:
        grid (tuple[int, int]): The parameter grid ``(h, w)``.
        size (tuple[int, int]): The image size ``(H, W)``.

    Examples::

        >>> layout = GridLayout((16, 16), (64, 64))
        >>> layout.expected(torch.rand(2, 1, 16, 16)).shape
        torch.Size([2, 1, 64, 64])
    """

    def __init__(self, grid: Tuple[int, int], size: Tuple[int, int]) -> None:
        self.shape: Tuple[int, ...] = tuple(grid)
        self.size = tuple(size)
        #: Shape of one row's sampling noise (the samples' space): pixels.
        self.noise_shape: Tuple[int, ...] = self.size

    def expected(self, coarse: Tensor) -> Tensor:
        r"""Full-resolution ``(N, 1, H, W)`` values of coarse parameters."""
        return upsample(coarse, (self.size[0], self.size[1]))

    def sample_space(self, coarse: Tensor, full: Tensor) -> Tensor:
        r"""Where samples are drawn: per pixel, from the upsampled values."""
        return full

    def to_pixels(self, samples: Tensor, n_per_image: int) -> Tensor:
        r"""Samples drawn per pixel already are pixels."""
        return samples

    def cells_to_pixels(self, cells: Tensor, n_per_image: int) -> Tensor:
        r"""Each grid cell's value ``(N * n_per_image, 1, h, w)`` on all of
        its pixels (nearest, not interpolated: a cell's pixels share it)."""
        return F.interpolate(cells, size=(self.size[0], self.size[1]), mode="nearest")


class SegmentLayout:
    r"""One mask parameter per segment of a ``feature_mask``.

    A segment's value is gathered to all of its pixels, so masks and maps are
    constant within segments; a sample draws one value per segment (not per
    pixel). Segment sizes may differ between images; a segment absent from an
    image has no pixel there and no influence on its loss.

    Args:
        index (Tensor): ``(N, 1, H, W)`` long tensor of segment numbers in
            ``0 .. n_segments - 1`` (see
            :func:`captum_fido._utils.segments.segment_index`).
        n_segments (int): Number of segments ``S``.

    Examples::

        >>> index = torch.tensor([[0, 0], [1, 2]]).view(1, 1, 2, 2)
        >>> SegmentLayout(index, 3).expected(torch.tensor([[[0.1, 0.5, 0.9]]]))
        tensor([[[[0.1000, 0.1000],
                  [0.5000, 0.9000]]]])
    """

    def __init__(self, index: Tensor, n_segments: int) -> None:
        self.shape: Tuple[int, ...] = (int(n_segments),)
        self.size = (int(index.shape[-2]), int(index.shape[-1]))
        self.noise_shape: Tuple[int, ...] = self.shape
        self._flat = index.reshape(index.shape[0], 1, -1)
        self._rows: Dict[int, Tensor] = {1: self._flat}

    def expected(self, coarse: Tensor) -> Tensor:
        r"""``(N, 1, H, W)`` map of ``(N, 1, S)`` segment values."""
        return self.to_pixels(coarse, 1)

    def sample_space(self, coarse: Tensor, full: Tensor) -> Tensor:
        r"""Where samples are drawn: per segment."""
        return coarse

    def to_pixels(self, samples: Tensor, n_per_image: int) -> Tensor:
        r"""Gather ``(N * n_per_image, 1, S)`` segment values to their pixels
        (image ``i``'s rows are ``i * n_per_image ...``, as the loop lays them)."""
        if n_per_image not in self._rows:
            self._rows[n_per_image] = self._flat.repeat_interleave(n_per_image, dim=0)
        flat = self._rows[n_per_image]
        return samples.gather(2, flat).view(samples.shape[0], 1, *self.size)

    def cells_to_pixels(self, cells: Tensor, n_per_image: int) -> Tensor:
        r"""Each segment's value on all of its pixels (as :meth:`to_pixels`)."""
        return self.to_pixels(cells, n_per_image)


#: Where a mask's parameters live.
MaskLayout = Union[GridLayout, SegmentLayout]
