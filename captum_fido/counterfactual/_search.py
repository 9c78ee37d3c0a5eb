r"""Generative counterfactual introspection (Liu, Kailkhura et al., 2019).

For a query image ``I``, a classifier ``C``, a generator ``G`` (latent code to
image) and an encoder ``E`` (image to latent code), find the latent code
``A'`` that solves

    min_A'  lambda * CE(C(G(A')), c') + ||I - G(A')||_1

starting from ``A = E(I)``, with Adam (:mod:`._solver`); ``lambda`` is chosen
per image by a bisection for the smallest value whose solution the classifier
assigns to ``c'``. ``c' != c`` gives a *criticism* (the smallest change on the
generator's manifold that flips the decision), ``c' = c`` with a confidence
requirement a *prototype* (the change that makes the image more typical for
its class).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Tuple, Union

import torch
from captum.attr import PerturbationAttribution
from captum.log import log_usage
from torch import Tensor
from tqdm.auto import tqdm

from captum_fido._utils import validation as V
from captum_fido._utils.captum_compat import (
    TargetType,
    format_output,
)
from captum_fido._utils.futures import SynchronousFutureMixin
from captum_fido._utils.model_state import (
    check_autograd_usable,
    preserve_module_state,
)
from captum_fido._utils.options import document_options
from captum_fido._utils.scores import (
    check_model_output,
    check_output_type,
    num_classes,
)
from captum_fido.counterfactual._checks import (
    check_generated,
    check_latent,
)
from captum_fido.counterfactual._options import (
    ATTRIBUTE_OPTIONS,
    DEFAULTS,
    DOC_STYLE,
    EXPLAIN_OPTIONS,
    SearchOptions,
)
from captum_fido.counterfactual._prototype import prototype_confidence
from captum_fido.counterfactual._query import Query
from captum_fido.counterfactual._result import CounterfactualResult
from captum_fido.counterfactual._solver import (
    Solution,
    Solver,
    confidence,
    record_steps,
)

# prototype_confidence lives in ._prototype; it stays importable from here.
__all__ = ["LatentCounterfactual", "prototype_confidence"]

TensorOrTuple = Union[Tensor, Tuple[Tensor, ...]]


class LatentCounterfactual(SynchronousFutureMixin, PerturbationAttribution):
    r"""Criticisms and prototypes found in a generator's latent space.

    Instead of masking pixels, the search edits the latent (or attribute)
    code of a generative model, so every candidate is an image the generator
    can draw. For each image ``I`` and target class ``c'`` it solves

    .. math::
        \min_{A'} \; \lambda \, \mathrm{CE}(C(G(A')), c') + \|I - G(A')\|_1

    with Adam from ``A = E(I)``. The trade-off ``lambda`` is chosen per image
    by bisection in log space: one solve at ``lambda_range[1]`` tells whether
    the target is reachable at all, then ``n_bisection`` solves halve the
    interval between the largest failing and the smallest succeeding lambda.
    The solution at the smallest succeeding lambda is the counterfactual. A
    solve succeeds when the classifier's top class for ``G(A')`` is ``c'``
    with probability at least ``min_confidence``.

    With ``c' != c`` the result is a *criticism*: the smallest edit on the
    generator's image manifold that changes the decision. With ``c' = c`` and
    a high ``min_confidence`` it is a *prototype*: the edit that makes the
    image a more typical member of its class (use ``loss="hinge"`` when the
    classifier is already nearly sure: the cross-entropy stops pulling there).

    As a Captum attribution, :meth:`attribute` returns ``inputs -
    counterfactual``: positive where the counterfactual removed ink,
    negative where it added some. :meth:`explain` (also ``__call__``) returns
    a :class:`CounterfactualResult` with the counterfactual, the optimisation
    path, the most-changed latent dimensions and the confidences.

    The search is deterministic (no sampling): the same inputs and models give
    the same result. The models are never modified: gradients are taken with
    :func:`torch.autograd.grad` with respect to the latent code only, and
    parameters, ``.grad``, ``requires_grad`` flags and train/eval modes are
    as they were; buffers of models left in training mode are restored.

    Args:
        forward_func (Callable or torch.nn.Module): The classifier ``C``. It
            takes the (generated) inputs followed by
            ``additional_forward_args`` and returns ``(N, n_classes)`` class
            scores, or ``(N,)`` / ``(N, 1)`` for a binary classifier with a
            single output (the score of class 1: targets are 0 or 1 and the
            predicted class is 1 where its log-odds are positive).
        generator (Callable or torch.nn.Module): ``G``: maps a batch of
            latent codes ``(N, *latent_shape)`` to images shaped exactly like
            the inputs (a tuple of tensors for tuple inputs).
        encoder (Callable or torch.nn.Module): ``E``: maps the inputs (as
            positional arguments) to their latent codes ``(N,
            *latent_shape)``. For a VAE, return the posterior mean: the
            search must start from a deterministic code.
        output_type (str, optional): What ``forward_func`` returns:
            ``"logits"`` (default), ``"probs"`` or ``"log_probs"``.

    Examples::

        >>> from captum_fido.counterfactual import LatentCounterfactual
        >>> from captum_fido.demo.digits import load_pretrained
        >>> models = load_pretrained()
        >>> method = LatentCounterfactual(
        ...     models.classifier, models.vae.decoder, models.vae.encoder
        ... )
        >>> # criticism: what minimal change turns these digits into a 3?
        >>> result = method.explain(images, target=3)
        >>> result.success, result.l1_change, result.top_latent_dims
        >>> # as a Captum attribution: inputs - counterfactual
        >>> attr = method.attribute(images, target=3)
        >>> attr.shape == images.shape
        True
    """

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        generator: Callable[[Tensor], TensorOrTuple],
        encoder: Callable[..., Tensor],
        output_type: str = "logits",
    ) -> None:
        V.check_callable(forward_func, "forward_func")
        self.generator = V.check_callable(generator, "generator")
        self.encoder = V.check_callable(encoder, "encoder")
        check_output_type(output_type)
        PerturbationAttribution.__init__(self, forward_func)
        self.output_type = output_type

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    @log_usage()
    @document_options(SearchOptions, ATTRIBUTE_OPTIONS, **DOC_STYLE)
    def attribute(
        self,
        inputs: TensorOrTuple,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        lambda_range: Tuple[float, float] = DEFAULTS.lambda_range,
        n_bisection: int = DEFAULTS.n_bisection,
        n_steps: int = DEFAULTS.n_steps,
        lr: float = DEFAULTS.lr,
        min_confidence: Union[float, Tensor] = DEFAULTS.min_confidence,
        loss: str = DEFAULTS.loss,
        show_progress: bool = DEFAULTS.show_progress,
    ) -> TensorOrTuple:
        r"""The change a latent counterfactual makes: ``inputs - G(A*)``.

        Args:
            inputs (Tensor or tuple[Tensor, ...]): Query images ``(N, C, H,
                W)`` (a tuple for multi-input models; the encoder takes them
                all and the generator returns them all).
            target (int, list[int] or Tensor): The class ``c'`` to reach: one
                for all images or one per image. Required.
            additional_forward_args (Any, optional): Extra arguments passed
                to ``forward_func`` after the images (not to the generator or
                encoder). Tensors with ``N`` rows are split per image.
            {options}

        Returns:
            *Tensor* or *tuple[Tensor, ...]* of **attributions**: ``inputs -
            counterfactual``, the same type and shapes as ``inputs``. Rows
            that never reached the target (a warning says how many) use the
            solve at the highest lambda.

        Raises:
            TypeError, ValueError: for malformed inputs, targets, options or
                model outputs, before any optimisation step.

        Examples::

            >>> attr = LatentCounterfactual(clf, decoder, encoder).attribute(
            ...     images, target=[3, 5, 8], n_steps=100
            ... )
        """
        options = SearchOptions(
            lambda_range=lambda_range,
            n_bisection=n_bisection,
            n_steps=n_steps,
            lr=lr,
            min_confidence=min_confidence,
            loss=loss,
            path_length=2,
            top_k=1,
            show_progress=show_progress,
        )
        result = self._search(inputs, target, additional_forward_args, options)
        _warn_unreached(result.success, options.lambda_range[1])
        return result.difference

    @document_options(SearchOptions, EXPLAIN_OPTIONS, **DOC_STYLE)
    def explain(
        self,
        inputs: TensorOrTuple,
        target: TargetType = None,
        additional_forward_args: Any = None,
        *,
        lambda_range: Tuple[float, float] = DEFAULTS.lambda_range,
        n_bisection: int = DEFAULTS.n_bisection,
        n_steps: int = DEFAULTS.n_steps,
        lr: float = DEFAULTS.lr,
        min_confidence: Union[float, Tensor] = DEFAULTS.min_confidence,
        loss: str = DEFAULTS.loss,
        path_length: int = DEFAULTS.path_length,
        top_k: int = DEFAULTS.top_k,
        show_progress: bool = DEFAULTS.show_progress,
    ) -> CounterfactualResult:
        r"""Search the latent space and return everything the search found.

        Args:
            inputs (Tensor or tuple[Tensor, ...]): As in :meth:`attribute`.
            target (int, list[int] or Tensor): As in :meth:`attribute`.
            additional_forward_args (Any, optional): As in :meth:`attribute`.
            {options}

        Returns:
            CounterfactualResult: the counterfactual, the difference image,
            the path images and confidences, the most-changed latent
            dimensions, the chosen lambdas and whether each row succeeded.

        Raises:
            TypeError, ValueError: for malformed inputs, targets, options or
                model outputs, before any optimisation step.

        Examples::

            >>> method = LatentCounterfactual(clf, decoder, encoder)
            >>> criticism = method.explain(images, target=7)
            >>> prototype = method.explain(
            ...     images, target=labels, min_confidence=1 - 1e-5, loss="hinge"
            ... )
        """
        options = SearchOptions(
            lambda_range=lambda_range,
            n_bisection=n_bisection,
            n_steps=n_steps,
            lr=lr,
            min_confidence=min_confidence,
            loss=loss,
            path_length=path_length,
            top_k=top_k,
            show_progress=show_progress,
        )
        return self._search(inputs, target, additional_forward_args, options)

    def __call__(self, *args: Any, **kwargs: Any) -> CounterfactualResult:
        r"""Same as :meth:`explain`."""
        return self.explain(*args, **kwargs)

    # ------------------------------------------------------------------ search

    def _search(
        self,
        inputs: TensorOrTuple,
        target: TargetType,
        additional_forward_args: Any,
        options: SearchOptions,
    ) -> CounterfactualResult:
        models = (self.forward_func, self.generator, self.encoder)
        check_autograd_usable(f"{type(self).__name__}.explain", inputs, *models)
        query = Query.build(inputs, target, additional_forward_args)
        min_conf = options.per_row(query.n, query.device)
        steps = record_steps(options.n_steps, options.path_length)
        with torch.enable_grad(), preserve_module_state(*models):
            start = self._start(query)
            solve = Solver(
                self.forward_func,
                self.generator,
                query.inputs,
                query.args,
                options.n_steps,
                options.lr,
                options.loss,
                steps,
                self.output_type,
            )
            bar = tqdm(
                total=(options.n_bisection + 1) * options.n_steps,
                desc="latent counterfactual",
                disable=not options.show_progress,
            )
            try:
                best, lambdas = _bisect(
                    solve, start.latent, query, min_conf, options, bar
                )
            finally:
                bar.close()
        return _assemble(query, start, best, lambdas, steps, options.top_k)

    def _start(self, query: Query) -> _Start:
        r"""Check the models once on the queries; where every solve starts."""
        with torch.no_grad():
            output = check_model_output(
                self.forward_func(*query.inputs, *(query.args or ())),
                query.n,
                self.output_type,
            )
            V.check_targets_in_range(query.targets, num_classes(output))
            original = confidence(output, query.targets, self.output_type)
            latent = check_latent(self.encoder(*query.inputs), query.n)
            recon = check_generated(self.generator(latent), query.inputs)
        return _Start(latent, recon, original)


@dataclass(frozen=True)
class _Start:
    r"""``E(I)``, ``G(E(I))`` and ``p(c' | I)``, all detached."""

    latent: Tensor
    reconstruction: Tuple[Tensor, ...]
    original_confidence: Tensor


def _bisect(
    solve: Solver,
    z0: Tensor,
    query: Query,
    min_conf: Tensor,
    options: SearchOptions,
    bar: Any,
) -> Tuple[Solution, Tensor]:
    r"""Per-row bisection for the smallest succeeding lambda, in log space.

    Returns the best solution of every row (for rows that never succeed: the
    solve at the highest lambda) and the lambda it was found at.
    """
    lambda_lo, lambda_hi = options.lambda_range
    targets = query.targets
    # Round 0: is the target reachable at the highest lambda at all?
    lam = torch.full((query.n,), lambda_hi, dtype=torch.float64, device=query.device)
    best = solve(z0, targets, lam, min_conf, None, bar)
    chosen = lam.clone()
    log_lo = torch.full_like(lam, math.log(lambda_lo))
    log_hi = torch.full_like(lam, math.log(lambda_hi))
    active = best.success.nonzero().squeeze(1)
    for _ in range(options.n_bisection):
        if active.numel() == 0:
            bar.update(options.n_steps)
            continue
        lam_active = torch.exp(0.5 * (log_lo[active] + log_hi[active]))
        trial = solve(
            z0[active], targets[active], lam_active, min_conf[active], active, bar
        )
        won = trial.success
        # Success lowers the upper end, failure raises the lower end: the
        # interval always brackets the smallest succeeding lambda.
        log_hi[active[won]] = torch.log(lam_active[won])
        log_lo[active[~won]] = torch.log(lam_active[~won])
        chosen[active[won]] = lam_active[won]
        best.overwrite(active[won], trial, won)
    return best, chosen


def _assemble(
    query: Query,
    start: _Start,
    best: Solution,
    lambdas: Tensor,
    steps: Any,
    top_k: int,
) -> CounterfactualResult:
    xs, z0 = query.inputs, start.latent
    delta = (best.latent - z0).flatten(1)
    top_dims = delta.abs().topk(min(top_k, delta.shape[1]), dim=1).indices
    counterfactual = tuple(c.to(x.dtype) for c, x in zip(best.images, xs))
    difference = tuple(x - c for x, c in zip(xs, counterfactual))
    l1 = sum(
        (d.abs().flatten(1).sum(1) for d in difference),
        torch.zeros(query.n, dtype=xs[0].dtype, device=query.device),
    )

    def out(value: Tuple[Tensor, ...]) -> TensorOrTuple:
        return format_output(query.is_tuple, value)

    return CounterfactualResult(
        counterfactual=out(counterfactual),
        difference=out(difference),
        reconstruction=out(start.reconstruction),
        latent=best.latent,
        original_latent=z0,
        target=query.targets,
        success=best.success,
        lambdas=lambdas.to(z0.dtype),
        target_confidence=best.confidence,
        original_confidence=start.original_confidence,
        predicted=best.predicted,
        l1_change=l1.to(xs[0].dtype),
        path=out(best.path),
        path_confidence=best.path_confidence,
        path_steps=torch.tensor(steps, dtype=torch.long),
        top_latent_dims=top_dims,
        top_latent_changes=delta.gather(1, top_dims),
    )


def _warn_unreached(success: Tensor, lambda_hi: float) -> None:
    n_failed = int((~success).sum().item())
    if n_failed:
        warnings.warn(
            f"{n_failed} of {success.numel()} images did not reach the target "
            f"class even at lambda={lambda_hi:g}; their attribution is the "
            "change found at that lambda (raise lambda_range[1] or n_steps)",
            # attribute -> log_usage's wrapper -> the caller
            stacklevel=4,
        )
