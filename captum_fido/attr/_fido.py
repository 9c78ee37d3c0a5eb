r"""FIDO: Fill-In the DropOut region (Chang et al., ICLR 2019)."""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple, Union

import torch
from captum.log import log_usage
from torch import Tensor

from captum_fido._utils import validation as V
from captum_fido._utils.captum_compat import TargetType
from captum_fido.attr._base import MaskAttribution, MaskSize
from captum_fido.attr._details import MaskOptimizationDetails
from captum_fido.attr._masks import RelaxedBernoulliMask

__all__ = ["FIDO", "FIDOSSR", "FIDOSDR"]

AttributionResult = Union[
    Tensor,
    Tuple[Tensor, ...],
    Tuple[Union[Tensor, Tuple[Tensor, ...]], MaskOptimizationDetails],
]


class FIDO(MaskAttribution):
    r"""Counterfactual saliency by optimising Bernoulli dropout with in-filling.

    FIDO learns, for each image, a factorised Bernoulli distribution over
    keep-masks on a coarse grid. Dropped pixels are replaced by an
    *infiller* (ideally a generative in-painter) so the classifier sees
    plausible counterfactual images rather than grey holes:

    - ``objective="ssr"`` (smallest sufficient region, the paper's preferred
      objective) minimises ``E[-s(phi(x, z))] + l1 * keep area``: the map is
      the probability of *keeping* each pixel.
    - ``objective="sdr"`` (smallest deletion region) minimises
      ``E[s(phi(x, z))] + l1 * drop area``: the map is the probability of
      *dropping* each pixel.

    ``s`` is the target's log-odds. Either way, higher = more important, and
    the returned map is the expected mask (the bilinearly upsampled
    probabilities), not a sample.

    Args:
        forward_func (Callable or torch.nn.Module): The classifier. It must
            return ``(N, C)`` scores or ``(N,)`` / ``(N, 1)`` for a one-output
            binary model. It is never modified: parameters, gradients,
            ``requires_grad`` flags, train/eval mode and buffers are unchanged
            afterwards.
        infiller (Infiller): What replaces the dropped pixels, e.g.
            :class:`~captum_fido.infillers.BlurInfiller` or a learned
            in-painter.
        objective (str, optional): ``"ssr"`` (default) or ``"sdr"``.
        output_type (str, optional): What ``forward_func`` returns:
            ``"logits"`` (default), ``"probs"`` or ``"log_probs"``. Never
            guessed from the values.

    Examples::

        >>> from captum_fido import FIDO
        >>> from captum_fido.infillers import BlurInfiller
        >>> fido = FIDO(model, BlurInfiller(sigma=10.0), objective="ssr")
        >>> attr = fido.attribute(images, target=labels, seed=0)
        >>> attr.shape == images.shape
        True
    """

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        infiller: Callable[..., Tensor],
        objective: str = "ssr",
        output_type: str = "logits",
    ) -> None:
        super().__init__(forward_func, infiller, objective, output_type)

    @log_usage()
    def attribute(
        self,
        inputs: Union[Tensor, Tuple[Tensor, ...]],
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        n_steps: int = 300,
        batch_size: int = 8,
        lr: Optional[float] = None,
        mask_size: MaskSize = None,
        temperature: float = 0.1,
        l1_coeff: float = 1e-3,
        tv_coeff: float = 0.01,
        reg_warmup_steps: Optional[int] = None,
        seed: Optional[int] = None,
        show_progress: bool = False,
        max_batch_size: Optional[int] = None,
        return_details: bool = False,
        n_counterfactuals: int = 4,
        stop_tol: Optional[float] = None,
        stop_patience: int = 10,
        autocast_dtype: Optional[torch.dtype] = None,
        channels_last: bool = False,
    ) -> AttributionResult:
        r"""Optimise a keep-mask distribution per image and return its mean.

        Args:
            inputs (Tensor or tuple[Tensor, ...]): Images ``(N, C, H, W)``,
                finite floats, in the classifier's input space. With a tuple,
                each tensor gets its own mask and all share ``N``.
            target (int, list, or Tensor): The class to explain: one int for
                all images, or ``N`` of them as a list or tensor. Required
                unless the model has a single binary output (then class 1).
            additional_forward_args (Any, optional): Extra arguments passed to
                ``forward_func`` after the inputs. Tensors are split per image
                and need ``N`` rows.
            n_steps (int, optional): Adam steps (paper: 300).
            batch_size (int, optional): Mask samples per image per step
                (paper: 8; fewer than 4 gives noisy maps, appendix A.6).
            lr (float, optional): Adam learning rate, decayed linearly to 0
                over ``n_steps``. Default: the paper's 0.05 at 300 steps, and
                for other step counts the same total step size,
                ``min(0.5, 15 / n_steps)`` (e.g. 0.2 for 75 steps), so fewer
                steps still move the mask as far.
            mask_size (int or (int, int), optional): Grid of the mask
                parameters, bilinearly upsampled to the image. Default a
                quarter of each side (56 for 224, as in the paper).
            temperature (float, optional): Concrete relaxation temperature
                (paper: 0.1).
            l1_coeff (float, optional): Sparsity weight ``lambda``. It
                multiplies ``mean(mask) * 224 * 224``, so the default 1e-3
                equals the paper's 1e-3 on the sum of a 224 x 224 mask and
                behaves the same at every resolution.
            tv_coeff (float, optional): Weight of the total-variation term
                (squared differences between neighbouring mask values, mean
                over pixels times 224 * 224; paper: 0.01).
            reg_warmup_steps (int, optional): Steps over which the
                regularisers ramp up linearly from 0. Default a tenth of
                ``n_steps`` (the reference's 30 at 300 steps).
            seed (int, optional): Seed of every image's random stream. The
                same seed gives the same map, and a batch of images gives the
                maps of separate calls. ``None`` draws a seed from torch's
                global generator.
            show_progress (bool, optional): Show a tqdm progress bar.
            max_batch_size (int, optional): Most rows (images x samples)
                sent to the classifier at once; bounds peak memory. Default:
                all ``N * batch_size`` rows in one pass.
            return_details (bool, optional): Also return
                :class:`~captum_fido.MaskOptimizationDetails` (mask
                parameters, loss history, counterfactual samples and the
                classifier's confidence on them).
            n_counterfactuals (int, optional): Counterfactual samples per
                image in the details.
            stop_tol (float, optional): Stop early once, for every image,
                the mean absolute change of the coarse keep probabilities
                over the last ``stop_patience`` steps is below ``stop_tol``
                (checked after the warm-up). ``None`` (default) runs all
                ``n_steps``. Fewer steps (the learning rate follows) is the
                other way to spend less: see ``docs/performance.md``.
            stop_patience (int, optional): Window of ``stop_tol``, in steps.
            autocast_dtype (torch.dtype, optional): Run the classifier under
                ``torch.autocast`` with ``torch.float16`` or
                ``torch.bfloat16`` (mixed precision; most useful on GPUs).
                Scores, masks and the optimiser stay in float32.
            channels_last (bool, optional): Hand the classifier its inputs in
                ``torch.channels_last`` memory format (convert your model
                with ``model.to(memory_format=torch.channels_last)``; FIDO
                never changes the model).

        Returns:
            *Tensor* or *tuple[Tensor, ...]* of **attributions**, exactly the
            inputs' shapes, values in ``[0, 1]``, identical across channels;
            followed by the details when ``return_details=True``.

        Raises:
            TypeError, ValueError: for malformed inputs, targets or settings,
                before any optimisation step.
        """
        distribution = RelaxedBernoulliMask(
            V.check_positive(temperature, "temperature")
        )
        return self._run(
            distribution,
            inputs,
            target,
            additional_forward_args,
            n_steps=n_steps,
            batch_size=batch_size,
            lr=lr,
            mask_size=mask_size,
            l1_coeff=l1_coeff,
            tv_coeff=tv_coeff,
            reg_warmup_steps=reg_warmup_steps,
            seed=seed,
            show_progress=show_progress,
            max_batch_size=max_batch_size,
            return_details=return_details,
            n_counterfactuals=n_counterfactuals,
            stop_tol=stop_tol,
            stop_patience=stop_patience,
            autocast_dtype=autocast_dtype,
            channels_last=channels_last,
        )


class FIDOSSR(FIDO):
    r"""FIDO with the smallest-sufficient-region objective.

    Same as ``FIDO(forward_func, infiller, objective="ssr", ...)``.
    """

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        infiller: Callable[..., Tensor],
        output_type: str = "logits",
    ) -> None:
        super().__init__(forward_func, infiller, "ssr", output_type)


class FIDOSDR(FIDO):
    r"""FIDO with the smallest-deletion-region objective.

    Same as ``FIDO(forward_func, infiller, objective="sdr", ...)``.
    """

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        infiller: Callable[..., Tensor],
        output_type: str = "logits",
    ) -> None:
        super().__init__(forward_func, infiller, "sdr", output_type)
