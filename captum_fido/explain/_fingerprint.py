r"""Describing a run's settings as plain JSON, stable across processes.

The output folder records what made its maps (method, options, model
weights, transform, seed, targets); a re-run is compared with it. A
description must be the same in every process and every run with the same
settings, so tensors and modules are described by a SHA-256 of their
values, and a ``repr`` that holds a memory address (``<... at 0x7f...>``)
is replaced by the object's qualified type or function name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["describe", "tensor_digest"]

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def describe(value: Any) -> Any:
    r"""A JSON-able, process-independent description of ``value``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [describe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): describe(v) for k, v in value.items()}
    if isinstance(value, Tensor):
        return {
            "tensor": list(value.shape),
            "dtype": str(value.dtype),
            "sha256": tensor_digest([value]),
        }
    if isinstance(value, (torch.dtype, torch.device)):
        return str(value)
    if isinstance(value, nn.Module):
        return {"module": _qualname(value), "sha256": module_digest(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {
            f.name: describe(getattr(value, f.name)) for f in dataclasses.fields(value)
        }
        return {_qualname(value): fields}
    return _stable_repr(value)


def describe_object(obj: Any) -> Any:
    r"""An object with its ``nn.Module`` parts (an in-filler's networks):
    its stable ``repr`` plus a digest of every module attribute."""
    modules = (
        {
            name: module_digest(v)
            for name, v in sorted(vars(obj).items())
            if isinstance(v, nn.Module)
        }
        if hasattr(obj, "__dict__")
        else {}
    )
    text = _stable_repr(obj)
    return {"repr": text, "modules": modules} if modules else text


def module_digest(module: nn.Module) -> str:
    r"""SHA-256 of a module's parameters and buffers, by name."""
    state = module.state_dict()
    return tensor_digest([state[k] for k in sorted(state)], names=sorted(state))


def tensor_digest(tensors: Any, names: Any = None) -> str:
    r"""SHA-256 of tensors' values, shapes and dtypes (and names)."""
    h = hashlib.sha256()
    for i, t in enumerate(tensors):
        if names is not None:
            h.update(str(names[i]).encode())
        t = t.detach().to("cpu").contiguous()
        h.update(f"{tuple(t.shape)}{t.dtype}".encode())
        # Bytes of the raw storage: uint8 view works for every dtype.
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _stable_repr(value: Any) -> str:
    text = repr(value)
    if _ADDRESS.search(text):
        return _qualname(value)
    return text


def _qualname(value: Any) -> str:
    target = (
        value if callable(value) and hasattr(value, "__qualname__") else type(value)
    )
    module = getattr(target, "__module__", "") or ""
    name = getattr(target, "__qualname__", type(value).__name__)
    return f"{module}.{name}" if module else name
