r"""A counterfactual query checked once: the images, the classes to reach and
the classifier's extra arguments (:class:`LatentCounterfactual` and
:func:`prototype_confidence` take their arguments through it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Tuple

import torch
from torch import Tensor

from captum_fido._utils import validation as V
from captum_fido._utils.captum_compat import (
    format_additional_forward_args,
    format_tensor_into_tuples,
    is_tuple,
)

__all__ = ["Query"]


@dataclass(frozen=True)
class Query:
    r"""The validated query: images, targets and classifier arguments."""

    inputs: Tuple[Tensor, ...]
    is_tuple: bool
    targets: Tensor
    args: Optional[Tuple[Any, ...]]

    @property
    def n(self) -> int:
        return self.inputs[0].shape[0]

    @property
    def device(self) -> torch.device:
        return self.inputs[0].device

    @staticmethod
    def build(inputs: Any, target: Any, additional_forward_args: Any) -> Query:
        if not isinstance(inputs, (Tensor, tuple)):
            raise TypeError(
                "inputs must be a tensor or a tuple of tensors, "
                f"got {type(inputs).__name__}"
            )
        xs = V.check_inputs(format_tensor_into_tuples(inputs))
        xs = tuple(x.detach() for x in xs)
        n = xs[0].shape[0]
        targets = V.check_targets(target, n, xs[0].device)
        if targets is None:
            raise ValueError(
                "target is required: give the class c' to reach (an int, a list "
                "of N ints or an integer tensor); c' = the predicted class asks "
                "for a prototype, any other class for a criticism"
            )
        args = format_additional_forward_args(additional_forward_args)
        V.check_additional_forward_args(args, n)
        return Query(xs, is_tuple(inputs), targets, args)
