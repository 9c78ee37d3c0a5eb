r"""The sparsity weight of each image: fixed, or adapted to the image.

The loop charges ``weight * area * REFERENCE_PIXELS`` for the region kept
(SSR) or dropped (SDR). A fixed weight (``l1_coeff=1e-3``, the paper's)
balances that against the target's log-odds on one model's logit scale
only: multiply the logits by 3 and the same weight floods the map, by 0.3
and it empties it, although the evidence in the image is the same.

The adaptive weight (``l1_coeff="adaptive"``, the default) measures the
scale on each image. ``delta`` = clean log-odds - log-odds with the whole
input in-filled is the most the region can change the score. The run asks
the region to reach a *level* (``evidence_fraction`` of ``delta``, see
:meth:`AdaptiveSparsity.level`) with the least area: a constrained problem
whose Lagrange multiplier is the weight. The weight starts where the whole
input's L1 cost is :data:`INITIAL_COST_PER_DELTA` times ``delta`` and, after
the warm-up, follows a multiplicative dual ascent step after every Adam
step: down when the step's samples miss the level (the region must grow),
up when they pass it (it can shrink), by at most a factor
``exp(DUAL_STEP)`` per step. Everything is measured in units of ``delta``,
so scaling the logits scales the whole loss, which Adam's steps do not see:
the map is the same at every logit scale.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "SparsityWeights",
    "INITIAL_COST_PER_DELTA",
    "DUAL_STEP",
    "evidence_scale",
]

#: The adaptive weight's start: the whole input's L1 cost over ``delta``.
INITIAL_COST_PER_DELTA = 1.0
#: Largest change of the adaptive weight's logarithm in one step.
DUAL_STEP = 0.03
#: ``delta`` below this share of the larger of the two log-odds' magnitudes
#: counts as no evidence (the scale is then that share, not ``delta``).
_MIN_RELATIVE_DELTA = 0.05


def evidence_scale(clean: Tensor, filled: Tensor) -> Tensor:
    r"""``delta = clean - filled`` per image, floored at a small share of the
    log-odds' magnitude (and at 1e-3) so that a model the in-fill does not
    move still gets a finite, scale-free weight.

    Args:
        clean (Tensor): ``(N,)`` log-odds of the target on the clean inputs.
        filled (Tensor): ``(N,)`` log-odds with every pixel in-filled.

    Returns:
        ``(N,)`` positive tensor.

    Examples::

        >>> evidence_scale(torch.tensor([6.0, 2.0]), torch.tensor([-2.0, 3.0]))
        tensor([8.0000, 0.1500])
    """
    floor = _MIN_RELATIVE_DELTA * torch.maximum(clean.abs(), filled.abs())
    return torch.maximum(clean - filled, floor.clamp_min(1e-3))


class SparsityWeights:
    r"""Per image, the weight of the L1 term at each step.

    Args:
        l1_coeff (float or str): A number (fixed weight) or ``"adaptive"``.
        objective (str): ``"ssr"`` or ``"sdr"``.
        clean (Tensor): ``(N,)`` clean log-odds of the target.
        filled (Tensor): ``(N,)`` log-odds with everything in-filled (used
            by the adaptive weight only).
        evidence_fraction (float): The share of ``delta`` the region must
            keep (SSR) or remove (SDR).
        reference_pixels (int): The L1 term's scale (the loop's
            ``REFERENCE_PIXELS``).

    Examples::

        >>> clean, filled = torch.tensor([6.0]), torch.tensor([-2.0])
        >>> weights = SparsityWeights("adaptive", "ssr", clean, filled, 0.8, 50176)
        >>> weights.level
        tensor([4.4000])
        >>> weights.update(torch.tensor([5.0]))  # above the level: heavier
        >>> bool(weights.current[0] > 8.0 / 50176)  # it started at delta / 50176
        True
    """

    def __init__(
        self,
        l1_coeff: float | str,
        objective: str,
        clean: Tensor,
        filled: Tensor,
        evidence_fraction: float,
        reference_pixels: int,
    ) -> None:
        self.adaptive = isinstance(l1_coeff, str)
        clean = clean.detach().double().cpu()
        n = clean.shape[0]
        if not self.adaptive:
            self.log_weight = torch.full((n,), math.log(max(float(l1_coeff), 1e-300)))
            self._zero = float(l1_coeff) == 0.0
            self.scale = torch.ones(n, dtype=torch.float64)
            self.level = clean
            return
        self._zero = False
        self.scale = evidence_scale(clean, filled.detach().double().cpu())
        # SSR: keep at least this much log-odds; SDR: leave at most this much.
        share = evidence_fraction if objective == "ssr" else 1.0 - evidence_fraction
        self.level = clean - (1.0 - share) * self.scale
        self.sign = -1.0 if objective == "ssr" else 1.0
        start = INITIAL_COST_PER_DELTA * self.scale / reference_pixels
        self.log_weight = start.log()

    @property
    def current(self) -> Tensor:
        r"""``(N,)`` float64 weights of this step."""
        if self._zero:
            return torch.zeros_like(self.log_weight)
        return self.log_weight.exp()

    def update(self, mean_log_odds: Tensor) -> None:
        r"""One dual step from the step's mean log-odds ``(N,)`` (adaptive
        weights only): lighter where the level was missed, heavier where it
        was passed, by at most ``exp(DUAL_STEP)``."""
        if not self.adaptive:
            return
        scores = mean_log_odds.detach().double().cpu()
        # Positive when the constraint is violated (SSR: score below level).
        violation = self.sign * (scores - self.level) / self.scale
        self.log_weight = self.log_weight - DUAL_STEP * violation.clamp(-1.0, 1.0)

    def met(self, mean_log_odds: Tensor) -> Tensor:
        r"""``(N,)`` bool: whether log-odds ``mean_log_odds`` reach the level
        (SSR: at least, SDR: at most; always true for a fixed weight)."""
        if not self.adaptive:
            return torch.ones(mean_log_odds.shape[0], dtype=torch.bool)
        scores = mean_log_odds.detach().double().cpu()
        return (self.sign * (scores - self.level) <= 0).cpu()
