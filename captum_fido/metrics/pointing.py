r"""The pointing game (Zhang et al. 2016, "Top-down Neural Attention by
Excitation Backprop"), as in TorchRay's localisation benchmark.

A map scores a *hit* on an image when its maximum lies on the object: within
``tolerance`` pixels (Euclidean distance between pixel centres) of a pixel of
some ground-truth box. Accuracy is ``hits / images``.

Boxes are ``(x0, y0, x1, y1)`` pixel edges (torchvision's convention, as in
:mod:`captum_fido.metrics.localization`); a box's pixels are those whose
centres ``(c + 0.5, r + 0.5)`` lie inside it.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from captum_fido.metrics._common import as_maps
from captum_fido.metrics.localization import BoxList, _check_boxes

__all__ = ["PointingGameResult", "pointing_game", "default_pointing_tolerance"]

_TIES = ("all", "any", "first")


@dataclass(frozen=True)
class PointingGameResult:
    r"""Result of :func:`pointing_game`.

    Attributes:
        hits: ``(N,)`` booleans, one per image.
        accuracy: ``hits.float().mean()``.
        points: ``(N, 2)`` ``(row, col)`` of each map's first maximum (in
            row-major order).
        tolerance: The tolerance used, in pixels.

    Examples::

        >>> maps = torch.zeros(2, 8, 8)
        >>> maps[0, 3, 3] = maps[1, 7, 7] = 1.0
        >>> box = torch.tensor([[2.0, 2.0, 5.0, 5.0]])
        >>> res = pointing_game(maps, [box, box], tolerance=0)
        >>> res.hits, res.accuracy
        (tensor([ True, False]), 0.5)
        >>> res.points.tolist()
        [[3, 3], [7, 7]]
    """

    hits: Tensor
    accuracy: float
    points: Tensor
    tolerance: float


def default_pointing_tolerance(height: int, width: int) -> float:
    r"""TorchRay's 15 pixels at 224, scaled with the image:
    ``15 * min(height, width) / 224`` (ImageNet images are resized so that
    their shorter side is 224).

    Args:
        height (int): Image height in pixels.
        width (int): Image width in pixels.

    Returns:
        float: The tolerance in pixels.

    Examples::

        >>> default_pointing_tolerance(224, 300)
        15.0
        >>> round(default_pointing_tolerance(64, 64), 3)
        4.286
    """
    return 15.0 * min(int(height), int(width)) / 224.0


def pointing_game(
    maps: Tensor,
    gt_boxes: BoxList,
    tolerance: Optional[float] = None,
    ties: str = "all",
) -> PointingGameResult:
    r"""The pointing game: is each map's maximum on the object?

    With ``P = argmax map`` (the set of maximal pixels) and ``B`` the pixels
    of the image's ground-truth boxes,

    .. math::

        \mathrm{hit} = \bigwedge_{p \in P}\ \min_{b \in B} \lVert p - b \rVert_2
        \le \tau, \qquad \mathrm{accuracy} = \frac{\#\mathrm{hits}}{N}.

    Ties (several maximal pixels) are resolved by ``ties``: ``"all"`` (the
    default, above) requires every maximum to be within tolerance, so a
    constant map only hits where the boxes cover the whole image (a map that
    does not point cannot score); ``"any"`` requires one of them (Quantus's
    ``PointingGame``); ``"first"`` uses the first maximum in row-major order
    (``argmax`` implementations).

    Args:
        maps (Tensor): Saliency ``(N, C, H, W)`` (absolute values averaged
            over channels) or ``(N, H, W)``.
        gt_boxes (sequence): One ``(4,)`` or ``(K, 4)`` box tensor per image,
            ``(x0, y0, x1, y1)`` pixel edges inside the image (finite,
            ``0 <= x0 < x1 <= W``, ``0 <= y0 < y1 <= H``); a hit on any box
            counts.
        tolerance (float, optional): ``tau`` in pixels; default
            :func:`default_pointing_tolerance` (15 px at 224 px, TorchRay's
            benchmark). 0 requires the maximum inside a box.
        ties (str, optional): ``"all"``, ``"any"`` or ``"first"``.

    Returns:
        :class:`PointingGameResult`

    Examples::

        >>> res = pointing_game(attr, boxes)   # boxes[i]: (K, 4) tensor
        >>> res.accuracy, res.hits
    """
    sal = as_maps(maps)
    n, h, w = sal.shape
    gts = _check_boxes(gt_boxes, n, (h, w))
    if tolerance is None:
        tol = default_pointing_tolerance(h, w)
    else:
        if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real):
            raise TypeError(
                f"tolerance must be a real number, got {type(tolerance).__name__}"
            )
        tol = float(tolerance)
        if not (math.isfinite(tol) and tol >= 0):
            raise ValueError(f"tolerance must be finite and >= 0, got {tolerance}")
    if ties not in _TIES:
        raise ValueError(f"ties must be one of {_TIES}, got {ties!r}")

    flat = sal.reshape(n, -1).cpu()
    first = flat.argmax(dim=1)  # first maximal index in row-major order
    points = torch.stack([first // w, first % w], dim=1)
    hits = []
    for i in range(n):
        if ties == "first":
            cand = points[i : i + 1]
        else:
            idx = torch.nonzero(flat[i] == flat[i].max()).squeeze(1)
            cand = torch.stack([idx // w, idx % w], dim=1)
        near = _within(cand.double(), gts[i].double(), tol, h, w)  # (P,)
        hits.append(bool(near.all()) if ties == "all" else bool(near.any()))
    hit_t = torch.tensor(hits, dtype=torch.bool)
    return PointingGameResult(hit_t, float(hit_t.float().mean()), points, tol)


def _within(points: Tensor, boxes: Tensor, tol: float, h: int, w: int) -> Tensor:
    r"""``(P,)``: whether each ``(row, col)`` pixel lies within ``tol`` of a
    pixel of some box (Euclidean distance between pixel centres)."""
    # Pixel rows/cols whose centres lie inside each box, clipped to the image.
    c0 = torch.ceil(boxes[:, 0] - 0.5).clamp_min(0)
    c1 = torch.floor(boxes[:, 2] - 0.5).clamp_max(w - 1)
    r0 = torch.ceil(boxes[:, 1] - 0.5).clamp_min(0)
    r1 = torch.floor(boxes[:, 3] - 0.5).clamp_max(h - 1)
    valid = (c0 <= c1) & (r0 <= r1)  # (K,)
    r, c = points[:, 0:1], points[:, 1:2]  # (P, 1)
    dr = torch.maximum(r0 - r, r - r1).clamp_min(0)  # (P, K)
    dc = torch.maximum(c0 - c, c - c1).clamp_min(0)
    close = (dr.square() + dc.square() <= tol * tol + 1e-9) & valid
    return close.any(dim=1)
