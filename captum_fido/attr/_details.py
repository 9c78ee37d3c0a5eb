r"""What a mask-optimisation run leaves behind besides the attribution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from torch import Tensor

from captum_fido._utils.reprs import shapes_repr

__all__ = ["MaskOptimizationDetails"]


@dataclass(frozen=True)
class MaskOptimizationDetails:
    r"""Details of one ``attribute`` call, all tensors detached.

    One entry of each tuple per input tensor; ``N`` images, ``K``
    counterfactual samples per image.

    Attributes:
        method: ``"FIDO"`` or ``"BBMP"``.
        objective: ``"ssr"`` or ``"sdr"``.
        mask_params: Optimised parameters on the coarse grid, ``(N, 1, h, w)``:
            Bernoulli logits for FIDO, mask values for BBMP.
        keep_prob: Keep probability on the coarse grid, ``(N, 1, h, w)``.
        loss_history: ``(N, steps_run)`` loss per image and step.
        log_odds_history: ``(N, steps_run)`` mean log-odds of the target over
            the step's mask samples.
        clean_log_odds: ``(N,)`` log-odds of the target on the clean inputs.
        final_log_odds: ``(N,)`` mean log-odds over the counterfactuals.
        counterfactuals: ``(N, K, C, H, W)`` in-filled images drawn from the
            final mask distribution (binary Bernoulli masks for FIDO).
        counterfactual_masks: ``(N, K, 1, H, W)`` the keep-masks used.
        counterfactual_log_odds: ``(N, K)`` classifier log-odds on them.
        counterfactual_probs: ``(N, K)`` classifier confidence in the target.
        steps_run: Optimisation steps taken (fewer than ``n_steps`` when
            early stopping triggered).
    """

    method: str
    objective: str
    mask_params: Tuple[Tensor, ...]
    keep_prob: Tuple[Tensor, ...]
    loss_history: Tensor
    log_odds_history: Tensor
    clean_log_odds: Tensor
    final_log_odds: Tensor
    counterfactuals: Tuple[Tensor, ...]
    counterfactual_masks: Tuple[Tensor, ...]
    counterfactual_log_odds: Tensor
    counterfactual_probs: Tensor
    steps_run: int

    def __repr__(self) -> str:
        return shapes_repr(self)
