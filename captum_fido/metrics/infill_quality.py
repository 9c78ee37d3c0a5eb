r"""Infiller quality (paper Fig. 16): does the classifier still see the class?

Drop random regions of correctly labelled images, in-fill them, and measure
the classifier's confidence in the true class. A good in-filler keeps the
confidence near the clean images'; heuristic fills (grey, blur, noise) push
images off the data distribution and the confidence falls.

The random masks are shaped like FIDO's: a coarse uniform random grid,
bilinearly upsampled to the image and thresholded so that the requested
fraction of pixels is dropped.

This module reads models and infillers only; it never imports the
attribution methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from captum_fido._utils.model_state import preserve_module_state
from captum_fido._utils.rows import row_chunks
from captum_fido._utils.scores import check_output_type, log_odds
from captum_fido._utils.validation import (
    check_callable,
    check_inputs,
    check_nonnegative_int,
    check_positive_int,
)
from captum_fido.infillers import as_infiller
from captum_fido.metrics._common import (
    as_targets,
    check_output_targets,
    check_real,
    renamed,
)

__all__ = [
    "InfillQualityTable",
    "random_grid_masks",
    "confidence_under_masks",
    "infiller_confidence",
]


@dataclass
class InfillQualityTable:
    r"""Mean true-class confidence per infiller and drop fraction.

    Attributes:
        drop_fractions: The fractions of pixels dropped (columns).
        clean: Mean confidence on the unmodified images.
        rows: infiller name -> one mean confidence per drop fraction.
        stderr: infiller name -> standard error of each mean.
        n_images: Images per cell.

    Examples::

        >>> from captum_fido.infillers import BlurInfiller
        >>> table = infiller_confidence(model, x, y, {"Blur": BlurInfiller()})
        >>> table.drop_fractions
        [0.1, 0.25, 0.5, 0.75]
        >>> table.clean, table.rows["Blur"]  # one mean per drop fraction
        >>> print(table.to_markdown())
    """

    drop_fractions: List[float]
    clean: float
    rows: Dict[str, List[float]] = field(default_factory=dict)
    stderr: Dict[str, List[float]] = field(default_factory=dict)
    n_images: int = 0

    def to_markdown(self, digits: int = 3) -> str:
        r"""The table as GitHub markdown, one row per infiller."""
        head = "| infiller | " + " | ".join(
            f"{100 * f:g}% dropped" for f in self.drop_fractions
        )
        lines = [head + " |", "|---" * (len(self.drop_fractions) + 1) + "|"]
        lines.append(
            "| clean image | "
            + " | ".join(f"{self.clean:.{digits}f}" for _ in self.drop_fractions)
            + " |"
        )
        for name, vals in self.rows.items():
            errs = self.stderr.get(name, [0.0] * len(vals))
            cells = [f"{v:.{digits}f} ± {e:.{digits}f}" for v, e in zip(vals, errs)]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def random_grid_masks(
    n: int,
    size: Sequence[int],
    drop_fraction: float,
    generator: Optional[torch.Generator] = None,
    grid: int = 8,
) -> Tensor:
    r"""Random FIDO-shaped keep-masks dropping ``drop_fraction`` of the pixels.

    Args:
        n (int): Number of masks.
        size ((int, int)): ``(H, W)``.
        drop_fraction (float): In ``[0, 1]``; each mask drops this fraction
            of its pixels (up to ties).
        generator (torch.Generator, optional): Source of randomness.
        grid (int, optional): Cells per side of the random grid (coarser =
            bigger blobs). Default 8.

    Returns:
        ``(n, 1, H, W)`` float masks in ``{0, 1}``, 1 = keep.

    Examples::

        >>> g = torch.Generator().manual_seed(0)
        >>> masks = random_grid_masks(2, (64, 64), 0.25, g)
        >>> masks.shape, float(1 - masks.mean())
        (torch.Size([2, 1, 64, 64]), 0.25)
    """
    n = check_nonnegative_int(n, "n")
    check_real(drop_fraction, "drop_fraction", low=0.0, high=1.0)
    grid = check_positive_int(grid, "grid")
    if (
        not isinstance(size, (tuple, list, torch.Size))
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in size)
        or min(size) < 1
    ):
        raise ValueError(f"size must be (H, W), two ints >= 1, got {size!r}")
    h, w = int(size[0]), int(size[1])
    u = torch.rand(n, 1, grid, grid, generator=generator)
    up = F.interpolate(u, size=(h, w), mode="bilinear", align_corners=False)
    flat = up.flatten(1)
    k = int(round(drop_fraction * h * w))
    if k == 0:
        return torch.ones(n, 1, h, w)
    if k >= h * w:
        return torch.zeros(n, 1, h, w)
    thresh = flat.kthvalue(k, dim=1).values[:, None]
    return (flat > thresh).float().view(n, 1, h, w)


@torch.no_grad()
def confidence_under_masks(
    model: Callable[[Tensor], Tensor],
    images: Tensor,
    labels: Tensor,
    infiller: Optional[Callable[..., Tensor]],
    keep_masks: Optional[Tensor],
    generator: Optional[torch.Generator] = None,
    internal_batch_size: int = 64,
    output_type: str = "logits",
) -> Tensor:
    r"""True-class confidence on ``keep * x + (1 - keep) * infiller(x, keep)``.

    Args:
        model (callable): The classifier (put it in eval mode yourself).
        images (Tensor): ``(N, C, H, W)``.
        labels (Tensor): ``(N,)`` true classes.
        infiller (Infiller or callable, optional): An infiller (a plain
            ``(x, keep_mask)`` callable is wrapped by
            :func:`~captum_fido.infillers.as_infiller`); ``None`` with
            ``keep_masks=None`` scores the clean images.
        keep_masks (Tensor, optional): ``(N, 1, H, W)`` in ``{0, 1}``.
        generator (torch.Generator, optional): For stochastic infillers.
        internal_batch_size (int, optional): Images per forward pass.
        output_type (str, optional): ``"logits"`` (default), ``"probs"`` or
            ``"log_probs"``: what ``model`` returns.

    Returns:
        ``(N,)`` confidences.

    Examples::

        >>> from captum_fido.infillers import BlurInfiller
        >>> keep = random_grid_masks(x.shape[0], x.shape[2:], 0.5)
        >>> conf = confidence_under_masks(model, x, y, BlurInfiller(), keep)
        >>> clean = confidence_under_masks(model, x, y, None, None)
        >>> (clean - conf).mean()  # confidence lost to the in-fill
    """
    check_output_type(output_type)
    check_callable(model, "model")
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    with renamed("inputs", "images"):
        (images,) = check_inputs((images,))
    labels = as_targets(labels, images.shape[0], images.device, "labels")
    internal_batch_size = check_positive_int(internal_batch_size, "internal_batch_size")
    if (infiller is None) != (keep_masks is None):
        raise ValueError("give both infiller and keep_masks, or neither")
    if keep_masks is not None:
        _check_keep_masks(keep_masks, images)
    fill = None if infiller is None else as_infiller(infiller)
    first = True
    out = []
    with preserve_module_state(model):
        if fill is not None:
            # The labels are checked against the model's classes on one
            # clean chunk before any in-filling.
            head = images[: min(images.shape[0], internal_batch_size)]
            check_output_targets(
                model(head), labels[: head.shape[0]], output_type, "model", "labels"
            )
            first = False
        for rows in row_chunks(images.shape[0], internal_batch_size):
            x = images[rows]
            if fill is not None and keep_masks is not None:
                keep = keep_masks[rows].to(x)
                x = keep * x + (1 - keep) * fill(x, keep, generator)
            output = model(x)
            if first:
                check_output_targets(
                    output, labels[rows], output_type, "model", "labels"
                )
                first = False
            out.append(torch.sigmoid(log_odds(output, labels[rows], output_type)))
    return torch.cat(out)


def _check_keep_masks(keep_masks: Any, images: Tensor) -> None:
    r"""``(N, 1, H, W)`` float masks of 0s and 1s for ``images``."""
    if not isinstance(keep_masks, Tensor):
        raise TypeError(
            f"keep_masks must be a torch.Tensor, got {type(keep_masks).__name__}"
        )
    if tuple(keep_masks.shape) != (images.shape[0], 1, *images.shape[2:]):
        raise ValueError(
            f"keep_masks must have shape (N, 1, H, W), got {tuple(keep_masks.shape)}"
        )
    if not keep_masks.is_floating_point() or not bool(
        ((keep_masks == 0) | (keep_masks == 1)).all()
    ):
        raise ValueError("keep_masks must be a float tensor of 0s and 1s (1 = keep)")


def _check_table_args(
    images: Any,
    labels: Any,
    infillers: Any,
    drop_fractions: Any,
    seed: Any,
) -> Tuple[Tensor, List[float]]:
    r""":func:`infiller_confidence`'s arguments checked before any model
    pass: the images, and the drop fractions as floats."""
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    with renamed("inputs", "images"):
        (images,) = check_inputs((images,))
    as_targets(labels, images.shape[0], images.device, "labels")
    if not isinstance(infillers, Mapping) or not infillers:
        raise ValueError("infillers must map at least one name to an infiller")
    for name, infiller in infillers.items():
        as_infiller(infiller, f"infillers[{name!r}]")
    if isinstance(drop_fractions, (str, bytes)) or not isinstance(
        drop_fractions, Sequence
    ):
        raise TypeError(f"drop_fractions must be a sequence, got {drop_fractions!r}")
    fractions = [
        check_real(f, f"drop_fractions[{k}]", low=0.0, high=1.0)
        for k, f in enumerate(drop_fractions)
    ]
    if not fractions:
        raise ValueError("drop_fractions must hold at least one fraction")
    check_nonnegative_int(seed, "seed")
    return images, fractions


def infiller_confidence(
    model: Callable[[Tensor], Tensor],
    images: Tensor,
    labels: Tensor,
    infillers: Mapping[str, Callable[..., Tensor]],
    drop_fractions: Sequence[float] = (0.1, 0.25, 0.5, 0.75),
    seed: int = 0,
    grid: int = 8,
    internal_batch_size: int = 64,
    output_type: str = "logits",
    show_progress: bool = False,
) -> InfillQualityTable:
    r"""Paper Fig. 16: true-class confidence after in-filling random holes.

    Every infiller sees the same masks (drawn from ``seed``), so the rows
    are paired comparisons.

    Args:
        model (callable): The classifier, in eval mode.
        images (Tensor): ``(N, C, H, W)`` images.
        labels (Tensor): ``(N,)`` their true classes.
        infillers (mapping): name -> infiller.
        drop_fractions (sequence of float, optional): Fractions of pixels
            dropped, one column each.
        seed (int, optional): Seed of the masks and of stochastic infillers.
        grid (int, optional): Random-grid cells per side (see
            :func:`random_grid_masks`).
        internal_batch_size (int, optional): Images per forward pass.
        output_type (str, optional): What ``model`` returns.
        show_progress (bool, optional): Show a tqdm progress bar over
            infillers and drop fractions.

    Returns:
        :class:`InfillQualityTable`

    Examples::

        >>> table = infiller_confidence(model, x, y, {"mean": MeanInfiller([.5]*3)})
        >>> print(table.to_markdown())
    """
    images, fractions = _check_table_args(
        images, labels, infillers, drop_fractions, seed
    )
    n = images.shape[0]
    mask_gen = torch.Generator().manual_seed(int(seed))
    masks = [
        random_grid_masks(n, images.shape[2:], f, mask_gen, grid).to(images.device)
        for f in fractions
    ]
    clean = confidence_under_masks(
        model,
        images,
        labels,
        None,
        None,
        internal_batch_size=internal_batch_size,
        output_type=output_type,
    )
    table = InfillQualityTable(fractions, float(clean.mean()), n_images=n)
    bar = tqdm(
        total=len(infillers) * len(masks),
        desc="infiller quality",
        disable=not show_progress,
    )
    for name, infiller in infillers.items():
        means, errs = [], []
        for j, keep in enumerate(masks):
            g = torch.Generator(device=images.device).manual_seed(int(seed) + 1000 + j)
            conf = confidence_under_masks(
                model,
                images,
                labels,
                infiller,
                keep,
                g,
                internal_batch_size,
                output_type,
            )
            means.append(float(conf.mean()))
            errs.append(float(conf.std() / max(n, 1) ** 0.5) if n > 1 else 0.0)
            bar.update(1)
        table.rows[name] = means
        table.stderr[name] = errs
    bar.close()
    return table
