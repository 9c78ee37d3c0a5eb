r"""How sure a map is: its spread over seeds and under its own distribution.

Two different spreads, both per pixel:

- *over seeds*: the standard deviation of the map across runs that differ
  only in their seed (optimisation noise: mask samples, a stochastic
  in-filler). Large where the runs settle differently, for instance on one
  of two regions the classifier treats alike.
- *over samples*: the standard deviation of one pixel of a mask drawn from
  the learned distribution, ``sqrt(p (1 - p))`` for FIDO's Bernoulli keep
  probability ``p`` (averaged over the seeds; zero for BBMP's deterministic
  mask). Large where the distribution is undecided (``p`` near 0.5), for
  instance where the classifier ignores the pixels and only a weak sparsity
  penalty pulls on them.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Sequence, Tuple

import torch
from torch import Tensor

from captum_fido._utils.reprs import shapes_repr
from captum_fido.attr._base import MaskAttribution

__all__ = ["MapUncertainty", "map_uncertainty"]


@dataclass(frozen=True)
class MapUncertainty:
    r"""A map with its per-pixel spreads; all tensors the inputs' shape.

    Attributes:
        mean: The map averaged over the seeds.
        seed_std: Standard deviation of the map over the seeds.
        sample_std: Per-pixel standard deviation of masks drawn from the
            learned distribution, averaged over the seeds.
        maps: ``(S, N, C, H, W)``: the map of each seed.
        seeds: The seeds, in order.

    Examples::

        >>> u = map_uncertainty(fido, x, target=1, seeds=(0, 1, 2))
        >>> u.mean.shape == x.shape, u.seed_std.max() <= 0.5
        (True, tensor(True))
    """

    mean: Tensor
    seed_std: Tensor
    sample_std: Tensor
    maps: Tensor
    seeds: Tuple[int, ...]

    def __repr__(self) -> str:
        return shapes_repr(self)


def map_uncertainty(
    method: MaskAttribution,
    inputs: Tensor,
    target: Any = None,
    additional_forward_args: Any = None,
    *,
    seeds: Sequence[int] = (0, 1, 2, 3),
    **options: Any,
) -> MapUncertainty:
    r"""The map of ``method`` with its spread over seeds and over samples.

    Runs ``method.attribute`` once per seed (same options otherwise) and
    returns the mean map, the standard deviation over the seeds and the
    per-pixel standard deviation of the learned mask distribution (see the
    module's documentation for what each measures).

    Args:
        method (FIDO or BBMP): The configured attribution method.
        inputs (Tensor): Images ``(N, C, H, W)``.
        target (int, list, or Tensor, optional): As for ``attribute``.
        additional_forward_args (Any, optional): As for ``attribute``.
        seeds (sequence of int, optional): At least two distinct seeds.
            Default ``(0, 1, 2, 3)``.
        **options: Options of ``attribute`` except ``seed``,
            ``return_details`` and ``hard`` (the spread of a binary map
            says nothing about the distribution).

    Returns:
        MapUncertainty

    Raises:
        TypeError, ValueError: for bad ``seeds`` or an option this function
            refuses, before any optimisation.

    Examples::

        >>> u = map_uncertainty(FIDO(model, BlurInfiller()), x, target=1)
        >>> plot_uncertainty(x, u, path="uncertainty.png")
    """
    seeds = _check_seeds(seeds)
    if not isinstance(method, MaskAttribution):
        raise TypeError(
            f"method must be a FIDO or BBMP instance, got {type(method).__name__}"
        )
    if not isinstance(inputs, Tensor):
        raise TypeError(f"inputs must be a tensor, got {type(inputs).__name__}")
    for name in ("seed", "return_details"):
        if name in options:
            raise TypeError(f"map_uncertainty sets {name} itself")
    if options.get("hard", False):
        raise ValueError("map_uncertainty needs hard=False: a binary map has no spread")
    maps = torch.stack(
        [
            method.attribute(inputs, target, additional_forward_args, seed=s, **options)
            for s in seeds
        ]
    )
    distribution = method.mask_distribution(method.defaults)
    keep = maps if method.objective == "ssr" else 1.0 - maps
    return MapUncertainty(
        mean=maps.mean(dim=0),
        seed_std=maps.std(dim=0),
        sample_std=distribution.pixel_std(keep).mean(dim=0),
        maps=maps,
        seeds=seeds,
    )


def _check_seeds(seeds: Any) -> Tuple[int, ...]:
    if not isinstance(seeds, (tuple, list)) or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and int(s) >= 0
        for s in seeds
    ):
        raise TypeError(f"seeds must be a sequence of ints >= 0, got {seeds!r}")
    if len(set(seeds)) < 2:
        raise ValueError(f"seeds must hold at least two distinct seeds, got {seeds!r}")
    return tuple(int(s) for s in seeds)
