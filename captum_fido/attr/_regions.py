r"""``avoid_regions``: regions a new explanation should not reuse, checked
when the options are made (:func:`check_regions`) and fitted to each input
when a run starts (:func:`resolve_regions`)."""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import torch

from captum_fido._utils import validation as V

__all__ = ["RegionMasks", "check_regions", "resolve_regions"]

RegionMasks = Union[None, torch.Tensor, Tuple[torch.Tensor, ...]]


def _check_region(value: Any, name: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {value.dtype}")
    if value.dim() != 4:
        raise ValueError(f"{name} must have 4 dimensions, got {tuple(value.shape)}")
    if not bool(((value >= 0) & (value <= 1)).all()):
        raise ValueError(f"{name} must hold values in [0, 1] (and no NaN)")
    return value.detach()


#: ``avoid_regions``' kind and values: ``None``, a tensor or a non-empty tuple
#: (shapes are checked against each input by :func:`resolve_regions`).
check_regions = V.tensor_or_tuple(_check_region)


def resolve_regions(
    regions: RegionMasks, inputs: Tuple[torch.Tensor, ...], name: str
) -> Optional[Tuple[torch.Tensor, ...]]:
    r"""Per input, ``regions`` as an ``(N, 1, H, W)`` tensor on the input's
    device and dtype, or ``None``.

    Each must have the input's shape ``(N, C, H, W)`` with equal channels
    (an attribution) or ``(N, 1, H, W)``; anything else raises.

    Examples::

        >>> x = torch.rand(2, 3, 8, 8)
        >>> resolve_regions(torch.zeros(2, 3, 8, 8), (x,), "r")[0].shape
        torch.Size([2, 1, 8, 8])
    """
    if regions is None:
        return None
    resolved = []
    for label, r, x in V.per_input(regions, inputs, name):
        if x.dim() != 4:
            raise ValueError(f"{label} is supported for (N, C, H, W) images only")
        n, _, h, w = x.shape
        if tuple(r.shape) not in (tuple(x.shape), (n, 1, h, w)):
            raise ValueError(
                f"{label} must have shape {tuple(x.shape)} or {(n, 1, h, w)}, "
                f"got {tuple(r.shape)}"
            )
        if not bool((r == r[:, :1]).all()):
            raise ValueError(f"{label} must be equal across channels")
        resolved.append(r[:, :1].to(device=x.device, dtype=x.dtype))
    return tuple(resolved)
