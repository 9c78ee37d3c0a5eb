r"""The Captum-facing base class shared by FIDO and BBMP: one ``attribute``."""

from __future__ import annotations

import inspect
from abc import abstractmethod
from typing import Any, Callable, Literal, Optional, Tuple, Union, overload

import torch
from captum.attr import PerturbationAttribution
from captum.log import log_usage
from torch import Tensor

from captum_fido._utils import validation as V
from captum_fido._utils.captum_compat import (
    TargetType,
    TensorOrTupleOfTensorsGeneric,
    format_additional_forward_args,
    format_output,
    format_tensor_into_tuples,
    is_tuple,
)
from captum_fido._utils.futures import SynchronousFutureMixin
from captum_fido._utils.model_state import (
    check_autograd_usable,
    preserve_module_state,
)
from captum_fido._utils.scores import (
    check_model_output,
    check_output_type,
    is_single_output,
    log_odds,
    num_classes,
)
from captum_fido._utils.segments import segment_index
from captum_fido.attr._collapse import warn_if_collapsed
from captum_fido.attr._details import MaskOptimizationDetails
from captum_fido.attr._loop import optimize_masks
from captum_fido.attr._masks import (
    GridLayout,
    MaskDistribution,
    MaskLayout,
    SegmentLayout,
)
from captum_fido.attr._options import (
    FeatureMask,
    L1Coeff,
    MaskOptions,
    MaskSize,
    RegionMasks,
    document_options,
    options_from_call,
    resolve_regions,
)
from captum_fido.attr._problem import MaskProblem, with_reference_log_odds
from captum_fido.attr._tabular import tabular_view
from captum_fido.infillers import Infiller, as_infiller

__all__ = ["MaskAttribution"]

#: Defaults shared by both methods are read from the one declaration.
_D = MaskOptions


class MaskAttribution(SynchronousFutureMixin, PerturbationAttribution):
    r"""Saliency by optimising a distribution over keep-masks with in-filling.

    Not used directly: :class:`~captum_fido.FIDO` and :class:`~captum_fido.BBMP`
    choose the mask distribution and their defaults. Both run the same loop
    (:func:`captum_fido.attr._loop.optimize_masks`).
    """

    #: Objectives this method accepts.
    objectives: Tuple[str, ...] = ("ssr", "sdr")
    #: The method's name (``applies_to`` of its own options) and defaults.
    method_name: str = ""
    defaults: MaskOptions = MaskOptions()

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        infiller: Union[Infiller, Callable[..., Tensor]],
        objective: str = "ssr",
        output_type: str = "logits",
    ) -> None:
        V.check_callable(forward_func, "forward_func")
        if not isinstance(objective, str) or objective.lower() not in self.objectives:
            raise ValueError(
                f"objective must be one of {self.objectives}, got {objective!r}"
            )
        check_output_type(output_type)
        PerturbationAttribution.__init__(self, forward_func)
        self.infiller = as_infiller(infiller)
        self.objective = objective.lower()
        self.output_type = output_type

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    def display_name(self) -> str:
        r"""The method as the user created it, for messages: the class name,
        with the objective when the class does not fix it and it is not the
        class's default (``FIDO``, ``FIDO(objective='sdr')``, ``FIDOSSR``)."""
        name = type(self).__name__
        default = inspect.signature(type(self).__init__).parameters.get("objective")
        if default is None or default.default == self.objective:
            return name
        return f"{name}(objective={self.objective!r})"

    @abstractmethod
    def mask_distribution(self, options: MaskOptions) -> MaskDistribution:
        r"""The method's distribution over keep-masks (its only difference)."""

    @overload
    def attribute(
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        preset: str = ...,
        n_steps: Optional[int] = ...,
        n_samples: Optional[int] = ...,
        n_infills: int = ...,
        lr: Optional[float] = ...,
        mask_size: MaskSize = ...,
        feature_mask: FeatureMask = ...,
        temperature: Optional[float] = ...,
        tau: Optional[float] = ...,
        l1_coeff: Optional[L1Coeff] = ...,
        area_cost: float = ...,
        tv_coeff: Optional[float] = ...,
        reg_warmup_steps: Optional[int] = ...,
        seed: Optional[int] = ...,
        show_progress: bool = ...,
        internal_batch_size: Optional[int] = ...,
        return_details: Literal[False] = ...,
        n_counterfactuals: int = ...,
        stop_tol: Optional[float] = ...,
        stop_patience: int = ...,
        autocast_dtype: Optional[torch.dtype] = ...,
        channels_last: bool = ...,
        temperature_final: Optional[float] = ...,
        hard: bool = ...,
        avoid_regions: RegionMasks = ...,
        avoid_coeff: float = ...,
    ) -> TensorOrTupleOfTensorsGeneric: ...

    @overload
    def attribute(
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        preset: str = ...,
        n_steps: Optional[int] = ...,
        n_samples: Optional[int] = ...,
        n_infills: int = ...,
        lr: Optional[float] = ...,
        mask_size: MaskSize = ...,
        feature_mask: FeatureMask = ...,
        temperature: Optional[float] = ...,
        tau: Optional[float] = ...,
        l1_coeff: Optional[L1Coeff] = ...,
        area_cost: float = ...,
        tv_coeff: Optional[float] = ...,
        reg_warmup_steps: Optional[int] = ...,
        seed: Optional[int] = ...,
        show_progress: bool = ...,
        internal_batch_size: Optional[int] = ...,
        return_details: Literal[True],
        n_counterfactuals: int = ...,
        stop_tol: Optional[float] = ...,
        stop_patience: int = ...,
        autocast_dtype: Optional[torch.dtype] = ...,
        channels_last: bool = ...,
        temperature_final: Optional[float] = ...,
        hard: bool = ...,
        avoid_regions: RegionMasks = ...,
        avoid_coeff: float = ...,
    ) -> Tuple[TensorOrTupleOfTensorsGeneric, MaskOptimizationDetails]: ...

    @log_usage()
    @document_options
    def attribute(
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        preset: str = _D.preset,
        n_steps: Optional[int] = None,
        n_samples: Optional[int] = None,
        n_infills: int = _D.n_infills,
        lr: Optional[float] = _D.lr,
        mask_size: MaskSize = _D.mask_size,
        feature_mask: FeatureMask = _D.feature_mask,
        temperature: Optional[float] = None,
        tau: Optional[float] = None,
        l1_coeff: Optional[L1Coeff] = None,
        area_cost: float = _D.area_cost,
        tv_coeff: Optional[float] = _D.tv_coeff,
        reg_warmup_steps: Optional[int] = _D.reg_warmup_steps,
        seed: Optional[int] = _D.seed,
        show_progress: bool = _D.show_progress,
        internal_batch_size: Optional[int] = _D.internal_batch_size,
        return_details: bool = _D.return_details,
        n_counterfactuals: int = _D.n_counterfactuals,
        stop_tol: Optional[float] = _D.stop_tol,
        stop_patience: int = _D.stop_patience,
        autocast_dtype: Optional[torch.dtype] = _D.autocast_dtype,
        channels_last: bool = _D.channels_last,
        temperature_final: Optional[float] = None,
        hard: bool = _D.hard,
        avoid_regions: RegionMasks = _D.avoid_regions,
        avoid_coeff: float = _D.avoid_coeff,
    ) -> Union[
        TensorOrTupleOfTensorsGeneric,
        Tuple[TensorOrTupleOfTensorsGeneric, MaskOptimizationDetails],
    ]:
        r"""Optimise a keep-mask distribution per image and return its mean.

        Args:
            inputs (Tensor or tuple[Tensor, ...]): Images ``(N, C, H, W)``,
                finite floats, in the classifier's input space. With a tuple,
                each tensor gets its own mask and all share ``N``. Or feature
                rows ``(N, F)`` of a tabular classifier, with a tabular
                infiller: one mask parameter per feature (or per
                ``feature_mask`` group), no total variation
                (``docs/tabular.md``).
            target (int, list, or Tensor): The class to explain: one int for
                all images, or ``N`` of them as a list or tensor. Required
                unless the model has a single binary output (then class 1).
            additional_forward_args (Any, optional): Extra arguments passed to
                ``forward_func`` after the inputs. Tensors are split per image
                and need ``N`` rows.
            {options}

        Options given as ``None`` where the default depends on the method or
        the preset (``n_steps``, ``n_samples``, ``lr``, ``l1_coeff``,
        ``temperature``, ``tau``, ``temperature_final``) take that default
        (:data:`~captum_fido.attr.FIDO_DEFAULTS`,
        :data:`~captum_fido.attr.BBMP_DEFAULTS`, or with ``preset="paper"``
        :data:`~captum_fido.attr.FIDO_PAPER`,
        :data:`~captum_fido.attr.BBMP_PAPER`).

        Returns:
            *Tensor* or *tuple[Tensor, ...]* of **attributions**, exactly the
            inputs' shapes, values in ``[0, 1]``, identical across channels
            (SSR: keep probability, SDR: drop probability; higher = more
            important); followed by the details when ``return_details=True``.

        Raises:
            TypeError, ValueError: for malformed inputs, targets or options,
                before any optimisation step.

        Examples::

            >>> fido = FIDO(model, BlurInfiller(sigma=10.0))
            >>> attr = fido.attribute(images, target=labels, seed=0)
            >>> attr, details = fido.attribute(
            ...     images, target=labels, n_steps=100, return_details=True
            ... )
        """
        # Every option, by name (options_from_call reads each one).
        given = {
            "preset": preset,
            "n_steps": n_steps,
            "n_samples": n_samples,
            "n_infills": n_infills,
            "lr": lr,
            "mask_size": mask_size,
            "feature_mask": feature_mask,
            "temperature": temperature,
            "tau": tau,
            "l1_coeff": l1_coeff,
            "area_cost": area_cost,
            "tv_coeff": tv_coeff,
            "reg_warmup_steps": reg_warmup_steps,
            "seed": seed,
            "show_progress": show_progress,
            "internal_batch_size": internal_batch_size,
            "return_details": return_details,
            "n_counterfactuals": n_counterfactuals,
            "stop_tol": stop_tol,
            "stop_patience": stop_patience,
            "autocast_dtype": autocast_dtype,
            "channels_last": channels_last,
            "temperature_final": temperature_final,
            "hard": hard,
            "avoid_regions": avoid_regions,
            "avoid_coeff": avoid_coeff,
        }
        options = options_from_call(self.method_name, given)
        return self._attribute(inputs, target, additional_forward_args, options)

    def _attribute(
        self,
        inputs: Any,
        target: Any,
        additional_forward_args: Any,
        options: MaskOptions,
    ) -> Any:
        check_autograd_usable(
            f"{type(self).__name__}.attribute", inputs, self.forward_func
        )
        if not isinstance(inputs, (Tensor, tuple)):
            raise TypeError(
                "inputs must be a tensor or a tuple of tensors, "
                f"got {type(inputs).__name__}"
            )
        inputs_tuple = V.check_inputs(
            format_tensor_into_tuples(inputs), allow_tabular=True
        )
        tabular = tabular_view(inputs_tuple, self.infiller, options)
        options = options if tabular is None else tabular.options
        _check_infills(options.n_infills, self.infiller)
        n, device = inputs_tuple[0].shape[0], inputs_tuple[0].device
        targets = V.check_targets(target, n, device)
        args = format_additional_forward_args(additional_forward_args)
        V.check_additional_forward_args(args, n)
        layouts = _layouts(inputs_tuple, options) if tabular is None else ()
        avoid = resolve_regions(options.avoid_regions, inputs_tuple, "avoid_regions")
        seed = _resolve_seed(options.seed)
        distribution = self.mask_distribution(options)
        with torch.enable_grad(), preserve_module_state(self.forward_func):
            targets, clean = self._clean_log_odds(inputs_tuple, targets, args)
            problem = MaskProblem(
                forward_func=self.forward_func,
                inputs=tuple(x.detach() for x in inputs_tuple),
                target=targets,
                additional_forward_args=args,
                infiller=self.infiller,
                output_type=self.output_type,
                objective=self.objective,
                layouts=layouts,
                seed=seed,
                clean_log_odds=clean,
                avoid=avoid,
            )
            if tabular is not None:
                problem = tabular.loop_problem(problem)
            problem = with_reference_log_odds(problem)
            importance, details = optimize_masks(problem, distribution, options)
            warn_if_collapsed(problem, importance, options, self.display_name())
        if tabular is not None:
            importance, details = tabular.rows(importance), tabular.details(details)
        attributions = tuple(
            imp.expand_as(x).to(x.dtype).contiguous()
            for imp, x in zip(importance, inputs_tuple)
        )
        formatted = format_output(is_tuple(inputs), attributions)
        return (formatted, details) if options.return_details else formatted

    def _clean_log_odds(
        self,
        inputs: Tuple[Tensor, ...],
        targets: Optional[Tensor],
        args: Optional[Tuple[Any, ...]],
    ) -> Tuple[Tensor, Tensor]:
        r"""Check the model's output on the clean inputs (one pass) and the
        targets against it; return the targets and their clean log-odds."""
        n = inputs[0].shape[0]
        with torch.no_grad():
            output = check_model_output(
                self.forward_func(*inputs, *(args or ())), n, self.output_type
            )
        n_classes = num_classes(output)
        if targets is None:
            if not is_single_output(output):
                raise ValueError(
                    f"target is required: the model has {n_classes} classes; "
                    "give the class to explain (an int, a list of ints or a "
                    "tensor of N class indices)"
                )
            # A one-output binary model: explain its positive class.
            targets = torch.ones(n, dtype=torch.long, device=inputs[0].device)
        V.check_targets_in_range(targets, n_classes)
        return targets, log_odds(output, targets, self.output_type)


def _layouts(
    inputs: Tuple[Tensor, ...], options: MaskOptions
) -> Tuple[MaskLayout, ...]:
    r"""Where each input's mask parameters live: the ``mask_size`` grid, or
    one parameter per segment of its ``feature_mask``."""
    single = len(inputs) == 1
    masks = options.feature_mask
    if masks is None:
        return tuple(
            GridLayout(
                V.resolve_mask_size(
                    options.mask_size,
                    x.shape[2],
                    x.shape[3],
                    "mask_size" if single else f"mask_size (inputs[{i}])",
                ),
                (int(x.shape[2]), int(x.shape[3])),
            )
            for i, x in enumerate(inputs)
        )
    if isinstance(masks, Tensor):
        if not single:
            raise TypeError(
                f"feature_mask must be a tuple of {len(inputs)} tensors, one per "
                "input, when inputs is a tuple"
            )
    return tuple(
        SegmentLayout(*segment_index(m, x, label))
        for label, m, x in V.per_input(masks, inputs, "feature_mask", "masks")
    )


def _resolve_seed(seed: Optional[int]) -> int:
    r"""A given seed is used as is; ``None`` draws one from torch's global RNG,
    so ``torch.manual_seed`` before the call also makes the run reproducible."""
    if seed is None:
        return int(torch.randint(0, 2**62, (1,)).item())
    return seed


def _check_infills(n_infills: int, infiller: Infiller) -> None:
    r"""Several fills per mask only differ when the infiller samples."""
    if n_infills > 1 and not infiller.stochastic:
        raise ValueError(
            f"n_infills={n_infills} needs an infiller that samples "
            f"(infiller.stochastic); {type(infiller).__name__} gives the same "
            "fill every time, so every fill of a mask would be identical. Use "
            "n_infills=1 or a sampling infiller."
        )
