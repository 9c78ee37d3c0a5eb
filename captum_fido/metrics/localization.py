r"""Localisation metrics of the paper (section 4 and appendix).

- Weakly supervised localisation (WSL) error: threshold the map, take the
  smallest box around the salient pixels, count it correct when its IoU with
  any ground-truth box exceeds 0.5.
- Saliency Metric (Dabkowski & Gal 2017): ``log(max(a, 0.05)) - log p(c|crop)``.
- Share of the MAP mask (``map > 0.5``) outside the ground-truth box (Fig. 8).
- Stability of maps over seeds (appendix A.3), in :mod:`._stability` and
  importable from here.

Boxes are ``(x0, y0, x1, y1)`` pixel edges (torchvision's convention): the box
around pixel rows ``r0..r1`` and columns ``c0..c1`` is ``(c0, r0, c1 + 1, r1 + 1)``.
Every metric checks its boxes before any work: finite, ``x0 < x1`` and
``y0 < y1``, and inside the image (``0 <= x0``, ``x1 <= W``, ``0 <= y0``,
``y1 <= H``); a box that fails raises ``ValueError`` naming it, never clipped.
Targets are checked like the attribution methods' (integer classes, in the
model's range).
"""

from __future__ import annotations

import math
from typing import Any, Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import box_area, box_iou

from captum_fido._utils.model_state import preserve_module_state
from captum_fido._utils.scores import check_output_type, log_odds
from captum_fido._utils.validation import check_callable, check_inputs
from captum_fido.metrics._common import (
    as_maps,
    as_targets,
    check_boxes,
    check_output_targets,
    check_real,
)
from captum_fido.metrics._stability import stability

__all__ = [
    "salient_box",
    "salient_boxes",
    "max_box",
    "center_box",
    "wsl_correct",
    "wsl_error",
    "choose_alpha",
    "saliency_metric",
    "map_outside_box",
    "mass_outside_box",
    "stability",
    "DEFAULT_ALPHAS",
]

#: Thresholds ``alpha * mean(map)`` searched on a held-out split (paper).
DEFAULT_ALPHAS = tuple(round(0.2 * i, 1) for i in range(26))

BoxList = Sequence[Tensor]


def salient_box(saliency: Tensor, threshold: float) -> Tensor:
    r"""Smallest box around the pixels with ``saliency > threshold``.

    Args:
        saliency (Tensor): ``(H, W)`` map.
        threshold (float): Absolute threshold.

    Returns:
        ``(4,)`` float box; the whole image when no pixel passes.

    Examples::

        >>> saliency = torch.zeros(8, 8)
        >>> saliency[2:4, 1:6] = 1.0
        >>> salient_box(saliency, 0.5)
        tensor([1., 2., 6., 4.])
    """
    if not isinstance(saliency, Tensor) or saliency.dim() != 2:
        raise ValueError(
            "saliency must be an (H, W) tensor, got "
            f"{tuple(getattr(saliency, 'shape', ())) or type(saliency).__name__}"
        )
    if not bool(torch.isfinite(saliency).all()):
        raise ValueError("saliency holds NaN or infinite values")
    threshold = check_real(threshold, "threshold")
    h, w = saliency.shape
    ys, xs = torch.nonzero(saliency > threshold, as_tuple=True)
    if ys.numel() == 0:
        return torch.tensor([0.0, 0.0, float(w), float(h)])
    return torch.tensor(
        [xs.min().item(), ys.min().item(), xs.max().item() + 1, ys.max().item() + 1],
        dtype=torch.float32,
    )


def salient_boxes(
    maps: Tensor, alpha: Optional[float] = None, threshold: Optional[float] = None
) -> Tensor:
    r"""Boxes for a batch of maps, ``(N, 4)``.

    Give exactly one of ``alpha`` (threshold ``alpha * mean(map)`` after
    normalising each map to ``[0, 1]``, the paper's rule for gradient maps)
    or ``threshold`` (absolute, e.g. 0.5 for FIDO's probabilities).

    Args:
        maps (Tensor): ``(N, H, W)`` maps or ``(N, C, H, W)`` attributions.
        alpha (float, optional): Relative threshold, ``alpha * mean``.
        threshold (float, optional): Absolute threshold.

    Returns:
        Tensor: ``(N, 4)`` boxes ``(x0, y0, x1, y1)`` around the pixels above
        the threshold (:func:`salient_box` per map).

    Examples::

        >>> maps = torch.zeros(1, 8, 8)
        >>> maps[0, 2:4, 1:6] = 1.0
        >>> salient_boxes(maps, threshold=0.5)
        tensor([[1., 2., 6., 4.]])
    """
    if (alpha is None) == (threshold is None):
        raise ValueError("give exactly one of alpha or threshold")
    if alpha is not None:
        check_real(alpha, "alpha", low=0.0)
    else:
        check_real(threshold, "threshold")
    sal = as_maps(maps)
    boxes = []
    for m in sal:
        if alpha is not None:
            lo, hi = m.min(), m.max()
            m = (m - lo) / (hi - lo) if hi > lo else torch.zeros_like(m)
            boxes.append(salient_box(m, float(alpha) * float(m.mean())))
        else:
            boxes.append(salient_box(m, float(threshold)))  # type: ignore[arg-type]
    return torch.stack(boxes)


def max_box(height: int, width: int) -> Tensor:
    r"""The "Max" baseline: the whole image.

    Args:
        height (int): Image height in pixels.
        width (int): Image width in pixels.

    Returns:
        Tensor: ``(4,)`` box ``(0, 0, width, height)``.

    Examples::

        >>> max_box(64, 32)
        tensor([ 0.,  0., 32., 64.])
    """
    return torch.tensor([0.0, 0.0, float(width), float(height)])


def center_box(height: int, width: int) -> Tensor:
    r"""The "Center" baseline: a centred box of half the image's area.

    Args:
        height (int): Image height in pixels.
        width (int): Image width in pixels.

    Returns:
        Tensor: ``(4,)`` box ``(x0, y0, x1, y1)``, each side ``1 / sqrt(2)``
        of the image's.

    Examples::

        >>> box = center_box(64, 64)
        >>> round(float((box[2] - box[0]) * (box[3] - box[1])) / 64**2, 4)
        0.5
    """
    s = math.sqrt(0.5)
    bw, bh = width * s, height * s
    x0, y0 = (width - bw) / 2, (height - bh) / 2
    return torch.tensor([x0, y0, x0 + bw, y0 + bh])


def _check_boxes(
    gt_boxes: BoxList, n: int, size: Optional[Tuple[int, int]] = None
) -> List[Tensor]:
    r"""``gt_boxes`` checked (see :func:`captum_fido.metrics._common.check_boxes`)."""
    return check_boxes(gt_boxes, n, size, "gt_boxes")


def wsl_correct(
    pred_boxes: Tensor,
    gt_boxes: BoxList,
    iou: float = 0.5,
    image_size: Optional[Tuple[int, int]] = None,
) -> Tensor:
    r"""Whether each predicted box overlaps some ground-truth box with IoU > ``iou``.

    ``correct_i = max_k IoU(pred_i, gt_ik) > iou`` (``torchvision.ops.box_iou``).

    Args:
        pred_boxes (Tensor): ``(N, 4)`` predicted boxes ``(x0, y0, x1, y1)``.
        gt_boxes (sequence): One ``(4,)`` or ``(K, 4)`` box tensor per image,
            or an ``(N, 4)`` tensor.
        iou (float, optional): The IoU to exceed, in ``[0, 1)``. Default 0.5.
        image_size ((int, int), optional): ``(H, W)``; when given, every box
            must lie inside the image. Boxes are always checked to be
            finite, non-empty and non-negative.

    Returns:
        Tensor: ``(N,)`` booleans.

    Examples::

        >>> pred = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 4.0, 4.0]])
        >>> gt = torch.tensor([[1.0, 1.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0]])
        >>> wsl_correct(pred, gt)
        tensor([ True, False])
    """
    if not isinstance(pred_boxes, Tensor):
        raise TypeError(
            f"pred_boxes must be a torch.Tensor, got {type(pred_boxes).__name__}"
        )
    if pred_boxes.dim() != 2 or pred_boxes.shape[1] != 4:
        raise ValueError(
            f"pred_boxes must have shape (N, 4), got {tuple(pred_boxes.shape)}"
        )
    iou = check_real(iou, "iou", low=0.0)
    if iou >= 1.0:
        raise ValueError(f"iou must lie in [0, 1) (an IoU to exceed), got {iou:g}")
    size = None if image_size is None else _image_size(image_size)
    n = pred_boxes.shape[0]
    preds = check_boxes(list(pred_boxes), n, size, "pred_boxes")
    gts = _check_boxes(gt_boxes, n, size)
    return torch.tensor(
        [bool((box_iou(p, g) > iou).any()) for p, g in zip(preds, gts)],
        dtype=torch.bool,
    )


def _image_size(size: Any) -> Tuple[int, int]:
    if (
        not isinstance(size, (tuple, list, torch.Size))
        or len(size) != 2
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in size
        )
    ):
        raise ValueError(f"image_size must be (H, W), two ints >= 1, got {size!r}")
    return int(size[0]), int(size[1])


def wsl_error(
    maps: Tensor,
    gt_boxes: BoxList,
    alpha: Optional[float] = None,
    threshold: Optional[float] = None,
) -> float:
    r"""Weakly supervised localisation error, in ``[0, 1]``; lower is better.

    .. math::

        \mathrm{err} = 1 - \frac{1}{N} \sum_i
        \big[\max_k \mathrm{IoU}(\hat b_i, b_{ik}) > 0.5\big]

    with ``\hat b_i`` the smallest box around the pixels of map ``i`` above
    the threshold (:func:`salient_boxes`) and ``b_ik`` its ground-truth boxes
    (IoU by ``torchvision.ops.box_iou``).

    Args:
        maps (Tensor): ``(N, C, H, W)`` or ``(N, H, W)`` saliency.
        gt_boxes (sequence): One ``(4,)`` or ``(K, 4)`` box tensor per image.
        alpha (float, optional): Threshold ``alpha * mean`` of the map
            normalised to ``[0, 1]`` (gradient methods; choose it with
            :func:`choose_alpha` on a held-out split).
        threshold (float, optional): Absolute threshold (FIDO: 0.5). Give
            exactly one of ``alpha`` and ``threshold``.

    Returns:
        float

    Examples::

        >>> wsl_error(fido_maps, boxes, threshold=0.5)   # FIDO: theta > 0.5
        >>> alpha = choose_alpha(val_maps, val_boxes)    # gradient methods
        >>> wsl_error(test_maps, test_boxes, alpha=alpha)
    """
    sal = as_maps(maps)
    _check_boxes(gt_boxes, sal.shape[0], (sal.shape[1], sal.shape[2]))
    pred = salient_boxes(sal, alpha=alpha, threshold=threshold)
    size = (int(sal.shape[1]), int(sal.shape[2]))
    return 1.0 - wsl_correct(pred, gt_boxes, image_size=size).float().mean().item()


def choose_alpha(
    maps: Tensor, gt_boxes: BoxList, alphas: Sequence[float] = DEFAULT_ALPHAS
) -> float:
    r"""The ``alpha`` with the lowest WSL error on a held-out split:
    ``argmin_alpha wsl_error(maps, gt_boxes, alpha=alpha)`` (the first on
    ties).

    Args:
        maps (Tensor): Held-out maps, ``(N, C, H, W)`` or ``(N, H, W)``.
        gt_boxes (sequence): Their ground-truth boxes.
        alphas (sequence of float, optional): Candidates; default the
            paper's 0, 0.2, ..., 5 (:data:`DEFAULT_ALPHAS`).

    Returns:
        float

    Examples::

        >>> alpha = choose_alpha(val_maps, val_boxes)
        >>> wsl_error(test_maps, test_boxes, alpha=alpha)
    """
    if isinstance(alphas, (str, bytes)) or not isinstance(alphas, Sequence):
        raise TypeError(f"alphas must be a sequence of numbers, got {alphas!r}")
    if len(alphas) == 0:
        raise ValueError("alphas must hold at least one candidate")
    for k, a in enumerate(alphas):
        check_real(a, f"alphas[{k}]", low=0.0)
    errors = [wsl_error(maps, gt_boxes, alpha=a) for a in alphas]
    return float(alphas[int(torch.tensor(errors).argmin())])


def saliency_metric(
    forward_func: Callable[..., Tensor],
    inputs: Tensor,
    boxes: Tensor,
    target: Any,
    output_type: str = "logits",
    min_area: float = 0.05,
) -> Tensor:
    r"""Saliency Metric of Dabkowski & Gal (2017); lower is better.

    Each box is cropped (to whole pixels, at least one), resized to the image
    size (bilinear) and classified:

    .. math::

        \mathrm{SM} = \log \max(a, a_{\min}) - \log p(c \mid \mathrm{crop})

    with ``a`` the crop's area fraction (``torchvision.ops.box_area``) and
    ``p = sigmoid(log-odds)`` of the target.

    Args:
        forward_func (callable): The classifier.
        inputs (Tensor): Images ``(N, C, H, W)``.
        boxes (Tensor): ``(N, 4)`` boxes ``(x0, y0, x1, y1)`` inside the
            images (``0 <= x0 < x1 <= W``, ``0 <= y0 < y1 <= H``), e.g. from
            :func:`salient_boxes`.
        target (int, list or Tensor): Class index or ``N`` of them, within
            the model's classes.
        output_type (str, optional): ``"logits"``, ``"probs"`` or
            ``"log_probs"``.
        min_area (float, optional): ``a_min``, the area floor in ``(0, 1]``
            (paper 0.05).

    Returns:
        ``(N,)`` per-image values.

    Raises:
        TypeError, ValueError: malformed inputs, a box that is not finite,
            empty or inside the image, a target that is not a class of the
            model, or a model output that is not finite ``(N, C)`` scores.

    Examples::

        >>> sm = saliency_metric(model, x, salient_boxes(maps, threshold=0.5), y)
    """
    (inputs,) = check_inputs((inputs,))
    n, _, h, w = inputs.shape
    targets = as_targets(target, n, inputs.device)
    check_callable(forward_func, "forward_func")
    if not isinstance(boxes, Tensor):
        raise TypeError(f"boxes must be a torch.Tensor, got {type(boxes).__name__}")
    if boxes.shape != (n, 4):
        raise ValueError(f"boxes must have shape ({n}, 4), got {tuple(boxes.shape)}")
    check_boxes(list(boxes), n, (h, w), "boxes")
    check_output_type(output_type)
    min_area = check_real(min_area, "min_area")
    if not 0.0 < min_area <= 1.0:
        raise ValueError(f"min_area must lie in (0, 1], got {min_area:g}")
    crops, crop_boxes = [], []
    for x, b in zip(inputs, boxes.tolist()):
        x0, y0 = max(0, int(math.floor(b[0]))), max(0, int(math.floor(b[1])))
        x1, y1 = (
            min(w, max(x0 + 1, int(math.ceil(b[2])))),
            min(h, max(y0 + 1, int(math.ceil(b[3])))),
        )
        crop = x[None, :, y0:y1, x0:x1]
        crops.append(
            F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False)
        )
        crop_boxes.append([x0, y0, x1, y1])
    with torch.no_grad(), preserve_module_state(forward_func):
        out = check_output_targets(forward_func(torch.cat(crops)), targets, output_type)
        s = log_odds(out, targets, output_type).double()
    log_p = F.logsigmoid(s)  # p = sigmoid(log-odds)
    areas = box_area(torch.tensor(crop_boxes, dtype=torch.float64)) / float(h * w)
    a = areas.clamp_min(min_area)
    return (torch.log(a) - log_p.cpu()).float()


def map_outside_box(maps: Tensor, gt_boxes: BoxList, threshold: float = 0.5) -> Tensor:
    r"""Share of the MAP mask (``map > threshold``) outside every ground-truth box.

    .. math::

        \mathrm{out}_i = \frac{|\{p : m_i(p) > \theta\} \setminus B_i|}
        {|\{p : m_i(p) > \theta\}|}

    with ``B_i`` the pixels of image ``i``'s boxes (paper Fig. 8).

    Args:
        maps (Tensor): ``(N, H, W)`` maps (e.g. FIDO's dropout
            probabilities) or ``(N, C, H, W)``.
        gt_boxes (sequence): One ``(4,)`` or ``(K, 4)`` box tensor per image.
        threshold (float, optional): ``theta``, default 0.5.

    Returns:
        ``(N,)`` shares in ``[0, 1]``; 0 where the MAP mask is empty.

    Examples::

        >>> map_outside_box(fido_maps, boxes).mean()
    """
    sal = as_maps(maps).cpu()
    threshold = check_real(threshold, "threshold")
    boxes = _check_boxes(gt_boxes, sal.shape[0], (sal.shape[1], sal.shape[2]))
    inside = _inside_boxes(boxes, *sal.shape[1:])
    mask = sal > threshold
    total = mask.flatten(1).sum(1)
    outside = (mask & ~inside).flatten(1).sum(1)
    return torch.where(total > 0, outside / total.clamp_min(1), 0.0).float()


def mass_outside_box(maps: Tensor, gt_boxes: BoxList) -> Tensor:
    r"""Share of each map's total mass outside every ground-truth box.

    .. math::

        \mathrm{mass}_i = \frac{\sum_{p \notin B_i} m_i(p)}{\sum_p m_i(p)}

    with ``B_i`` the pixels of image ``i``'s boxes. Unlike
    :func:`map_outside_box` it needs no threshold, so it also grades maps
    whose values are all below 0.5 or near-binary maps alike (the comparison
    harness's "map mass outside box").

    Args:
        maps (Tensor): ``(N, H, W)`` non-negative maps or ``(N, C, H, W)``
            (channels averaged).
        gt_boxes (sequence): One ``(4,)`` or ``(K, 4)`` box tensor per image.

    Returns:
        ``(N,)`` shares in ``[0, 1]``; 0 for an all-zero map.

    Examples::

        >>> maps = torch.zeros(1, 8, 8)
        >>> maps[0, :4, :4] = 1.0
        >>> mass_outside_box(maps, [torch.tensor([0.0, 0.0, 2.0, 4.0])])
        tensor([0.5000])
    """
    sal = as_maps(maps).cpu().double()
    if bool((sal < 0).any()):
        raise ValueError("maps must be non-negative (take .abs() of signed maps)")
    boxes = _check_boxes(gt_boxes, sal.shape[0], (sal.shape[1], sal.shape[2]))
    inside = _inside_boxes(boxes, *sal.shape[1:])
    total = sal.flatten(1).sum(1)
    outside = (sal * ~inside).flatten(1).sum(1)
    return torch.where(total > 0, outside / total.clamp_min(1e-300), 0.0).float()


def _inside_boxes(gts: list[Tensor], h: int, w: int) -> Tensor:
    r"""``(N, H, W)`` bool: the pixels inside each image's boxes."""
    inside = torch.zeros(len(gts), h, w, dtype=torch.bool)
    for i, g in enumerate(gts):
        for x0, y0, x1, y1 in g.round().long().tolist():
            inside[i, max(0, y0) : y1, max(0, x0) : x1] = True
    return inside
