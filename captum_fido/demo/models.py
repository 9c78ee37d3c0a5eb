r"""Architectures of the demo domain: classifier, inpainter, completion VAE.

All models take plain RGB images in ``[0, 1]`` (no normalisation), 64 x 64 by
default (any side divisible by 8 works). The in-filling models share one call
signature, the one :class:`~captum_fido.infillers.ModuleInfiller` documents::

    completed = model(masked_image, keep_mask)

with ``masked_image = image * keep_mask`` ``(N, 3, H, W)`` and ``keep_mask``
``(N, 1, H, W)`` in ``{0, 1}`` (1 = observed); ``completed`` is a full
``(N, 3, H, W)`` image in ``[0, 1]``.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_fido.demo.scenes import CLASSES

__all__ = [
    "SceneClassifier",
    "GatedConv2d",
    "InpaintingUNet",
    "PatchDiscriminator",
    "CompletionVAE",
]


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


class SceneClassifier(nn.Module):
    r"""A small CNN for the scene classes (four conv blocks, global pooling).

    ``features`` is a ``Sequential`` whose last entry (also available as
    :attr:`last_conv`) is the final conv block at 1/8 resolution: the layer
    to give Captum's ``LayerGradCam``.

    Args:
        num_classes (int, optional): Default ``len(CLASSES)``.
        width (int, optional): Channels of the first block; later blocks use
            2x and 4x. Default 32.

    Examples::

        >>> model = SceneClassifier().eval()
        >>> model(torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 6])
    """

    def __init__(self, num_classes: int = len(CLASSES), width: int = 32) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _block(3, w),
            nn.MaxPool2d(2),
            _block(w, 2 * w),
            nn.MaxPool2d(2),
            _block(2 * w, 4 * w),
            nn.MaxPool2d(2),
            _block(4 * w, 4 * w),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(4 * w, num_classes)

    @property
    def last_conv(self) -> nn.Module:
        r"""The final conv block (conv, BatchNorm, ReLU), for LayerGradCam."""
        return self.features[-1]

    def forward(self, x: Tensor) -> Tensor:
        h = self.pool(self.features(x)).flatten(1)
        return self.fc(self.dropout(h))


class Rebuildable:
    r"""A network that records what rebuilds it: :meth:`architecture` gives
    its class name and the constructor arguments named in
    ``rebuilt_from`` (attributes of the same names), the settings a training
    summary keeps and :mod:`~captum_fido.demo.pretrained`'s loaders read."""

    rebuilt_from: Tuple[str, ...] = ()

    def architecture(self) -> Dict[str, Any]:
        r"""``{"architecture": class name, argument: value, ...}``."""
        values = {name: getattr(self, name) for name in self.rebuilt_from}
        return {"architecture": type(self).__name__, **values}


class GatedConv2d(nn.Module):
    r"""Gated convolution (Yu et al. 2019): ``act(conv_f(x)) * sigmoid(conv_g(x))``.

    The learned gate lets the network treat observed and missing pixels
    differently at every layer, which plain convolutions do poorly. Both
    convolutions are one ``nn.Conv2d`` with ``2 * c_out`` outputs, padded so
    that a stride of 1 keeps the spatial size.

    Args:
        c_in (int): Input channels.
        c_out (int): Output channels.
        kernel_size (int, optional): Side of the square kernel. Default 3.
        stride (int, optional): Stride. Default 1.
        dilation (int, optional): Dilation. Default 1.
        activation (bool, optional): Apply ELU to the feature branch
            (``act``); if False the features pass through unchanged.
            Default True.

    Examples::

        >>> layer = GatedConv2d(4, 16, 3, stride=2)
        >>> layer(torch.rand(2, 4, 64, 64)).shape
        torch.Size([2, 16, 32, 32])
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        activation: bool = True,
    ) -> None:
        super().__init__()
        padding = dilation * (kernel_size - 1) // 2
        self.conv = nn.Conv2d(
            c_in, 2 * c_out, kernel_size, stride, padding, dilation=dilation
        )
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        f, g = self.conv(x).chunk(2, dim=1)
        if self.activation:
            f = F.elu(f)
        return f * torch.sigmoid(g)


class GatedUNet(nn.Module):
    r"""The in-painters' refinement trunk: a gated-convolution U-Net with
    three stride-2 stages of 1, 2, 3 and 4 times ``width`` channels, a
    dilated bottleneck and skip connections; :meth:`features` maps an input
    ``(N, in_channels, H, W)`` to ``width`` features at full resolution, for
    a subclass's own head. The layers' names (``enc0``-``enc3``, ``mid``,
    ``dec2``-``dec0``) are those of the shipped weights' state_dicts.

    Args:
        in_channels (int): Channels of the input.
        width (int): Channels of the first stage.
        first_kernel (int): Kernel size of the first layer.
        dilations (tuple of int): The bottleneck layers' dilations.
        skip_input (bool, optional): Whether the last layer also reads the
            input. Default False.
    """

    def __init__(
        self,
        in_channels: int,
        width: int,
        first_kernel: int,
        dilations: Tuple[int, ...],
        skip_input: bool = False,
    ) -> None:
        super().__init__()
        w = width
        self.skip_input = skip_input
        self.enc0 = GatedConv2d(in_channels, w, first_kernel)
        self.enc1 = GatedConv2d(w, 2 * w, 3, stride=2)
        self.enc2 = GatedConv2d(2 * w, 3 * w, 3, stride=2)
        self.enc3 = GatedConv2d(3 * w, 4 * w, 3, stride=2)
        self.mid = nn.Sequential(
            *(GatedConv2d(4 * w, 4 * w, 3, dilation=d) for d in dilations)
        )
        self.dec2 = GatedConv2d(4 * w + 3 * w, 3 * w)
        self.dec1 = GatedConv2d(3 * w + 2 * w, 2 * w)
        self.dec0 = GatedConv2d(2 * w + w + (in_channels if skip_input else 0), w)

    def features(
        self, x: Tensor, shifts: Optional[Tuple[Tensor, Tensor]] = None
    ) -> Tensor:
        r"""The trunk's output ``(N, width, H, W)`` for ``x``; ``shifts``
        (optional) are added to the first down-sampled stage's skip and to
        the bottleneck's input (how a sampler injects its noise)."""
        e0 = self.enc0(x)
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        if shifts is not None:
            e1, e3 = e1 + shifts[0], e3 + shifts[1]
        h = self.mid(e3)
        h = self.dec2(torch.cat([_up(h), e2], 1))
        h = self.dec1(torch.cat([_up(h), e1], 1))
        skips = [_up(h), e0, x] if self.skip_input else [_up(h), e0]
        return self.dec0(torch.cat(skips, 1))


class InpaintingUNet(GatedUNet):
    r"""Coarse-to-fine gated-convolution inpainter: the demo's CA-GAN stand-in.

    Like the contextual-attention GAN, it works in two stages. The coarse
    stage is fixed and honest: the mean of the observed pixels in a
    ``coarse_window`` square around each pixel (the paper's Local fill, with
    the observed image mean where the window holds no observed pixel). The
    refinement stage is a gated-convolution U-Net (three down-sampling
    stages, a dilated bottleneck whose receptive field covers the whole
    64 x 64 image, skip connections) that reads the masked image, the mask
    and the coarse fill and predicts a correction in logit space. Trained
    with L1 reconstruction plus a patch-GAN adversarial loss on large
    free-form, box, blob and coarse-grid holes (see
    :mod:`captum_fido.demo.train_inpainters`).

    Call: ``model(masked_image, keep_mask) -> completed`` (see the module
    docstring). Observed pixels are copied through from ``masked_image``.

    Args:
        width (int, optional): Channels of the first stage. Default 16.
        coarse_window (int, optional): Odd side of the coarse stage's
            window. Default 15.

    Examples::

        >>> model = InpaintingUNet().eval()
        >>> image = torch.rand(2, 3, 64, 64)
        >>> keep = (torch.rand(2, 1, 64, 64) > 0.5).float()
        >>> completed = model(image * keep, keep)
        >>> completed.shape
        torch.Size([2, 3, 64, 64])
    """

    def __init__(self, width: int = 16, coarse_window: int = 15) -> None:
        super().__init__(7, width, first_kernel=5, dilations=(2, 4, 1))
        if coarse_window < 1 or coarse_window % 2 == 0:
            raise ValueError(f"coarse_window must be odd, got {coarse_window}")
        self.coarse_window = coarse_window
        self.out = nn.Conv2d(width, 3, 3, padding=1)
        _zero(self.out)

    def coarse(self, masked_image: Tensor, keep_mask: Tensor) -> Tensor:
        r"""The coarse stage: local mean of the observed pixels."""
        k = self.coarse_window
        x = masked_image * keep_mask
        num = F.avg_pool2d(x, k, 1, k // 2, count_include_pad=True)
        den = F.avg_pool2d(keep_mask, k, 1, k // 2, count_include_pad=True)
        total = keep_mask.sum((2, 3), keepdim=True)
        global_mean = x.sum((2, 3), keepdim=True) / total.clamp_min(1.0)
        global_mean = torch.where(
            total > 0, global_mean, torch.full_like(global_mean, 0.5)
        )
        local = num / den.clamp_min(1e-6)
        return torch.where(den > 1e-6, local, global_mean.expand_as(local))

    def forward(self, masked_image: Tensor, keep_mask: Tensor) -> Tensor:
        coarse = self.coarse(masked_image, keep_mask).clamp(1e-3, 1 - 1e-3)
        x = torch.cat([masked_image * keep_mask, keep_mask, coarse], dim=1)
        h = self.features(x)
        pred = torch.sigmoid(torch.logit(coarse) + self.out(h))
        return keep_mask * masked_image + (1 - keep_mask) * pred


def _zero(conv: nn.Conv2d) -> None:
    r"""Zero a conv layer's weight and bias (a residual head that starts at 0)."""
    nn.init.zeros_(conv.weight)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def _up(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class PatchDiscriminator(nn.Module):
    r"""Spectral-normalised patch discriminator for the inpainter's GAN loss.

    Sees the completed image and the keep-mask; returns one score per
    8 x 8 patch.

    Call: ``model(image, keep_mask) -> scores`` with ``image``
    ``(N, 3, H, W)``, ``keep_mask`` ``(N, 1, H, W)`` and ``scores``
    ``(N, 1, H / 8, W / 8)`` (unbounded logits).

    Args:
        width (int, optional): Channels of the first layer; later layers use
            2x and 4x. Default 32.

    Examples::

        >>> disc = PatchDiscriminator()
        >>> disc(torch.rand(2, 3, 64, 64), torch.ones(2, 1, 64, 64)).shape
        torch.Size([2, 1, 8, 8])
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        sn = nn.utils.spectral_norm
        w = width
        self.net = nn.Sequential(
            sn(nn.Conv2d(4, w, 4, 2, 1)),
            nn.LeakyReLU(0.2, inplace=True),
            sn(nn.Conv2d(w, 2 * w, 4, 2, 1)),
            nn.LeakyReLU(0.2, inplace=True),
            sn(nn.Conv2d(2 * w, 4 * w, 4, 2, 1)),
            nn.LeakyReLU(0.2, inplace=True),
            sn(nn.Conv2d(4 * w, 1, 3, 1, 1)),
        )

    def forward(self, image: Tensor, keep_mask: Tensor) -> Tensor:
        return self.net(torch.cat([image, keep_mask], dim=1))


class CompletionVAE(Rebuildable, nn.Module):
    r"""Image-completion VAE conditioned on the observed pixels (paper's VAE).

    A conditioning encoder reads ``(masked_image, keep_mask)``; a posterior
    encoder additionally reads the complete target image during training and
    gives ``q(z | target, observed)``; the decoder maps ``z`` and the
    conditioning features to the image. The prior is ``N(0, I)``.

    - ``model(masked_image, keep_mask)`` returns :meth:`predictive_mean`, the
      in-fill used by :class:`~captum_fido.infillers.VAEInfiller`.
    - :meth:`elbo_terms` is the training objective's pieces.

    Args:
        width (int, optional): Channels of the first stage. Default 32.
        latent_dim (int, optional): Size of ``z``. Default 32.

    Examples::

        >>> vae = CompletionVAE().eval()
        >>> target = torch.rand(2, 3, 64, 64)
        >>> keep = (torch.rand(2, 1, 64, 64) > 0.5).float()
        >>> vae(target * keep, keep).shape
        torch.Size([2, 3, 64, 64])
        >>> recon, kl = vae.elbo_terms(target, target * keep, keep)
        >>> kl.shape
        torch.Size([2])
    """

    rebuilt_from = ("width", "latent_dim")

    def __init__(self, width: int = 32, latent_dim: int = 32) -> None:
        super().__init__()
        w = width
        self.width, self.latent_dim = width, latent_dim
        self.cond0 = _vae_block(4, w, 1)
        self.cond1 = _vae_block(w, 2 * w, 2)
        self.cond2 = _vae_block(2 * w, 3 * w, 2)
        self.cond3 = _vae_block(3 * w, 4 * w, 2)
        self.post = nn.Sequential(
            _vae_block(7, w, 2),
            _vae_block(w, 2 * w, 2),
            _vae_block(2 * w, 4 * w, 2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4 * w, 2 * latent_dim),
        )
        self.z_proj = nn.Linear(latent_dim, 4 * w)
        self.dec2 = _vae_block(8 * w + 3 * w, 3 * w, 1)
        self.dec1 = _vae_block(3 * w + 2 * w, 2 * w, 1)
        self.dec0 = _vae_block(2 * w + w, w, 1)
        self.out = nn.Conv2d(w, 3, 3, padding=1)

    def _condition(self, masked_image: Tensor, keep_mask: Tensor) -> Tuple[Tensor, ...]:
        x = torch.cat([masked_image * keep_mask, keep_mask], dim=1)
        c0 = self.cond0(x)
        c1 = self.cond1(c0)
        c2 = self.cond2(c1)
        c3 = self.cond3(c2)
        return c0, c1, c2, c3

    def decode(self, z: Tensor, cond: Tuple[Tensor, ...]) -> Tensor:
        r"""Decoder mean for latent ``z`` ``(N, latent_dim)`` and conditioning."""
        c0, c1, c2, c3 = cond
        zmap = self.z_proj(z)[:, :, None, None].expand(-1, -1, *c3.shape[2:])
        h = torch.cat([c3, zmap], 1)
        h = self.dec2(torch.cat([_up(h), c2], 1))
        h = self.dec1(torch.cat([_up(h), c1], 1))
        h = self.dec0(torch.cat([_up(h), c0], 1))
        return torch.sigmoid(self.out(h))

    def elbo_terms(
        self,
        target: Tensor,
        masked_image: Tensor,
        keep_mask: Tensor,
        generator: Optional[torch.Generator] = None,
    ) -> Tuple[Tensor, Tensor]:
        r"""Reconstruction (from a posterior sample) and per-image KL.

        Returns:
            ``(reconstruction (N, 3, H, W), kl (N,))``.
        """
        cond = self._condition(masked_image, keep_mask)
        stats = self.post(torch.cat([target, masked_image * keep_mask, keep_mask], 1))
        mu, logvar = stats.chunk(2, dim=1)
        logvar = logvar.clamp(-8.0, 8.0)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device)
        z = mu + eps * torch.exp(0.5 * logvar)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
        return self.decode(z, cond), kl

    def predictive_mean(self, masked_image: Tensor, keep_mask: Tensor) -> Tensor:
        r"""Completion at the prior mean ``z = 0``, observed pixels copied."""
        cond = self._condition(masked_image, keep_mask)
        z = masked_image.new_zeros(masked_image.shape[0], self.latent_dim)
        pred = self.decode(z, cond)
        return keep_mask * masked_image + (1 - keep_mask) * pred

    def forward(self, masked_image: Tensor, keep_mask: Tensor) -> Tensor:
        return self.predictive_mean(masked_image, keep_mask)


def _vae_block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, 1),
        nn.GroupNorm(8 if c_out % 8 == 0 else 1, c_out),
        nn.SiLU(inplace=True),
    )
