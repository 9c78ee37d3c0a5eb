r"""Explaining a model never changes it: the one helper that guarantees it for
models left in training mode (shared by the mask methods and the latent
counterfactuals)."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Any, Iterator, List

import torch

__all__ = ["preserve_module_state"]

_MODE_DEPENDENT = (
    torch.nn.modules.dropout._DropoutNd,
    torch.nn.modules.batchnorm._NormBase,
)


def _as_module(fn: Any) -> Any:
    if isinstance(fn, torch.nn.Module):
        return fn
    owner = getattr(fn, "__self__", None)  # a bound method such as model.forward
    return owner if isinstance(owner, torch.nn.Module) else None


@contextmanager
def preserve_module_state(*models: Any) -> Iterator[None]:
    r"""Restore the buffers of any model left in training mode.

    Models in eval mode have nothing to restore. A model in training mode
    with dropout or batch-norm layers triggers one warning (its behaviour
    while being explained differs from eval mode); the buffers of every model
    in training mode (batch-norm running statistics move on each forward
    pass) are put back afterwards.

    Args:
        *models: ``nn.Module`` objects, bound methods of modules, or any other
            callables (ignored).
    """
    modules: List[torch.nn.Module] = []
    for fn in models:
        module = _as_module(fn)
        if module is not None and any(m.training for m in module.modules()):
            modules.append(module)
    if any(
        m.training and isinstance(m, _MODE_DEPENDENT)
        for module in modules
        for m in module.modules()
    ):
        warnings.warn(
            "a model is in training mode: dropout and batch statistics are "
            "active while explaining it (call model.eval() for the usual "
            "behaviour); its buffers are restored afterwards",
            stacklevel=4,
        )
    saved = [(b, b.detach().clone()) for m in modules for b in m.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buf, copy in saved:
                buf.copy_(copy)
