r"""Any attribution method behind one call: a batch in, ``[0, 1]`` maps out.

Three kinds of ``method`` are accepted:

- our mask methods (:class:`~captum_fido.FIDO`, :class:`~captum_fido.BBMP`
  and their subclasses): called once per batch with the run's ``seed``;
  each image draws from its own generator seeded with it, so an input's
  map does not depend on the other inputs of its batch. Their maps are
  keep (SSR) or drop (SDR) probabilities, stored as they are, and the
  details give the classifier's probability on counterfactual in-fills.
- a Captum attribution object (``Saliency(model)``, ``LayerGradCam(model,
  layer)``, :class:`~captum_fido.AmortisedFIDO`, ...): called with
  ``target`` and the ``attribute_kwargs``. Layer attributions are upsampled
  to the input (bilinear); Grad-CAM keeps its positive part; the map is the
  mean absolute attribution over channels divided by its maximum (our
  :class:`~captum_fido.AmortisedFIDO` already gives probabilities).
- a callable ``fn(inputs, target) -> maps``: ``(N, H, W)`` or
  ``(N, C, H, W)`` maps (channels averaged) that must already lie in
  ``[0, 1]``; nothing is rescaled silently.

Captum methods and callables run under a forked global RNG seeded with the
run's seed, so a method that draws from it is reproducible; its map can
still depend on the batch when the method draws across the batch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Mapping, Optional

import torch
from torch import Tensor, nn

from captum_fido.explain._fingerprint import describe, describe_object, module_digest

__all__ = ["BatchMaps", "Adapter", "adapt"]

#: ``attribute`` arguments the run sets itself, per kind.
_RESERVED = {
    "mask": (
        "inputs",
        "target",
        "seed",
        "return_details",
        "n_counterfactuals",
        "show_progress",
    ),
    "captum": ("inputs", "target"),
}


@dataclass
class BatchMaps:
    r"""One batch's maps and, for mask methods, their counterfactuals."""

    maps: Tensor  # (N, H, W) float32 on the CPU, in [0, 1]
    counterfactual_probs: Optional[Tensor] = None  # (N, K)
    counterfactuals: Optional[Tensor] = None  # (N, K, C, H, W)


class Adapter:
    r"""``adapter(x, target, seed, progress) -> BatchMaps`` for one method."""

    kind = "callable"

    def __init__(
        self, method: Any, kwargs: Mapping[str, Any], n_counterfactuals: int
    ) -> None:
        self.method = method
        self.kwargs = dict(kwargs)
        self.n_counterfactuals = n_counterfactuals

    @property
    def model(self) -> Optional[Callable[..., Tensor]]:
        return getattr(self.method, "forward_func", None)

    @property
    def output_type(self) -> str:
        return str(getattr(self.method, "output_type", "logits"))

    def parts(self) -> Dict[str, Any]:
        r"""Objects whose ``nn.Module`` parts must follow the device."""
        return {}

    def describe(self) -> Dict[str, Any]:
        return {
            "kind": self.kind,
            "method": describe(self.method),
            "attribute_kwargs": describe(self.kwargs),
        }

    def __call__(
        self, x: Tensor, target: Tensor, seed: int, progress: bool
    ) -> BatchMaps:
        with _seeded(seed, x.device):
            maps = self.method(x, target)
        return BatchMaps(_checked(maps, x, "method"))


class MaskAdapter(Adapter):
    r"""FIDO, BBMP: maps as returned, counterfactuals from the details."""

    kind = "mask"

    def parts(self) -> Dict[str, Any]:
        return {"infiller": self.method.infiller}

    def describe(self) -> Dict[str, Any]:
        m = self.method
        given = {k: v for k, v in self.kwargs.items() if v is not None}
        options = {"defaults": describe(m.defaults), "given": describe(given)}
        return {
            "kind": self.kind,
            "method": f"{type(m).__module__}.{type(m).__qualname__}",
            "objective": m.objective,
            "output_type": m.output_type,
            "infiller": describe_object(m.infiller),
            "options": options,
            "n_counterfactuals": self.n_counterfactuals,
        }

    def __call__(
        self, x: Tensor, target: Tensor, seed: int, progress: bool
    ) -> BatchMaps:
        k = self.n_counterfactuals
        out = self.method.attribute(
            x,
            target=target,
            seed=seed,
            show_progress=progress,
            return_details=k > 0,
            **({"n_counterfactuals": k} if k else {}),
            **self.kwargs,
        )
        attr, details = out if k > 0 else (out, None)
        maps = _checked(attr[:, 0], x, type(self.method).__name__)
        if details is None:
            return BatchMaps(maps)
        return BatchMaps(
            maps,
            details.counterfactual_probs.detach().float().cpu(),
            details.counterfactuals[0].detach().float().cpu(),
        )


class CaptumAdapter(Adapter):
    r"""A Captum attribution object; maps scaled to ``[0, 1]`` per image."""

    kind = "captum"

    def describe(self) -> Dict[str, Any]:
        m = self.method
        described: Dict[str, Any] = {
            "kind": self.kind,
            "method": f"{type(m).__module__}.{type(m).__qualname__}",
            "attribute_kwargs": describe(self.kwargs),
        }
        model = getattr(m, "forward_func", None)
        if isinstance(model, nn.Module):
            described["model"] = module_digest(model)
            names = {id(mod): name for name, mod in model.named_modules()}
            for attr, value in sorted(vars(m).items()):
                if isinstance(value, nn.Module) and value is not model:
                    described[attr] = names.get(id(value), describe(value))
        return described

    def __call__(
        self, x: Tensor, target: Tensor, seed: int, progress: bool
    ) -> BatchMaps:
        from captum.attr import LayerAttribution, LayerGradCam

        from captum_fido.attr import AmortisedFIDO

        with _seeded(seed, x.device):
            attr = self.method.attribute(x, target=target, **self.kwargs)
        if isinstance(attr, tuple):
            attr = attr[0]
        name = type(self.method).__name__
        if isinstance(self.method, AmortisedFIDO):
            return BatchMaps(_checked(attr, x, name))
        attr = attr.detach()
        if attr.dim() == 4 and tuple(attr.shape[2:]) != tuple(x.shape[2:]):
            attr = LayerAttribution.interpolate(attr, tuple(x.shape[2:]), "bilinear")
        if isinstance(self.method, LayerGradCam):
            attr = attr.clamp_min(0)  # Grad-CAM's ReLU: evidence for the class
        if attr.dim() != 4 or attr.shape[0] != x.shape[0]:
            raise ValueError(
                f"{name} returned attributions of shape {tuple(attr.shape)} for "
                f"inputs {tuple(x.shape)}"
            )
        maps = attr.abs().mean(dim=1)
        top = maps.flatten(1).amax(dim=1).clamp_min(1e-12)
        return BatchMaps(_checked(maps / top[:, None, None], x, name))


def adapt(
    method: Any, attribute_kwargs: Optional[Mapping[str, Any]], n_counterfactuals: int
) -> Adapter:
    r"""The adapter of ``method``, with ``attribute_kwargs`` checked."""
    from captum.attr import Attribution

    from captum_fido.attr import BBMP, FIDO

    kwargs = dict(attribute_kwargs or {})
    if not all(isinstance(k, str) for k in kwargs):
        raise TypeError("attribute_kwargs must map argument names (str) to values")
    if isinstance(method, (FIDO, BBMP)):
        adapter: Adapter = MaskAdapter(method, kwargs, n_counterfactuals)
        _check_kwargs(method.attribute, kwargs, "mask")
        # Bad option values fail here, before any work.
        fields = {f.name for f in dataclasses.fields(method.defaults)}
        method.defaults.replace(
            **{k: v for k, v in kwargs.items() if k in fields and v is not None}
        )
        return adapter
    if isinstance(method, Attribution):
        _check_kwargs(method.attribute, kwargs, "captum")
        return CaptumAdapter(method, kwargs, 0)
    if isinstance(method, type):
        raise TypeError(
            f"method must be an attribution object or a function, got the class "
            f"{method.__name__}: create it first, e.g. {method.__name__}(model, ...)"
        )
    if callable(method):
        if kwargs:
            raise TypeError(
                "attribute_kwargs go with FIDO, BBMP and Captum methods; a "
                "function method takes (inputs, target) only"
            )
        return Adapter(method, {}, 0)
    raise TypeError(
        "method must be FIDO/BBMP, a Captum attribution object, or a function "
        f"fn(inputs, target) -> maps, got {type(method).__name__}"
    )


def _check_kwargs(
    attribute: Callable[..., Any], kwargs: Dict[str, Any], kind: str
) -> None:
    reserved = [k for k in kwargs if k in _RESERVED[kind]]
    if reserved:
        raise ValueError(
            f"attribute_kwargs must not set {', '.join(reserved)}: the run sets "
            "it (seed= and n_counterfactuals= are arguments of explain_dataset; "
            "targets come from target=)"
        )
    params = inspect.signature(attribute).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(k for k in kwargs if k not in params)
    if unknown:
        raise TypeError(
            f"attribute_kwargs: {', '.join(unknown)} not an argument of "
            f"{attribute.__qualname__}"
        )


def _checked(maps: Any, x: Tensor, name: str) -> Tensor:
    r"""``(N, H, W)`` float32 CPU maps in ``[0, 1]`` from a method's output."""
    if not isinstance(maps, Tensor):
        raise TypeError(f"{name} returned {type(maps).__name__}, not a tensor of maps")
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    if maps.dim() == 4 and maps.shape[0] == n:
        maps = maps.mean(dim=1)
    if tuple(maps.shape) != (n, h, w):
        raise ValueError(
            f"{name} returned maps of shape {tuple(maps.shape)}; expected "
            f"({n}, {h}, {w}) or ({n}, C, {h}, {w}) for inputs {tuple(x.shape)}"
        )
    maps = maps.detach().float().cpu()
    if not bool(((maps >= 0) & (maps <= 1)).all()):
        raise ValueError(
            f"{name} returned maps outside [0, 1] (or NaN): scale them first, "
            "e.g. a.abs() / a.abs().amax()"
        )
    return maps


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    r"""Fork the global RNG (CPU and the input's GPU) and seed it, so the
    user's own random stream is left as it was."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
