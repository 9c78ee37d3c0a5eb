r"""Amortised FIDO: a network trained once on FIDO's objective, one pass a map.

Per-image FIDO optimises a mask distribution for every image (hundreds of
classifier passes). Following Dabkowski & Gal (2017), :class:`MaskExplainerNet`
maps an image and a target class to the logits of FIDO's keep-mask
distribution on the coarse grid, and :func:`train_explainer` fits it on a data
set with FIDO's own loss: the same relaxed Bernoulli samples, in-fill,
log-odds, L1 and TV terms with the same normalisation. The loss is not
re-implemented here: each batch builds the loop's :class:`MaskProblem` and
:class:`_Run`, and the run's own :meth:`_Run.backward_loss` (the same call
every per-image step makes) back-propagates the loss of the network's keep
probabilities into the network's parameters.

:class:`AmortisedFIDO` is the Captum attribution: one explainer pass per map,
no classifier pass; optionally a few per-image FIDO steps started from the
amortised mask (``refine_steps``), through :class:`~captum_fido.FIDO` itself
with a warm-started :class:`RelaxedBernoulliMask`.

One concern a module: the network in :mod:`._explainer_net`, its training in
:mod:`._explainer_training`, the warm start in :mod:`._warm_start`, and the
attribution class here (which also re-exports the others' public names).
"""

from __future__ import annotations

from typing import Any, Callable, Tuple, Union

import torch
from captum.attr import PerturbationAttribution
from captum.log import log_usage
from torch import Tensor

from captum_fido._utils import validation as V
from captum_fido._utils.captum_compat import (
    TargetType,
    TensorOrTupleOfTensorsGeneric,
    format_output,
    format_tensor_into_tuples,
    is_tuple,
)
from captum_fido._utils.futures import SynchronousFutureMixin
from captum_fido._utils.model_state import check_autograd_usable
from captum_fido._utils.scores import check_output_type
from captum_fido.attr._explainer_net import MaskExplainerNet, check_image_size
from captum_fido.attr._explainer_training import ExplainerTraining, train_explainer
from captum_fido.attr._masks import upsample
from captum_fido.attr._warm_start import WarmStartFIDO, WarmStartMask
from captum_fido.infillers import Infiller, as_infiller

__all__ = [
    "MaskExplainerNet",
    "AmortisedFIDO",
    "ExplainerTraining",
    "train_explainer",
    "WarmStartMask",
]

InfillerLike = Union[Infiller, Callable[..., Tensor]]

#: The objective options an explainer is trained with and refinement reuses.
OBJECTIVE_OPTIONS = ("n_samples", "l1_coeff", "tv_coeff", "temperature")


class AmortisedFIDO(SynchronousFutureMixin, PerturbationAttribution):
    r"""FIDO maps from a trained explainer network: one explainer pass per
    map and no classifier pass; optionally refined per image by a few FIDO
    steps started from the amortised mask.

    The explainer (:class:`MaskExplainerNet`, trained by
    :func:`train_explainer` for *this* classifier, objective and in-filler)
    gives the keep-mask logits on FIDO's grid; the map is the expected mask
    upsampled to the image, as :class:`~captum_fido.FIDO` returns it. The
    amortised map does not look at the classifier, so it only explains the
    classifier the explainer was trained on (a model-randomisation check
    leaves it unchanged); refinement does use the classifier.

    Args:
        forward_func (Callable or nn.Module): The classifier the explainer
            was trained for (used by refinement only; never modified).
        explainer (MaskExplainerNet): The trained network; its objective and
            objective options are used for refinement.
        infiller (Infiller or callable): The in-filler of refinement (the
            one the explainer was trained with).
        output_type (str, optional): What ``forward_func`` returns:
            ``"logits"`` (default), ``"probs"`` or ``"log_probs"``.

    Examples::

        >>> from captum_fido.demo.pretrained import load_explainer
        >>> explainer = load_explainer()
        >>> amortised = AmortisedFIDO(model, explainer, BlurInfiller(2.86))
        >>> maps = amortised.attribute(images, target=labels)
        >>> refined = amortised.attribute(images, target=labels, refine_steps=8)
    """

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        explainer: MaskExplainerNet,
        infiller: InfillerLike,
        output_type: str = "logits",
    ) -> None:
        V.check_callable(forward_func, "forward_func")
        if not isinstance(explainer, MaskExplainerNet):
            raise TypeError(
                f"explainer must be a MaskExplainerNet, got {type(explainer).__name__}"
            )
        check_output_type(output_type)
        PerturbationAttribution.__init__(self, forward_func)
        self.explainer = explainer
        self.infiller = as_infiller(infiller)
        self.output_type = output_type

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    @log_usage()
    def attribute(  # type: ignore[override]
        self,
        inputs: TensorOrTupleOfTensorsGeneric,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        refine_steps: int = 0,
        **refine_options: Any,
    ) -> TensorOrTupleOfTensorsGeneric:
        r"""The amortised FIDO maps, optionally refined per image.

        Args:
            inputs (Tensor or 1-tuple of Tensor): Images ``(N, C, H, W)`` in
                the classifier's input space.
            target (int, list, or Tensor): The class to explain: one int, or
                ``N`` of them. Required (the explainer is class-conditioned).
            additional_forward_args (Any, optional): Extra classifier
                arguments (refinement only).
            refine_steps (int, optional): FIDO steps per image started from
                the amortised mask; 0 (default) returns the amortised map
                (no classifier pass).
            **refine_options: Options of :meth:`captum_fido.FIDO.attribute`
                for the refinement (``seed``, ``lr``, ``n_samples``,
                ``show_progress``, ...). By default the objective options
                are those the explainer was trained with, and the
                regularisers are at full weight from the first step
                (``reg_warmup_steps=0``: the amortised mask is already
                past the warm-up). ``mask_size`` is the explainer's grid.

        Returns:
            *Tensor* or *1-tuple of Tensor* of **attributions**, the inputs'
            shape, values in ``[0, 1]``, equal across channels (SSR: keep
            probability, SDR: drop probability; higher = more important).

        Raises:
            TypeError, ValueError: for malformed inputs, targets or options,
                before any explainer or classifier pass.

        Examples::

            >>> maps = AmortisedFIDO(model, net, fill).attribute(x, target=y)
            >>> refined = AmortisedFIDO(model, net, fill).attribute(
            ...     x, target=y, refine_steps=8, seed=0
            ... )
        """
        x, targets = self._check(inputs, target, refine_steps, refine_options)
        with torch.no_grad():
            logits = self.explainer(x, targets)
        if refine_steps == 0:
            keep = torch.sigmoid(logits)
            keep = upsample(keep, (int(x.shape[2]), int(x.shape[3])))
            importance = keep if self.explainer.objective == "ssr" else 1.0 - keep
            maps = importance.clamp(0, 1).expand_as(x).to(x.dtype).contiguous()
        else:
            maps = self._refine(
                x,
                targets,
                additional_forward_args,
                logits,
                refine_steps,
                refine_options,
            )
        return format_output(is_tuple(inputs), (maps,))

    def _check(
        self, inputs: Any, target: Any, refine_steps: Any, refine_options: Any
    ) -> Tuple[Tensor, Tensor]:
        if not isinstance(inputs, (Tensor, tuple)):
            raise TypeError(
                "inputs must be a tensor or a 1-tuple of tensors, "
                f"got {type(inputs).__name__}"
            )
        inputs_tuple = V.check_inputs(format_tensor_into_tuples(inputs))
        if len(inputs_tuple) != 1:
            raise ValueError(
                f"inputs must be one image tensor; got a tuple of {len(inputs_tuple)}"
            )
        x = inputs_tuple[0]
        if x.shape[1] != self.explainer.in_channels:
            raise ValueError(
                f"inputs must have {self.explainer.in_channels} channels (the "
                f"explainer's), got {x.shape[1]}"
            )
        check_image_size(self.explainer, x, "inputs")
        if refine_steps:
            check_autograd_usable(
                "AmortisedFIDO.attribute with refine_steps", x, self.forward_func
            )
        targets = V.check_targets(target, x.shape[0], x.device)
        if targets is None:
            raise ValueError(
                "target is required: the explainer is class-conditioned; give "
                "an int, a list of ints or a tensor of N class indices"
            )
        V.check_targets_in_range(targets, self.explainer.n_classes)
        V.check_nonnegative_int(refine_steps, "refine_steps")
        for name in ("mask_size", "feature_mask", "n_steps"):
            if name in refine_options:
                raise ValueError(
                    f"{name} is set by the amortised explainer (refine_steps for "
                    "n_steps); it cannot be given"
                )
        if refine_options and refine_steps == 0:
            raise ValueError(
                f"refinement options {sorted(refine_options)} need refine_steps >= 1"
            )
        return x.detach(), targets

    def _refine(
        self,
        x: Tensor,
        targets: Tensor,
        additional_forward_args: Any,
        logits: Tensor,
        refine_steps: int,
        refine_options: Any,
    ) -> Tensor:
        r"""Per-image FIDO from the amortised logits, through FIDO itself."""
        trained = self.explainer.options
        options = {name: getattr(trained, name) for name in OBJECTIVE_OPTIONS}
        options.update(reg_warmup_steps=0, mask_size=tuple(logits.shape[-2:]))
        options.update(refine_options)
        fido = WarmStartFIDO(
            self.forward_func,
            self.infiller,
            self.explainer.objective,
            self.output_type,
            logits,
        )
        return fido.attribute(  # type: ignore[call-overload]
            x,
            target=targets,
            additional_forward_args=additional_forward_args,
            n_steps=refine_steps,
            **options,
        )
