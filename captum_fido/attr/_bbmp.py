r"""BBMP: Black-Box Meaningful Perturbations (Fong & Vedaldi 2017), the
paper's baseline, on the loop FIDO uses."""

from __future__ import annotations

from typing import Callable

from torch import Tensor

from captum_fido.attr._base import MaskAttribution
from captum_fido.attr._fido import InfillerLike
from captum_fido.attr._masks import ContinuousMask, MaskDistribution
from captum_fido.attr._options import BBMP_DEFAULTS, MaskOptions

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
    infiller observes the mask's cells where ``m > tau`` (all of a cell's
    pixels): the BBMP-CA variant of Chang et al. (section 4.4, Table 2),
    which the paper finds brittle in ``tau``. Its mask starts at ``tau``
    instead of 1 (from 1 the infiller would observe every pixel and return
    the image, leaving no gradient), and the threshold reads cells, not the
    upsampled pixels (which would erode every deleted region by a cell; see
    :class:`~captum_fido.attr.ContinuousMask`). Mask-independent infillers
    (Mean, Blur, Random) ignore ``tau``.
    It takes the options of :meth:`FIDO.attribute
    <captum_fido.FIDO.attribute>` with ``tau`` instead of ``temperature``, one
    row per step (``n_samples=1``, 144 steps) and a sparsity weight 5 times
    FIDO's by default (``BBMP_L1_RATIO``).

    Args:
        forward_func (Callable or torch.nn.Module): The classifier, as for
            :class:`~captum_fido.FIDO`.
        infiller (Infiller or callable): The reference, e.g.
            ``BlurInfiller(sigma=10)`` (Fong & Vedaldi) or ``RandomInfiller()``
            (Dabkowski & Gal).
        objective (str, optional): ``"sdr"`` (default) or ``"ssr"``.
        output_type (str, optional): ``"logits"`` (default), ``"probs"`` or
            ``"log_probs"``.

    Examples::

        >>> from captum_fido import BBMP
        >>> from captum_fido.infillers import BlurInfiller
        >>> bbmp = BBMP(model, BlurInfiller(sigma=10.0))
        >>> attr = bbmp.attribute(images, target=labels, seed=0)
    """

    method_name = "BBMP"
    defaults = BBMP_DEFAULTS

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        infiller: InfillerLike,
        objective: str = "sdr",
        output_type: str = "logits",
    ) -> None:
        super().__init__(forward_func, infiller, objective, output_type)

    def mask_distribution(self, options: MaskOptions) -> MaskDistribution:
        # BBMP-CA (an infiller that observes the mask) starts at tau, where
        # the in-fill observes nothing and every pixel has a gradient.
        start = options.tau if self.infiller.uses_mask else 1.0
        return ContinuousMask(options.tau, start=start)
