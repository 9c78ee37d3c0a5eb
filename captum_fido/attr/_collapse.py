r"""Detecting a collapsed map: keep probabilities all near 0 or all near 1.

A map collapses when the sparsity weight and the classifier's log-odds are
on different scales. The loop's L1 term charges ``l1_coeff *
REFERENCE_PIXELS`` for keeping (SSR) or dropping (SDR) the whole input,
whatever the model; the score side is worth ``delta = clean log-odds -
log-odds with everything in-filled``, the most that keeping the input (SSR)
or dropping it (SDR) can change. When ``l1_coeff * REFERENCE_PIXELS`` is far
above ``delta`` nothing pays for itself and every probability goes to "keep
nothing" (SSR) or "drop nothing" (SDR); far below, the opposite.

The suggestion puts the whole input's L1 cost at twice ``delta``: keeping
(SSR) or dropping (SDR) the whole input then does not pay, and a region
under half of it that keeps (SSR) or removes (SDR) the class does. On the
demo classifier this gives 9.7e-5, where its documentation chose 1e-4 by
hand (``docs/results/collapse_suggestion.json``; half of ``delta`` was
tried first and left kept areas about three times larger). The clean
log-odds alone do not set the scale: an untrained 1000-class network has
clean log-odds near ``-6.9`` and a ``delta`` near 0.
"""

from __future__ import annotations

import warnings
from typing import List, Optional, Tuple

import torch
from torch import Tensor

from captum_fido._utils.scores import log_odds
from captum_fido.attr._loop import REFERENCE_PIXELS, MaskProblem

__all__ = [
    "warn_if_collapsed",
    "COLLAPSE_TOLERANCE",
    "COST_PER_DELTA",
    "suggested_l1_coeff",
]

#: A map is collapsed when every keep probability is within this of 0 (or 1).
COLLAPSE_TOLERANCE = 0.1

#: Whole-input L1 cost over ``delta`` that the suggestion aims for.
COST_PER_DELTA = 2.0


def suggested_l1_coeff(delta: float) -> float:
    r"""The ``l1_coeff`` whose whole-input L1 cost is twice the log-odds
    ``delta`` that in-filling everything removes (both objectives).

    Args:
        delta (float): Clean log-odds minus log-odds with everything in-filled
            (positive when the in-fill lowers the target).

    Returns:
        float: ``COST_PER_DELTA * delta / REFERENCE_PIXELS``.

    Examples::

        >>> suggested_l1_coeff(10.0) * 224 * 224
        20.0
    """
    return COST_PER_DELTA * delta / REFERENCE_PIXELS


def warn_if_collapsed(
    problem: MaskProblem,
    importance: Tuple[Tensor, ...],
    l1_coeff: float,
    method: str,
) -> None:
    r"""Warn (``UserWarning``) when some images' maps collapsed.

    Collapsed: every value of the image's map (keep probability for SSR,
    drop probability for SDR), over all its inputs, is below
    :data:`COLLAPSE_TOLERANCE` or above ``1 - COLLAPSE_TOLERANCE``. For
    those images one more forward pass (only then) scores the fully in-filled
    inputs, and the warning gives the clean and in-filled log-odds, the
    ``l1_coeff`` in use with its whole-input cost, and
    :func:`suggested_l1_coeff`, or why no ``l1_coeff`` would help.

    Args:
        problem (MaskProblem): The run's problem (inputs as the loop saw them).
        importance (tuple[Tensor, ...]): The loop's maps (keep probability
            for SSR, drop probability for SDR), ``(N, 1, H, W)`` each.
        l1_coeff (float): The sparsity weight used.
        method (str): ``"FIDO"`` or ``"BBMP"``, for the message.

    Returns:
        None; the warning is the result.

    Examples::

        >>> importance, _ = optimize_masks(problem, distribution, options)
        >>> warn_if_collapsed(problem, importance, options.l1_coeff, "FIDO")
    """
    # The region: kept (SSR) or dropped (SDR), the maps' own probabilities.
    region = torch.cat([m.flatten(1) for m in importance], dim=1)
    empty = region.amax(dim=1) < COLLAPSE_TOLERANCE
    whole = region.amin(dim=1) > 1.0 - COLLAPSE_TOLERANCE
    images = torch.nonzero(empty | whole).flatten().tolist()
    if not images:
        return
    clean = problem.clean_log_odds.detach().double().cpu()
    filled = _infilled_log_odds(problem).cpu()
    delta = float((clean - filled)[images].median())
    warnings.warn(
        _message(
            problem,
            images,
            clean,
            filled,
            delta,
            bool(empty[images].all()),
            l1_coeff,
            method,
        ),
        UserWarning,
        stacklevel=2,
    )


def _infilled_log_odds(problem: MaskProblem) -> Tensor:
    r"""The target's log-odds with every pixel (feature) in-filled, ``(N,)``."""
    refs = []
    with torch.no_grad():
        for x in problem.inputs:
            nothing = torch.zeros_like(x[:, :1])
            gen: Optional[torch.Generator] = None
            if problem.infiller.stochastic:
                gen = torch.Generator(device=x.device).manual_seed(problem.seed)
            refs.append(problem.infiller(x, nothing, gen))
        args = problem.additional_forward_args or ()
        output = problem.forward_func(*refs, *args)
        return log_odds(output, problem.target, problem.output_type).detach().double()


def _message(
    problem: MaskProblem,
    images: List[int],
    clean: Tensor,
    filled: Tensor,
    delta: float,
    empty: bool,
    l1_coeff: float,
    method: str,
) -> str:
    objective = problem.objective
    name = f"{method}-{objective.upper()}"
    shown = images[:5]
    more = f" (and {len(images) - len(shown)} more)" if len(images) > len(shown) else ""
    state = _collapsed_state(objective, empty)
    cost = l1_coeff * REFERENCE_PIXELS
    head = (
        f"{name} returned collapsed maps for {len(images)} of {problem.n} "
        f"image(s) {shown}{more}: {state}. The target's clean log-odds are "
        f"{_values(clean, shown)}; with everything in-filled "
        f"{_values(filled, shown)} (median drop {delta:.3g}), while "
        f"l1_coeff={l1_coeff:g} charges {cost:.3g} for the whole input "
        f"(l1_coeff * {REFERENCE_PIXELS})."
    )
    if delta <= 1e-6:
        return head + (
            " The in-fill does not lower the target's log-odds, so no l1_coeff "
            "gives an informative map: the model does not respond to this "
            "in-filler here (an untrained or weak model, a target it does not "
            "predict, or an in-fill too close to the input)."
        )
    suggestion = suggested_l1_coeff(delta)
    # An empty region (nothing kept or dropped) calls for a lighter L1 term,
    # the whole input for a heavier one.
    if empty == (suggestion < l1_coeff):
        return head + (
            f" Try l1_coeff={suggestion:.2g} (its whole-input cost is twice the "
            "log-odds the in-fill removes)."
        )
    return head + (
        f" l1_coeff is already on the other side of {suggestion:.2g} (the scale "
        "the log-odds suggest); the optimisation itself did not separate "
        "regions: try more n_steps, a larger lr, or a better in-filler."
    )


def _collapsed_state(objective: str, empty: bool) -> str:
    kind, verb = ("keep", "kept") if objective == "ssr" else ("drop", "dropped")
    if empty:
        return (
            f"every {kind} probability is below {COLLAPSE_TOLERANCE} (nothing {verb})"
        )
    bound = 1 - COLLAPSE_TOLERANCE
    return f"every {kind} probability is above {bound} (everything {verb})"


def _values(values: Tensor, images: List[int]) -> str:
    return "[" + ", ".join(f"{float(values[i]):.3g}" for i in images) + "]"
