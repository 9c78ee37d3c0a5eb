r"""Generative counterfactual introspection (Liu, Kailkhura et al., 2019).

For a query image ``I``, a classifier ``C``, a generator ``G`` (latent code to
image) and an encoder ``E`` (image to latent code), find the latent code
``A'`` that solves

    min_A'  lambda * CE(C(G(A')), c') + ||I - G(A')||_1

starting from ``A = E(I)``, with Adam; ``lambda`` is chosen per image by a
bisection for the smallest value whose solution the classifier assigns to
``c'``. ``c' != c`` gives a *criticism* (the smallest change on the generator's
manifold that flips the decision), ``c' = c`` with a confidence requirement a
*prototype* (the change that makes the image more typical for its class).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from captum.attr import PerturbationAttribution
from captum.log import log_usage
from torch import Tensor
from tqdm.auto import tqdm

from captum_fido._utils import validation as V
from captum_fido._utils.captum_compat import (
    TargetType,
    format_additional_forward_args,
    format_output,
    format_tensor_into_tuples,
    is_tuple,
)
from captum_fido._utils.model_state import preserve_module_state
from captum_fido.counterfactual._result import CounterfactualResult

__all__ = ["LatentCounterfactual", "prototype_confidence"]

TensorOrTuple = Union[Tensor, Tuple[Tensor, ...]]

#: The learning rate decays along a cosine to this share of ``lr``: the L1 term
#: is not smooth, and Adam with a constant step keeps jittering around zero
#: changes instead of settling on them.
_FINAL_LR_SHARE = 0.01

#: Classification terms: the paper's cross-entropy, or a hinge on the log-odds,
#: which keeps pulling where the cross-entropy saturates (p(c') near 1).
_LOSSES = ("cross_entropy", "hinge")
#: Extra log-odds the hinge asks for beyond the threshold.
_HINGE_MARGIN = 0.01


class LatentCounterfactual(PerturbationAttribution):
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
            ``additional_forward_args`` and returns ``(N, n_classes)``
            logits (unnormalised scores; a softmax gives the confidences).
        generator (Callable or torch.nn.Module): ``G``: maps a batch of
            latent codes ``(N, *latent_shape)`` to images shaped exactly like
            the inputs (a tuple of tensors for tuple inputs).
        encoder (Callable or torch.nn.Module): ``E``: maps the inputs (as
            positional arguments) to their latent codes ``(N,
            *latent_shape)``. For a VAE, return the posterior mean: the
            search must start from a deterministic code.

    Examples::

        >>> from captum_fido.counterfactual import LatentCounterfactual
        >>> from captum_fido.counterfactual.digits import load_pretrained
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
    ) -> None:
        for name, fn in (
            ("forward_func", forward_func),
            ("generator", generator),
            ("encoder", encoder),
        ):
            if not callable(fn):
                raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
        PerturbationAttribution.__init__(self, forward_func)
        self.generator = generator
        self.encoder = encoder

    @property
    def multiplies_by_inputs(self) -> bool:
        return False

    def attribute_future(self) -> None:
        # Captum's optional asynchronous API: an iterative optimisation has
        # no future to hand back.
        hint = "LatentCounterfactual optimises iteratively; call attribute() instead"
        raise NotImplementedError(f"attribute_future is not supported: {hint}")

    @log_usage()
    def attribute(
        self,
        inputs: TensorOrTuple,
        target: TargetType = None,
        additional_forward_args: Any = None,
        lambda_range: Tuple[float, float] = (1e-2, 1e4),
        n_bisection: int = 8,
        n_steps: int = 200,
        lr: float = 0.1,
        min_confidence: Union[float, Tensor] = 0.0,
        loss: str = "cross_entropy",
        show_progress: bool = False,
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
            lambda_range (tuple[float, float], optional): ``(lowest,
                highest)`` trade-off between the cross-entropy and the L1
                change, ``0 < lowest <= highest``. Default: ``(1e-2, 1e4)``.
            n_bisection (int, optional): Bisection rounds after the first
                solve at ``lambda_range[1]``; ``0`` solves once at that lambda.
                Default: 8.
            n_steps (int, optional): Adam steps per solve. Default: 200.
            lr (float, optional): Adam's initial learning rate; it decays
                along a cosine to 1 % of this value. Default: 0.1.
            min_confidence (float or Tensor, optional): Probability of the
                target class a solve must reach (besides being the top class)
                to count as a success: a number in ``[0, 1)`` or one per
                image. Default: 0 (the top class is enough).
            loss (str, optional): The classification term:
                ``"cross_entropy"`` (default, the paper's ``CE(C(G(A')),
                c')``) or ``"hinge"``: ``max(0, kappa - s)`` on the target's
                log-odds ``s = logit_c' - logsumexp(other logits)``, with
                ``kappa`` the log-odds of ``min_confidence`` (at least 0).
                The cross-entropy's pull fades as ``p(c')`` nears 1, so
                prototypes of images the classifier is already sure about
                (``min_confidence`` like ``1 - 1e-5``) need ``"hinge"``,
                which pulls at full strength until the threshold and then
                stops.
            show_progress (bool, optional): Show a tqdm progress bar.

        Returns:
            Tensor or tuple[Tensor, ...]: ``inputs - counterfactual``, the
            same type and shapes as ``inputs``. Rows that never reached the
            target (a warning says how many) use the solve at the highest
            lambda.

        Examples::

            >>> attr = LatentCounterfactual(clf, decoder, encoder).attribute(
            ...     images, target=[3, 5, 8]
            ... )
        """
        result = self._search(
            inputs,
            target,
            additional_forward_args,
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
        n_failed = int((~result.success).sum().item())
        if n_failed:
            warnings.warn(
                f"{n_failed} of {result.success.numel()} images did not reach the "
                f"target class even at lambda={float(lambda_range[1]):g}; their "
                "attribution is the change found at that lambda (raise "
                "lambda_range[1] or n_steps)",
                stacklevel=3,
            )
        return result.difference

    def explain(
        self,
        inputs: TensorOrTuple,
        target: TargetType = None,
        additional_forward_args: Any = None,
        lambda_range: Tuple[float, float] = (1e-2, 1e4),
        n_bisection: int = 8,
        n_steps: int = 200,
        lr: float = 0.1,
        min_confidence: Union[float, Tensor] = 0.0,
        loss: str = "cross_entropy",
        path_length: int = 8,
        top_k: int = 5,
        show_progress: bool = False,
    ) -> CounterfactualResult:
        r"""Search the latent space and return everything the search found.

        Args:
            inputs, target, additional_forward_args, lambda_range,
            n_bisection, n_steps, lr, min_confidence, loss, show_progress: As
                in :meth:`attribute`.
            path_length (int, optional): Points recorded along the
                optimisation path at the chosen lambda, evenly spaced from
                the start (the reconstruction) to the end (the
                counterfactual), ``>= 2``. Default: 8.
            top_k (int, optional): How many of the most-changed latent
                dimensions to report (at most the latent size). Default: 5.

        Returns:
            CounterfactualResult: the counterfactual, the difference image,
            the path images and confidences, the most-changed latent
            dimensions, the chosen lambdas and whether each row succeeded.

        Examples::

            >>> method = LatentCounterfactual(clf, decoder, encoder)
            >>> criticism = method.explain(images, target=7)
            >>> prototype = method.explain(
            ...     images, target=labels, min_confidence=1 - 1e-5, loss="hinge"
            ... )
        """
        return self._search(
            inputs,
            target,
            additional_forward_args,
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

    def __call__(self, *args: Any, **kwargs: Any) -> CounterfactualResult:
        r"""Same as :meth:`explain`."""
        return self.explain(*args, **kwargs)

    # ------------------------------------------------------------------ search

    def _search(
        self,
        inputs: TensorOrTuple,
        target: TargetType,
        additional_forward_args: Any,
        *,
        lambda_range: Tuple[float, float],
        n_bisection: int,
        n_steps: int,
        lr: float,
        min_confidence: Union[float, Tensor],
        loss: str,
        path_length: int,
        top_k: int,
        show_progress: bool,
    ) -> CounterfactualResult:
        if not isinstance(inputs, (Tensor, tuple)):
            raise TypeError(
                "inputs must be a tensor or a tuple of tensors, "
                f"got {type(inputs).__name__}"
            )
        input_is_tuple = is_tuple(inputs)
        xs = tuple(
            x.detach() for x in V.check_inputs(format_tensor_into_tuples(inputs))
        )
        n = xs[0].shape[0]
        device = xs[0].device
        targets = V.check_targets(target, n, device)
        if targets is None:
            raise ValueError(
                "target is required: give the class c' to reach (an int, a list "
                "of N ints or an integer tensor); c' = the predicted class asks "
                "for a prototype, any other class for a criticism"
            )
        args = format_additional_forward_args(additional_forward_args)
        V.check_additional_forward_args(args, n)
        lambda_lo, lambda_hi = _check_lambda_range(lambda_range)
        n_bisection = V.check_nonnegative_int(n_bisection, "n_bisection")
        n_steps = V.check_positive_int(n_steps, "n_steps")
        lr = V.check_positive(lr, "lr")
        min_conf = _check_min_confidence(min_confidence, n, device)
        if loss not in _LOSSES:
            raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
        path_length = V.check_positive_int(path_length, "path_length")
        if path_length < 2:
            raise ValueError(
                f"path_length must be >= 2 (start and end), got {path_length}"
            )
        top_k = V.check_positive_int(top_k, "top_k")
        record_steps = _record_steps(n_steps, path_length)

        models = (self.forward_func, self.generator, self.encoder)
        with torch.enable_grad(), preserve_module_state(*models):
            with torch.no_grad():
                z0 = _check_latent(self.encoder(*xs), n)
                recon = _check_generated(self.generator(z0), xs)
                logits = _check_logits(self.forward_func(*xs, *(args or ())), n)
                V.check_targets_in_range(targets, logits.shape[1])
                original_conf = _confidence(logits, targets)
                del logits

            bar = tqdm(
                total=(n_bisection + 1) * n_steps,
                desc="latent counterfactual",
                disable=not show_progress,
            )
            solve = _Solver(
                self.forward_func,
                self.generator,
                xs,
                args,
                n_steps,
                lr,
                record_steps,
                loss,
            )
            # Round 0: is the target reachable at the highest lambda at all?
            lam = torch.full((n,), lambda_hi, dtype=torch.float64, device=device)
            best = solve(z0, targets, lam, min_conf, None, bar)
            chosen_lambda = lam.clone()
            log_lo = torch.full_like(lam, math.log(lambda_lo))
            log_hi = torch.full_like(lam, math.log(lambda_hi))
            active = best.success.nonzero().squeeze(1)
            for _ in range(n_bisection):
                if active.numel() == 0:
                    bar.update(n_steps)
                    continue
                lam_active = torch.exp(0.5 * (log_lo[active] + log_hi[active]))
                trial = solve(
                    z0[active],
                    targets[active],
                    lam_active,
                    min_conf[active],
                    active,
                    bar,
                )
                won = trial.success
                # Success lowers the upper end, failure raises the lower end:
                # the interval always brackets the smallest succeeding lambda.
                log_hi[active[won]] = torch.log(lam_active[won])
                log_lo[active[~won]] = torch.log(lam_active[~won])
                chosen_lambda[active[won]] = lam_active[won]
                best.overwrite(active[won], trial, won)
            bar.close()

        delta = (best.latent - z0).flatten(1)
        k = min(top_k, delta.shape[1])
        top_dims = delta.abs().topk(k, dim=1).indices
        top_changes = delta.gather(1, top_dims)
        counterfactual = tuple(c.to(x.dtype) for c, x in zip(best.images, xs))
        difference = tuple(x - c for x, c in zip(xs, counterfactual))
        l1 = sum(
            (d.abs().flatten(1).sum(1) for d in difference),
            torch.zeros(n, dtype=xs[0].dtype, device=device),
        )
        return CounterfactualResult(
            counterfactual=format_output(input_is_tuple, counterfactual),
            difference=format_output(input_is_tuple, difference),
            reconstruction=format_output(input_is_tuple, recon),
            latent=best.latent,
            original_latent=z0,
            target=targets,
            success=best.success,
            lambdas=chosen_lambda.to(z0.dtype),
            target_confidence=best.confidence,
            original_confidence=original_conf,
            predicted=best.predicted,
            l1_change=l1.to(xs[0].dtype),
            path=format_output(input_is_tuple, best.path),
            path_confidence=best.path_confidence,
            path_steps=torch.tensor(record_steps, dtype=torch.long),
            top_latent_dims=top_dims,
            top_latent_changes=top_changes,
        )


def prototype_confidence(
    forward_func: Callable[..., Tensor],
    inputs: TensorOrTuple,
    target: TargetType,
    log_odds_gain: float = 2.0,
    additional_forward_args: Any = None,
) -> Tensor:
    r"""A ``min_confidence`` for prototypes: the target's confidence once its
    log-odds have risen by ``log_odds_gain`` over the inputs'.

    A fixed threshold (say 0.999) is already met by most images a classifier
    gets right, and the highest confidence a classifier reaches differs from
    class to class; asking each image to become ``exp(log_odds_gain)`` times
    surer (in odds) than it is gives every prototype the same amount of work.

    Args:
        forward_func (Callable): The classifier (logits).
        inputs (Tensor or tuple[Tensor, ...]): The query images.
        target (int, list[int] or Tensor): Their classes.
        log_odds_gain (float, optional): Rise of the log-odds
            ``logit_c - logsumexp(other logits)``, > 0. Default: 2.
        additional_forward_args (Any, optional): Passed to ``forward_func``.

    Returns:
        Tensor: ``(N,)`` float64 thresholds in ``[0, 1)`` for
        :meth:`LatentCounterfactual.explain`.

    Examples::

        >>> q = prototype_confidence(classifier, images, labels, 2.0)
        >>> proto = method.explain(
        ...     images, target=labels, min_confidence=q, loss="hinge"
        ... )
    """
    gain = V.check_positive(log_odds_gain, "log_odds_gain")
    xs = V.check_inputs(format_tensor_into_tuples(inputs))
    n = xs[0].shape[0]
    targets = V.check_targets(target, n, xs[0].device)
    if targets is None:
        raise ValueError("target is required: the classes to make prototypes of")
    args = format_additional_forward_args(additional_forward_args)
    with torch.no_grad():
        logits = _check_logits(forward_func(*xs, *(args or ())), n)
    V.check_targets_in_range(targets, logits.shape[1])
    logits = logits.double()
    index = targets.view(-1, 1)
    others = logits.scatter(1, index, float("-inf"))
    log_odds = logits.gather(1, index).squeeze(1) - torch.logsumexp(others, dim=1)
    # Below 1 in float64, whatever the gain: min_confidence must stay < 1.
    return torch.sigmoid(log_odds + gain).clamp(max=1.0 - 1e-12)


class _Solution:
    r"""One solve's end state for a set of rows, all detached."""

    def __init__(
        self,
        latent: Tensor,
        images: Tuple[Tensor, ...],
        confidence: Tensor,
        predicted: Tensor,
        success: Tensor,
        path: Tuple[Tensor, ...],
        path_confidence: Tensor,
    ) -> None:
        self.latent = latent
        self.images = images
        self.confidence = confidence
        self.predicted = predicted
        self.success = success
        self.path = path
        self.path_confidence = path_confidence

    def overwrite(self, rows: Tensor, other: _Solution, mask: Tensor) -> None:
        r"""Replace ``rows`` with ``other``'s rows selected by ``mask``."""
        self.latent[rows] = other.latent[mask]
        for mine, theirs in zip(self.images, other.images):
            mine[rows] = theirs[mask]
        for mine, theirs in zip(self.path, other.path):
            mine[rows] = theirs[mask]
        self.confidence[rows] = other.confidence[mask]
        self.predicted[rows] = other.predicted[mask]
        self.success[rows] = other.success[mask]
        self.path_confidence[rows] = other.path_confidence[mask]


class _Solver:
    r"""Adam on the latent codes for fixed per-row lambdas."""

    def __init__(
        self,
        classifier: Callable[..., Tensor],
        generator: Callable[[Tensor], TensorOrTuple],
        inputs: Tuple[Tensor, ...],
        args: Optional[Tuple[Any, ...]],
        n_steps: int,
        lr: float,
        record_steps: Sequence[int],
        loss: str,
    ) -> None:
        self.classifier = classifier
        self.generator = generator
        self.inputs = inputs
        self.args = args
        self.n_steps = n_steps
        self.lr = lr
        self.record_steps = list(record_steps)
        self.loss = loss

    def __call__(
        self,
        z0: Tensor,
        target: Tensor,
        lam: Tensor,
        min_conf: Tensor,
        rows: Optional[Tensor],
        bar: Any,
    ) -> _Solution:
        inputs = self.inputs if rows is None else tuple(x[rows] for x in self.inputs)
        args = _select_args(self.args, rows, self.inputs[0].shape[0])
        lam = lam.to(z0.dtype)
        kappa = _hinge_kappa(min_conf).to(z0.dtype)
        latent = z0.detach().clone().requires_grad_(True)
        optimizer = torch.optim.Adam([latent], lr=self.lr)
        path: List[List[Tensor]] = [[] for _ in inputs]
        path_conf: List[Tensor] = []
        for step in range(self.n_steps + 1):
            images = _as_tuple(self.generator(latent))
            logits = self.classifier(*images, *(args or ()))
            if step in self.record_steps:
                # Clone: a generator may return a view of the latent code,
                # which Adam updates in place.
                for store, img in zip(path, images):
                    store.append(img.detach().clone())
                path_conf.append(_confidence(logits.detach(), target))
            if step == self.n_steps:
                break
            class_loss = _class_loss(logits, target, self.loss, kappa)
            l1 = sum(
                (x - img).abs().flatten(1).sum(1) for x, img in zip(inputs, images)
            )
            loss = (lam * class_loss + l1).sum()
            # Only the latent code gets a gradient: the models' parameters and
            # their .grad fields are never touched.
            (grad,) = torch.autograd.grad(loss, [latent])
            latent.grad = grad
            for group in optimizer.param_groups:
                group["lr"] = self.lr * _cosine_share(step, self.n_steps)
            optimizer.step()
            bar.update(1)
        logits = logits.detach()
        confidence = _confidence(logits, target)
        predicted = logits.argmax(dim=1)
        success = (predicted == target) & (confidence >= min_conf)
        return _Solution(
            latent=latent.detach().clone(),
            images=tuple(img.detach().clone() for img in images),
            confidence=confidence,
            predicted=predicted,
            success=success,
            path=tuple(torch.stack(store, dim=1) for store in path),
            path_confidence=torch.stack(path_conf, dim=1),
        )


# ----------------------------------------------------------------- helpers


def _class_loss(logits: Tensor, target: Tensor, kind: str, kappa: Tensor) -> Tensor:
    r"""Per-row classification term: the cross-entropy ``-log p(c')``, or the
    hinge ``max(0, kappa - s)`` on the target's log-odds
    ``s = logit_c' - logsumexp(other logits)``."""
    if kind == "cross_entropy":
        return F.cross_entropy(logits, target, reduction="none")
    index = target.view(-1, 1)
    others = logits.scatter(1, index, float("-inf"))
    log_odds = logits.gather(1, index).squeeze(1) - torch.logsumexp(others, dim=1)
    return F.relu(kappa - log_odds)


def _hinge_kappa(min_conf: Tensor) -> Tensor:
    r"""Log-odds the hinge aims for: those of ``min_confidence``, at least 0
    (log-odds above 0 make the target the top class), plus a little so the
    settled solution lands on the successful side of its threshold."""
    q = min_conf.clamp(min=0.5)
    return torch.log(q) - torch.log1p(-q) + _HINGE_MARGIN


def _cosine_share(step: int, n_steps: int) -> float:
    cosine = 0.5 * (1.0 + math.cos(math.pi * step / max(n_steps, 1)))
    return _FINAL_LR_SHARE + (1.0 - _FINAL_LR_SHARE) * cosine


def _record_steps(n_steps: int, path_length: int) -> List[int]:
    r"""``path_length`` steps from 0 to ``n_steps`` inclusive, evenly spaced
    (fewer distinct ones when ``n_steps + 1 < path_length``)."""
    raw = torch.linspace(0, n_steps, path_length).round().long().tolist()
    return sorted(set(int(s) for s in raw))


def _confidence(logits: Tensor, target: Tensor) -> Tensor:
    return logits.softmax(dim=1).gather(1, target.view(-1, 1)).squeeze(1)


def _as_tuple(value: TensorOrTuple) -> Tuple[Tensor, ...]:
    return value if isinstance(value, tuple) else (value,)


def _select_args(
    args: Optional[Tuple[Any, ...]], rows: Optional[Tensor], n: int
) -> Optional[Tuple[Any, ...]]:
    r"""Per-image tensors follow the selected rows; everything else is shared."""
    if args is None or rows is None:
        return args
    return tuple(
        a[rows] if isinstance(a, Tensor) and a.dim() > 0 and a.shape[0] == n else a
        for a in args
    )


def _check_lambda_range(value: Any) -> Tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"lambda_range must be a pair (lowest, highest), got {value!r}")
    lo = V.check_positive(value[0], "lambda_range[0]")
    hi = V.check_positive(value[1], "lambda_range[1]")
    if lo > hi:
        raise ValueError(
            f"lambda_range must be increasing (lowest <= highest), got ({lo}, {hi})"
        )
    return lo, hi


def _check_min_confidence(value: Any, n: int, device: torch.device) -> Tensor:
    if isinstance(value, Tensor):
        if not value.is_floating_point():
            raise TypeError(
                f"min_confidence tensor must be floating point, got {value.dtype}"
            )
        if value.numel() == 1 and value.dim() <= 1:
            value = value.reshape(1).expand(n)
        elif value.dim() != 1 or value.shape[0] != n:
            raise ValueError(
                f"min_confidence tensor must have shape ({n},), "
                f"got {tuple(value.shape)}"
            )
        conf = value.detach().to(device=device, dtype=torch.float64)
    else:
        conf = torch.full(
            (n,),
            V.check_nonnegative(value, "min_confidence"),
            device=device,
            dtype=torch.float64,
        )
    if bool(torch.isnan(conf).any()) or bool(((conf < 0) | (conf >= 1)).any()):
        raise ValueError(
            "min_confidence must lie in [0, 1) (a probability the target class "
            f"can reach), got {conf.tolist() if conf.numel() < 8 else 'values outside'}"
        )
    return conf


def _check_latent(latent: Any, n: int) -> Tensor:
    if not isinstance(latent, Tensor):
        raise TypeError(
            "encoder must return a tensor of latent codes (for a VAE: the "
            f"posterior mean), got {type(latent).__name__}"
        )
    if not latent.is_floating_point():
        raise TypeError(
            f"encoder must return a floating-point tensor, got {latent.dtype}"
        )
    if latent.dim() < 2 or latent.shape[0] != n or latent.numel() == 0:
        raise ValueError(
            f"encoder must return latent codes of shape (N={n}, ...), "
            f"got {tuple(latent.shape)}"
        )
    if not bool(torch.isfinite(latent).all()):
        raise ValueError("encoder returned NaN or infinite latent codes")
    return latent.detach().clone()


def _check_generated(images: Any, inputs: Tuple[Tensor, ...]) -> Tuple[Tensor, ...]:
    if isinstance(images, Tensor):
        images = (images,)
    if not isinstance(images, tuple) or not all(isinstance(i, Tensor) for i in images):
        raise TypeError(
            "generator must return a tensor (a tuple of tensors for tuple "
            f"inputs), got {type(images).__name__}"
        )
    if len(images) != len(inputs):
        raise ValueError(
            f"generator returned {len(images)} tensors for {len(inputs)} inputs"
        )
    for i, (img, x) in enumerate(zip(images, inputs)):
        if img.shape != x.shape:
            name = "inputs" if len(inputs) == 1 else f"inputs[{i}]"
            raise ValueError(
                f"generator output {tuple(img.shape)} does not match the shape of "
                f"{name} {tuple(x.shape)}: G(E(x)) must be an image like x"
            )
        if not img.is_floating_point():
            raise TypeError(f"generator must return floating point, got {img.dtype}")
    return tuple(img.detach().clone() for img in images)


def _check_logits(output: Any, n: int) -> Tensor:
    if not isinstance(output, Tensor):
        raise TypeError(
            f"forward_func must return a tensor of logits, got {type(output).__name__}"
        )
    if not output.is_floating_point():
        raise TypeError(
            f"forward_func must return floating-point logits, got {output.dtype}"
        )
    if output.dim() != 2 or output.shape[0] != n or output.shape[1] < 2:
        raise ValueError(
            f"forward_func must return logits of shape (N={n}, n_classes >= 2), "
            f"got {tuple(output.shape)}"
        )
    if not bool(torch.isfinite(output).all()):
        raise ValueError("forward_func returned NaN or infinite logits on the inputs")
    return output
