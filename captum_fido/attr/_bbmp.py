r"""BBMP: Black-Box Meaningful Perturbations (Fong & Vedaldi 2017), the
paper's baseline, on the loop FIDO uses."""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple, Union

import torch
from captum.log import log_usage
from torch import Tensor

from captum_fido._utils import validation as V
from captum_fido._utils.captum_compat import TargetType
from captum_fido.attr._base import MaskAttribution, MaskSize
from captum_fido.attr._fido import AttributionResult
from captum_fido.attr._masks import ContinuousMask

__all__ = ["BBMP"]


class BBMP(MaskAttribution):
    r"""Saliency from one continuous mask optimised by gradient descent.

    BBMP optimises a deterministic mask ``m`` in ``[0, 1]`` on a coarse grid,
    initialised to 1 (keep everything) and clamped after each step, with
    ``phi = m * x + (1 - m) * reference``. The default objective is SDR
    (``s(phi) + l1 * ||1 - m||``, Fong & Vedaldi); the map is ``1 - m``, the
    deletion importance. With ``objective="ssr"`` it minimises
    ``-s(phi) + l1 * ||m||`` and the map is ``m``.

    With an infiller that looks at the mask (Local, learned in-painters) the
    infiller observes the pixels where ``m > tau``: the BBMP-CA variant of
    Chang et al. (section 4.4, Table 2), which the paper finds brittle in
    ``tau``. Mask-independent infillers (Mean, Blur, Random) ignore ``tau``.

    Args:
        forward_func (Callable or torch.nn.Module): The classifier, as for
            :class:`~captum_fido.FIDO`.
        infiller (Infiller): The reference, e.g. ``BlurInfiller(sigma=10)``
            (Fong & Vedaldi) or ``RandomInfiller()`` (Dabkowski & Gal).
        objective (str, optional): ``"sdr"`` (default) or ``"ssr"``.
        output_type (str, optional): ``"logits"`` (default), ``"probs"`` or
            ``"log_probs"``.

    Examples::

        >>> from captum_fido import BBMP
        >>> from captum_fido.infillers import BlurInfiller
        >>> bbmp = BBMP(model, BlurInfiller(sigma=10.0))
        >>> attr = bbmp.attribute(images, target=labels, seed=0)
    """

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        infiller: Callable[..., Tensor],
        objective: str = "sdr",
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
        batch_size: int = 1,
        lr: Optional[float] = None,
        mask_size: MaskSize = None,
        l1_coeff: float = 5e-3,
        tv_coeff: float = 0.01,
        reg_warmup_steps: Optional[int] = None,
        tau: float = 0.5,
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
        r"""Optimise one continuous mask per image and return its importance.

        Arguments are those of :meth:`FIDO.attribute <captum_fido.FIDO.attribute>`
        except:

        Args:
            batch_size (int, optional): Rows per image per step. The mask is
                deterministic, so 1 (default) suffices unless the infiller is
                stochastic (``RandomInfiller``), where more rows average its
                noise.
            l1_coeff (float, optional): Sparsity weight, default 5e-3: the
                paper finds BBMP needs about 5 times FIDO's penalty for
                comparable maps (appendix A.1). Scaled like FIDO's.
            tau (float, optional): Threshold in ``[0, 1]``: mask-dependent
                infillers observe the pixels with ``m > tau`` (BBMP-CA; the
                paper sweeps 1, 0.7, 0.5, 0.3, 0.1, 0).

        Returns:
            Attributions of the inputs' shapes in ``[0, 1]`` (``1 - m`` for
            SDR, ``m`` for SSR), plus details when ``return_details=True``.
        """
        distribution = ContinuousMask(V.check_unit_interval(tau, "tau"))
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
