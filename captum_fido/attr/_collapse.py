r"""Warning about maps that explain nothing: empty or flooded.

A map *collapses* when it selects nothing (every keep probability of SSR,
or drop probability of SDR, below 0.1) and *floods* when it selects nearly
everything (three quarters of the input or more); both are
:func:`captum_fido.metrics.map_status`. The warning says which images, what
the model's log-odds were, and what can help, which depends on the cause:

- **No evidence.** In-filling the whole input barely lowers the target's
  log-odds (an untrained network, a class the model does not predict, an
  in-fill too close to the input): no sparsity setting can find a region,
  and the warning says so rather than suggesting one.
- **A fixed weight on the wrong scale** (``l1_coeff`` given as a number).
  Its whole-input cost ``l1_coeff * REFERENCE_PIXELS`` is compared with
  ``delta``, the log-odds the full in-fill removes; the adaptive default
  sets the weight from ``delta`` on each image, and
  :func:`suggested_l1_coeff` gives that weight as a fixed one (its
  whole-input cost is ``delta``).
- **The adaptive weight on an image whose evidence is spread evenly**: no
  region is worth much more (or less) than its share of the evidence, so
  the optimum is at an edge; ``area_cost`` moves the price (above 1 for a
  smaller region, below 1 for a larger one), more ``n_steps`` or a better
  in-filler may separate regions.
"""

from __future__ import annotations

import warnings
from typing import List, Tuple

import torch
from torch import Tensor

from captum_fido._utils.stack import caller_stacklevel
from captum_fido.attr._loop import REFERENCE_PIXELS
from captum_fido.attr._options import MaskOptions
from captum_fido.attr._problem import MaskProblem
from captum_fido.attr._sparsity import SparsityWeights, evidence_scale
from captum_fido.metrics import FLOODED_AREA, map_status

__all__ = ["CollapsedMapWarning", "warn_if_collapsed", "suggested_l1_coeff"]


class CollapsedMapWarning(UserWarning):
    r"""Some maps of a FIDO or BBMP call are empty or flooded (see
    :func:`captum_fido.metrics.map_status`). A ``UserWarning``, so it shows by
    default; filter it by its class where the statuses are recorded
    otherwise.

    Examples::

        >>> import warnings
        >>> from captum_fido import CollapsedMapWarning
        >>> warnings.simplefilter("ignore", CollapsedMapWarning)
    """


def suggested_l1_coeff(delta: float) -> float:
    r"""The fixed ``l1_coeff`` on the scale of the log-odds ``delta`` that
    in-filling everything removes: the adaptive weight's, whose whole-input
    L1 cost is ``delta``.

    Args:
        delta (float): Clean log-odds minus log-odds with everything in-filled
            (positive when the in-fill lowers the target).

    Returns:
        float: ``delta / REFERENCE_PIXELS``.

    Examples::

        >>> suggested_l1_coeff(10.0) * 224 * 224
        10.0
    """
    return delta / REFERENCE_PIXELS


def warn_if_collapsed(
    problem: MaskProblem,
    importance: Tuple[Tensor, ...],
    options: MaskOptions,
    method: str,
) -> None:
    r"""Warn (``UserWarning``) when some images' maps are empty or flooded.

    Args:
        problem (MaskProblem): The run's problem, with its clean and fully
            in-filled log-odds.
        importance (tuple[Tensor, ...]): The loop's maps (keep probability
            for SSR, drop probability for SDR), ``(N, 1, H, W)`` each.
        options (MaskOptions): The run's options.
        method (str): The method as the user created it (e.g. ``"BBMP"``,
            ``"FIDO(objective='sdr')"``), for the message.

    Returns:
        None; the warning is the result.

    Examples::

        >>> importance, _ = optimize_masks(problem, distribution, options)
        >>> warn_if_collapsed(problem, importance, options, "FIDO")
    """
    region = torch.cat([m.flatten(1) for m in importance], dim=1)
    status = map_status(region.clamp(0, 1))
    images = [i for i, s in enumerate(status) if s != "ok"]
    if not images:
        return
    clean = problem.clean_log_odds.detach().double().cpu()
    filled = clean if problem.infilled_log_odds is None else problem.infilled_log_odds
    filled = filled.detach().double().cpu()
    warnings.warn(
        _message(problem, options, method, images, status, clean, filled),
        CollapsedMapWarning,
        stacklevel=caller_stacklevel(),
    )


def _message(
    problem: MaskProblem,
    options: MaskOptions,
    method: str,
    images: List[int],
    status: List[str],
    clean: Tensor,
    filled: Tensor,
) -> str:
    shown = images[:5]
    more = f" (and {len(images) - len(shown)} more)" if len(images) > len(shown) else ""
    kinds = sorted({status[i] for i in images})
    head = (
        f"{method} returned {' or '.join(kinds)} maps for {len(images)} of "
        f"{problem.n} image(s) {shown}{more}: {_states(problem.objective, kinds)}. "
        f"The target's log-odds are {_values(clean, shown)} on the input and "
        f"{_values(filled, shown)} with all of it in-filled."
    )
    delta = clean - filled
    no_evidence = (evidence_scale(clean, filled) > delta)[images]
    if bool(no_evidence.all()):
        return head + (
            " The in-fill barely lowers the target's log-odds: the model gives "
            "no evidence here that this in-filler can remove (an untrained or "
            "weak model, a class it does not predict, or an in-fill too close "
            "to the input), so no sparsity setting gives an informative map."
        )
    if isinstance(options.l1_coeff, str):
        return head + _adaptive_advice(kinds, options.area_cost)
    return head + _fixed_advice(
        problem, options.l1_coeff, float(delta[images].median()), kinds
    )


def _adaptive_advice(kinds: List[str], area_cost: float) -> str:
    rule = SparsityWeights.describe(area_cost)
    if kinds == ["flooded"]:
        return (
            f" Here {rule}, and nearly every region is: the evidence is spread "
            "over the input for this in-filler. area_cost above "
            f"{area_cost:g} asks for a smaller region."
        )
    if kinds == ["empty"]:
        return (
            f" Here {rule}, and no region is: the evidence is spread evenly or "
            f"thinly. area_cost below {area_cost:g} asks for a larger region; "
            "more n_steps or a better in-filler may also separate regions."
        )
    return f" Here {rule}; more n_steps or a better in-filler may separate regions."


def _fixed_advice(
    problem: MaskProblem, l1_coeff: float, delta: float, kinds: List[str]
) -> str:
    h, w = problem.sizes[0]
    cost = l1_coeff * REFERENCE_PIXELS
    text = (
        f" l1_coeff={l1_coeff:g} charges {cost:.3g} log-odds units for the whole "
        f"{h} x {w} input, while the full in-fill removes {delta:.3g} (median). "
        "The default, l1_coeff='adaptive', sets the weight from that scale on "
        "each image"
    )
    suggestion = suggested_l1_coeff(delta)
    # Empty wants a lighter weight, flooded a heavier one.
    helps = suggestion < l1_coeff if kinds == ["empty"] else suggestion > l1_coeff
    if kinds != ["empty", "flooded"] and helps:
        return text + (
            f"; a fixed weight on that scale is l1_coeff={suggestion:.2g} (its "
            "whole-input cost is the log-odds the in-fill removes)."
        )
    return text + "; more n_steps or a better in-filler may also help."


def _states(objective: str, kinds: List[str]) -> str:
    verb = "kept" if objective == "ssr" else "dropped"
    text = {
        "empty": f"nothing {verb} (every probability below 0.1)",
        "flooded": f"{FLOODED_AREA:.0%} or more of the input {verb}",
    }
    return "; ".join(text[k] for k in kinds)


def _values(values: Tensor, images: List[int]) -> str:
    return "[" + ", ".join(f"{float(values[i]):.3g}" for i in images) + "]"
