r"""Readable ``repr`` of result dataclasses that hold tensors."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from torch import Tensor

__all__ = ["shapes_repr"]


def shapes_repr(result: Any) -> str:
    r"""``Name(field=Tensor(shape), field=((shape), ...), field=value)``:
    tensors by their shapes, so a result prints in one readable line."""
    parts = []
    for f in fields(result):
        v = getattr(result, f.name)
        if isinstance(v, Tensor):
            parts.append(f"{f.name}=Tensor{tuple(v.shape)}")
        elif isinstance(v, tuple) and all(isinstance(t, Tensor) for t in v):
            shapes = ", ".join(str(tuple(t.shape)) for t in v)
            parts.append(f"{f.name}=({shapes})")
        else:
            parts.append(f"{f.name}={v!r}")
    return f"{type(result).__name__}(" + ", ".join(parts) + ")"
