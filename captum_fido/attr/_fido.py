r"""FIDO: Fill-In the DropOut region (Chang et al., ICLR 2019)."""

from __future__ import annotations

from typing import Callable, Union

from torch import Tensor

from captum_fido.attr._base import MaskAttribution
from captum_fido.attr._masks import MaskDistribution, RelaxedBernoulliMask
from captum_fido.attr._options import FIDO_DEFAULTS, MaskOptions
from captum_fido.infillers import Infiller

__all__ = ["FIDO", "FIDOSSR", "FIDOSDR"]

InfillerLike = Union[Infiller, Callable[..., Tensor]]


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
    probabilities), not a sample. The options and their defaults (the
    paper's, appendix A) are listed in :meth:`attribute`.

    Args:
        forward_func (Callable or torch.nn.Module): The classifier. It must
            return ``(N, C)`` scores or ``(N,)`` / ``(N, 1)`` for a one-output
            binary model. It is never modified: parameters, gradients,
            ``requires_grad`` flags, train/eval mode and buffers are unchanged
            afterwards.
        infiller (Infiller or callable): What replaces the dropped pixels,
            e.g. :class:`~captum_fido.infillers.BlurInfiller` or a learned
            in-painter; a plain ``(x, keep_mask)`` function is wrapped by
            :func:`~captum_fido.infillers.as_infiller`.
        objective (str, optional): ``"ssr"`` (default) or ``"sdr"`` (either
            case).
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

    method_name = "FIDO"
    defaults = FIDO_DEFAULTS

    def mask_distribution(self, options: MaskOptions) -> MaskDistribution:
        return RelaxedBernoulliMask(options.temperature, options.temperature_final)


class _FixedObjectiveFIDO(FIDO):
    r"""FIDO with its objective fixed by the class (``_objective``)."""

    _objective = "ssr"

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        infiller: InfillerLike,
        output_type: str = "logits",
    ) -> None:
        super().__init__(forward_func, infiller, self._objective, output_type)


_FIXED_OBJECTIVE_DOC = r"""FIDO with the {region} objective.

    Same as ``FIDO(forward_func, infiller, objective="{objective}", ...)``.

    Args:
        forward_func (Callable or torch.nn.Module): The classifier, as for
            :class:`~captum_fido.FIDO`.
        infiller (Infiller or callable): What replaces the dropped pixels, as
            for :class:`~captum_fido.FIDO`.
        output_type (str, optional): ``"logits"`` (default), ``"probs"`` or
            ``"log_probs"``.

    Examples::

        >>> from captum_fido import {name}
        >>> from captum_fido.infillers import BlurInfiller
        >>> attr = {name}(model, BlurInfiller()).attribute(images, target=labels)
    """


class FIDOSSR(_FixedObjectiveFIDO):
    __doc__ = _FIXED_OBJECTIVE_DOC.format(
        region="smallest-sufficient-region", objective="ssr", name="FIDOSSR"
    )
    _objective = "ssr"


class FIDOSDR(_FixedObjectiveFIDO):
    __doc__ = _FIXED_OBJECTIVE_DOC.format(
        region="smallest-deletion-region", objective="sdr", name="FIDOSDR"
    )
    _objective = "sdr"
