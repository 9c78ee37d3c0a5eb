r"""The amortised explainer's network: image and target class to the logits
of FIDO's keep-mask distribution on its coarse grid (Dabkowski & Gal, 2017).

Trained by :func:`~captum_fido.attr.train_explainer`
(:mod:`._explainer_training`), used by :class:`~captum_fido.attr.AmortisedFIDO`
(:mod:`._amortised`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_fido._utils import validation as V
from captum_fido.attr._options import FIDO_DEFAULTS, MaskOptions

__all__ = ["MaskExplainerNet", "check_image_size"]


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    r"""3x3 conv, GroupNorm (batch-independent: a map never depends on the
    other images of a call), ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.GroupNorm(min(8, c_out), c_out),
        nn.ReLU(inplace=True),
    )


class MaskExplainerNet(nn.Module):
    r"""A compact class-conditioned encoder-decoder: image and target class
    to the logits of FIDO's keep-mask distribution on its coarse grid.

    The encoder halves the resolution four times; the bottleneck sees a
    global summary of the image and is modulated by the target class (a
    learned scale and shift per channel, the class selector of Dabkowski &
    Gal), and the decoder returns to a quarter of each side, FIDO's default
    grid (``ceil(H / 4) x ceil(W / 4)``), with skip connections.

    Args:
        n_classes (int): Classes of the explained classifier.
        in_channels (int, optional): Image channels. Default 3.
        width (int, optional): Channels of the first block (later blocks
            use 2x and 4x). Default 16.
        objective (str, optional): ``"ssr"`` or ``"sdr"``, the objective
            the network is (to be) trained with. Default ``"ssr"``.
        options (MaskOptions, optional): The objective's options (sparsity,
            TV, temperature, samples) it is trained with; refinement reuses
            them. Default :data:`~captum_fido.attr.FIDO_DEFAULTS`.

    Examples::

        >>> net = MaskExplainerNet(n_classes=6)
        >>> net(torch.rand(2, 3, 64, 64), torch.tensor([0, 3])).shape
        torch.Size([2, 1, 16, 16])
    """

    def __init__(
        self,
        n_classes: int,
        in_channels: int = 3,
        width: int = 16,
        objective: str = "ssr",
        options: MaskOptions = FIDO_DEFAULTS,
    ) -> None:
        super().__init__()
        self.n_classes = V.check_positive_int(n_classes, "n_classes")
        in_channels = V.check_positive_int(in_channels, "in_channels")
        w = V.check_positive_int(width, "width")
        if w not in (1, 2, 4) and w % 8:
            raise ValueError(
                "width must be 1, 2, 4 or a multiple of 8 (each block splits its "
                f"channels into min(8, channels) GroupNorm groups), got {w}"
            )
        if objective not in ("ssr", "sdr"):
            raise ValueError(f"objective must be 'ssr' or 'sdr', got {objective!r}")
        if not isinstance(options, MaskOptions):
            raise TypeError(
                f"options must be a MaskOptions, got {type(options).__name__}"
            )
        self.in_channels, self.width = in_channels, w
        self.objective, self.options = objective, options
        self.enc = nn.ModuleList(
            [
                nn.Sequential(_block(in_channels, w, 1), _block(w, w, 2)),  # 1/2
                _block(w, 2 * w, 2),  # 1/4: the mask grid
                _block(2 * w, 4 * w, 2),  # 1/8
                _block(4 * w, 4 * w, 2),  # 1/16
            ]
        )
        self.context = nn.Linear(4 * w, 4 * w)
        self.class_film = nn.Embedding(self.n_classes, 8 * w)
        nn.init.zeros_(self.class_film.weight)
        self.dec = nn.ModuleList([_block(8 * w, 4 * w, 1), _block(6 * w, 2 * w, 1)])
        self.head = nn.Conv2d(2 * w, 1, 1)
        # Logits 0 (keep probability 0.5) everywhere: FIDO's own start.
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)  # type: ignore[arg-type]

    def values_per_group(self, height: int, width: int) -> int:
        r"""The fewest values any GroupNorm group of the network normalises
        per image for ``height x width`` inputs: with 1, that group's output
        no longer depends on the image (and PyTorch refuses a batch of one).

        Args:
            height (int): Image height.
            width (int): Image width.

        Returns:
            int: The smallest ``channels / groups * h * w`` over the layers.

        Examples::

            >>> MaskExplainerNet(n_classes=6, width=4).values_per_group(1, 1)
            1
        """
        h, w, fewest = int(height), int(width), None
        sizes = []
        for block in self.enc:
            for layer in block.modules():
                if isinstance(layer, nn.Conv2d):
                    # kernel 3, padding 1: the side becomes ceil(side / stride)
                    stride = int(layer.stride[0])
                    h, w = -(-h // stride), -(-w // stride)
                elif isinstance(layer, nn.GroupNorm):
                    v = layer.num_channels // layer.num_groups * h * w
                    fewest = v if fewest is None else min(fewest, v)
            sizes.append((h, w))
        for block, (sh, sw) in zip(self.dec, (sizes[2], sizes[1])):
            for layer in block.modules():
                if isinstance(layer, nn.GroupNorm):
                    v = layer.num_channels // layer.num_groups * sh * sw
                    fewest = v if fewest is None else min(fewest, v)
        return int(fewest or 0)

    def forward(self, x: Tensor, target: Tensor) -> Tensor:
        r"""Mask logits ``(N, 1, ceil(H / 4), ceil(W / 4))`` for images
        ``x`` ``(N, C, H, W)`` and classes ``target`` ``(N,)``."""
        skips = []
        h = x
        for block in self.enc:
            h = block(h)
            skips.append(h)
        # Which shape is the object depends on the whole image: add a global
        # summary before the class selects what to keep.
        h = h + self.context(h.mean(dim=(2, 3)))[:, :, None, None]
        scale, shift = self.class_film(target).chunk(2, dim=1)
        h = h * (1 + scale[:, :, None, None]) + shift[:, :, None, None]
        for block, skip in zip(self.dec, (skips[2], skips[1])):
            h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = block(torch.cat([h, skip], dim=1))
        return self.head(h)


def check_image_size(net: MaskExplainerNet, x: Tensor, name: str) -> None:
    r"""Refuse images too small for the explainer before it runs: a
    GroupNorm group of one value normalises to a constant."""
    h, w = int(x.shape[2]), int(x.shape[3])
    if net.values_per_group(h, w) > 1:
        return
    side = 1
    while net.values_per_group(side, side) <= 1:
        side *= 2
    raise ValueError(
        f"{name} of {h} x {w} pixels are too small for the explainer (width "
        f"{net.width}): one of its GroupNorm layers would normalise groups of a "
        f"single value, whose output no longer depends on the image; give "
        f"images of at least {side} x {side} pixels (or an explainer of width 16)"
    )
