r"""The demo's strongest in-painter: a coarse fill refined by a learned U-Net.

Two stages, both honest (they read observed pixels only):

1. **Coarse** (:func:`coarse_fill`): a fill of the holes from the observed
   pixels. The shipped network refines the push-pull pyramid fill
   (:func:`~captum_fido.infillers.functional.pyramid_fill`, ``"pyramid"``):
   torch only, so it runs on the input's device without a round trip to the
   host, at a fraction of the classifier's cost. The first shipped network
   refined OpenCV's Navier-Stokes in-painting (Bertalmio et al. 2001,
   ``"ns"``), which runs image by image on the CPU and cost as much as a
   classifier pass per row; its weights still load.
2. **Refinement** (:class:`RefineUNet`): a gated-convolution U-Net that reads
   the masked image, the keep-mask and the coarse fill and predicts a
   correction of the coarse fill in logit space. Its output layer starts at
   zero, so an untrained network returns the coarse fill exactly and
   training only has to learn what improves on it.

:class:`CoarseRefineInfiller` runs both as a
:class:`~captum_fido.infillers.Infiller`: it zeroes the dropped pixels
before anything reads them, so the fill is bit-identical whatever the
dropped pixels held. :func:`captum_fido.demo.pretrained.load_inpainter_infiller`
returns one with the shipped weights.

Examples::

    >>> from captum_fido.demo.inpainting import CoarseRefineInfiller, RefineUNet
    >>> infiller = CoarseRefineInfiller(RefineUNet(width=8).eval())
    >>> reference = infiller(torch.rand(2, 3, 64, 64), torch.ones(2, 1, 64, 64))
"""

from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_fido._utils import validation as V
from captum_fido.demo.models import GatedUNet, Rebuildable, _zero
from captum_fido.infillers import Infiller
from captum_fido.infillers.functional import pyramid_fill

__all__ = [
    "observed_fill",
    "coarse_fill",
    "COARSE_FILLS",
    "RefineUNet",
    "CoarseRefineInfiller",
    "SamplingRefineInfiller",
]

_FLAGS = {"ns": cv2.INPAINT_NS, "telea": cv2.INPAINT_TELEA}

#: The coarse stages a :class:`RefineUNet` can refine.
COARSE_FILLS = ("pyramid", "ns")
#: Fill of a scene with no observed pixel: mid-grey.
_EMPTY = 0.5


def observed_fill(
    masked_image: Tensor, keep_mask: Tensor, method: str = "ns", radius: float = 3.0
) -> Tensor:
    r"""Classical in-painting of RGB images in ``[0, 1]`` from observed pixels.

    Every image is zeroed at its dropped pixels, quantised to 8 bits and
    in-painted with ``cv2.inpaint``; observed pixels are returned as given.
    An image with no observed pixel is filled with 0.5, one with no dropped
    pixel is returned unchanged. Not differentiable (runs in numpy).

    Args:
        masked_image (Tensor): ``(N, 3, H, W)`` in ``[0, 1]``.
        keep_mask (Tensor): ``(N, 1, H, W)`` in ``{0, 1}``, 1 = observed.
        method (str, optional): ``"ns"`` (Navier-Stokes, default) or
            ``"telea"``.
        radius (float, optional): Neighbourhood radius. Default 3.

    Returns:
        ``(N, 3, H, W)`` tensor like ``masked_image``.

    Examples::

        >>> x = torch.rand(2, 3, 64, 64)
        >>> keep = torch.ones(2, 1, 64, 64)
        >>> keep[:, :, 16:48, 16:48] = 0
        >>> coarse = observed_fill(x * keep, keep)
        >>> coarse.shape
        torch.Size([2, 3, 64, 64])
        >>> bool((coarse * keep == x * keep).all())
        True
    """
    V.check_choice(method, "method", sorted(_FLAGS))
    if masked_image.dim() != 4 or masked_image.shape[1] != 3:
        raise ValueError(
            f"masked_image must be (N, 3, H, W), got {tuple(masked_image.shape)}"
        )
    keep = keep_mask.detach().cpu()[:, 0] > 0.5
    x = torch.where(keep[:, None], masked_image.detach().cpu().float(), 0.0)
    q = (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    holes = (~keep).to(torch.uint8).numpy()
    out = np.empty(q.shape, np.float32)
    for i in range(q.shape[0]):
        if not holes[i].any():
            out[i] = q[i]
        elif holes[i].all():
            out[i] = 127.5
        else:
            img = np.ascontiguousarray(q[i])
            out[i] = cv2.inpaint(img, holes[i], float(radius), _FLAGS[method])
    filled = torch.from_numpy(out / 255.0).permute(0, 3, 1, 2)
    filled = torch.where(keep[:, None], x, filled)
    return filled.to(dtype=masked_image.dtype, device=masked_image.device)


def coarse_fill(masked_image: Tensor, keep_mask: Tensor, method: str) -> Tensor:
    r"""The coarse stage ``method`` of the in-painter on RGB images in ``[0, 1]``.

    Args:
        masked_image (Tensor): ``(N, 3, H, W)``.
        keep_mask (Tensor): ``(N, 1, H, W)`` in ``{0, 1}``, 1 = observed.
        method (str): ``"pyramid"`` (push-pull pyramid, torch, on the input's
            device) or ``"ns"`` (OpenCV Navier-Stokes, radius 3, on the CPU).

    Returns:
        ``(N, 3, H, W)`` tensor like ``masked_image``: observed pixels as
        given, holes filled (mid-grey where nothing is observed).

    Examples::

        >>> x = torch.rand(2, 3, 64, 64)
        >>> keep = (torch.rand(2, 1, 64, 64) > 0.5).float()
        >>> coarse_fill(x * keep, keep, "pyramid").shape
        torch.Size([2, 3, 64, 64])
    """
    if method == "pyramid":
        return pyramid_fill(masked_image, keep_mask, empty_value=_EMPTY)
    if method == "ns":
        return observed_fill(masked_image, keep_mask, method="ns", radius=3.0)
    raise ValueError(f"method must be one of {COARSE_FILLS}, got {method!r}")


class RefineUNet(Rebuildable, GatedUNet):
    r"""Gated-convolution U-Net refining a coarse fill (the learned stage).

    The 7-channel input (masked image, keep-mask, coarse fill) is folded
    into ``7 * fold**2`` channels at ``1 / fold`` of the resolution
    (pixel-unshuffle), so that every layer runs at 32 x 32 (``fold=2``) or
    16 x 16 (``fold=4``) or below on a 64 px scene, while no input pixel is
    lost. Three gated
    down-sampling stages, a dilated bottleneck that sees the whole image,
    skip connections, and a pixel-shuffle back to full resolution give a
    correction added to ``logit(coarse)``; it is initialised to zero, so the
    untrained network returns the coarse fill.

    Call: ``model(masked_image, keep_mask, coarse=None, noise=None) ->
    completed``. When ``coarse`` is ``None`` it is computed with
    :func:`coarse_fill` and the network's ``coarse`` stage (so the module
    alone is a complete, honest in-painter with the ``model(masked_image,
    keep_mask)`` signature of the other demo models). Observed pixels are
    copied through from ``masked_image``. Image sides must be divisible by
    ``8 * fold``.

    With ``noise_channels > 0`` the network is a *sampler*: ``noise`` (from
    :meth:`draw_noise`) is added to the bottleneck and to the first stage's
    skip features, so each draw gives another completion (trained for
    diversity by :func:`~captum_fido.demo.train_sampler.train_sampler`);
    ``noise=None`` gives the completion at zero noise.

    Args:
        width (int, optional): Channels of the first stage. Default 24.
        coarse (str, optional): The coarse stage it refines, one of
            :data:`COARSE_FILLS`. Default ``"pyramid"``.
        fold (int, optional): The pixel-unshuffle factor, 2 or 4. Default 2
            (the shipped network uses 4).
        noise_channels (int, optional): Channels of the noise at each of the
            two scales; 0 (default) makes a deterministic network.

    Examples::

        >>> net = RefineUNet(width=8).eval()
        >>> x = torch.rand(2, 3, 64, 64)
        >>> keep = (torch.rand(2, 1, 64, 64) > 0.5).float()
        >>> completed = net(x * keep, keep)
        >>> completed.shape
        torch.Size([2, 3, 64, 64])
    """

    rebuilt_from = ("coarse", "fold", "width", "noise_channels")

    def __init__(
        self,
        width: int = 24,
        coarse: str = "pyramid",
        fold: int = 2,
        noise_channels: int = 0,
    ) -> None:
        V.check_choice(coarse, "coarse", COARSE_FILLS)
        if fold not in (2, 4):
            raise ValueError(f"fold must be 2 or 4, got {fold!r}")
        if not isinstance(noise_channels, int) or noise_channels < 0:
            raise ValueError(
                f"noise_channels must be a non-negative int, got {noise_channels!r}"
            )
        w, c = width, 7 * fold * fold
        super().__init__(c, w, first_kernel=3, dilations=(1, 2, 1), skip_input=True)
        self.width, self.coarse, self.fold = width, coarse, fold
        self.noise_channels = noise_channels
        self.out = nn.Conv2d(w, 3 * fold * fold, 3, padding=1)
        _zero(self.out)
        if noise_channels:
            # Noise enters at two scales, added to features: the bottleneck's
            # (the fill's layout and colours) and the first down-sampled
            # stage's skip to the decoder (texture). Zero at first, so a
            # sampler warm-started from a deterministic network begins as it.
            self.noise_mid = nn.Conv2d(noise_channels, 4 * w, 1)
            self.noise_e1 = nn.Conv2d(noise_channels, 2 * w, 1)
            _zero(self.noise_mid)
            _zero(self.noise_e1)

    def draw_noise(
        self, like: Tensor, generator: Optional[torch.Generator] = None
    ) -> Tuple[Tensor, Tensor]:
        r"""Standard normal noise for images shaped like ``like``
        ``(N, C, H, W)``, drawn from ``generator`` (the global generator when
        ``None``): ``(first-stage noise, bottleneck noise)``, at ``1 / (2 *
        fold)`` and ``1 / (8 * fold)`` of the image's sides."""
        if not self.noise_channels:
            raise ValueError("draw_noise needs a network with noise_channels > 0")
        n, (h, w) = like.shape[0], like.shape[-2:]
        shapes = [
            (n, self.noise_channels, h // (f * self.fold), w // (f * self.fold))
            for f in (2, 8)
        ]
        z1, z3 = (
            torch.randn(s, generator=generator, device=like.device, dtype=like.dtype)
            for s in shapes
        )
        return z1, z3

    def forward(
        self,
        masked_image: Tensor,
        keep_mask: Tensor,
        coarse: Optional[Tensor] = None,
        noise: Optional[Tuple[Tensor, Tensor]] = None,
    ) -> Tensor:
        masked_image = masked_image * keep_mask
        if coarse is None:
            coarse = coarse_fill(masked_image, keep_mask, self.coarse)
        coarse = coarse.clamp(1e-3, 1 - 1e-3)
        x = F.pixel_unshuffle(
            torch.cat([masked_image, keep_mask, coarse], 1), self.fold
        )
        shifts = None
        if noise is not None:
            if not self.noise_channels:
                raise ValueError("noise given to a RefineUNet without noise_channels")
            shifts = (self.noise_e1(noise[0]), self.noise_mid(noise[1]))
        h = self.features(x, shifts)
        delta = F.pixel_shuffle(self.out(h), self.fold)
        pred = torch.sigmoid(torch.logit(coarse) + delta)
        return keep_mask * masked_image + (1 - keep_mask) * pred


def _up(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class CoarseRefineInfiller(Infiller):
    r"""A coarse fill + :class:`RefineUNet`, as an honest infiller.

    The coarse stage is the network's own (``net.coarse``): with the
    pyramid fill everything runs on the network's device.

    Dropped pixels are set to zero before the coarse stage or the network
    sees the image, so the fill never depends on them. Deterministic.

    Args:
        net (RefineUNet): The refinement network (put it in eval mode).
        internal_batch_size (int, optional): Images per network call
            (bounds memory). Default 256.

    Examples::

        >>> infiller = CoarseRefineInfiller(RefineUNet(width=8).eval())
        >>> x = torch.rand(2, 3, 64, 64)
        >>> keep = (torch.rand(2, 1, 64, 64) > 0.5).float()
        >>> reference = infiller(x, keep)
        >>> reference.shape
        torch.Size([2, 3, 64, 64])
    """

    uses_mask = True
    stochastic = False
    honest = True

    def __init__(self, net: RefineUNet, internal_batch_size: int = 256) -> None:
        if internal_batch_size < 1:
            raise ValueError(
                f"internal_batch_size must be positive, got {internal_batch_size}"
            )
        self.net = net
        self.internal_batch_size = int(internal_batch_size)

    def fill(
        self, x: Tensor, keep_mask: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        if x.shape[1] != 3:
            raise ValueError(
                f"{type(self).__name__} expects RGB images, got {x.shape[1]} channels"
            )
        keep = (keep_mask > 0.5).to(x.dtype)
        param = next(self.net.parameters())
        outs = []
        for start in range(0, x.shape[0], self.internal_batch_size):
            sl = slice(start, start + self.internal_batch_size)
            k = keep[sl].to(param.device, param.dtype)
            m = x[sl].to(param.device, param.dtype) * k
            outs.append(self._complete(m, k, generator).to(x.device, x.dtype))
        return torch.where(keep.bool(), x, torch.cat(outs))

    def _complete(
        self, masked: Tensor, keep: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        return self.net(masked, keep)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(RefineUNet(width={self.net.width}, "
            f"coarse={self.net.coarse!r}, fold={self.net.fold}, "
            f"noise_channels={self.net.noise_channels}), "
            f"internal_batch_size={self.internal_batch_size})"
        )


class SamplingRefineInfiller(CoarseRefineInfiller):
    r"""A sampling :class:`RefineUNet` (``noise_channels > 0``) as an honest,
    stochastic infiller: every call draws new noise, so every call gives
    another plausible completion of the same observed pixels.

    The noise is drawn from the ``generator`` the call is given (FIDO passes
    each image's own), on the images' device, so seeded runs repeat exactly.
    With FIDO's ``n_infills > 1`` each mask sample is scored on several
    completions and the class probability averaged over them (the paper's
    marginalisation over in-fills, its Eq. 1).

    Args:
        net (RefineUNet): The sampling network (``noise_channels > 0``, eval
            mode).
        internal_batch_size (int, optional): Images per network call.
            Default 256.

    Examples::

        >>> net = RefineUNet(width=8, noise_channels=4).eval()
        >>> infiller = SamplingRefineInfiller(net)
        >>> x = torch.rand(2, 3, 64, 64)
        >>> keep = (torch.rand(2, 1, 64, 64) > 0.5).float()
        >>> g = torch.Generator().manual_seed(0)
        >>> infiller(x, keep, g).shape
        torch.Size([2, 3, 64, 64])
    """

    stochastic = True

    def __init__(self, net: RefineUNet, internal_batch_size: int = 256) -> None:
        if not net.noise_channels:
            raise ValueError(
                "net must be a sampling RefineUNet (noise_channels > 0); a "
                "deterministic one belongs in CoarseRefineInfiller"
            )
        super().__init__(net, internal_batch_size)

    def _complete(
        self, masked: Tensor, keep: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        # Drawn where the generator lives (the images' device), then moved.
        device = masked.device if generator is None else generator.device
        noise = self.net.draw_noise(masked.to(device), generator)
        return self.net(masked, keep, noise=tuple(z.to(masked.device) for z in noise))
