r"""The choices of a data-set run, checked before any work, and the
settings recorded in (and compared with) its output folder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

import torch
from torch import Tensor, nn

from captum_fido.explain._fingerprint import describe
from captum_fido.explain._inputs import Source
from captum_fido.explain._methods import Adapter, adapt
from captum_fido.explain._store import STORE_FORMAT

__all__ = ["RunConfig", "TargetSpec", "configure", "settings", "model_device", "move"]

TargetSpec = Union[str, int, Mapping[str, int]]


@dataclass(frozen=True)
class RunConfig:
    r"""The run's choices, checked (everything but data, out and device)."""

    adapter: Adapter
    classifier: Optional[Callable[..., Tensor]]
    output_type: str
    target: TargetSpec
    transform: Optional[Callable[[Tensor], Tensor]]
    batch_size: int
    seed: int
    class_names: Optional[List[str]]
    figures: bool
    retry_failed: bool
    label: str
    show_progress: bool


def configure(
    method: Any,
    target: Any,
    model: Any,
    output_type: Optional[str],
    transform: Any,
    batch_size: Any,
    seed: Any,
    attribute_kwargs: Optional[Mapping[str, Any]],
    n_counterfactuals: Any,
    class_names: Any,
    figures: bool,
    retry_failed: bool,
    name: Optional[str],
    show_progress: bool,
) -> RunConfig:
    r"""Check ``explain_dataset``'s arguments (before any work)."""
    _check_arguments(
        batch_size, seed, n_counterfactuals, target, transform, class_names
    )
    adapter = adapt(method, attribute_kwargs, n_counterfactuals)
    classifier = model if model is not None else adapter.model
    if target == "predicted" and classifier is None:
        raise ValueError(
            "target='predicted' needs the classifier: pass model= (a function "
            "method has no forward_func), or give the targets"
        )
    return RunConfig(
        adapter,
        classifier,
        _output_type(output_type, adapter),
        target,
        transform,
        batch_size,
        seed,
        None if class_names is None else list(class_names),
        bool(figures),
        bool(retry_failed),
        name or _method_name(method),
        bool(show_progress),
    )


def _check_arguments(
    batch_size: Any,
    seed: Any,
    n_counterfactuals: Any,
    target: Any,
    transform: Any,
    class_names: Any,
) -> None:
    for arg, value, low in (
        ("batch_size", batch_size, 1),
        ("seed", seed, 0),
        ("n_counterfactuals", n_counterfactuals, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{arg} must be an integer >= {low}, got {value!r}")
    ok_target = (
        target in ("predicted", "label")
        or (isinstance(target, int) and not isinstance(target, bool) and target >= 0)
        or (
            isinstance(target, Mapping)
            and all(
                isinstance(v, int) and not isinstance(v, bool) for v in target.values()
            )
        )
    )
    if not ok_target:
        raise ValueError(
            "target must be 'predicted', 'label', a class index >= 0, or a "
            f"mapping input id -> class index; got {target!r}"
        )
    if transform is not None and not callable(transform):
        raise TypeError(f"transform must be callable, got {type(transform).__name__}")
    if class_names is not None and (
        isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names)
    ):
        raise TypeError("class_names must be a sequence of str")


def _output_type(output_type: Optional[str], adapter: Adapter) -> str:
    from captum_fido._utils.scores import check_output_type

    value = output_type if output_type is not None else adapter.output_type
    return check_output_type(value)


def _method_name(method: Any) -> str:
    objective = getattr(method, "objective", None)
    if hasattr(method, "attribute"):
        base = type(method).__name__
    else:
        base = getattr(method, "__name__", type(method).__name__)
    if isinstance(objective, str) and objective.upper() not in base:
        return f"{base}-{objective.upper()}"
    return base


def model_device(classifier: Any) -> torch.device:
    if isinstance(classifier, nn.Module):
        for tensor in list(classifier.parameters()) + list(classifier.buffers()):
            return tensor.device
    return torch.device("cpu")


def move(device: torch.device, config: RunConfig) -> None:
    r"""Move the classifier, the method's model and its in-filler's networks."""
    adapter = config.adapter
    for obj in (config.classifier, adapter.model, *adapter.parts().values()):
        if isinstance(obj, nn.Module):
            obj.to(device)
        elif obj is not None and hasattr(obj, "__dict__"):
            for part in vars(obj).values():
                if isinstance(part, nn.Module):
                    part.to(device)


def settings(config: RunConfig, source: Source) -> Dict[str, Any]:
    r"""What makes the maps: compared with an earlier run's in ``out``."""
    from captum_fido import __version__

    adapter, classifier = config.adapter, config.classifier
    return {
        "store_format": STORE_FORMAT,
        "version": __version__,
        "name": config.label,
        "method": adapter.describe(),
        "model": describe(classifier),
        "method_model": (
            "model" if adapter.model is classifier else describe(adapter.model)
        ),
        "output_type": config.output_type,
        "target": describe(config.target),
        "transform": describe(config.transform),
        "seed": config.seed,
        "figures": config.figures,
        "data": source.describe(),
    }
