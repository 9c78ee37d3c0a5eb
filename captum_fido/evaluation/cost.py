r"""What a comparison will cost, estimated before it starts.

A comparison of every method on every image can run for hours (FIDO with a
generative in-filler costs ``n_steps x n_samples`` classifier and in-filler
rows per image). :func:`estimate_cost` times the pieces on this machine, on
one image, before the work starts:

- a mask method (FIDO, BBMP, BBMP-CA) for a few optimisation steps with its
  own in-filler, scaled to ``n_steps`` (its cost is linear in the steps);
- any other method (Captum's, or a custom :class:`MethodSpec`) explaining
  the image once;
- the scoring of one map (deletion and insertion curves under every
  evaluation in-filler, the WSL boxes and Saliency Metric);

and adds the re-explanations of the stability and randomisation checks.
Timing one image in a batch of one overestimates the per-image cost of a
larger batch a little, so the estimate errs long. :func:`run_comparison`'s
progress bar weighs its units by the same estimates, so its remaining-time
figure follows the methods' real costs as the run goes.

The timing leaves the run's numbers unchanged: it uses its own seeds, and
torch's global random state is restored afterwards.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Collection, Dict, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from captum_fido.attr import BBMP, BBMP_DEFAULTS, BBMP_L1_RATIO, FIDO, FIDO_DEFAULTS
from captum_fido.evaluation.harness import BASELINES, ComparisonSettings, EvalData
from captum_fido.evaluation.methods import MethodSpec
from captum_fido.infillers import Infiller
from captum_fido.metrics import (
    DEFAULT_ALPHAS,
    deletion_curve,
    insertion_curve,
    saliency_metric,
    salient_boxes,
)

__all__ = ["CostEstimate", "estimate_cost", "format_seconds", "MASK_FAMILIES"]

#: Families whose cost is ``n_steps`` optimisation steps per image.
MASK_FAMILIES = ("fido-ssr", "fido-sdr", "bbmp", "bbmp-ca")

#: Optimisation steps timed per mask method.
_TIMED_STEPS = 3


@dataclass(frozen=True)
class CostEstimate:
    r"""The estimated cost of a comparison on this machine.

    Attributes:
        explain_seconds: method -> seconds to explain one image.
        unit_seconds: method (and ``"baselines"``) -> seconds per image to
            explain and score it, the stability and randomisation checks
            spread over all images.
        todo: method -> images still to do (rows already written are not
            counted).
        total_seconds: The whole run's estimate.
        timing_seconds: What the timing itself took.

    Examples::

        >>> estimate = estimate_cost(model, data, specs, eval_fills, settings)
        >>> print(estimate.describe())
        estimated 31 min (29 methods x 10 images; ...)
    """

    explain_seconds: Dict[str, float]
    unit_seconds: Dict[str, float]
    todo: Dict[str, int]
    total_seconds: float
    timing_seconds: float

    def describe(self) -> str:
        r"""One line: the estimate, the work, and the slowest methods."""
        methods = [m for m in self.todo if m != "baselines"]
        images = max(self.todo.values(), default=0)
        if self.total_seconds == 0:
            return "nothing to do: every row is already written"
        slowest = sorted(methods, key=lambda m: -self.unit_seconds[m] * self.todo[m])[
            :3
        ]
        share = [
            f"{m} {self.unit_seconds[m] * self.todo[m] / self.total_seconds:.0%}"
            for m in slowest
        ]
        return (
            f"estimated {format_seconds(self.total_seconds)} "
            f"({len(methods)} methods x up to {images} images; most of it: "
            f"{', '.join(share)})"
        )


def format_seconds(seconds: float) -> str:
    r"""A duration in words: ``"40 s"``, ``"12 min"``, ``"3.5 h"``.

    Args:
        seconds (float): The duration.

    Returns:
        str

    Examples::

        >>> format_seconds(42), format_seconds(720), format_seconds(12600)
        ('42 s', '12 min', '3.5 h')
    """
    if math.isnan(seconds) or math.isinf(seconds):
        return "unknown"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _timed(fn: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def _mask_step_seconds(
    model: nn.Module,
    spec: MethodSpec,
    fill: Infiller,
    x: Tensor,
    y: Tensor,
    n_samples: Optional[int],
    l1_coeff: Optional[float],
) -> float:
    r"""Seconds per optimisation step on one image with the spec's in-filler
    (``None``: the method's default)."""
    fido = spec.family.startswith("fido")
    method = (
        FIDO(model, fill, objective=spec.family.split("-")[1])
        if fido
        else BBMP(model, fill)
    )
    options: Dict[str, object] = {"seed": 0}
    if l1_coeff is not None:
        options["l1_coeff"] = l1_coeff
    if fido and n_samples is not None:
        options["n_samples"] = n_samples
    if spec.tau is not None:
        options["tau"] = spec.tau
    seconds = _timed(
        lambda: method.attribute(x, target=y, n_steps=_TIMED_STEPS, **options)  # type: ignore[call-overload]
    )
    return seconds / _TIMED_STEPS


def _score_seconds(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eval_infillers: Mapping[str, Infiller],
    settings: ComparisonSettings,
    probabilistic: bool,
) -> float:
    r"""Seconds to score one map: the curves, then the boxes and Saliency
    Metric for each threshold the harness tries."""
    maps = torch.rand(1, *x.shape[2:], generator=torch.Generator().manual_seed(0))
    seconds = 0.0
    for fill in eval_infillers.values():
        for curve in (deletion_curve, insertion_curve):
            seconds += _timed(
                curve,
                model,
                x,
                maps,
                y,
                fill,
                settings.fractions,
                settings.output_type,
            )
    boxes = salient_boxes(maps, threshold=0.5)
    one = _timed(lambda: saliency_metric(model, x, boxes, y, settings.output_type))
    return seconds + one * (1 if probabilistic else len(DEFAULT_ALPHAS))


def _check_cost_args(
    methods: Sequence[MethodSpec],
    infillers: Optional[Mapping[str, Infiller]],
    n_steps: Optional[int],
    n_samples: Optional[int],
) -> None:
    if n_steps is not None and n_steps < 1:
        raise ValueError(f"n_steps must be at least 1, got {n_steps}")
    if n_samples is not None and n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples}")
    if infillers is not None:
        missing = {
            s.infiller
            for s in methods
            if s.family in MASK_FAMILIES and s.infiller not in infillers
        }
        if missing:
            raise ValueError(
                f"infillers has no {sorted(str(m) for m in missing)}: the mask "
                "methods' in-fillers are needed to time them"
            )


def _explain_seconds(
    model: nn.Module,
    spec: MethodSpec,
    infillers: Optional[Mapping[str, Infiller]],
    x: Tensor,
    y: Tensor,
    settings: ComparisonSettings,
    n_steps: Optional[int],
    n_samples: Optional[int],
    l1_coeff: Optional[float],
) -> float:
    r"""Seconds ``spec`` takes to explain one image: a mask method's step
    timed and scaled to its steps when its in-filler is given, otherwise one
    whole explanation timed."""
    if infillers is None or spec.family not in MASK_FAMILIES:
        return _timed(spec.explain, model, x, y, settings.seed)
    fido = spec.family.startswith("fido")
    step = _mask_step_seconds(
        model,
        spec,
        infillers[str(spec.infiller)],
        x,
        y,
        n_samples,
        l1_coeff if l1_coeff is None or fido else BBMP_L1_RATIO * l1_coeff,
    )
    defaults = FIDO_DEFAULTS if fido else BBMP_DEFAULTS
    return step * (n_steps or defaults.n_steps)


def estimate_cost(
    model: nn.Module,
    data: EvalData,
    methods: Sequence[MethodSpec],
    eval_infillers: Mapping[str, Infiller],
    settings: Optional[ComparisonSettings] = None,
    infillers: Optional[Mapping[str, Infiller]] = None,
    n_steps: Optional[int] = None,
    n_samples: Optional[int] = None,
    l1_coeff: Optional[float] = None,
    done: Collection[Tuple[int, str]] = (),
) -> CostEstimate:
    r"""Estimate what :func:`~captum_fido.evaluation.run_comparison` will cost
    on this machine by timing each piece on one image (see the module's
    description).

    Args:
        model (nn.Module): The classifier, in eval mode.
        data (EvalData): The images the run will explain.
        methods (sequence of MethodSpec): What it will run.
        eval_infillers (mapping): The in-fillers of the deletion and
            insertion curves.
        settings (ComparisonSettings, optional): The run's settings
            (default ``ComparisonSettings()``).
        infillers (mapping, optional): name -> in-filler of the mask methods
            (``MethodSpec.infiller`` names). With them a mask method is timed
            for a few steps and scaled to its steps; without them it is timed
            explaining one whole image.
        n_steps (int, optional): The mask methods' optimisation steps, as in
            the run. Default: each method's default.
        n_samples (int, optional): FIDO's mask samples per step. Default:
            FIDO's.
        l1_coeff (float, optional): A fixed FIDO sparsity weight (BBMP:
            :data:`~captum_fido.attr.BBMP_L1_RATIO` times it),
            as in the run. Default: the adaptive weight.
        done (collection of tuple, optional): ``(image id, method)`` pairs
            whose rows are already written (a resumed run): not counted.

    Returns:
        :class:`CostEstimate`

    Raises:
        ValueError: ``n_steps`` or ``n_samples`` below 1, or a mask method's
            in-filler missing from ``infillers``.

    Examples::

        >>> estimate = estimate_cost(model, data, specs, {"road": road},
        ...                          infillers=fills, n_steps=300)
        >>> estimate.total_seconds > 0
        True
    """
    settings = ComparisonSettings() if settings is None else settings
    _check_cost_args(methods, infillers, n_steps, n_samples)
    ids = [int(i) for i in data.image_ids]
    todo = {
        name: sum((i, name) not in done for i in ids)
        for name in [*(m.name for m in methods)]
    }
    todo["baselines"] = sum(any((i, b) not in done for b in BASELINES) for i in ids)
    started = time.perf_counter()
    explain: Dict[str, float] = {}
    unit: Dict[str, float] = {}
    x, y = data.images[:1], data.labels[:1]
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        # Timing runs of a few steps collapse or warn; they are not results.
        warnings.simplefilter("ignore")
        score = {
            p: _score_seconds(model, x, y, eval_infillers, settings, p)
            for p in {s.probabilistic for s in methods if todo[s.name]}
        }
        for spec in methods:
            if not todo[spec.name]:
                explain[spec.name], unit[spec.name] = 0.0, 0.0
                continue
            explain[spec.name] = _explain_seconds(
                model, spec, infillers, x, y, settings, n_steps, n_samples, l1_coeff
            )
            # Re-explained images: stability (mask methods, another seed) and
            # the two stages of the randomisation check.
            ids_todo = [i for i in ids if (i, spec.name) not in done]
            again = 2 * sum(i < settings.n_sanity for i in ids_todo)
            if spec.family != "captum":
                again += sum(i < settings.n_stability for i in ids_todo)
            per_image = explain[spec.name] + score[spec.probabilistic]
            unit[spec.name] = per_image + explain[spec.name] * again / len(ids_todo)
        # The baselines: two boxes, one Saliency Metric pass each.
        boxes = salient_boxes(torch.ones(1, *x.shape[2:]), threshold=0.5)
        unit["baselines"] = 2 * _timed(
            lambda: saliency_metric(model, x, boxes, y, settings.output_type)
        )
    total = sum(unit[name] * n for name, n in todo.items())
    return CostEstimate(
        explain_seconds=explain,
        unit_seconds=unit,
        todo=todo,
        total_seconds=total,
        timing_seconds=time.perf_counter() - started,
    )
