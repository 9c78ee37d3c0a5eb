r"""In-fill deletion and insertion curves (Chang et al. 2019, section 4.5).

Deletion ("flipping"): pixels are removed in decreasing order of saliency
and *in-filled* (by default with a generative in-painter) rather than
zeroed, so the classifier stays on the data manifold; a lower area is a
better map. Insertion is the converse: start from the fully in-filled image
and restore the clean pixels in decreasing order of saliency; a higher area
is a better map. Both share one implementation and one normalisation: the
target's log-odds are mapped per image so that the fully in-filled image
scores 0 and the clean image 1.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional, Sequence, Tuple

import torch
from torch import Tensor
from tqdm.auto import tqdm

from captum_fido._utils.model_state import preserve_module_state
from captum_fido._utils.rows import row_chunks
from captum_fido._utils.scores import (
    check_model_output,
    check_output_type,
    log_odds,
    num_classes,
)
from captum_fido._utils.validation import (
    check_callable,
    check_inputs,
    check_positive_int,
    check_targets,
    check_targets_in_range,
)
from captum_fido.infillers import Infiller, as_infiller, warn_if_dishonest
from captum_fido.metrics._common import as_maps

__all__ = ["DeletionCurve", "InsertionCurve", "deletion_curve", "insertion_curve"]


@dataclass(frozen=True)
class _Curve:
    r"""What a deletion or an insertion curve holds (see the two below)."""

    fractions: Tensor
    log_odds: Tensor
    normalized: Tensor
    area: Tensor
    suppression: Tensor


@dataclass(frozen=True)
class DeletionCurve(_Curve):
    r"""Result of :func:`deletion_curve`.

    Attributes:
        fractions: ``(F,)`` fraction of pixels removed at each point.
        log_odds: ``(N, F)`` raw target log-odds.
        normalized: ``(N, F)`` ``(s_k - s_all) / (s_clean - s_all)``: 1 for the
            clean image, 0 once every pixel is in-filled.
        area: ``(N,)`` trapezoidal area under ``normalized``; lower is better.
        suppression: ``(N,)`` ``s_clean - s_all``, the log-odds lost when every
            pixel is in-filled. Where it is small (below about 1) the
            normalisation divides by almost nothing and ``area`` is not
            meaningful; select images with ``suppression > 1`` before
            averaging, as the paper evaluates correctly classified images.

    Examples::

        >>> from captum_fido.infillers import NoisyLinearInfiller
        >>> curve = deletion_curve(model, x, attr, target=y,
        ...                        infiller=NoisyLinearInfiller())
        >>> curve.normalized.shape == (x.shape[0], len(curve.fractions))
        True
        >>> curve.area[curve.suppression > 1].mean()  # lower is better
    """


@dataclass(frozen=True)
class InsertionCurve(_Curve):
    r"""Result of :func:`insertion_curve`.

    Attributes:
        fractions: ``(F,)`` fraction of pixels restored at each point.
        log_odds: ``(N, F)`` raw target log-odds.
        normalized: ``(N, F)`` ``(s_k - s_all) / (s_clean - s_all)``: 0 for the
            fully in-filled image (nothing restored), 1 for the clean image.
        area: ``(N,)`` trapezoidal area under ``normalized``; higher is better.
        suppression: ``(N,)`` ``s_clean - s_all`` (see
            :class:`DeletionCurve`); select images with ``suppression > 1``
            before averaging.

    Examples::

        >>> from captum_fido.infillers import NoisyLinearInfiller
        >>> curve = insertion_curve(model, x, attr, target=y,
        ...                         infiller=NoisyLinearInfiller())
        >>> curve.log_odds.shape == (x.shape[0], len(curve.fractions))
        True
        >>> curve.area[curve.suppression > 1].mean()  # higher is better
    """


_Direction = Literal["deletion", "insertion"]


def _check_fractions(fractions: Optional[Sequence[float]]) -> Tensor:
    if fractions is None:
        return torch.linspace(0, 1, 21).to(torch.float64)
    try:
        # float32 first, as before: keeps earlier results bit-identical.
        fr = torch.as_tensor(fractions).to(torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(
            f"fractions must be a sequence of numbers, got {fractions!r}"
        ) from err
    if fr.dim() != 1 or fr.numel() < 2 or (fr < 0).any() or (fr > 1).any():
        raise ValueError("fractions must be a 1-D sequence of values in [0, 1]")
    if not bool((fr[1:] > fr[:-1]).all()):
        raise ValueError("fractions must be strictly increasing")
    return fr


def _saliency_rank(sal: Tensor, gen: torch.Generator) -> Tensor:
    r"""``(N, H*W)`` rank of each pixel in decreasing saliency (0 = most
    salient); ties are broken in a seeded random order, not by position."""
    n, hw = sal.shape[0], sal[0].numel()
    flat = sal.reshape(n, -1).cpu()
    # Sort a random permutation stably, then map back.
    perm = torch.stack([torch.randperm(hw, generator=gen) for _ in range(n)])
    order_in_perm = torch.argsort(
        flat.gather(1, perm), dim=1, descending=True, stable=True
    )
    order = perm.gather(1, order_in_perm)
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(hw).expand(n, -1).contiguous())
    return rank


def _check_curve_args(
    direction: _Direction,
    forward_func: Callable[..., Tensor],
    inputs: Tensor,
    maps: Tensor,
    target: Any,
    infiller: Any,
    fractions: Optional[Sequence[float]],
    output_type: str,
    seed: int,
    internal_batch_size: int,
) -> Tuple[Tensor, Infiller, Tensor, Tensor, Tensor]:
    r"""Every argument of a curve checked before any model pass: the inputs,
    the in-filler, the maps ``(N, H, W)``, the targets and the fractions."""
    check_callable(forward_func, "forward_func")
    (inputs,) = check_inputs((inputs,))
    fill: Infiller = as_infiller(infiller, "infiller")
    sal = as_maps(maps)
    n, _, h, w = inputs.shape
    if sal.shape != (n, h, w):
        raise ValueError(
            f"maps must cover the inputs: expected {(n, h, w)} after channel "
            f"averaging, got {tuple(sal.shape)}"
        )
    targets = check_targets(target, n, inputs.device)
    if targets is None:
        raise ValueError("target is required: the class whose log-odds to track")
    check_output_type(output_type)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    check_positive_int(internal_batch_size, "internal_batch_size")
    fr = _check_fractions(fractions)
    warn_if_dishonest(fill, f"{direction}_curve")
    return inputs, fill, sal, targets, fr


def _perturbation_curve(
    direction: _Direction,
    forward_func: Callable[..., Tensor],
    inputs: Tensor,
    maps: Tensor,
    target: Any,
    infiller: Any,
    fractions: Optional[Sequence[float]],
    output_type: str,
    seed: int,
    internal_batch_size: int,
    show_progress: bool,
) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    r"""The one implementation behind :func:`deletion_curve` and
    :func:`insertion_curve`.

    At fraction ``f`` the ``round(f * H * W)`` most salient pixels are
    in-filled (deletion) or are the only clean ones (insertion). Two extra
    evaluations, the clean image and the fully in-filled one, normalise the
    curve. Returns fractions, raw log-odds, normalised curve, area and
    suppression.
    """
    inputs, fill, sal, targets, fr = _check_curve_args(
        direction,
        forward_func,
        inputs,
        maps,
        target,
        infiller,
        fractions,
        output_type,
        seed,
        internal_batch_size,
    )
    n, _, h, w = inputs.shape
    n_points, internal_batch_size = fr.numel(), int(internal_batch_size)
    rank = _saliency_rank(sal, torch.Generator().manual_seed(int(seed)))
    rank = rank.view(n, 1, h, w).to(inputs.device)
    hw = h * w

    def keep_mask(k: int) -> Tensor:
        # deletion: the k most salient pixels are in-filled;
        # insertion: the k most salient pixels are the only clean ones.
        keep = rank >= k if direction == "deletion" else rank < k
        return keep.to(inputs.dtype)

    # Columns: the requested fractions, then the clean image, then the fully
    # in-filled one; column j uses the generator seeded with ``seed + j``.
    counts = [int(round(f * hw)) for f in fr.tolist()]
    clean_count, none_count = (0, hw) if direction == "deletion" else (hw, 0)
    counts += [clean_count, none_count]
    scores = torch.empty(n, len(counts), dtype=torch.float64)
    bar = tqdm(total=len(counts), desc=f"{direction} curve", disable=not show_progress)
    with torch.no_grad(), preserve_module_state(forward_func):
        for j in [n_points, *range(n_points), n_points + 1]:  # clean first
            keep = keep_mask(counts[j])
            if bool((keep == 1).all()):
                phi = inputs
            else:
                g = torch.Generator(device=inputs.device).manual_seed(int(seed) + j)
                ref = fill(inputs, keep, g)
                phi = keep * inputs + (1 - keep) * ref
            for rows in row_chunks(n, internal_batch_size):
                out = forward_func(phi[rows])
                if j == n_points:
                    check_model_output(out, phi[rows].shape[0], output_type)
                    check_targets_in_range(targets, num_classes(out))
                scores[rows, j] = (
                    log_odds(out, targets[rows], output_type).double().cpu()
                )
            bar.update(1)
    bar.close()
    return _normalised(scores, fr)


def _normalised(
    scores: Tensor, fr: Tensor
) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    r"""Fractions, raw log-odds, the curve normalised between the fully
    in-filled (0) and the clean image (1), its area and the suppression, from
    ``scores`` ``(N, F + 2)`` (the fractions', then clean, then in-filled)."""
    clean, everything = scores[:, -2:-1], scores[:, -1:]
    raw = scores[:, :-2]
    denom = clean - everything
    # An image whose score does not move at all has no meaningful curve.
    denom = torch.where(denom.abs() < 1e-6, torch.full_like(denom, 1e-6), denom)
    normalized = (raw - everything) / denom
    area = torch.trapezoid(normalized, fr, dim=1) / (fr[-1] - fr[0])
    return (
        fr.float(),
        raw.float(),
        normalized.float(),
        area.float(),
        (clean - everything)[:, 0].float(),
    )


def deletion_curve(
    forward_func: Callable[..., Tensor],
    inputs: Tensor,
    maps: Tensor,
    target: Any,
    infiller: Callable[..., Tensor],
    fractions: Optional[Sequence[float]] = None,
    output_type: str = "logits",
    seed: int = 0,
    internal_batch_size: int = 64,
    show_progress: bool = False,
) -> DeletionCurve:
    r"""Remove pixels by saliency, in-fill them, and track the target's log-odds.

    With ``r(p)`` the rank of pixel ``p`` in decreasing saliency, the image
    at fraction ``f`` is

    .. math::

        \phi_f = z_f \odot x + (1 - z_f) \odot \mathrm{infill}(x, z_f),
        \qquad z_f(p) = [\, r(p) \ge \mathrm{round}(f H W) \,]

    and the curve is the normalised log-odds
    ``(s(phi_f) - s_all) / (s_clean - s_all)`` with ``s_all`` the log-odds
    of the fully in-filled image; ``area`` is its trapezoidal integral over
    ``fractions`` divided by their span. A good map destroys the evidence
    first: lower is better.

    Args:
        forward_func (callable): The classifier.
        inputs (Tensor): Images ``(N, C, H, W)``.
        maps (Tensor): Saliency ``(N, C, H, W)`` (absolute values averaged
            over channels) or ``(N, H, W)``; higher = removed first. Ties
            are broken in a seeded random order, not by position.
        target (int, list or Tensor): Class index or ``N`` of them.
        infiller (Infiller or callable): The evaluation in-filler: an
            :class:`~captum_fido.infillers.Infiller` or a plain callable
            ``(x, keep_mask)`` (see :func:`~captum_fido.infillers.as_infiller`).
            One that reads the pixels it replaces (``honest=False``) triggers
            a warning. Judge a method with more than one in-filler (for
            example a learned in-painter and
            :class:`~captum_fido.infillers.NoisyLinearInfiller`): a method
            optimised with in-filler X and judged with X has a home advantage.
        fractions (sequence of float, optional): Strictly increasing
            fractions of pixels removed; default 0, 0.05, ..., 1.
        output_type (str, optional): ``"logits"``, ``"probs"`` or
            ``"log_probs"``.
        seed (int, optional): Seeds tie-breaking and stochastic infillers.
        internal_batch_size (int, optional): Rows per classifier call.
        show_progress (bool, optional): Show a tqdm bar over the fractions.

    Returns:
        :class:`DeletionCurve`

    Examples::

        >>> curve = deletion_curve(model, x, attr, target=3, infiller=inpainter)
        >>> curve.area.mean()
    """
    return DeletionCurve(
        *_perturbation_curve(
            "deletion",
            forward_func,
            inputs,
            maps,
            target,
            infiller,
            fractions,
            output_type,
            seed,
            internal_batch_size,
            show_progress,
        )
    )


def insertion_curve(
    forward_func: Callable[..., Tensor],
    inputs: Tensor,
    maps: Tensor,
    target: Any,
    infiller: Callable[..., Tensor],
    fractions: Optional[Sequence[float]] = None,
    output_type: str = "logits",
    seed: int = 0,
    internal_batch_size: int = 64,
    show_progress: bool = False,
) -> InsertionCurve:
    r"""Restore pixels by saliency into the fully in-filled image, and track
    the target's log-odds: the converse of :func:`deletion_curve`.

    With ``r(p)`` the rank of pixel ``p`` in decreasing saliency, the image
    at fraction ``f`` is

    .. math::

        \phi_f = z_f \odot x + (1 - z_f) \odot \mathrm{infill}(x, z_f),
        \qquad z_f(p) = [\, r(p) < \mathrm{round}(f H W) \,]

    normalised like deletion, ``(s(phi_f) - s_all) / (s_clean - s_all)``:
    0 with nothing restored, 1 for the clean image. ``area`` is the
    trapezoidal integral over ``fractions`` divided by their span. A good
    map restores the evidence first: higher is better.

    Args:
        forward_func (callable): The classifier.
        inputs (Tensor): Images ``(N, C, H, W)``.
        maps (Tensor): Saliency ``(N, C, H, W)`` (absolute values averaged
            over channels) or ``(N, H, W)``; higher = restored first. Ties
            are broken in a seeded random order, not by position.
        target (int, list or Tensor): Class index or ``N`` of them.
        infiller (Infiller or callable): The evaluation in-filler (see
            :func:`deletion_curve`).
        fractions (sequence of float, optional): Strictly increasing
            fractions of pixels restored; default 0, 0.05, ..., 1.
        output_type (str, optional): ``"logits"``, ``"probs"`` or
            ``"log_probs"``.
        seed (int, optional): Seeds tie-breaking and stochastic infillers.
        internal_batch_size (int, optional): Rows per classifier call.
        show_progress (bool, optional): Show a tqdm bar over the fractions.

    Returns:
        :class:`InsertionCurve`

    Examples::

        >>> from captum_fido.infillers import NoisyLinearInfiller
        >>> curve = insertion_curve(model, x, attr, target=3,
        ...                         infiller=NoisyLinearInfiller())
        >>> curve.area.mean()  # higher is better
    """
    return InsertionCurve(
        *_perturbation_curve(
            "insertion",
            forward_func,
            inputs,
            maps,
            target,
            infiller,
            fractions,
            output_type,
            seed,
            internal_batch_size,
            show_progress,
        )
    )
