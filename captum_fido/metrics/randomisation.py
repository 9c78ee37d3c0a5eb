r"""Model-parameter randomisation sanity check (Adebayo et al., NeurIPS 2018,
"Sanity Checks for Saliency Maps").

A map that explains the model must change when the model's weights are
destroyed. The layers are re-initialised *cascading* from the output layer
down (or one at a time, *independently*), each time on a deep copy of the
model, and the maps of the randomised copies are compared with the trained
model's by the Spearman rank correlation of their absolute values. A
trustworthy method has a low correlation; one whose maps barely change (an
edge detector, for instance) does not explain the model.

Works with any method through an ``explain(model, inputs, target) -> maps``
callable; this module never imports the attribution methods.
"""

from __future__ import annotations

import copy
import numbers
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
import scipy.stats
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from captum_fido._utils.model_state import preserve_module_state
from captum_fido._utils.validation import check_inputs, check_targets
from captum_fido.metrics._common import (
    as_maps,
    check_output_targets,
    check_same_shape,
    constant_rows,
    correlation_with_constants,
)

__all__ = [
    "RandomisationResult",
    "model_randomisation",
    "randomisable_layers",
    "spearman_correlation",
]

_MODES = ("cascading", "independent")


@dataclass(frozen=True)
class RandomisationResult:
    r"""Result of :func:`model_randomisation`.

    Attributes:
        layers: The layer randomised at each stage, output layer first.
        stages: The layers randomised at each stage: ``layers[: k + 1]`` for
            ``"cascading"``, ``(layers[k],)`` for ``"independent"``.
        correlations: ``(S, N)`` Spearman correlation between the absolute
            maps of the trained model and of stage ``k``'s model, per image
            (constant maps: 1 when both are, 0 when one is; see
            :func:`spearman_correlation`).
        original_maps: ``(N, H, W)`` absolute maps of the trained model.
        mode: ``"cascading"`` or ``"independent"``.

    Examples::

        >>> from captum.attr import Saliency
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(48, 8), nn.ReLU(),
        ...                       nn.Linear(8, 3))
        >>> explain = lambda m, x, t: Saliency(m).attribute(x, target=t)
        >>> res = model_randomisation(model, torch.rand(2, 3, 4, 4), [0, 1], explain)
        >>> res.layers, res.stages
        (['3', '1'], [('3',), ('3', '1')])
        >>> res.correlations.shape  # (stages, images)
        torch.Size([2, 2])
    """

    layers: List[str]
    stages: List[Tuple[str, ...]]
    correlations: Tensor
    original_maps: Tensor
    mode: str


def randomisable_layers(model: nn.Module) -> List[str]:
    r"""Names of the modules that own parameters, in registration order
    (taken as input-to-output order; pass ``layers=`` to
    :func:`model_randomisation` when a model registers its layers in another
    order). The root module is named ``""``.

    Args:
        model (nn.Module): The model.

    Returns:
        list of str: Module names, as in ``model.named_modules()``.

    Examples::

        >>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Linear(4, 2))
        >>> randomisable_layers(model)
        ['0', '2']
    """
    return [
        name
        for name, module in model.named_modules()
        if any(True for _ in module.parameters(recurse=False))
    ]


def spearman_correlation(a: Tensor, b: Tensor) -> Tensor:
    r"""Row-wise Spearman rank correlation of ``(N, ...)`` tensors.

    ``rho = corr(rank(a), rank(b))`` with tied values given their average
    rank. A constant row has no ranks to correlate; the convention (the one
    of :func:`~captum_fido.metrics.stability`) is 1 when both rows are
    constant (neither orders anything, so they agree) and 0 when only one
    is. A row is constant when its values span at most
    :data:`~captum_fido.metrics._common.CONSTANT_RTOL` of their largest
    magnitude.

    Args:
        a (Tensor): ``(N, ...)`` finite real values, e.g. maps.
        b (Tensor): ``(N, ...)`` values of the same shape.

    Returns:
        Tensor: ``(N,)`` correlations in ``[-1, 1]``.

    Examples::

        >>> a = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
        >>> spearman_correlation(a, a ** 3), spearman_correlation(a, -a)
        (tensor([1.]), tensor([-1.]))
        >>> flat = torch.ones(1, 4)
        >>> spearman_correlation(flat, 2 * flat), spearman_correlation(flat, a)
        (tensor([1.]), tensor([0.]))
    """
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dtype == torch.bool or t.is_complex():
            raise TypeError(f"{name} must hold real numbers, got {t.dtype}")
        if t.dim() < 2 or t.shape[0] == 0 or t[0].numel() == 0:
            raise ValueError(f"{name} must be (N, ...) with N >= 1 rows of values")
    check_same_shape(a, b, ("a", "b"))
    fa = a.detach().reshape(a.shape[0], -1).cpu().double()
    fb = b.detach().reshape(b.shape[0], -1).cpu().double()
    for name, f in (("a", fa), ("b", fb)):
        if not bool(torch.isfinite(f).all()):
            raise ValueError(f"{name} holds NaN or infinite values")
    ra = scipy.stats.rankdata(fa.numpy(), axis=1)
    rb = scipy.stats.rankdata(fb.numpy(), axis=1)
    ra = ra - ra.mean(axis=1, keepdims=True)
    rb = rb - rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra * ra).sum(axis=1) * (rb * rb).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(denom > 0, (ra * rb).sum(axis=1) / np.maximum(denom, 1e-300), 0)
    corr = torch.from_numpy(np.clip(rho, -1.0, 1.0))
    return correlation_with_constants(
        corr, constant_rows(fa), constant_rows(fb)
    ).float()


def _randomise(module: nn.Module, seed: int) -> None:
    r"""Re-initialise every parameter of ``module`` (and its children) from
    ``seed``, leaving the global random state untouched: by each owning
    module's ``reset_parameters()`` where it has one (PyTorch's default
    initialisation), else by a normal draw with standard deviation 0.01."""
    params = list(module.parameters())
    devices = sorted({p.device.index or 0 for p in params if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        for sub in module.modules():
            own = list(sub.parameters(recurse=False))
            if not own:
                continue
            reset = getattr(sub, "reset_parameters", None)
            if callable(reset):
                reset()
            else:
                for p in own:
                    p.normal_(0.0, 0.01)


def _explain(
    explain: Callable[..., Any], model: nn.Module, inputs: Tensor, target: Any
) -> Tensor:
    n, _, h, w = inputs.shape
    maps = as_maps(explain(model, inputs, target), "explain(model, inputs, target)")
    if maps.shape != (n, h, w):
        raise ValueError(
            "explain(model, inputs, target) must return maps covering the inputs: "
            f"expected {(n, h, w)} after channel averaging, got {tuple(maps.shape)}"
        )
    return maps.abs().float()


def model_randomisation(
    model: nn.Module,
    inputs: Tensor,
    target: Any,
    explain: Callable[[nn.Module, Tensor, Any], Tensor],
    layers: Optional[Sequence[str]] = None,
    mode: str = "cascading",
    seed: int = 0,
    show_progress: bool = False,
) -> RandomisationResult:
    r"""Model-parameter randomisation test (Adebayo et al. 2018).

    With ``L_1, ..., L_S`` the layers from the output down, stage ``k``'s
    model ``f_k`` is a deep copy of ``model`` with ``L_1..L_k`` re-initialised
    (``"cascading"``) or only ``L_k`` (``"independent"``), and

    .. math::

        \rho_{k,i} = \mathrm{Spearman}\big(|E(f, x_i)|,\ |E(f_k, x_i)|\big)

    per image ``i``; ``(N, C, H, W)`` maps are reduced to ``(N, H, W)`` by
    averaging absolute values over channels. Low correlations are good: the
    maps depend on what the model learned.

    Layer ``L_k`` is re-initialised after ``torch.manual_seed(seed + k - 1)``
    (the global random state is restored afterwards) by its
    ``reset_parameters()``, or by a normal draw with standard deviation 0.01
    for modules without one. ``model`` itself is never modified.

    Args:
        model (nn.Module): The trained classifier (its mode, e.g. ``eval()``,
            is kept by the copies).
        inputs (Tensor): Images ``(N, C, H, W)``.
        target (int, list or Tensor): Passed to ``explain`` as given.
        explain (callable): ``explain(model, inputs, target) -> maps`` with
            maps ``(N, C, H, W)`` or ``(N, H, W)``; for example
            ``lambda m, x, t: Saliency(m).attribute(x, target=t)``.
        layers (sequence of str, optional): Names (from
            ``model.named_modules()``) of the layers to randomise, *input to
            output*; they are randomised in reverse. Default: every module
            that owns parameters (:func:`randomisable_layers`).
        mode (str, optional): ``"cascading"`` (default) or ``"independent"``.
        seed (int, optional): Seed of the re-initialisations.
        show_progress (bool, optional): Show a tqdm bar over the stages.

    Returns:
        :class:`RandomisationResult`

    Examples::

        >>> from captum.attr import Saliency
        >>> explain = lambda m, x, t: Saliency(m).attribute(x, target=t)
        >>> res = model_randomisation(model, x, y, explain)
        >>> res.layers[0], res.correlations[0].mean()  # output layer first
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    (inputs,) = check_inputs((inputs,))
    targets = check_targets(target, inputs.shape[0], inputs.device)
    if not callable(explain):
        raise TypeError(f"explain must be callable, got {type(explain).__name__}")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    modules = dict(model.named_modules())
    if layers is None:
        names = randomisable_layers(model)
    else:
        if isinstance(layers, str) or not all(isinstance(v, str) for v in layers):
            raise TypeError("layers must be a sequence of module names (str)")
        names = list(layers)
        unknown = [v for v in names if v not in modules]
        if unknown:
            raise ValueError(f"layers names modules the model lacks: {unknown}")
        empty = [v for v in names if not any(True for _ in modules[v].parameters())]
        if empty:
            raise ValueError(f"layers names modules without parameters: {empty}")
    if not names:
        raise ValueError("model has no parameters to randomise")
    order = names[::-1]  # output layer first

    with preserve_module_state(model):
        if targets is not None:
            # One clean pass: targets outside the model's classes fail here,
            # naming target, not deep inside the explanation method.
            with torch.no_grad():
                check_output_targets(model(inputs), targets, "logits", "model")
        original = _explain(explain, model, inputs, target)
    stages: List[Tuple[str, ...]] = []
    rows: List[Tensor] = []
    cascade = copy.deepcopy(model) if mode == "cascading" else None
    for k, name in enumerate(
        tqdm(order, desc="randomisation", disable=not show_progress)
    ):
        if cascade is not None:
            current = cascade
            stages.append(tuple(order[: k + 1]))
        else:
            current = copy.deepcopy(model)
            stages.append((name,))
        _randomise(dict(current.named_modules())[name], int(seed) + k)
        maps = _explain(explain, current, inputs, target)
        rows.append(spearman_correlation(original, maps))
    return RandomisationResult(order, stages, torch.stack(rows), original, mode)
