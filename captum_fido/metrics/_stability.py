r"""Stability of maps over seeds (the paper's appendix A.3): the mean
pairwise correlation of the maps one method gives the same images with
different seeds, with a stated convention for maps that do not vary."""

from __future__ import annotations

from typing import Sequence, Union

import torch
from torch import Tensor

from captum_fido.metrics._common import constant_rows, correlation_with_constants

__all__ = ["stability"]


def stability(maps_over_seeds: Union[Tensor, Sequence[Tensor]]) -> Tensor:
    r"""Mean pairwise Pearson correlation of maps of the same images over seeds.

    .. math::

        \mathrm{stab}_i = \binom{S}{2}^{-1} \sum_{s < t}
        \mathrm{corr}(m^{(s)}_i, m^{(t)}_i)

    Pearson's correlation is undefined for a map that does not vary, so
    constant maps follow a convention: **two constant maps correlate 1**
    (neither ranks any pixel above another, so the seed changed nothing the
    correlation measures, even when the constants differ: the correlation
    ignores a map's offset and scale, as it does for varying maps), and **a
    constant map and a varying one correlate 0** (no linear association). A
    map is constant when its values span at most
    :data:`~captum_fido.metrics._common.CONSTANT_RTOL` of their largest
    magnitude (an all-zero map is constant). A *collapsed* mask map (nearly
    empty or flooded, :func:`~captum_fido.metrics.map_status`) still varies a
    little and can score low; the comparison harness marks it as collapsed
    rather than reporting that as instability.

    Args:
        maps_over_seeds: ``(S, N, ...)`` finite floating-point tensor or a
            list of ``S >= 2`` map batches of one shape, ``(N, ...)`` each.

    Returns:
        ``(N,)`` mean correlation over the ``S * (S - 1) / 2`` pairs (1 = the
        seed does not matter).

    Examples::

        >>> a = torch.rand(2, 8, 8)
        >>> stability([a, 2 * a + 1]).tolist()  # the same pattern
        [1.0, 1.0]
        >>> flat = torch.full((1, 8, 8), 0.3)
        >>> stability([flat, flat]).tolist(), stability([flat, a[:1]]).tolist()
        ([1.0], [0.0])
    """
    if isinstance(maps_over_seeds, Tensor):
        stack = maps_over_seeds
    elif isinstance(maps_over_seeds, Sequence) and all(
        isinstance(m, Tensor) for m in maps_over_seeds
    ):
        shapes = {tuple(m.shape) for m in maps_over_seeds}
        if len(shapes) > 1:
            raise ValueError(
                "maps_over_seeds must hold map batches of one shape, got "
                f"{sorted(shapes)}"
            )
        if not maps_over_seeds:
            raise ValueError(
                "maps_over_seeds needs at least two seeds of (N, ...) maps"
            )
        stack = torch.stack(list(maps_over_seeds))
    else:
        raise TypeError(
            "maps_over_seeds must be an (S, N, ...) tensor or a list of (N, ...) "
            f"tensors, got {type(maps_over_seeds).__name__}"
        )
    if stack.dim() < 3 or stack.shape[0] < 2:
        raise ValueError("maps_over_seeds needs at least two seeds of (N, ...) maps")
    if not stack.is_floating_point():
        raise TypeError(f"maps_over_seeds must be floating point, got {stack.dtype}")
    if stack.shape[1] == 0 or stack[0, 0].numel() == 0:
        raise ValueError(f"maps_over_seeds is empty: shape {tuple(stack.shape)}")
    if not bool(torch.isfinite(stack).all()):
        raise ValueError("maps_over_seeds holds NaN or infinite values")
    flat = stack.detach().flatten(2).double()
    s, n = flat.shape[:2]
    const = constant_rows(flat.reshape(s * n, -1)).view(s, n)
    flat = flat - flat.mean(dim=2, keepdim=True)
    flat = flat / flat.norm(dim=2, keepdim=True).clamp_min(1e-300)
    corr = torch.einsum("anp,bnp->abn", flat, flat).clamp(-1.0, 1.0)
    iu = torch.triu_indices(s, s, offset=1)
    pairs = correlation_with_constants(corr[iu[0], iu[1]], const[iu[0]], const[iu[1]])
    return pairs.mean(dim=0).float()
