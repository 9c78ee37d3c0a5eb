r"""In-fill deletion ("flipping") curves (Chang et al. 2019, section 4.5).

Pixels are removed in decreasing order of saliency and *in-filled* (by
default with a generative in-painter) rather than zeroed, so the classifier
stays on the data manifold. The log-odds are normalised per image by the
suppression when every pixel is in-filled; a lower area is a better map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import torch
from torch import Tensor

from captum_fido._utils.rows import row_chunks
from captum_fido._utils.scores import log_odds
from captum_fido.infillers import as_infiller, warn_if_dishonest
from captum_fido.metrics._common import as_maps, as_targets

__all__ = ["DeletionCurve", "deletion_curve"]


@dataclass(frozen=True)
class DeletionCurve:
    r"""Result of :func:`deletion_curve`.

    Attributes:
        fractions: ``(F,)`` fraction of pixels removed at each point.
        log_odds: ``(N, F)`` raw target log-odds.
        normalized: ``(N, F)`` ``(s_k - s_all) / (s_clean - s_all)``: 1 for the
            clean image, 0 once every pixel is in-filled.
        area: ``(N,)`` trapezoidal area under ``normalized``; lower is better.
        suppression: ``(N,)`` ``s_clean - s_all``, the log-odds lost when every
            pixel is in-filled. Where it is small (below about 1) the
            normalisation divides by almost nothing and ``area`` is not
            meaningful; select images with ``suppression > 1`` before
            averaging, as the paper evaluates correctly classified images.
    """

    fractions: Tensor
    log_odds: Tensor
    normalized: Tensor
    area: Tensor
    suppression: Tensor


def deletion_curve(
    forward_func: Callable[..., Tensor],
    inputs: Tensor,
    maps: Tensor,
    target: Any,
    infiller: Callable[..., Tensor],
    fractions: Optional[Sequence[float]] = None,
    output_type: str = "logits",
    seed: int = 0,
    internal_batch_size: int = 64,
) -> DeletionCurve:
    r"""Remove pixels by saliency, in-fill them, and track the target's log-odds.

    Args:
        forward_func: The classifier.
        inputs: Images ``(N, C, H, W)``.
        maps: Saliency ``(N, C, H, W)`` (absolute values averaged over
            channels) or ``(N, H, W)``; higher = removed first. Ties are
            broken in a seeded random order, not by position.
        target: Class index (int) or ``N`` of them.
        infiller: An :class:`~captum_fido.infillers.Infiller` or a plain
            callable ``(x, keep_mask)`` (see
            :func:`~captum_fido.infillers.as_infiller`). One that reads the
            pixels it replaces (``honest=False``) triggers a warning.
        fractions: Fractions of pixels removed; default 0, 0.05, ..., 1.
        output_type: ``"logits"``, ``"probs"`` or ``"log_probs"``.
        seed: Seeds tie-breaking and stochastic infillers.
        internal_batch_size: Rows per classifier call.

    Returns:
        :class:`DeletionCurve`.

    Examples::

        >>> curve = deletion_curve(model, x, attr, target=3, infiller=inpainter)
        >>> curve.area.mean()
    """
    fill = as_infiller(infiller)
    if not isinstance(inputs, Tensor) or inputs.dim() != 4:
        raise ValueError("inputs must be a tensor of shape (N, C, H, W)")
    sal = as_maps(maps)
    n, _, h, w = inputs.shape
    if sal.shape != (n, h, w):
        raise ValueError(
            f"maps must cover the inputs: expected {(n, h, w)} after channel "
            f"averaging, got {tuple(sal.shape)}"
        )
    targets = as_targets(target, n, inputs.device)
    fr = torch.linspace(0, 1, 21) if fractions is None else torch.as_tensor(fractions)
    fr = fr.to(torch.float64)
    if fr.dim() != 1 or fr.numel() < 2 or (fr < 0).any() or (fr > 1).any():
        raise ValueError("fractions must be a 1-D sequence of values in [0, 1]")
    if not bool((fr[1:] > fr[:-1]).all()):
        raise ValueError("fractions must be strictly increasing")
    fr = torch.cat([fr, fr.new_tensor([0.0, 1.0])])  # normalisation endpoints
    warn_if_dishonest(fill, "deletion_curve")

    gen = torch.Generator().manual_seed(seed)
    flat = sal.reshape(n, -1).cpu()
    # Rank pixels by saliency with random tie-breaking: sort a random
    # permutation stably, then map back.
    perm = torch.stack([torch.randperm(h * w, generator=gen) for _ in range(n)])
    order_in_perm = torch.argsort(
        flat.gather(1, perm), dim=1, descending=True, stable=True
    )
    order = perm.gather(1, order_in_perm)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(h * w).expand(n, -1).contiguous())
    rank = rank.view(n, 1, h, w).to(inputs.device)

    scores = torch.empty(n, fr.numel(), dtype=torch.float64)
    with torch.no_grad():
        for j, f in enumerate(fr.tolist()):
            n_removed = int(round(f * h * w))
            keep = (rank >= n_removed).to(inputs.dtype)
            g = torch.Generator(device=inputs.device).manual_seed(seed + j)
            ref = fill(inputs, keep, g)
            phi = keep * inputs + (1 - keep) * ref
            for rows in row_chunks(n, internal_batch_size):
                out = forward_func(phi[rows])
                scores[rows, j] = (
                    log_odds(out, targets[rows], output_type).double().cpu()
                )
    clean, everything = scores[:, -2:-1], scores[:, -1:]
    raw = scores[:, :-2]
    denom = clean - everything
    # An image whose score does not move at all has no meaningful curve.
    denom = torch.where(denom.abs() < 1e-6, torch.full_like(denom, 1e-6), denom)
    normalized = (raw - everything) / denom
    fr = fr[:-2]
    area = torch.trapezoid(normalized, fr, dim=1) / (fr[-1] - fr[0])
    return DeletionCurve(
        fr.float(),
        raw.float(),
        normalized.float(),
        area.float(),
        (clean - everything)[:, 0].float(),
    )
