r"""The options of FIDO and BBMP, each declared, documented, defaulted and
validated once.

:class:`MaskOptions` is the one declaration: every field carries its default,
its documentation and its check (run in ``__post_init__``, before any work).
The methods' defaults are data: :data:`FIDO_DEFAULTS` and
:data:`BBMP_DEFAULTS` (the ``"adaptive"`` preset: a budget of at most 300
classifier rows per image and a sparsity weight that adapts to each image),
and :data:`FIDO_PAPER` and :data:`BBMP_PAPER` (the ``"paper"`` preset: the
appendix settings, exactly); :data:`PRESETS` maps the preset names to them.
``attribute``'s keyword signature takes its defaults from here, and its
docstring's option list is generated from the fields' documentation.
Adding an option means adding a field here and using it in the loop (plus
its keyword in ``MaskAttribution.attribute``, which a test keeps in step).
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple, Union

import torch

from captum_fido._utils import options as O
from captum_fido._utils import validation as V
from captum_fido._utils.options import check_flag, option, optional
from captum_fido._utils.segments import check_feature_mask
from captum_fido.attr._regions import RegionMasks, check_regions, resolve_regions

__all__ = [
    "MaskOptions",
    "MaskSize",
    "FeatureMask",
    "RegionMasks",
    "resolve_regions",
    "FIDO_DEFAULTS",
    "BBMP_DEFAULTS",
    "FIDO_PAPER",
    "BBMP_PAPER",
    "PRESETS",
    "PRESET_NAMES",
    "ADAPTIVE",
    "METHOD_DEFAULTED",
    "document_options",
    "method_options",
    "option_names",
    "options_docstring",
    "options_from_call",
    "PAPER_LR",
    "PAPER_STEPS",
    "PAPER_TV",
    "PAPER_L1",
    "BBMP_L1_RATIO",
]

MaskSize = Union[None, int, Tuple[int, int]]
L1Coeff = Union[float, str]
FeatureMask = Union[None, torch.Tensor, Tuple[torch.Tensor, ...]]

#: The paper's schedule: lr 0.05 decayed linearly to 0 over 300 steps.
PAPER_LR, PAPER_STEPS = 0.05, 300
#: The paper's total-variation weight, ``tv_coeff``'s default on the grid.
PAPER_TV = 0.01
#: The paper's L1 weight for FIDO on a 224 x 224 mask (appendix A).
PAPER_L1 = 1e-3
#: BBMP's L1 weight is this many times FIDO's (the paper's appendix A.1):
#: :data:`BBMP_PAPER`, and wherever one fixed ``l1_coeff`` is given for both
#: methods (``captum-fido compare --l1-coeff``, the evaluation's methods).
BBMP_L1_RATIO = 5.0
#: ``l1_coeff``'s value for the sparsity weight that adapts to each image.
ADAPTIVE = "adaptive"
#: The presets of :data:`PRESETS`: the defaults, and the paper's appendix.
PRESET_NAMES = ("adaptive", "paper")


def _check_l1(value: Any, name: str) -> L1Coeff:
    if isinstance(value, str):
        if value != ADAPTIVE:
            raise ValueError(
                f"{name} must be a number >= 0 or {ADAPTIVE!r}, got {value!r}"
            )
        return value
    return V.check_nonnegative(value, name)


def _check_fraction(value: Any, name: str) -> float:
    value = V.check_unit_interval(value, name)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value}")
    return value


def _check_preset(value: Any, name: str) -> str:
    return str(V.check_choice(value, name, PRESET_NAMES))


def _check_seed(value: Any, name: str) -> Optional[int]:
    if value is None:
        return None
    return V.check_int_at_least(value, name, 0, "an int or None")


def _check_mask_size(value: Any, name: str) -> MaskSize:
    # The grid's type and sign; that it fits each input is checked per input.
    if value is None:
        return None
    grid = V.resolve_mask_size(value, 2**31, 2**31, name)
    return grid[0] if isinstance(value, numbers.Integral) else grid


@dataclass(frozen=True)
class MaskOptions:
    r"""The hyper-parameters of one FIDO or BBMP run, validated on creation.

    Build one with :meth:`replace` from :data:`FIDO_DEFAULTS` or
    :data:`BBMP_DEFAULTS`; every field is documented in
    :meth:`captum_fido.FIDO.attribute`. Invalid values raise ``TypeError`` or
    ``ValueError`` naming the option.

    Args:
        {options}

    Examples::

        >>> from captum_fido.attr import FIDO_DEFAULTS
        >>> options = FIDO_DEFAULTS.replace(n_steps=100, seed=0)
        >>> options.effective_lr, options.effective_warmup
        (0.15, 10)
        >>> FIDO_DEFAULTS.replace(n_steps=0)
        Traceback (most recent call last):
        ...
        ValueError: n_steps must be >= 1, got 0
    """

    preset: str = option(
        "adaptive",
        _check_preset,
        'Where the other options\' defaults come from: ``"adaptive"`` '
        "(the defaults: at most 300 classifier rows per image and a sparsity "
        "weight that adapts to each image, :data:`FIDO_DEFAULTS`, "
        ':data:`BBMP_DEFAULTS`) or ``"paper"`` (the appendix of Chang et '
        "al. exactly: 300 steps of 8 samples, lr 0.05, ``l1_coeff`` 1e-3, "
        "5e-3 for BBMP, TV 0.01, warm-up 30 steps; :data:`FIDO_PAPER`, "
        ":data:`BBMP_PAPER`). Options given explicitly override the preset.",
    )
    n_steps: int = option(
        72,
        V.check_positive_int,
        "Adam steps. Default 72 for FIDO (72 x 4 samples: 288 classifier rows "
        "per image, plus one for the clean image and one for the fully "
        "in-filled one) and 144 for BBMP; the paper's 300 with "
        '``preset="paper"``.',
    )
    n_samples: int = option(
        4,
        V.check_positive_int,
        "Mask samples per image per step (the paper's B; FIDO default 4, the "
        "fewest the paper's appendix A.6 found reliable, 8 with "
        '``preset="paper"``; BBMP default 1: its mask is deterministic, '
        "more rows only average a stochastic infiller's noise).",
    )
    n_infills: int = option(
        1,
        V.check_positive_int,
        "In-fills drawn per mask sample. With more than 1, each mask is scored "
        "on that many completions and the target's probability averaged over "
        "them before its log-odds is taken: the paper's marginalisation over "
        "plausible in-fills (its Eq. 1). Needs an infiller that samples "
        "(``infiller.stochastic``, e.g. the demo's sampling in-painter); each "
        "fill is a classifier row (``n_steps * n_samples * n_infills`` per "
        "image). Default 1: one fill per mask, as in the paper's own code.",
    )
    lr: Optional[float] = option(
        None,
        optional(V.check_positive),
        "Adam learning rate, decayed linearly to 0 over ``n_steps``. Default: "
        "the paper's 0.05 at 300 steps, and for other step counts the same "
        "total step size, ``min(0.5, 15 / n_steps)`` (0.2 for 75 steps), so "
        "fewer steps still move the mask as far.",
    )
    mask_size: MaskSize = option(
        None,
        _check_mask_size,
        "Grid of the mask parameters (an int or ``(h, w)``), bilinearly "
        "upsampled to the image. Default a quarter of each side (56 for 224, "
        "as in the paper).",
    )
    feature_mask: FeatureMask = option(
        None,
        check_feature_mask,
        "Segments instead of the grid, in Captum's form: an integer tensor of "
        "segment ids >= 0 broadcastable to the input ``(N, C, H, W)`` (e.g. "
        "``(1, 1, H, W)`` shared, ``(N, 1, H, W)`` per image; ids equal "
        "across channels), a tuple of them for tuple inputs. One mask "
        "parameter per segment, sampled per segment, so maps are constant "
        "within segments; the L1 area weights each segment by its size and "
        "TV penalises differences between adjacent segments by the length of "
        "their border. Each input has its own segments. Excludes "
        "``mask_size``. Default ``None``: the grid.",
    )
    temperature: float = option(
        0.1,
        V.check_positive,
        "Concrete relaxation temperature (paper: 0.1).",
        applies_to="FIDO",
    )
    tau: float = option(
        0.5,
        V.check_unit_interval,
        "Threshold in ``[0, 1]``: mask-dependent infillers observe the mask's "
        "cells (grid cells or segments) with ``m > tau``, all of each cell's "
        "pixels (BBMP-CA; the paper sweeps 1, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1, "
        "0). Mask-independent infillers ignore it.",
        applies_to="BBMP",
    )
    l1_coeff: L1Coeff = option(
        ADAPTIVE,
        _check_l1,
        'Sparsity weight ``lambda``. Default ``"adaptive"``: a weight per '
        "image, set from ``delta``, the target's log-odds on the image minus "
        "those with the whole image in-filled (the evidence the in-filler can "
        "remove): selecting the whole input costs ``area_cost * delta``, so "
        "SSR keeps a region when the log-odds its in-fill keeps are worth "
        "more than the region's share of ``delta``, and SDR drops a region "
        "when dropping it takes away more than its share. It follows the "
        "model's logit scale and the image. A number fixes the weight as in "
        "the paper: it multiplies ``mean(mask) * 224 * 224``, so 1e-3 equals "
        "the paper's 1e-3 on the sum of a 224 x 224 mask at every resolution "
        '(``preset="paper"``: 1e-3 for FIDO, 5e-3 for BBMP, which the '
        "paper finds needs about 5 times FIDO's penalty). A fixed weight "
        "suits one logit scale only: a model with log-odds of a few units "
        "needs about 1e-4.",
    )
    area_cost: float = option(
        1.0,
        V.check_positive,
        "The adaptive weight's price of the whole input, in units of "
        "``delta``: above 1 regions must be worth more than their share of "
        "the evidence (smaller maps), below 1 less (larger maps). Ignored "
        "with a numeric ``l1_coeff``.",
    )
    tv_coeff: Optional[float] = option(
        None,
        optional(V.check_nonnegative),
        "Weight of the total-variation term (squared differences between "
        "neighbouring mask values, mean over pixels times 224 * 224). Default: "
        "the paper's 0.01 on the grid; 0 with a ``feature_mask``, whose "
        "segments already follow the image's edges (on 16 demo scenes the "
        "paper's weight on the sharp segment borders halved the share of the "
        "map on the object, ``docs/infill_baselines.md``), and on feature "
        "rows, which have no neighbours. A value given is used as it is. With "
        "the adaptive ``l1_coeff`` this is the weight for an image whose "
        "in-fill removes 50 log-odds (where the adaptive L1 weight is the "
        "paper's 1e-3), and it scales with that evidence, so TV and L1 keep "
        "the paper's ratio and the logit scale does not change the balance of "
        "the loss.",
    )
    reg_warmup_steps: Optional[int] = option(
        None,
        optional(V.check_nonnegative_int),
        "Steps over which the regularisers ramp up linearly from 0. Default "
        "a tenth of ``n_steps`` (the reference's 30 at 300 steps).",
    )
    seed: Optional[int] = option(
        None,
        _check_seed,
        "Seed of every image's random stream: the same seed gives the same "
        "map, and a batch of images gives the maps of separate calls. "
        "``None`` draws a seed from torch's global generator, so "
        "``torch.manual_seed`` before the call also makes it reproducible.",
    )
    show_progress: bool = option(False, check_flag, "Show a tqdm progress bar.")
    internal_batch_size: Optional[int] = option(
        None,
        optional(V.check_positive_int),
        "Most rows (images x samples) sent to the classifier at once; bounds "
        "peak memory without changing the map. Default: all rows in one pass.",
    )
    return_details: bool = option(
        False,
        check_flag,
        "Also return :class:`~captum_fido.MaskOptimizationDetails` (mask "
        "parameters, loss history, counterfactual samples and the "
        "classifier's confidence on them).",
    )
    n_counterfactuals: int = option(
        4, V.check_positive_int, "Counterfactual samples per image in the details."
    )
    stop_tol: Optional[float] = option(
        None,
        optional(V.check_positive),
        "Early stopping, image by image: once an image's coarse keep "
        "probabilities have moved less than ``stop_tol`` (mean absolute "
        "change) over the last ``stop_patience`` steps after the warm-up, "
        "its step size falls linearly to 0 over ``stop_patience`` more "
        "steps (the schedule's end, compressed) and it is frozen; the run "
        "ends when every image is. Each image decides alone, so a batch "
        "still gives the maps of separate calls. ``None`` runs all "
        "``n_steps``; see ``docs/performance.md``.",
    )
    stop_patience: int = option(
        10,
        V.check_positive_int,
        "Window of ``stop_tol`` and length of the cool-down, in steps.",
    )
    autocast_dtype: Optional[torch.dtype] = option(
        None,
        lambda value, name: V.check_autocast_dtype(value),
        "Run the classifier under ``torch.autocast`` with ``torch.float16`` "
        "or ``torch.bfloat16`` (mixed precision; most useful on GPUs). "
        "Scores, masks and the optimiser stay in float32.",
    )
    channels_last: bool = option(
        False,
        check_flag,
        "Hand the classifier its inputs in ``torch.channels_last`` memory "
        "format (convert the model yourself; it is never changed).",
    )
    temperature_final: Optional[float] = option(
        None,
        optional(V.check_positive),
        "Anneal the Concrete temperature geometrically from ``temperature`` "
        "at the first step to ``temperature_final`` at the last (e.g. 0.01); "
        "``None`` keeps it constant. Colder relaxed samples are closer to "
        "binary masks, so the loss approaches the expected loss over binary "
        "masks, which is multilinear in the keep probabilities and so is "
        "smallest at a binary mask: annealing drives the probabilities "
        "towards 0 and 1. Use with ``hard=True``.",
        applies_to="FIDO",
    )
    hard: bool = option(
        False,
        check_flag,
        "Return a binary map, ``{map > t}``, that still meets the objective: "
        "``t = 0.5``, the mode of the learned distribution (its single most "
        "probable mask), when the in-fill under it scores at least as well as "
        "masks drawn from the distribution (SSR: the target's mean log-odds "
        "over ``n_counterfactuals`` draws or more; SDR: or less); otherwise "
        "the next lower ``t`` of 0.4, 0.3, 0.2, 0.1, 0.05, 0.02, 0 that does "
        "(the smallest region of this map's order that is as sufficient, or "
        "as destructive, as the distribution), or the closest one. Costs "
        "``n_counterfactuals`` plus up to 8 classifier rows per image. The "
        "details report ``hard_probs`` (target probability under the binary "
        "map), ``hard_threshold`` and ``hard_met`` next to "
        "``counterfactual_probs``. Best with ``temperature_final``.",
    )
    avoid_regions: RegionMasks = option(
        None,
        check_regions,
        "Regions a new explanation should not reuse, values in ``[0, 1]`` "
        "(e.g. earlier maps; see "
        ":func:`~captum_fido.attr.alternative_explanations`): per input a "
        "tensor of the input's shape (equal across channels) or "
        "``(N, 1, H, W)``; a tuple for tuple inputs. Adds ``avoid_coeff * "
        "mean(region * avoid_regions) * 224 * 224`` to each image's loss, "
        "``region`` being the expected kept (SSR) or dropped (SDR) mask, in "
        "full from the first step (not warmed up). Default ``None``: no "
        "penalty.",
    )
    avoid_coeff: float = option(
        0.01,
        V.check_nonnegative,
        "Weight of the ``avoid_regions`` overlap penalty, on the scale of "
        "``l1_coeff`` (an avoided pixel costs ``l1_coeff + avoid_coeff`` "
        "instead of ``l1_coeff``). Ignored without ``avoid_regions``.",
    )

    def __post_init__(self) -> None:
        O.check_options(self)
        if self.mask_size is not None and self.feature_mask is not None:
            raise ValueError(
                "mask_size and feature_mask exclude each other: the mask lives "
                "either on a grid (mask_size) or on segments (feature_mask)"
            )

    def replace(self, **changes: Any) -> MaskOptions:
        r"""A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    @property
    def effective_lr(self) -> float:
        r"""``lr``, or the paper's total step size spread over ``n_steps``."""
        if self.lr is not None:
            return self.lr
        return min(0.5, PAPER_LR * PAPER_STEPS / self.n_steps)

    def effective_tv(self, on_grid: bool) -> float:
        r"""``tv_coeff``, or its default: :data:`PAPER_TV` for a mask on the
        grid (``on_grid``), 0 on segments and feature rows."""
        if self.tv_coeff is not None:
            return self.tv_coeff
        return PAPER_TV if on_grid else 0.0

    @property
    def effective_warmup(self) -> int:
        r"""``reg_warmup_steps``, or a tenth of ``n_steps`` (at least 1)."""
        if self.reg_warmup_steps is not None:
            return self.reg_warmup_steps
        return max(1, round(self.n_steps / 10))


#: FIDO's defaults (the ``"adaptive"`` preset): 72 steps of 4 samples and
#: the adaptive sparsity weight.
FIDO_DEFAULTS = MaskOptions()
#: BBMP's defaults: one deterministic mask per image needs one row per step,
#: so twice FIDO's steps stay within the same budget.
BBMP_DEFAULTS = MaskOptions(n_steps=144, n_samples=1)
#: The paper's hyper-parameters for FIDO (appendix A): 300 steps x 8 samples,
#: lr 0.05 decayed linearly, L1 1e-3 on a 224 x 224 mask, TV 0.01, warm-up 30.
FIDO_PAPER = MaskOptions(
    preset="paper", n_steps=PAPER_STEPS, n_samples=8, l1_coeff=PAPER_L1, lr=PAPER_LR
)
#: The paper's BBMP: the same schedule, one row per step and 5x FIDO's L1
#: weight (appendix A.1).
BBMP_PAPER = MaskOptions(
    preset="paper",
    n_steps=PAPER_STEPS,
    n_samples=1,
    l1_coeff=BBMP_L1_RATIO * PAPER_L1,
    lr=PAPER_LR,
)
#: Per method, each preset's defaults.
PRESETS: Dict[str, Dict[str, MaskOptions]] = {
    "FIDO": {"adaptive": FIDO_DEFAULTS, "paper": FIDO_PAPER},
    "BBMP": {"adaptive": BBMP_DEFAULTS, "paper": BBMP_PAPER},
}


def option_names() -> Tuple[str, ...]:
    r"""Every option, in declaration order."""
    return O.option_names(MaskOptions)


def method_options(method: str) -> Tuple[str, ...]:
    r"""The options a method accepts (all but the other method's own)."""
    return O.option_names(MaskOptions, method)


def options_docstring(indent: int = 12) -> str:
    r"""The ``Args`` entries of every option, from the fields' documentation."""
    return O.options_doc(MaskOptions, indent)


#: Decorator: a docstring's ``{options}`` line becomes every option's
#: ``Args`` entry, at that line's indentation.
document_options = O.document_options(MaskOptions)

# MaskOptions' own Args: the same entries, from the same fields.
document_options(MaskOptions)


def options_from_call(method: str, given: Dict[str, Any]) -> MaskOptions:
    r"""The options of one ``attribute`` call: the defaults of ``method``'s
    preset (``given["preset"]``, see :data:`PRESETS`) with the options given
    applied.

    ``None`` for an option whose default depends on the method or the preset
    keeps that default; an option of the other method raises.
    """
    preset = _check_preset(given["preset"], "preset")
    allowed = method_options(method)
    changes = {}
    for name in option_names():
        value = given[name]
        if name not in allowed:
            if value is not None:
                raise ValueError(
                    f"{name} is an option of another method; {method} does not take it"
                )
            continue
        if value is None and name in METHOD_DEFAULTED:
            continue
        changes[name] = value
    return PRESETS[method][preset].replace(**changes)


#: Options whose default depends on the method or the preset (``None`` in
#: ``attribute``'s signature means "the default"): those of one method only,
#: and those whose defaults differ between the methods or the presets.
METHOD_DEFAULTED = frozenset(
    f.name
    for f in dataclasses.fields(MaskOptions)
    if f.name != "preset"
    and f.metadata["applies_to"]
    or f.name != "preset"
    and len(
        {
            repr(getattr(options, f.name))
            for presets in PRESETS.values()
            for options in presets.values()
        }
    )
    > 1
)
