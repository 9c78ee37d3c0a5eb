r"""Argument handling shared by the metrics: maps, targets and boxes are
checked the way the attribution methods check their inputs, with errors that
name the argument, before any model pass."""

from __future__ import annotations

import contextlib
import math
import numbers
from typing import Any, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from captum_fido._utils.scores import check_model_output, num_classes
from captum_fido._utils.validation import check_targets, check_targets_in_range

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

#: Box edges may pass the image's by this much (pixels): float rounding of
#: boxes scaled from another resolution, never a real overhang.
EDGE_TOLERANCE = 1e-3

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


def check_boxes(
    boxes: Any,
    n: int,
    size: Optional[Tuple[int, int]] = None,
    name: str = "gt_boxes",
) -> List[Tensor]:
    r"""Boxes, one ``(4,)`` or ``(K, 4)`` entry per image (or an ``(N, 4)``
    tensor), as a list of ``(K, 4)`` float tensors.

    A box is ``(x0, y0, x1, y1)`` in pixel edges with ``0 <= x0 < x1 <= W``
    and ``0 <= y0 < y1 <= H`` (``size = (H, W)``; without it only the lower
    bounds are checked): finite, not empty and inside the image. A box is
    never clipped or reordered: one that fails raises ``ValueError`` naming
    ``name``, the image and the box.
    """
    if isinstance(boxes, Tensor) and boxes.dim() == 2 and boxes.shape[1] == 4:
        boxes = list(boxes)  # one box per image, (N, 4)
    if isinstance(boxes, (str, bytes, Tensor)) or not isinstance(boxes, Sequence):
        shape = f" of shape {tuple(boxes.shape)}" if isinstance(boxes, Tensor) else ""
        raise TypeError(
            f"{name} must be a sequence of (4,) or (K, 4) box tensors, one per "
            f"image, or an (N, 4) tensor; got {type(boxes).__name__}{shape}"
        )
    if len(boxes) != n:
        raise ValueError(
            f"{name} must hold one entry per image ({n}), got {len(boxes)}"
        )
    return [_check_image_boxes(b, f"{name}[{i}]", size) for i, b in enumerate(boxes)]


def _check_image_boxes(b: Any, name: str, size: Optional[Tuple[int, int]]) -> Tensor:
    if isinstance(b, Tensor) and (b.dtype == torch.bool or b.is_complex()):
        raise TypeError(f"{name} must hold real box coordinates, got {b.dtype}")
    try:
        box = torch.as_tensor(b).detach().to("cpu", torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(
            f"{name} must be a (4,) or (K, 4) tensor of box coordinates, got {b!r}"
        ) from err
    if box.dim() == 1:
        box = box[None]
    if box.dim() != 2 or box.shape[1] != 4:
        raise ValueError(
            f"{name} must have shape (4,) or (K, 4), got {tuple(box.shape)}"
        )
    if box.shape[0] == 0:
        raise ValueError(f"{name} holds no box; every image needs at least one")
    rules = "boxes are (x0, y0, x1, y1) pixel edges with 0 <= x0 < x1 <= W and "
    rules += "0 <= y0 < y1 <= H"
    for k, (x0, y0, x1, y1) in enumerate(box.tolist()):
        where = f"{name}" if box.shape[0] == 1 else f"{name}[{k}]"
        shown = f"({x0:g}, {y0:g}, {x1:g}, {y1:g})"
        if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
            raise ValueError(f"{where} = {shown} holds NaN or infinite coordinates")
        if not (x0 < x1 and y0 < y1):
            raise ValueError(f"{where} = {shown} is empty or reversed: {rules}")
        if x0 < 0 or y0 < 0:
            raise ValueError(
                f"{where} = {shown} has negative coordinates (outside the image): "
                f"{rules}"
            )
        if size is not None:
            h, w = size
            if x1 > w + EDGE_TOLERANCE or y1 > h + EDGE_TOLERANCE:
                raise ValueError(
                    f"{where} = {shown} reaches outside the {h} x {w} (H x W) "
                    f"image: {rules}"
                )
    return box.float()


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
