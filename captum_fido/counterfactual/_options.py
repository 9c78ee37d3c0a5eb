r"""The options of a latent counterfactual search, declared once.

Each field of :class:`SearchOptions` carries its default, its documentation
and its check. :meth:`LatentCounterfactual.attribute` and
:meth:`~LatentCounterfactual.explain` take their keyword defaults from
:data:`DEFAULTS` and the option paragraphs of their docstrings from
:func:`document_options`, so a default, a description or a rule is written in
one place only.
"""

from __future__ import annotations

import numbers
import textwrap
from dataclasses import Field, dataclass, field, fields
from typing import Any, Callable, Dict, List, Tuple, TypeVar, Union

import torch
from torch import Tensor

from captum_fido._utils import validation as V

__all__ = [
    "LOSSES",
    "SearchOptions",
    "DEFAULTS",
    "ATTRIBUTE_OPTIONS",
    "EXPLAIN_OPTIONS",
    "document_options",
]

#: Classification terms: the paper's cross-entropy, or a hinge on the log-odds,
#: which keeps pulling where the cross-entropy saturates (p(c') near 1).
LOSSES = ("cross_entropy", "hinge")

_Check = Callable[[Any, str], Any]
_F = TypeVar("_F", bound=Callable[..., Any])


def _option(
    default: Any,
    kind: str,
    doc: str,
    check: _Check,
    explain_only: bool = False,
) -> Any:
    r"""A field with its docstring type ``kind``, text ``doc`` and ``check``
    (``check(value, name)`` returns the normalised value or raises)."""
    meta = {"kind": kind, "doc": doc, "check": check, "explain_only": explain_only}
    return field(default=default, metadata=meta)


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
    if value not in LOSSES:
        raise ValueError(f"{name} must be one of {LOSSES}, got {value!r}")
    return str(value)


def _check_path_length(value: Any, name: str) -> int:
    value = V.check_positive_int(value, name)
    if value < 2:
        raise ValueError(f"{name} must be >= 2 (start and end), got {value}")
    return value


def _check_bool(value: Any, name: str) -> bool:
    # Integers pass (0 / 1 from a config), as for FIDO's flags.
    if not isinstance(value, (bool, numbers.Integral)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


# ------------------------------------------------------------------ options


@dataclass(frozen=True)
class SearchOptions:
    r"""Settings of one latent counterfactual search, validated on creation.

    Raises ``TypeError`` / ``ValueError`` naming the option for a bad value.
    """

    lambda_range: Tuple[float, float] = _option(
        (1e-2, 1e4),
        "tuple[float, float]",
        "``(lowest, highest)`` trade-off between the classification term and "
        "the L1 change, ``0 < lowest <= highest``. One solve at ``highest`` "
        "tells whether the target is reachable at all; the bisection then "
        "searches the smallest succeeding lambda in between, in log space.",
        _check_lambda_range,
    )
    n_bisection: int = _option(
        8,
        "int",
        "Bisection rounds after the first solve at ``lambda_range[1]``; each "
        "halves the interval between the largest failing and the smallest "
        "succeeding lambda. ``0`` solves once at ``lambda_range[1]``.",
        V.check_nonnegative_int,
    )
    n_steps: int = _option(200, "int", "Adam steps per solve.", V.check_positive_int)
    lr: float = _option(
        0.1,
        "float",
        "Adam's initial learning rate; it decays along a cosine to 1 % of "
        "this value, so the non-smooth L1 term settles.",
        V.check_positive,
    )
    min_confidence: Union[float, Tensor] = _option(
        0.0,
        "float or Tensor",
        "Probability of the target class a solve must reach (besides being "
        "the top class) to count as a success: a number in ``[0, 1)`` or a "
        "tensor with one per image (see :func:`prototype_confidence`). "
        "``0`` means the top class is enough.",
        _check_min_confidence,
    )
    loss: str = _option(
        "cross_entropy",
        "str",
        'The classification term: ``"cross_entropy"`` (the paper\'s '
        '``-log p(c\')``) or ``"hinge"``: ``max(0, kappa - s)`` on the '
        "target's log-odds ``s``, with ``kappa`` the log-odds of "
        "``min_confidence`` (at least 0). The cross-entropy's pull fades as "
        "``p(c')`` nears 1, so prototypes of images the classifier is already "
        'sure about (``min_confidence`` like ``1 - 1e-5``) need ``"hinge"``, '
        "which pulls at full strength until the threshold and then stops.",
        _check_loss,
    )
    path_length: int = _option(
        8,
        "int",
        "Points recorded along the optimisation path at the chosen lambda, "
        "evenly spaced from the start (the reconstruction) to the end (the "
        "counterfactual), ``>= 2``.",
        _check_path_length,
        explain_only=True,
    )
    top_k: int = _option(
        5,
        "int",
        "How many of the most-changed latent dimensions to report (at most "
        "the latent size).",
        V.check_positive_int,
        explain_only=True,
    )
    show_progress: bool = _option(
        False, "bool", "Show a tqdm progress bar.", _check_bool
    )

    def __post_init__(self) -> None:
        # Frozen: the normalised values go in through object.__setattr__.
        for f in fields(self):
            value = f.metadata["check"](getattr(self, f.name), f.name)
            object.__setattr__(self, f.name, value)

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


def _fields() -> Tuple[Field, ...]:  # type: ignore[type-arg]
    return fields(SearchOptions)


#: The defaults, validated once: the keyword defaults of the signatures.
DEFAULTS = SearchOptions()
#: Keyword options of ``explain`` (all) and ``attribute`` (no result layout).
EXPLAIN_OPTIONS: Tuple[str, ...] = tuple(f.name for f in _fields())
ATTRIBUTE_OPTIONS: Tuple[str, ...] = tuple(
    f.name for f in _fields() if not f.metadata["explain_only"]
)


def _paragraph(f: Field, indent: str) -> List[str]:  # type: ignore[type-arg]
    head = f"{f.name} ({f.metadata['kind']}, optional): "
    text = f"{head}{f.metadata['doc']} Default: ``{f.default!r}``."
    return textwrap.wrap(
        text,
        width=79,
        initial_indent=indent,
        subsequent_indent=indent + "    ",
        break_on_hyphens=False,
    )


def _render(names: Tuple[str, ...], indent: str) -> str:
    by_name: Dict[str, Field] = {f.name: f for f in _fields()}  # type: ignore[type-arg]
    return "\n".join(line for n in names for line in _paragraph(by_name[n], indent))


def document_options(names: Tuple[str, ...]) -> Callable[[_F], _F]:
    r"""Fill the line ``{options}`` of a docstring with the paragraphs of the
    options ``names``, at that line's indentation."""

    def decorate(fn: _F) -> _F:
        lines = (fn.__doc__ or "").split("\n")
        out = []
        for line in lines:
            if line.strip() == "{options}":
                indent = line[: len(line) - len(line.lstrip())]
                out.append(_render(names, indent))
            else:
                out.append(line)
        fn.__doc__ = "\n".join(out)
        return fn

    return decorate


SearchOptions.__doc__ = (SearchOptions.__doc__ or "") + (
    "\n    Attributes:\n" + _render(EXPLAIN_OPTIONS, " " * 8) + "\n"
)
