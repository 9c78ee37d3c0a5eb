r"""The Captum-facing base class shared by FIDO and BBMP."""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple, Union

import torch
from captum.attr import PerturbationAttribution
from torch import Tensor

from captum_fido._utils import validation as V
from captum_fido._utils.captum_compat import (
    format_additional_forward_args,
    format_output,
    format_tensor_into_tuples,
    is_tuple,
)
from captum_fido._utils.model_state import preserve_module_state
from captum_fido._utils.scores import (
    OUTPUT_TYPES,
    check_model_output,
    is_single_output,
    log_odds,
    num_classes,
)
from captum_fido.attr._details import MaskOptimizationDetails
from captum_fido.attr._loop import LoopConfig, optimize_masks
from captum_fido.attr._masks import MaskDistribution

__all__ = ["MaskAttribution"]

MaskSize = Union[None, int, Tuple[int, int]]


def _check_infiller(infiller: Any) -> None:
    if not callable(infiller):
        raise TypeError(
            "infiller must be an Infiller (or a callable infiller(x, keep_mask)), "
            f"got {type(infiller).__name__}"
        )


class MaskAttribution(PerturbationAttribution):
    r"""Saliency by optimising a distribution over keep-masks with in-filling.

    Not used directly: :class:`~captum_fido.FIDO` and :class:`~captum_fido.BBMP`
    choose the mask distribution. Both run the same loop
    (:func:`captum_fido.attr._loop.optimize_masks`).
    """

    #: Objectives this method accepts.
    objectives: Tuple[str, ...] = ("ssr", "sdr")

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        infiller: Callable[..., Tensor],
        objective: str = "ssr",
        output_type: str = "logits",
    ) -> None:
        if not callable(forward_func):
            raise TypeError(
                f"forward_func must be callable, got {type(forward_func).__name__}"
            )
        _check_infiller(infiller)
        if objective not in self.objectives:
            raise ValueError(
                f"objective must be one of {self.objectives}, got {objective!r}"
            )
        if output_type not in OUTPUT_TYPES:
            raise ValueError(
                f"output_type must be one of {OUTPUT_TYPES}, got {output_type!r}"
            )
        PerturbationAttribution.__init__(self, forward_func)
        self.infiller = infiller
        self.objective = objective
        self.output_type = output_type

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    def attribute_future(self) -> None:
        # Captum's optional asynchronous API: an iterative optimisation has
        # no future to hand back.
        hint = f"{type(self).__name__} optimises iteratively; call attribute() instead"
        raise NotImplementedError(f"attribute_future is not supported: {hint}")

    def _run(
        self,
        distribution: MaskDistribution,
        inputs: Union[Tensor, Tuple[Tensor, ...]],
        target: Any,
        additional_forward_args: Any,
        *,
        n_steps: int,
        batch_size: int,
        lr: Optional[float],
        mask_size: MaskSize,
        l1_coeff: float,
        tv_coeff: float,
        reg_warmup_steps: Optional[int],
        seed: Optional[int],
        show_progress: bool,
        max_batch_size: Optional[int],
        return_details: bool,
        n_counterfactuals: int,
        stop_tol: Optional[float],
        stop_patience: int,
        autocast_dtype: Optional[torch.dtype],
        channels_last: bool,
    ) -> Union[
        Tensor,
        Tuple[Tensor, ...],
        Tuple[Union[Tensor, Tuple[Tensor, ...]], MaskOptimizationDetails],
    ]:
        if not isinstance(inputs, (Tensor, tuple)):
            raise TypeError(
                "inputs must be a tensor or a tuple of tensors, "
                f"got {type(inputs).__name__}"
            )
        input_is_tuple = is_tuple(inputs)
        inputs_tuple = V.check_inputs(format_tensor_into_tuples(inputs))
        n = inputs_tuple[0].shape[0]
        device = inputs_tuple[0].device
        targets = V.check_targets(target, n, device)
        args = format_additional_forward_args(additional_forward_args)
        V.check_additional_forward_args(args, n)
        config = LoopConfig(
            objective=self.objective,
            n_steps=V.check_positive_int(n_steps, "n_steps"),
            batch_size=V.check_positive_int(batch_size, "batch_size"),
            lr=_default_lr(n_steps) if lr is None else V.check_positive(lr, "lr"),
            l1_coeff=V.check_nonnegative(l1_coeff, "l1_coeff"),
            tv_coeff=V.check_nonnegative(tv_coeff, "tv_coeff"),
            reg_warmup_steps=(
                _default_warmup(n_steps)
                if reg_warmup_steps is None
                else V.check_nonnegative_int(reg_warmup_steps, "reg_warmup_steps")
            ),
            grids=tuple(
                V.resolve_mask_size(
                    mask_size,
                    x.shape[2],
                    x.shape[3],
                    "mask_size"
                    if len(inputs_tuple) == 1
                    else f"mask_size (inputs[{i}])",
                )
                for i, x in enumerate(inputs_tuple)
            ),
            seed=_resolve_seed(seed),
            output_type=self.output_type,
            show_progress=bool(show_progress),
            max_batch_size=(
                None
                if max_batch_size is None
                else V.check_positive_int(max_batch_size, "max_batch_size")
            ),
            n_counterfactuals=V.check_positive_int(
                n_counterfactuals, "n_counterfactuals"
            ),
            return_details=bool(return_details),
            stop_tol=None
            if stop_tol is None
            else V.check_positive(stop_tol, "stop_tol"),
            stop_patience=V.check_positive_int(stop_patience, "stop_patience"),
            autocast_dtype=V.check_autocast_dtype(autocast_dtype),
            channels_last=bool(channels_last),
        )
        _check_infiller(self.infiller)

        with torch.enable_grad(), preserve_module_state(self.forward_func):
            with torch.no_grad():
                output = check_model_output(
                    self.forward_func(*inputs_tuple, *(args or ())), n, self.output_type
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
                targets = torch.ones(n, dtype=torch.long, device=device)
            V.check_targets_in_range(targets, n_classes)
            clean = log_odds(output, targets, self.output_type)
            del output
            importance, details = optimize_masks(
                self.forward_func,
                inputs_tuple,
                targets,
                args,
                self.infiller,
                distribution,
                config,
                clean,
            )
        attributions = tuple(
            imp.expand_as(x).to(x.dtype).contiguous()
            for imp, x in zip(importance, inputs_tuple)
        )
        formatted = format_output(input_is_tuple, attributions)
        if return_details:
            assert details is not None
            return formatted, details
        return formatted


#: The paper's schedule: lr 0.05 decayed linearly to 0 over 300 steps.
PAPER_LR, PAPER_STEPS = 0.05, 300


def _default_lr(n_steps: int) -> float:
    r"""The paper's 0.05 at 300 steps; for other step counts the same total
    step size (``0.05 * 300 / n_steps``), capped at 0.5, so a shorter run can
    move the mask as far as the paper's."""
    return min(0.5, PAPER_LR * PAPER_STEPS / max(1, int(n_steps)))


def _default_warmup(n_steps: int) -> int:
    r"""The paper's 30 warm-up steps at 300 steps: a tenth of the run."""
    return max(1, round(int(n_steps) / 10))


def _resolve_seed(seed: Optional[int]) -> int:
    r"""A given seed is used as is; ``None`` draws one from torch's global RNG,
    so ``torch.manual_seed`` before the call also makes the run reproducible."""
    if seed is None:
        return int(torch.randint(0, 2**62, (1,)).item())
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return seed
