r"""Argument handling shared by the metrics: maps, targets and boxes are
checked the way the attribution methods check their inputs, with errors that
name the argument, before any model pass."""

from __future__ import annotations

import contextlib
import math
import numbers
from typing import Any, Iterator, Optional, Sequence

import torch
from torch import Tensor

from captum_fido._utils.scores import check_model_output, num_classes
from captum_fido._utils.validation import (
    check_boxes,
    check_targets,
    check_targets_in_range,
)

__all__ = [
    "as_maps",
    "as_targets",
    "check_boxes",
    "renamed",
    "check_output_targets",
    "check_real",
    "constant_rows",
    "CONSTANT_RTOL",
]

#: A map is constant when its values span at most this fraction of their
#: largest magnitude (float rounding of a map that is meant to be flat).
CONSTANT_RTOL = 1e-6


def as_maps(maps: Any, name: str = "maps") -> Tensor:
    r"""Saliency maps as ``(N, H, W)``: channels are averaged, never guessed.

    Accepts ``(N, C, H, W)`` attributions (Captum's layout; channels are
    averaged, after taking absolute values) or ``(N, H, W)`` maps, finite
    and with at least one map of at least one pixel.
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
    if maps.numel() == 0:
        raise ValueError(f"{name} is empty: shape {tuple(maps.shape)}")
    if not bool(torch.isfinite(maps).all()):
        raise ValueError(f"{name} holds NaN or infinite values")
    return maps.detach()


def as_targets(
    target: Any, n: int, device: torch.device, name: str = "target"
) -> Tensor:
    r"""Captum's target forms (an int, ``N`` ints, an integer tensor) as an
    ``(N,)`` long tensor, checked like the attribution methods' targets;
    unlike theirs, a target is required. Errors name ``name``."""
    with renamed("target", name):
        targets = check_targets(target, n, device)
    if targets is None:
        raise ValueError(
            f"{name} is required: the class whose score the metric tracks (an "
            "int, a list of ints or a tensor of N class indices)"
        )
    return targets


def check_output_targets(
    output: Any,
    targets: Tensor,
    output_type: str,
    name: str = "forward_func",
    target_name: str = "target",
) -> Tensor:
    r"""A model output checked (a finite ``(N, C)`` or ``(N,)`` float tensor
    that agrees with ``output_type``) and ``targets`` checked against its
    number of classes; returns the output."""
    out = check_model_output(output, targets.shape[0], output_type, name)
    with renamed("target", target_name):
        check_targets_in_range(targets, num_classes(out))
    return out


@contextlib.contextmanager
def renamed(old: str, new: str) -> Iterator[None]:
    r"""Re-raise the shared checks' errors, which start with ``old`` (the
    argument's usual name), with the caller's name for it."""
    try:
        yield
    except (TypeError, ValueError) as err:
        message = str(err)
        if new == old or not message.startswith(old):
            raise
        raise type(err)(new + message[len(old) :]) from None


def check_real(
    value: Any, name: str, low: Optional[float] = None, high: Optional[float] = None
) -> float:
    r"""A finite real number, optionally within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if (low is not None and v < low) or (high is not None and v > high):
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must lie in [{lo}, {hi}], got {v:g}")
    return v


def constant_rows(flat: Tensor) -> Tensor:
    r"""``(N,)`` booleans: the rows of ``(N, P)`` values that are constant,
    i.e. whose values span at most :data:`CONSTANT_RTOL` of their largest
    magnitude (an all-zero row is constant)."""
    span = flat.amax(dim=1) - flat.amin(dim=1)
    return span <= CONSTANT_RTOL * flat.abs().amax(dim=1)


def correlation_with_constants(
    corr: Tensor, const_a: Tensor, const_b: Tensor
) -> Tensor:
    r"""The convention for correlations of constant maps: two constant maps
    agree (1: neither ranks anything, so the second does not differ from the
    first); a constant map and a varying one do not (0); otherwise ``corr``."""
    both = const_a & const_b
    one = const_a ^ const_b
    out = torch.where(one, torch.zeros_like(corr), corr)
    return torch.where(both, torch.ones_like(corr), out)


def check_same_shape(a: Tensor, b: Tensor, names: Sequence[str]) -> None:
    r"""Raise when ``a`` and ``b`` differ in shape (names for the message)."""
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
