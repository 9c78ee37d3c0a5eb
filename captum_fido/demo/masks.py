r"""Random keep-masks shaped like those FIDO's mask optimisation produces.

The learned in-fillers are trained on these: under SSR most of the image is
dropped and only a few blobs are kept, so holes here are much larger than
inpainting usually sees. All masks are ``(N, 1, H, W)`` float tensors in
``{0, 1}`` with 1 = observed (kept).

Kinds (drawn uniformly unless ``kinds`` says otherwise):

- ``"grid"``: a coarse uniform random grid (4, 8 or 16 cells a side),
  bilinearly upsampled and thresholded at a random keep fraction (5%-95%,
  so 5%-95% of the image dropped), like a sample of FIDO's relaxed
  Bernoulli mask and like the masks of
  :func:`~captum_fido.metrics.infiller_confidence`.
- ``"blobs"``: drop everything except 1-4 random ellipses.
- ``"boxes"``: drop 1-3 random rectangles.
- ``"strokes"``: drop 1-4 thick free-form brush strokes.
- ``"object"``: drop the object (its mask dilated, or its box), plus some
  random grid holes: the in-fill should then be background.
- ``"keep_object"``: keep the (dilated) object and a few blobs, drop the
  rest: the SSR optimum.
"""

from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from torch import Tensor

__all__ = ["MASK_KINDS", "sample_keep_masks", "infill_targets"]

MASK_KINDS = ("grid", "blobs", "boxes", "strokes", "object", "keep_object")


def _grid(rng: np.random.Generator, size: int) -> np.ndarray:
    cells = int(rng.choice([4, 8, 16]))
    u = rng.random((cells, cells)).astype(np.float32)
    up = cv2.resize(u, (size, size), interpolation=cv2.INTER_LINEAR)
    return (up < np.quantile(up, rng.uniform(0.05, 0.95))).astype(np.float32)


def _ellipses(rng: np.random.Generator, size: int, count: int) -> np.ndarray:
    layer = np.zeros((size, size), np.uint8)
    for _ in range(count):
        centre = (int(rng.integers(0, size)), int(rng.integers(0, size)))
        axes = (int(rng.integers(3, size // 4)), int(rng.integers(3, size // 4)))
        cv2.ellipse(layer, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return layer.astype(np.float32)


def _boxes(rng: np.random.Generator, size: int) -> np.ndarray:
    keep = np.ones((size, size), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        h, w = rng.integers(size // 6, int(size * 0.8), 2)
        y, x = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
        keep[y : y + h, x : x + w] = 0
    return keep


def _strokes(rng: np.random.Generator, size: int) -> np.ndarray:
    layer = np.zeros((size, size), np.uint8)
    for _ in range(int(rng.integers(1, 5))):
        p = rng.uniform(0, size, 2)
        width = int(rng.integers(size // 16, size // 5))
        for _ in range(int(rng.integers(3, 8))):
            angle = rng.uniform(0, 2 * np.pi)
            q = np.clip(
                p + rng.uniform(5, size / 3) * np.array([np.cos(angle), np.sin(angle)]),
                0,
                size - 1,
            )
            cv2.line(
                layer, tuple(int(v) for v in p), tuple(int(v) for v in q), 1, width
            )
            p = q
    return 1.0 - layer.astype(np.float32)


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    if radius <= 0:
        return mask
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
    return cv2.dilate(mask.astype(np.uint8), k).astype(np.float32)


def _one(
    rng: np.random.Generator, kind: str, size: int, obj: Optional[np.ndarray]
) -> np.ndarray:
    if kind == "grid":
        return _grid(rng, size)
    if kind == "blobs":
        return _ellipses(rng, size, int(rng.integers(1, 5)))
    if kind == "boxes":
        return _boxes(rng, size)
    if kind == "strokes":
        return _strokes(rng, size)
    if obj is None:
        raise ValueError(f"mask kind {kind!r} needs object_masks")
    if kind == "object":
        if rng.random() < 0.5:
            hole = _dilate(obj, int(rng.integers(1, 5)))
        else:
            ys, xs = np.nonzero(obj)
            m = int(rng.integers(0, 5))
            hole = np.zeros_like(obj, dtype=np.float32)
            hole[
                max(0, ys.min() - m) : ys.max() + 1 + m,
                max(0, xs.min() - m) : xs.max() + 1 + m,
            ] = 1
        keep = 1.0 - hole
        if rng.random() < 0.5:
            keep = keep * np.maximum(_grid(rng, size), hole * 0)
        return keep
    if kind == "keep_object":
        keep = _dilate(obj, int(rng.integers(0, 4)))
        if rng.random() < 0.6:
            keep = np.maximum(keep, _ellipses(rng, size, int(rng.integers(1, 4))))
        return keep
    raise ValueError(f"unknown mask kind {kind!r}; expected one of {MASK_KINDS}")


def sample_keep_masks(
    n: int,
    size: int,
    rng: np.random.Generator,
    object_masks: Optional[Tensor] = None,
    kinds: Sequence[str] = MASK_KINDS,
    weights: Optional[Sequence[float]] = None,
) -> Tensor:
    r"""Draw ``n`` keep-masks of ``size x size`` pixels.

    Args:
        n (int): How many masks.
        size (int): Side in pixels.
        rng (numpy.random.Generator): Source of randomness.
        object_masks (Tensor, optional): ``(n, 1, size, size)`` object masks,
            required by the ``"object"`` and ``"keep_object"`` kinds.
        kinds (sequence of str, optional): Kinds to draw from.
        weights (sequence of float, optional): Relative probability of each
            kind in ``kinds``. Default: uniform.

    Returns:
        ``(n, 1, size, size)`` float tensor in ``{0, 1}``, 1 = keep.

    Examples::

        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> keep = sample_keep_masks(8, 64, rng, kinds=("grid", "blobs", "boxes"))
        >>> keep.shape
        torch.Size([8, 1, 64, 64])
        >>> from captum_fido.demo.scenes import load_split
        >>> images, labels, backgrounds, masks, boxes = load_split(
        ...     "train", 8, with_details=True
        ... )
        >>> keep = sample_keep_masks(8, 64, rng, object_masks=masks)
    """
    bad = [k for k in kinds if k not in MASK_KINDS]
    if bad or not kinds:
        raise ValueError(
            f"kinds must be a non-empty subset of {MASK_KINDS}, got {kinds}"
        )
    if weights is None:
        probs = np.full(len(kinds), 1.0 / len(kinds))
    else:
        probs = np.asarray(weights, dtype=np.float64)
        if probs.shape != (len(kinds),) or (probs < 0).any() or probs.sum() <= 0:
            raise ValueError("weights must give one non-negative weight per kind")
        probs = probs / probs.sum()
    out = np.empty((n, 1, size, size), np.float32)
    for i in range(n):
        kind = (
            kinds[int(rng.choice(len(kinds), p=probs))]
            if weights is not None
            else kinds[int(rng.integers(len(kinds)))]
        )
        obj = None if object_masks is None else object_masks[i, 0].numpy() > 0.5
        out[i, 0] = _one(rng, kind, size, obj)
    return torch.from_numpy(out)


def infill_targets(
    images: Tensor,
    backgrounds: Tensor,
    object_masks: Tensor,
    keep_masks: Tensor,
    min_kept_fraction: float = 0.5,
) -> Tensor:
    r"""What an in-filler should produce: the scene, or the scene without its object.

    Where less than ``min_kept_fraction`` of the object's pixels are kept,
    the target is the background plate (the object is *removed*, not
    re-drawn from fragments); otherwise it is the full scene.

    Args:
        images (Tensor): ``(N, 3, H, W)`` scenes.
        backgrounds (Tensor): ``(N, 3, H, W)`` the same scenes without their
            objects.
        object_masks (Tensor): ``(N, 1, H, W)`` object masks in ``{0, 1}``.
        keep_masks (Tensor): ``(N, 1, H, W)`` keep-masks in ``{0, 1}``,
            1 = observed.
        min_kept_fraction (float, optional): Share of the object's pixels
            that must be kept for the target to be the scene. Default 0.5.

    Returns:
        ``(N, 3, H, W)`` target images.

    Examples::

        >>> import numpy as np
        >>> from captum_fido.demo.scenes import load_split
        >>> images, labels, backgrounds, masks, boxes = load_split(
        ...     "train", 8, with_details=True
        ... )
        >>> keep = sample_keep_masks(8, 64, np.random.default_rng(0), masks)
        >>> targets = infill_targets(images, backgrounds, masks, keep)
        >>> targets.shape
        torch.Size([8, 3, 64, 64])
    """
    area = object_masks.sum((1, 2, 3)).clamp_min(1.0)
    kept = (object_masks * keep_masks).sum((1, 2, 3)) / area
    use_scene = (kept >= min_kept_fraction)[:, None, None, None]
    return torch.where(use_scene, images, backgrounds)
