r"""Segments: a ``feature_mask`` of integer segment ids checked, and turned
into per-pixel segment numbers for one input (FIDO's and BBMP's masks on
segments, :class:`~captum_fido.attr._masks.SegmentLayout`)."""

from __future__ import annotations

from typing import Any, Tuple

import torch
from torch import Tensor

from captum_fido._utils.validation import tensor_or_tuple

__all__ = ["check_feature_mask", "segment_index"]


def check_feature_mask(value: Any, name: str) -> Any:
    r"""A segment ``feature_mask``'s kind: ``None``, an integer tensor with
    ids ``>= 0`` and at most 4 dimensions, or a tuple of them (shapes are
    checked against each input by :func:`segment_index`).

    Args:
        value: The option's value.
        name (str): The option's name, for error messages.

    Returns:
        ``value`` (a list becomes a tuple).

    Examples::

        >>> check_feature_mask(torch.zeros(1, 1, 8, 8, dtype=torch.long), "m")
        tensor(...)
    """
    return tensor_or_tuple(_check_segment_tensor)(value, name)


def _check_segment_tensor(mask: Any, name: str) -> Tensor:
    if not isinstance(mask, Tensor):
        raise TypeError(
            f"{name} must be an integer tensor of segment ids (or a tuple of "
            f"them), got {type(mask).__name__}"
        )
    if mask.is_floating_point() or mask.is_complex() or mask.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer segment ids, got {mask.dtype}")
    if mask.dim() > 4 or mask.numel() == 0:
        raise ValueError(
            f"{name} must be a non-empty tensor of at most 4 dimensions, "
            f"broadcastable to the input (N, C, H, W); got {tuple(mask.shape)}"
        )
    if bool((mask < 0).any()):
        raise ValueError(f"{name} holds negative segment ids; ids must be >= 0")
    return mask


def segment_index(mask: Tensor, x: Tensor, name: str) -> Tuple[Tensor, int]:
    r"""Per-pixel segment numbers for input ``x`` from a ``feature_mask``.

    ``mask`` must broadcast to ``x``'s shape ``(N, C, H, W)`` and hold the same
    id on every channel of a pixel (one mask value per pixel). Ids are
    renumbered ``0 .. S - 1`` in increasing order over all images.

    Args:
        mask (Tensor): Integer segment ids (already checked by
            :func:`check_feature_mask`).
        x (Tensor): The input it belongs to.
        name (str): The option's name, for error messages.

    Returns:
        ``(index, S)``: an ``(N, 1, H, W)`` long tensor on ``x``'s device and
        the number of segments.

    Examples::

        >>> ids = torch.tensor([[5, 5], [7, 9]]).view(1, 1, 2, 2)
        >>> index, s = segment_index(ids, torch.rand(3, 3, 2, 2), "feature_mask")
        >>> index.shape, s
        (torch.Size([3, 1, 2, 2]), 3)
    """
    shape = (1,) * (4 - mask.dim()) + tuple(mask.shape)
    n, c, h, w = x.shape
    if any(m not in (1, t) for m, t in zip(shape, (n, c, h, w))):
        raise ValueError(
            f"{name} of shape {tuple(mask.shape)} does not broadcast to the "
            f"input's shape {(n, c, h, w)}: give (1 or N, 1 or C, H, W) = "
            f"({n}, 1, {h}, {w}) for one mask per image"
        )
    full = mask.reshape(shape).to(x.device)
    if shape[1] > 1 and bool((full != full[:, :1]).any()):
        raise ValueError(
            f"{name} gives different segments to the channels of a pixel; FIDO "
            "and BBMP keep or drop whole pixels: give one id per pixel (C = 1)"
        )
    full = full[:, :1].expand(n, 1, h, w)
    ids, index = torch.unique(full, return_inverse=True)
    return index.to(torch.long).view(n, 1, h, w), int(ids.numel())
