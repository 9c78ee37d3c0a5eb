r"""The sparsity weight of each image: fixed, or set from the image's evidence.

The loop charges ``weight * area * REFERENCE_PIXELS`` for the region kept
(SSR) or dropped (SDR). A fixed weight (``l1_coeff=1e-3``, the paper's)
balances that against the target's log-odds on one model's logit scale
only: multiply the logits by 3 and the same weight floods the map, by 0.3
and it empties it, although the evidence in the image is the same.

The adaptive weight (``l1_coeff="adaptive"``, the default) takes the scale
from each image. ``delta`` = clean log-odds - log-odds with the whole input
in-filled is the evidence the in-filler can remove: the most any region can
change the target's log-odds. The weight makes selecting the *whole* input
cost ``area_cost * delta`` (``area_cost`` 1 by default), so a region costs
its share of the evidence: SSR keeps a region when the log-odds its in-fill
keeps are worth more than the region's share of ``delta``, and SDR drops a
region when dropping it takes away more than its share. The total-variation
term is charged in the same unit: ``tv_coeff`` is its weight for an image
whose in-fill removes :data:`TV_REFERENCE_DELTA` log-odds, and it scales
with ``delta``. Scaling the logits then scales ``delta``, the score and both
weights together, which Adam's steps do not see. For a binary (sigmoid)
output the run is unchanged at every logit scale; for a softmax the
log-odds of an in-filled image are not an exact multiple of the unscaled
ones (the competing classes' log-sum-exp changes shape), so the map moves a
little, most for SDR, whose in-filled images are the ones the target no
longer dominates (``docs/defaults.md``).

A weight that kept adapting during the run (a dual ascent towards a region
meeting a log-odds level) was measured too: within the default budget it
met its level on only a half (SSR) and a quarter (SDR) of the demo scenes,
and emptied as many maps as it saved (``docs/defaults.md``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["SparsityWeights", "evidence_scale", "TV_REFERENCE_DELTA"]

#: With the adaptive weight, ``tv_coeff`` applies as given to an image whose
#: in-fill removes this many log-odds, and scales with ``delta``: the evidence
#: at which the adaptive L1 weight (``area_cost`` 1) equals the paper's 1e-3,
#: so TV and L1 keep the paper's ratio at every logit scale. Measured against
#: a reference of 10 log-odds (the demo classifiers' ``delta`` is 5 to 9 at
#: the median), which charged a model with 58 log-odds of evidence six times
#: the TV and pushed half of its SDR map off the only region it uses
#: (``docs/defaults.md``).
TV_REFERENCE_DELTA = 1e-3 * 224 * 224

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
    r"""Per image, the weight of the L1 term (:attr:`current`) and the factor
    on the total-variation weight (:attr:`tv_scale`: ``delta /``
    :data:`TV_REFERENCE_DELTA` with ``"adaptive"``, 1 with a fixed weight).

    Args:
        l1_coeff (float or str): A number (fixed weight) or ``"adaptive"``.
        area_cost (float): With ``"adaptive"``: the whole input's L1 cost in
            units of ``delta``.
        clean (Tensor): ``(N,)`` clean log-odds of the target.
        filled (Tensor): ``(N,)`` log-odds with everything in-filled.
        reference_pixels (int): The L1 term's scale (the loop's
            ``REFERENCE_PIXELS``).

    Examples::

        >>> clean, filled = torch.tensor([6.0]), torch.tensor([-2.0])
        >>> weights = SparsityWeights("adaptive", 1.0, clean, filled, 50176)
        >>> round(float(weights.current[0] * 50176), 6)  # the whole input costs delta
        8.0
        >>> round(float(weights.tv_scale[0]), 4)  # TV in the same unit: 8 / 50.176
        0.1594
        >>> float(SparsityWeights(1e-3, 1.0, clean, filled, 50176).current[0])
        0.001
    """

    def __init__(
        self,
        l1_coeff: float | str,
        area_cost: float,
        clean: Tensor,
        filled: Tensor,
        reference_pixels: int,
    ) -> None:
        clean = clean.detach().double().cpu()
        if isinstance(l1_coeff, str):
            scale = evidence_scale(clean, filled.detach().double().cpu())
            self.current = area_cost * scale / reference_pixels
            self.tv_scale = scale / TV_REFERENCE_DELTA
        else:
            self.current = torch.full_like(clean, float(l1_coeff))
            self.tv_scale = torch.ones_like(clean)

    @staticmethod
    def describe(area_cost: float) -> str:
        r"""The adaptive weight's rule in words, for messages."""
        share = (
            "its share"
            if math.isclose(area_cost, 1.0)
            else f"{area_cost:g} x its share"
        )
        return (
            "the adaptive weight selects a region when it is worth more of the "
            f"target's log-odds than {share} of the evidence the full in-fill removes"
        )
