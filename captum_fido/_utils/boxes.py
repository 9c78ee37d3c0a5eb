r"""Boxes ``(x0, y0, x1, y1)`` in pixel edges, checked before any work: the
metrics' ground-truth and predicted boxes and the evaluation's boxes."""

from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ["check_boxes", "EDGE_TOLERANCE"]

#: Box edges may pass the image's by this much (pixels): float rounding of
#: boxes scaled from another resolution, never a real overhang.
EDGE_TOLERANCE = 1e-3


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
