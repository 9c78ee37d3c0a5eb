r"""The options of a latent counterfactual search, declared once.

Each field of :class:`SearchOptions` carries its default, its documentation
and its check (the package's one options kit, ``captum_fido._utils.options``,
as for FIDO's and BBMP's options). :meth:`LatentCounterfactual.attribute` and
:meth:`~LatentCounterfactual.explain` take their keyword defaults from
:data:`DEFAULTS` and the option paragraphs of their docstrings from the
kit's ``document_options`` (in :data:`DOC_STYLE`), so a default, a
description or a rule is written in one place only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Tuple, Union

import torch
from torch import Tensor

from captum_fido._utils import options as O
from captum_fido._utils import validation as V
from captum_fido._utils.options import check_flag, document_options, option

__all__ = [
    "LOSSES",
    "SearchOptions",
    "DEFAULTS",
    "ATTRIBUTE_OPTIONS",
    "EXPLAIN_OPTIONS",
    "DOC_STYLE",
]

#: Classification terms: the paper's cross-entropy, or a hinge on the log-odds,
#: which keeps pulling where the cross-entropy saturates (p(c') near 1).
LOSSES = ("cross_entropy", "hinge")


# ------------------------------------------------------------------- checks


def _check_lambda_range(value: Any, name: str) -> Tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (lowest, highest), got {value!r}")
    lo = V.check_positive(value[0], f"{name}[0]")
    hi = V.check_positive(value[1], f"{name}[1]")
    if lo > hi:
        raise ValueError(
            f"{name} must be increasing (lowest <= highest), got ({lo}, {hi})"
        )
    return lo, hi


def _check_min_confidence(value: Any, name: str) -> Union[float, Tensor]:
    r"""A probability in ``[0, 1)``, or a float tensor of them (one per image;
    its length is checked against the batch by :meth:`SearchOptions.per_row`)."""
    if not isinstance(value, Tensor):
        number = V.check_nonnegative(value, name)
        if number >= 1.0:
            raise ValueError(
                f"{name} must lie in [0, 1) (a probability the target class "
                f"can reach), got {number}"
            )
        return number
    if not value.is_floating_point():
        raise TypeError(f"{name} tensor must be floating point, got {value.dtype}")
    if value.dim() > 1 and value.numel() != 1:
        raise ValueError(
            f"{name} tensor must have shape (N,) (one per image), "
            f"got {tuple(value.shape)}"
        )
    conf = value.detach().reshape(-1).to(torch.float64)
    bad = torch.isnan(conf) | (conf < 0) | (conf >= 1)
    if bool(bad.any()):
        raise ValueError(
            f"{name} must lie in [0, 1) (a probability the target class can "
            f"reach), got {conf[bad][:8].tolist()}"
        )
    return conf


def _check_loss(value: Any, name: str) -> str:
    V.check_choice(value, name, LOSSES)
    return str(value)


def _check_path_length(value: Any, name: str) -> int:
    value = V.check_positive_int(value, name)
    if value < 2:
        raise ValueError(f"{name} must be >= 2 (start and end), got {value}")
    return value


# ------------------------------------------------------------------ options


@dataclass(frozen=True)
class SearchOptions:
    r"""Settings of one latent counterfactual search, validated on creation.

    Raises ``TypeError`` / ``ValueError`` naming the option for a bad value.

    Attributes:
        {options}
    """

    lambda_range: Tuple[float, float] = option(
        (1e-2, 1e4),
        _check_lambda_range,
        "``(lowest, highest)`` trade-off between the classification term and "
        "the L1 change, ``0 < lowest <= highest``. One solve at ``highest`` "
        "tells whether the target is reachable at all; the bisection then "
        "searches the smallest succeeding lambda in between, in log space.",
        kind="tuple[float, float]",
    )
    n_bisection: int = option(
        8,
        V.check_nonnegative_int,
        "Bisection rounds after the first solve at ``lambda_range[1]``; each "
        "halves the interval between the largest failing and the smallest "
        "succeeding lambda. ``0`` solves once at ``lambda_range[1]``.",
        kind="int",
    )
    n_steps: int = option(
        200, V.check_positive_int, "Adam steps per solve.", kind="int"
    )
    lr: float = option(
        0.1,
        V.check_positive,
        "Adam's initial learning rate; it decays along a cosine to 1 % of "
        "this value, so the non-smooth L1 term settles.",
        kind="float",
    )
    min_confidence: Union[float, Tensor] = option(
        0.0,
        _check_min_confidence,
        "Probability of the target class a solve must reach (besides being "
        "the top class) to count as a success: a number in ``[0, 1)`` or a "
        "tensor with one per image (see :func:`prototype_confidence`). "
        "``0`` means the top class is enough.",
        kind="float or Tensor",
    )
    loss: str = option(
        "cross_entropy",
        _check_loss,
        'The classification term: ``"cross_entropy"`` (the paper\'s '
        '``-log p(c\')``) or ``"hinge"``: ``max(0, kappa - s)`` on the '
        "target's log-odds ``s``, with ``kappa`` the log-odds of "
        "``min_confidence`` (at least 0). The cross-entropy's pull fades as "
        "``p(c')`` nears 1, so prototypes of images the classifier is already "
        'sure about (``min_confidence`` like ``1 - 1e-5``) need ``"hinge"``, '
        "which pulls at full strength until the threshold and then stops.",
        kind="str",
    )
    path_length: int = option(
        8,
        _check_path_length,
        "Points recorded along the optimisation path at the chosen lambda, "
        "evenly spaced from the start (the reconstruction) to the end (the "
        "counterfactual), ``>= 2``.",
        kind="int",
        applies_to="explain",
    )
    top_k: int = option(
        5,
        V.check_positive_int,
        "How many of the most-changed latent dimensions to report (at most "
        "the latent size).",
        kind="int",
        applies_to="explain",
    )
    show_progress: bool = option(
        False, check_flag, "Show a tqdm progress bar.", kind="bool"
    )

    def __post_init__(self) -> None:
        O.check_options(self)

    def per_row(self, n: int, device: torch.device) -> Tensor:
        r"""``min_confidence`` as an ``(n,)`` float64 tensor on ``device``."""
        conf = self.min_confidence
        if not isinstance(conf, Tensor):
            return torch.full((n,), conf, dtype=torch.float64, device=device)
        if conf.numel() == 1:
            return conf.to(device).expand(n).clone()
        if conf.shape[0] != n:
            raise ValueError(
                f"min_confidence tensor must have shape ({n},) (one per image), "
                f"got {tuple(conf.shape)}"
            )
        return conf.to(device)


#: The defaults, validated once: the keyword defaults of the signatures.
DEFAULTS = SearchOptions()
#: Keyword options of ``explain`` (all) and ``attribute`` (no result layout).
EXPLAIN_OPTIONS: Tuple[str, ...] = O.option_names(SearchOptions, "explain")
ATTRIBUTE_OPTIONS: Tuple[str, ...] = O.option_names(SearchOptions, "attribute")


#: How the option paragraphs read (``document_options`` of the options kit):
#: each with its default, which is the same for ``attribute`` and
#: ``explain``; an option only ``explain`` takes is simply not listed for
#: ``attribute``.
DOC_STYLE: Dict[str, bool] = {"show_default": True, "show_scope": False}

document_options(SearchOptions, EXPLAIN_OPTIONS, **DOC_STYLE)(SearchOptions)
