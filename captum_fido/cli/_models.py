r"""The models ``captum-fido explain`` runs, and how images are prepared
for them.

A :class:`LoadedModel` is a classifier that takes ``[0, 1]`` RGB images of
one square size, with the resize and crop that bring a decoded file to that
size (:attr:`LoadedModel.transform`),
its class names where known, and the layer Grad-CAM explains. Problems with
``--model``/``--weights`` are reported through the command's parser before
any image is explained.
"""

from __future__ import annotations

import argparse
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from captum_fido.demo.photos import IMAGENET_MEAN, IMAGENET_STD, NormalizedClassifier

__all__ = ["LoadedModel", "load_model"]


@dataclass
class LoadedModel:
    r"""A classifier ready for the images, and how they are prepared for it.

    Attributes:
        name: ``"demo"`` or ``"torchvision:NAME"``.
        model: Takes ``(N, 3, crop, crop)`` RGB in ``[0, 1]``; eval mode,
            parameters frozen.
        resize: Shorter side the images are resized to.
        crop: Side of the centre crop (the model's input size).
        classes: Class names in label order, when known.
        gradcam_layer: Picks the layer of ``model`` to give ``LayerGradCam``.
    """

    name: str
    model: nn.Module
    resize: int
    crop: int
    classes: Optional[Sequence[str]]
    gradcam_layer: Callable[[nn.Module], nn.Module]

    @property
    def transform(self) -> Callable[[Tensor], Tensor]:
        r"""Decoded ``(3, H, W)`` pixels in ``[0, 1]`` -> the model's input:
        the shorter side resized to ``resize`` (antialiased bilinear, so
        values stay in ``[0, 1]``), then a centre crop of ``crop``."""
        from torchvision.transforms import v2 as T

        return T.Compose(
            [T.Resize(self.resize, antialias=True), T.CenterCrop(self.crop)]
        )


def _demo_model() -> LoadedModel:
    from captum_fido.demo.domains import load_domain

    domain = load_domain("scenes")
    model = domain.load_classifier()
    return LoadedModel("demo", model, 64, 64, domain.classes, domain.gradcam_layer)


def _state_dict(p: argparse.ArgumentParser, path: Optional[Path]) -> Dict[str, Tensor]:
    if path is None:
        p.error("--model torchvision:NAME needs --weights FILE (a saved state_dict)")
    if not path.is_file():
        p.error(f"--weights {path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a bad file
        p.error(f"--weights {path}: not a loadable state_dict ({err})")
    if not isinstance(state, dict) or not all(
        isinstance(v, Tensor) for v in state.values()
    ):
        p.error(
            f"--weights {path}: expected a state_dict (torch.save(model."
            f"state_dict(), FILE)), got a {type(state).__name__}"
        )
    return state


def _mismatch(model: nn.Module, state: Dict[str, Tensor]) -> str:
    r"""What differs between ``model``'s parameters and ``state``, briefly."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} (needs {tuple(v.shape)})"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    parts = []
    for label, items in (
        ("missing", missing),
        ("unexpected", unexpected),
        ("wrong shape", shapes),
    ):
        if items:
            more = f" and {len(items) - 3} more" if len(items) > 3 else ""
            parts.append(f"{len(items)} {label}: {', '.join(items[:3])}{more}")
    return "; ".join(parts)


def _preprocessing(name: str) -> Tuple[int, int, Any, Any, Optional[List[str]]]:
    r"""``(resize, crop, mean, std, categories)`` of the torchvision weights
    enum of ``name`` (its first, default entry; ImageNet's evaluation
    transform when ``name`` has none)."""
    from torchvision.models import get_model_weights

    try:
        enum = list(get_model_weights(name))[0]
    except (ValueError, KeyError, IndexError):
        return 256, 224, IMAGENET_MEAN, IMAGENET_STD, None
    t = enum.transforms()
    categories = enum.meta.get("categories")
    return t.resize_size[0], t.crop_size[0], t.mean, t.std, categories


def _torchvision_model(
    p: argparse.ArgumentParser, name: str, weights: Optional[Path]
) -> LoadedModel:
    import torchvision
    from torchvision.models import get_model, list_models

    known = list_models(module=torchvision.models)
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        p.error(f"--model torchvision:{name}: not a torchvision classifier{hint}")
    state = _state_dict(p, weights)
    # The classifier head's width is the last weight's output size, so a
    # fine-tuned model with its own number of classes loads too.
    heads = [v for k, v in state.items() if k.endswith("weight") and v.dim() >= 2]
    n_classes = int(heads[-1].shape[0]) if heads else 1000
    model = get_model(name, weights=None, num_classes=n_classes)
    problem = _mismatch(model, state)
    if problem:
        p.error(f"--weights {weights} does not fit torchvision:{name}: {problem}")
    model.load_state_dict(state)
    resize, crop, mean, std, categories = _preprocessing(name)
    wrapped = NormalizedClassifier(model, mean, std).eval().requires_grad_(False)
    names = categories if categories and len(categories) == n_classes else None
    return LoadedModel(
        f"torchvision:{name}",
        wrapped,
        resize,
        crop,
        names,
        lambda module: _last_spatial_layer(module, crop),
    )


def _last_spatial_layer(model: nn.Module, size: int) -> nn.Module:
    r"""The module whose output is the last spatial ``(N, C, h, w)`` map
    (``h > 1``) of a forward pass on a ``size`` px image: the layer Grad-CAM
    explains (``layer4`` of a ResNet). ``ValueError`` when there is none."""
    found: List[nn.Module] = []

    def hook(module: nn.Module, inputs: Any, output: Any) -> None:
        if isinstance(output, Tensor) and output.dim() == 4 and output.shape[2] > 1:
            found.append(module)

    param = next(model.parameters())
    x = torch.rand(1, 3, size, size, device=param.device, dtype=param.dtype)
    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    if not found:
        raise ValueError("the model has no spatial feature map for Grad-CAM")
    return found[-1]


def load_model(p: argparse.ArgumentParser, a: argparse.Namespace) -> LoadedModel:
    r"""The model ``--model``/``--weights`` name; errors through ``p``."""
    if a.model == "demo":
        if a.weights is not None:
            p.error("--weights goes with --model torchvision:NAME, not demo")
        return _demo_model()
    kind, _, name = a.model.partition(":")
    if kind != "torchvision" or not name:
        p.error(f"--model {a.model!r}: expected 'demo' or 'torchvision:NAME'")
    return _torchvision_model(p, name, a.weights)
