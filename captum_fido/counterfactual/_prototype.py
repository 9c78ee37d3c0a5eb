r"""A ``min_confidence`` for prototypes that asks every image for the same
rise of its target's log-odds (:func:`prototype_confidence`)."""

from __future__ import annotations

from typing import Any, Callable, Tuple, Union

import torch
from torch import Tensor

from captum_fido._utils import validation as V
from captum_fido._utils.captum_compat import TargetType
from captum_fido._utils.scores import (
    check_model_output,
    check_output_type,
    log_odds,
    num_classes,
)
from captum_fido.counterfactual._query import Query

__all__ = ["prototype_confidence"]

TensorOrTuple = Union[Tensor, Tuple[Tensor, ...]]


def prototype_confidence(
    forward_func: Callable[..., Tensor],
    inputs: TensorOrTuple,
    target: TargetType,
    log_odds_gain: float = 2.0,
    additional_forward_args: Any = None,
    *,
    output_type: str = "logits",
) -> Tensor:
    r"""A ``min_confidence`` for prototypes: the target's confidence once its
    log-odds have risen by ``log_odds_gain`` over the inputs'.

    A fixed threshold (say 0.999) is already met by most images a classifier
    gets right, and the highest confidence a classifier reaches differs from
    class to class; asking each image to become ``exp(log_odds_gain)`` times
    surer (in odds) than it is gives every prototype the same amount of work.

    Args:
        forward_func (Callable): The classifier: ``(N, n_classes)`` scores,
            or ``(N,)`` / ``(N, 1)`` for one binary output (class 1's score).
        inputs (Tensor or tuple[Tensor, ...]): The query images.
        target (int, list[int] or Tensor): Their classes.
        log_odds_gain (float, optional): Rise of the target's log-odds
            ``log p(c) - log(1 - p(c))``, > 0. Default: 2.
        additional_forward_args (Any, optional): Passed to ``forward_func``.
        output_type (str, optional): ``"logits"`` (default), ``"probs"`` or
            ``"log_probs"``, as in :class:`LatentCounterfactual`.

    Returns:
        Tensor: ``(N,)`` float64 thresholds in ``[0, 1)`` for
        :meth:`LatentCounterfactual.explain`.

    Examples::

        >>> q = prototype_confidence(classifier, images, labels, 2.0)
        >>> proto = method.explain(
        ...     images, target=labels, min_confidence=q, loss="hinge"
        ... )
    """
    gain = V.check_positive(log_odds_gain, "log_odds_gain")
    check_output_type(output_type)
    query = Query.build(inputs, target, additional_forward_args)
    with torch.no_grad():
        output = forward_func(*query.inputs, *(query.args or ()))
        output = check_model_output(output, query.n, output_type)
    V.check_targets_in_range(query.targets, num_classes(output))
    s = log_odds(output.double(), query.targets, output_type)
    # Below 1 in float64, whatever the gain: min_confidence must stay < 1.
    return torch.sigmoid(s + gain).clamp(max=1.0 - 1e-12)
