r"""What the loop returns after its last step, besides the maps: the
counterfactuals drawn from the final distribution, the binary maps of the
``hard`` option, and the run's :class:`MaskOptimizationDetails`.

:func:`~._loop.optimize_masks` calls these on its :class:`~._loop._Run`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional, Tuple

import torch
from torch import Tensor

from captum_fido.attr._details import MaskOptimizationDetails
from captum_fido.attr._problem import Images, Masks, check_finite_scores

if TYPE_CHECKING:  # the run calls these functions; only its type is needed
    from captum_fido.attr._loop import _Run

__all__ = [
    "HARD_THRESHOLDS",
    "Samples",
    "BinaryMaps",
    "counterfactuals",
    "binarise",
    "details",
]

#: Thresholds ``hard`` tries on the map, in order: the distribution's mode
#: (0.5) first, then ever larger regions.
HARD_THRESHOLDS = (0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02, 0.0)


@dataclass(frozen=True)
class Samples:
    r"""Binary masks drawn from the final distribution, their in-filled
    images ``(N, K, ...)`` per input, and the target's log-odds ``(N, K)``."""

    images: Tuple[Tensor, ...]
    masks: Tuple[Tensor, ...]
    log_odds: Tensor


@dataclass(frozen=True)
class BinaryMaps:
    r"""``hard``'s binary maps, the target's log-odds under them, the
    threshold each image's map was cut at, and whether it met the level."""

    maps: Tuple[Tensor, ...]
    log_odds: Tensor
    threshold: Tensor
    met: Tensor


def region_log_odds(run: _Run, regions: Masks) -> Tensor:
    r"""``(N,)`` target log-odds with binary ``regions`` kept (SSR) or
    dropped (SDR) and the rest in-filled, one row per image."""
    keep = [r if run.problem.objective == "ssr" else 1.0 - r for r in regions]
    refs = run.references.per_row(keep, 1)
    scores = torch.cat([s for _, _, s in run.scored_chunks(keep, refs, 1)])
    check_finite_scores(scores, "on the binary map (hard) after the last step")
    return scores.float().cpu()


def binarise(run: _Run, maps: Tuple[Tensor, ...], level: Tensor) -> BinaryMaps:
    r"""Per image, the map's largest superlevel set ``{map > t}`` (``t``
    from :data:`HARD_THRESHOLDS`, so the mode when it suffices) whose
    in-fill reaches ``level`` (SSR: log-odds at least ``level``, SDR: at
    most); where none does, the one that comes closest."""
    n = run.problem.n
    out = [torch.zeros_like(m) for m in maps]
    score, threshold = torch.zeros(n), torch.zeros(n)
    met = torch.zeros(n, dtype=torch.bool)
    best = torch.full((n,), float("inf"))
    for t in HARD_THRESHOLDS:
        regions = [(m > t).to(m.dtype) for m in maps]
        s = region_log_odds(run, regions)
        # Lower is better for the objective: -s for SSR, +s for SDR.
        meets = run.sign * s <= run.sign * level
        take = (meets & ~met) | (~met & (run.sign * s < best))
        best = torch.where(take, run.sign * s, best)
        score, threshold = (
            torch.where(take, s, score),
            threshold.masked_fill(take, t),
        )
        for o, r in zip(out, regions):
            o[take.to(o.device)] = r[take.to(o.device)]
        met |= meets
        if bool(met.all()):
            break
    return BinaryMaps(tuple(out), score, threshold, met)


def counterfactuals(run: _Run) -> Samples:
    r"""``n_counterfactuals`` binary masks per image drawn from the final
    distribution, the in-filled images and the target's log-odds."""
    n, k_cf = run.problem.n, run.options.n_counterfactuals
    coarse = run.keep_probability()
    masks, observed = run.sample(coarse, run.expected_masks(coarse), k_cf, binary=True)
    refs = run.references.per_row(observed, k_cf)
    images: List[Images] = [[] for _ in masks]
    scores = []
    for _, phi, s in run.scored_chunks(masks, refs, k_cf):
        for store, p in zip(images, phi):
            store.append(p)
        scores.append(s)
    per_image = torch.cat(scores).view(n, k_cf).sum(dim=1)
    check_finite_scores(per_image, "on the counterfactuals after the last step")
    return Samples(
        tuple(torch.cat(c).view(n, k_cf, *c[0].shape[1:]) for c in images),
        tuple(m.view(n, k_cf, *m.shape[1:]) for m in masks),
        torch.cat(scores).view(n, k_cf).float().cpu(),
    )


def details(
    run: _Run, samples: Samples, binary: Optional[BinaryMaps]
) -> MaskOptimizationDetails:
    r"""The run's record, with its counterfactual ``samples`` and, with
    ``hard``, the binary maps' scores."""
    steps, cf_log_odds = run.steps_run, samples.log_odds
    hard = None if binary is None else binary.log_odds
    sparsity, filled = run.sparsity, run.problem.infilled_log_odds
    final = cf_log_odds.mean(dim=1)
    return MaskOptimizationDetails(
        method=run.dist.name,
        objective=run.problem.objective,
        mask_params=tuple(p.detach().clone() for p in run.params),
        keep_prob=tuple(p.detach().clone() for p in run.keep_probability()),
        loss_history=run.loss_history[:, :steps].clone(),
        log_odds_history=run.score_history[:, :steps].clone(),
        clean_log_odds=run.problem.clean_log_odds.detach().float().cpu(),
        final_log_odds=final,
        counterfactuals=samples.images,
        counterfactual_masks=samples.masks,
        counterfactual_log_odds=cf_log_odds,
        counterfactual_probs=torch.sigmoid(cf_log_odds),
        steps_run=steps,
        hard_log_odds=hard,
        hard_probs=None if hard is None else torch.sigmoid(hard),
        hard_threshold=None if binary is None else binary.threshold,
        hard_met=None if binary is None else binary.met,
        infilled_log_odds=None if filled is None else filled.detach().float().cpu(),
        l1_weights=sparsity.current.float(),
    )
