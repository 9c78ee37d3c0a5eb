r"""Argument handling shared by the metrics."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["as_maps", "as_targets"]


def as_maps(maps: Any, name: str = "maps") -> Tensor:
    r"""Saliency maps as ``(N, H, W)``: channels are averaged, never guessed.

    Accepts ``(N, C, H, W)`` attributions (Captum's layout; channels are
    averaged, after taking absolute values) or ``(N, H, W)`` maps.
    """
    if not isinstance(maps, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(maps).__name__}")
    if not maps.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {maps.dtype}")
    if maps.dim() == 4:
        maps = maps.abs().mean(dim=1)
    elif maps.dim() != 3:
        raise ValueError(
            f"{name} must have shape (N, C, H, W) or (N, H, W), got {tuple(maps.shape)}"
        )
    if not bool(torch.isfinite(maps).all()):
        raise ValueError(f"{name} holds NaN or infinite values")
    return maps.detach()


def as_targets(target: Any, n: int, device: torch.device) -> Tensor:
    r"""An int or ``N`` class indices as an ``(N,)`` long tensor."""
    if isinstance(target, bool):
        raise TypeError("target must be an int, a list of ints or an integer tensor")
    if isinstance(target, int):
        return torch.full((n,), target, dtype=torch.long, device=device)
    t = torch.as_tensor(target, device=device)
    if t.is_floating_point() or t.dtype == torch.bool:
        raise TypeError(f"target must hold integers, got {t.dtype}")
    if t.dim() == 0:
        return t.expand(n).long()
    if t.shape != (n,):
        raise ValueError(f"target must have {n} entries, got shape {tuple(t.shape)}")
    return t.long()
