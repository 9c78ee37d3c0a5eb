r"""What a latent counterfactual search returns."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Dict, Sequence, Tuple, Union

import torch
from torch import Tensor

from captum_fido._utils.reprs import shapes_repr

__all__ = ["CounterfactualResult"]

TensorOrTuple = Union[Tensor, Tuple[Tensor, ...]]


@dataclass(frozen=True)
class CounterfactualResult:
    r"""The outcome of :meth:`LatentCounterfactual.explain`, all tensors detached.

    ``N`` query images, latent codes of shape ``(N, *latent_shape)`` with
    ``D`` entries each, ``K`` recorded points along the optimisation path and
    ``k`` reported latent dimensions. Image-valued fields are a tensor when
    the inputs were a tensor and a tuple (one entry per input) when they were
    a tuple.

    Attributes:
        counterfactual: ``G(A*)``, the edited images, shaped like the inputs.
        difference: ``inputs - counterfactual``, what
            :meth:`LatentCounterfactual.attribute` returns.
        reconstruction: ``G(E(inputs))``, where every search starts.
        latent: ``A*``, the optimised latent codes.
        original_latent: ``E(inputs)``.
        target: ``(N,)`` the target classes ``c'``.
        success: ``(N,)`` bool: the counterfactual is classified as the
            target with at least ``min_confidence``.
        lambdas: ``(N,)`` the smallest trade-off found to succeed (for failed
            rows: the largest one tried, ``lambda_range[1]``).
        target_confidence: ``(N,)`` ``p(c' | G(A*))``.
        original_confidence: ``(N,)`` ``p(c' | inputs)``.
        predicted: ``(N,)`` the classifier's class for the counterfactual.
        l1_change: ``(N,)`` ``||inputs - G(A*)||_1`` summed over every pixel
            (and every input of a tuple).
        path: Images along the optimisation path at the chosen lambda,
            ``(N, K, C, H, W)`` (per input for tuples); ``path[:, 0]`` is the
            reconstruction and ``path[:, -1]`` the counterfactual.
        path_confidence: ``(N, K)`` ``p(c')`` of each path image.
        path_steps: ``(K,)`` the Adam step of each recorded point.
        top_latent_dims: ``(N, k)`` indices (into the flattened latent) of the
            entries that changed most, largest ``|A* - E(I)|`` first.
        top_latent_changes: ``(N, k)`` their signed changes ``A* - E(I)``.

    Examples::

        >>> method = LatentCounterfactual(classifier, decoder, encoder)
        >>> result = method.explain(images, target=7)
        >>> result.success_rate  # share of rows classified as 7
        >>> found = result.select(result.success)  # the successful rows
        >>> found.counterfactual.shape == found.reconstruction.shape
        True
    """

    counterfactual: TensorOrTuple
    difference: TensorOrTuple
    reconstruction: TensorOrTuple
    latent: Tensor
    original_latent: Tensor
    target: Tensor
    success: Tensor
    lambdas: Tensor
    target_confidence: Tensor
    original_confidence: Tensor
    predicted: Tensor
    l1_change: Tensor
    path: TensorOrTuple
    path_confidence: Tensor
    path_steps: Tensor
    top_latent_dims: Tensor
    top_latent_changes: Tensor

    def select(self, rows: Union[Tensor, Sequence[int], slice]) -> CounterfactualResult:
        r"""The result restricted to ``rows`` (an index tensor, list or slice)."""
        if isinstance(rows, (list, tuple)):
            rows = torch.as_tensor(rows, dtype=torch.long)
        per_row: Dict[str, Any] = {
            f.name: _index(getattr(self, f.name), rows)
            for f in fields(self)
            if f.name != "path_steps"
        }
        return CounterfactualResult(path_steps=self.path_steps, **per_row)

    @staticmethod
    def concat(results: Sequence[CounterfactualResult]) -> CounterfactualResult:
        r"""Stack results row-wise (same inputs structure and path steps)."""
        if len(results) == 0:
            raise ValueError("concat needs at least one result")
        steps = results[0].path_steps
        if any(not torch.equal(r.path_steps, steps) for r in results):
            raise ValueError("concat needs results recorded at the same path steps")
        per_row: Dict[str, Any] = {
            f.name: _cat([getattr(r, f.name) for r in results])
            for f in fields(results[0])
            if f.name != "path_steps"
        }
        return CounterfactualResult(path_steps=steps, **per_row)

    @property
    def success_rate(self) -> float:
        r"""Share of rows whose counterfactual reached the target."""
        return float(self.success.float().mean().item())

    def __repr__(self) -> str:
        return shapes_repr(self)


def _index(value: TensorOrTuple, rows: Any) -> TensorOrTuple:
    if isinstance(value, Tensor):
        return value[rows]
    return tuple(v[rows] for v in value)


def _cat(values: Sequence[TensorOrTuple]) -> TensorOrTuple:
    if isinstance(values[0], Tensor):
        return torch.cat(list(values))  # type: ignore[arg-type]
    return tuple(torch.cat(parts) for parts in zip(*values))
