r"""The log-odds of the target class: what FIDO optimises and metrics judge.

``s(c | x) = log p(c | x) - log(1 - p(c | x))``, computed stably from logits as
``logit_c - logsumexp(logits without c)`` (the reference implementation does
exactly this). Models that return probabilities or log-probabilities say so
through ``output_type``; nothing is inferred from the values.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

__all__ = [
    "OutputType",
    "OUTPUT_TYPES",
    "check_output_type",
    "log_odds",
    "marginal_log_odds",
    "check_model_output",
    "is_single_output",
    "num_classes",
]

OutputType = Literal["logits", "probs", "log_probs"]
OUTPUT_TYPES = ("logits", "probs", "log_probs")


def check_output_type(value: Any, name: str = "output_type") -> str:
    r"""What a model returns: one of :data:`OUTPUT_TYPES`.

    Args:
        value: The argument's value.
        name (str, optional): The argument's name. Default ``"output_type"``.

    Returns:
        str: ``value``.

    Examples::

        >>> check_output_type("logits")
        'logits'
    """
    from captum_fido._utils.validation import check_choice

    return str(check_choice(value, name, OUTPUT_TYPES))


def is_single_output(output: Tensor) -> bool:
    r"""Whether ``output`` is one binary score per row: ``(N,)`` or ``(N, 1)``."""
    return output.dim() == 1 or (output.dim() == 2 and output.shape[1] == 1)


def num_classes(output: Tensor) -> int:
    r"""Number of classes a model output encodes (2 for one binary logit)."""
    return 2 if is_single_output(output) else int(output.shape[1])


def check_model_output(
    output: object, n_rows: int, output_type: str, name: str = "forward_func"
) -> Tensor:
    r"""Validate a model output once, on the clean inputs.

    Raises:
        TypeError: the output is not a floating-point tensor.
        ValueError: its shape is not ``(N, C)`` or ``(N,)``, it holds NaN or
            infinite values, or its values contradict ``output_type``.
    """
    if not isinstance(output, Tensor):
        raise TypeError(
            f"{name} must return a torch.Tensor of class scores, "
            f"got {type(output).__name__}"
        )
    if not output.is_floating_point():
        raise TypeError(
            f"{name} must return a floating-point tensor, got {output.dtype}"
        )
    if output.dim() not in (1, 2) or output.shape[0] != n_rows:
        raise ValueError(
            f"{name} must return scores of shape (N, C) or (N,) with N={n_rows}, "
            f"got {tuple(output.shape)}"
        )
    if not bool(torch.isfinite(output).all()):
        raise ValueError(f"{name} returned NaN or infinite scores on the inputs")
    if output_type == "probs" and bool(((output < 0) | (output > 1)).any()):
        raise ValueError(
            "output_type='probs' but the model returned values outside [0, 1]; "
            "use output_type='logits' for unnormalised scores"
        )
    if output_type == "log_probs" and bool((output > 0).any()):
        raise ValueError(
            "output_type='log_probs' but the model returned positive values; "
            "use output_type='logits' for unnormalised scores"
        )
    return output


def log_odds(output: Tensor, target: Tensor, output_type: str = "logits") -> Tensor:
    r"""Log-odds of ``target`` for each row of a model output.

    Args:
        output: ``(N, C)`` class scores, or ``(N,)`` / ``(N, 1)`` for a binary
            model with one output (the score of class 1).
        target: ``(N,)`` integer class indices.
        output_type: ``"logits"``, ``"probs"`` or ``"log_probs"``.

    Returns:
        ``(N,)`` log-odds ``log p(c) - log(1 - p(c))``.

    Examples::

        >>> from captum_fido import log_odds
        >>> log_odds(torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([0]))
        tensor([1.3069])
        >>> log_odds(torch.tensor([0.8]), torch.tensor([1]), output_type="probs")
        tensor([1.3863])
    """
    tiny = torch.finfo(output.dtype).tiny
    if is_single_output(output):
        v = output.reshape(-1)
        if output_type == "logits":
            s1 = v
        elif output_type == "probs":
            p = v.clamp(tiny, 1.0)
            s1 = torch.log(p) - torch.log((1.0 - p).clamp_min(tiny))
        else:  # log_probs of class 1
            s1 = v - torch.log(-torch.expm1(v.clamp_max(-tiny)))
        return torch.where(target == 1, s1, -s1)
    if output_type == "probs":
        # log p is a logit up to a per-row constant, which log-odds cancels.
        output = torch.log(output.clamp_min(tiny))
    # log-probs are logits shifted per row: the same formula applies.
    index = target.view(-1, 1)
    target_score = output.gather(1, index).squeeze(1)
    others = output.scatter(1, index, float("-inf"))
    return target_score - torch.logsumexp(others, dim=1)


def marginal_log_odds(log_odds_rows: Tensor) -> Tensor:
    r"""The log-odds of the *mean probability* over the last dimension.

    For ``k`` in-fills of one mask, ``p = mean_j sigmoid(s_j)`` is the
    paper's marginal class probability (its Eq. 1, Monte Carlo over the
    fills) and the result is ``log p - log(1 - p)``, computed stably as
    ``logsumexp(logsigmoid(s)) - logsumexp(logsigmoid(-s))`` (the ``log k``
    of both means cancels). With one fill it returns ``s`` unchanged.

    Args:
        log_odds_rows (Tensor): ``(..., k)`` log-odds.

    Returns:
        Tensor of shape ``(...)``.

    Examples::

        >>> s = torch.tensor([[2.0, 2.0], [10.0, -10.0]])
        >>> marginal_log_odds(s)
        tensor([2., 0.])
    """
    return torch.logsumexp(
        torch.nn.functional.logsigmoid(log_odds_rows), dim=-1
    ) - torch.logsumexp(torch.nn.functional.logsigmoid(-log_odds_rows), dim=-1)
