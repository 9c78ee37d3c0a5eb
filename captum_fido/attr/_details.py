r"""What a mask-optimisation run leaves behind besides the attribution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

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
        mask_params: Optimised parameters, ``(N, 1, h, w)`` on the coarse
            grid or ``(N, 1, S)`` with a ``feature_mask`` of ``S`` segments:
            Bernoulli logits for FIDO, mask values for BBMP.
        keep_prob: Keep probability, the same shape as ``mask_params``.
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
        hard_log_odds: With ``hard=True``, ``(N,)`` log-odds of the target on
            the image in-filled under the binary map used as the kept (SSR)
            or dropped (SDR) region; else ``None``.
        hard_probs: ``sigmoid(hard_log_odds)``, to compare with
            ``counterfactual_probs`` (masks drawn from the learned
            distribution); else ``None``.
        hard_threshold: With ``hard=True``, ``(N,)`` the threshold ``t`` of
            each binary map ``{map > t}`` (0.5: the distribution's mode).
        hard_met: With ``hard=True``, ``(N,)`` whether the binary map reaches
            the counterfactuals' mean log-odds (SSR: at least, SDR: at most);
            where it does not, the map is the closest candidate.
        infilled_log_odds: ``(N,)`` log-odds of the target with the whole
            input in-filled (``delta = clean_log_odds - infilled_log_odds``
            is the evidence the adaptive sparsity weight is scaled by).
        l1_weights: ``(N,)`` the sparsity weight of each image
            (``l1_coeff`` itself when fixed).

    Examples::

        >>> fido = FIDO(model, BlurInfiller())
        >>> attr, details = fido.attribute(
        ...     images, target=labels, n_steps=100, return_details=True
        ... )
        >>> details.loss_history.shape  # (N, steps_run)
        >>> details.counterfactual_probs.mean(dim=1)  # confidence on the in-fills
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
    hard_log_odds: Optional[Tensor] = None
    hard_probs: Optional[Tensor] = None
    hard_threshold: Optional[Tensor] = None
    hard_met: Optional[Tensor] = None
    infilled_log_odds: Optional[Tensor] = None
    l1_weights: Optional[Tensor] = None

    def __repr__(self) -> str:
        return shapes_repr(self)
