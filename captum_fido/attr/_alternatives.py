r"""Several explanations of one prediction.

A classifier can have several regions that each suffice for its class (SSR)
or whose deletion each removes it (SDR). :func:`alternative_explanations`
finds ``k`` of them one after another on the shared loop: run ``i`` is an
ordinary ``attribute`` call whose loss also charges the overlap with the
union of runs ``0 .. i - 1`` (the ``avoid_regions`` option), so a later run
pays for re-using an earlier region and looks for another one that works.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple, Union

import torch
from torch import Tensor

from captum_fido._utils.reprs import shapes_repr
from captum_fido.attr._base import MaskAttribution
from captum_fido.attr._details import MaskOptimizationDetails

__all__ = ["Explanation", "alternative_explanations"]

Maps = Union[Tensor, Tuple[Tensor, ...]]


@dataclass(frozen=True)
class Explanation:
    r"""One of several explanations: its map and the record of its run.

    Attributes:
        attribution: The map, as ``attribute`` returns it.
        details: Its :class:`~captum_fido.MaskOptimizationDetails`: the
            in-filled counterfactuals drawn from its distribution, their
            masks and the classifier's scores on them.

    Examples::

        >>> first, second = alternative_explanations(fido, x, target=3, k=2)
        >>> second.class_probs  # the target's probability on its in-fills
        tensor([0.97])
    """

    attribution: Maps
    details: MaskOptimizationDetails

    @property
    def counterfactuals(self) -> Tuple[Tensor, ...]:
        r"""Per input, ``(N, K, C, H, W)`` in-filled images of this region."""
        return self.details.counterfactuals

    @property
    def class_probs(self) -> Tensor:
        r"""``(N,)`` class score: the target's mean probability on the
        counterfactuals (with ``hard=True``: under the binary map)."""
        if self.details.hard_probs is not None:
            return self.details.hard_probs
        return self.details.counterfactual_probs.mean(dim=1)

    def __repr__(self) -> str:
        return shapes_repr(self)


def alternative_explanations(
    method: MaskAttribution,
    inputs: Maps,
    target: Any = None,
    additional_forward_args: Any = None,
    *,
    k: int = 2,
    **options: Any,
) -> List[Explanation]:
    r"""``k`` distinct sufficient (SSR) or deletion (SDR) regions, in order.

    Each region is one ``method.attribute`` call on the shared loop with
    ``avoid_regions`` set to the element-wise maximum of the maps found so
    far, so its loss charges ``avoid_coeff`` per unit of overlap (on the
    scale of ``l1_coeff``). The first explanation is the plain one. A later
    one re-uses an earlier region only where no other region serves the
    objective at a lower cost; compare the class scores to see whether it
    still meets the objective.

    Args:
        method (FIDO or BBMP): The configured attribution method.
        inputs (Tensor or tuple[Tensor, ...]): As for ``attribute``.
        target (int, list, or Tensor, optional): As for ``attribute``.
        additional_forward_args (Any, optional): As for ``attribute``.
        k (int, optional): How many explanations. Default 2.
        **options: Any option of ``attribute`` (``avoid_coeff``, ``hard``,
            ``seed``, ...) except ``avoid_regions`` and ``return_details``,
            which this function sets.

    Returns:
        list[Explanation]: ``k`` explanations, the first found first.

    Raises:
        TypeError, ValueError: for a bad ``k`` or method, or an option this
            function sets, before any optimisation.

    Examples::

        >>> fido = FIDO(model, MeanInfiller(0.1), objective="ssr")
        >>> found = alternative_explanations(fido, x, target=1, k=2, seed=0)
        >>> [e.class_probs for e in found]
    """
    if not isinstance(method, MaskAttribution):
        raise TypeError(
            f"method must be a FIDO or BBMP instance, got {type(method).__name__}"
        )
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}")
    for name in ("avoid_regions", "return_details"):
        if name in options:
            raise TypeError(f"alternative_explanations sets {name} itself")
    found: List[Explanation] = []
    avoid: Optional[Tuple[Tensor, ...]] = None
    for _ in range(int(k)):
        attribution, details = method.attribute(
            inputs,
            target,
            additional_forward_args,
            avoid_regions=avoid,
            return_details=True,
            **options,
        )
        found.append(Explanation(attribution, details))
        avoid = _union(avoid, attribution)
    return found


def _union(avoid: Optional[Tuple[Tensor, ...]], new: Maps) -> Tuple[Tensor, ...]:
    r"""Element-wise maximum of the regions so far and a new map."""
    maps = (new,) if isinstance(new, Tensor) else tuple(new)
    if avoid is None:
        return tuple(m.detach() for m in maps)
    return tuple(torch.maximum(a, m.detach()) for a, m in zip(avoid, maps))
