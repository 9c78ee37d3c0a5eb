r"""Explaining a model never changes it: the one helper that guarantees it for
models left in training mode (shared by the mask methods, the in-fill
baselines, the metrics and the latent counterfactuals).

A model can reach the methods as a module, a bound method, or wrapped in a
function (``lambda x: model(x)``, a ``functools.partial``, a function that
uses a module it names globally, a callable object holding one).
:func:`reachable_modules` finds the ``nn.Module`` objects behind such a
callable, so their buffers are restored whatever form the model came in.
A module it cannot see (one built inside the function at each call, or held
by a compiled or C++ callable) is outside the guarantee.

:func:`check_autograd_usable` says, before any work, when autograd cannot
run through the inputs or a model it reaches (inference mode).
"""

from __future__ import annotations

import collections
import functools
import types
import warnings
from contextlib import contextmanager
from typing import Any, Iterator, List, Set

import torch
from torch import Tensor

__all__ = ["preserve_module_state", "reachable_modules", "check_autograd_usable"]

_MODE_DEPENDENT = (
    torch.nn.modules.dropout._DropoutNd,
    torch.nn.modules.batchnorm._NormBase,
)

#: How many references deep :func:`reachable_modules` follows a callable.
_DEPTH = 4
#: At most this many entries of one container are looked at.
_MAX_ITEMS = 256
#: At most this many objects are looked at in all (a bound on the search's
#: cost when a function names large data structures).
_MAX_OBJECTS = 10_000
#: Objects that never hold a model: not searched.
_LEAVES = (str, bytes, int, float, complex, bool, type(None), torch.Tensor, type)


def reachable_modules(fn: Any) -> List[torch.nn.Module]:
    r"""The ``nn.Module`` objects a callable can reach, outermost first.

    Followed, up to four references deep (and ten thousand objects in all):
    the callable itself when it is a
    module; a bound method's owner; a ``functools.partial``'s function,
    arguments and keywords; a function's closure cells, default arguments
    and the globals its code (and the code of functions defined in it)
    names; the attributes of any other object (a callable class instance
    holding its model); and the items of lists, tuples, sets and dicts met on
    the way. Python modules, classes and tensors are not searched.

    Args:
        fn: A model, a bound method, or a function wrapping a model.

    Returns:
        list of nn.Module: each reachable module once (its submodules are
        reached through it).

    Examples::

        >>> net = torch.nn.BatchNorm1d(3)
        >>> reachable_modules(lambda x: net(x)) == [net]
        True
        >>> reachable_modules(functools.partial(net.forward)) == [net]
        True
    """
    # Breadth first: what the callable names directly is looked at before
    # anything deeper, so the object budget never hides a model it names.
    found: List[torch.nn.Module] = []
    seen: Set[int] = set()
    queue = collections.deque([(fn, _DEPTH)])
    while queue and len(seen) < _MAX_OBJECTS:
        obj, depth = queue.popleft()
        if isinstance(obj, _LEAVES) or isinstance(obj, types.ModuleType):
            continue
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.nn.Module):
            found.append(obj)
        elif depth > 0:
            queue.extend((child, depth - 1) for child in _references(obj))
    return found


def _references(obj: Any) -> List[Any]:
    r"""What ``obj`` refers to that may lead to a module."""
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)[:_MAX_ITEMS]
    if isinstance(obj, dict):
        return list(obj.values())[:_MAX_ITEMS]
    if isinstance(obj, functools.partial):
        return [obj.func, *obj.args, *obj.keywords.values()]
    if isinstance(obj, types.MethodType):
        return [obj.__self__, obj.__func__]
    if isinstance(obj, types.FunctionType):
        return _function_references(obj)
    if isinstance(obj, (types.BuiltinFunctionType, types.BuiltinMethodType)):
        owner = getattr(obj, "__self__", None)
        return [] if owner is None else [owner]
    attributes = getattr(obj, "__dict__", None)
    if isinstance(attributes, dict):
        return list(attributes.values())[:_MAX_ITEMS]
    return []


def _function_references(fn: types.FunctionType) -> List[Any]:
    refs: List[Any] = []
    for cell in fn.__closure__ or ():
        try:
            refs.append(cell.cell_contents)
        except ValueError:  # an empty cell
            continue
    refs += list(fn.__defaults__ or ())
    refs += list((fn.__kwdefaults__ or {}).values())
    names: Set[str] = set()
    codes = [fn.__code__]
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    refs += [fn.__globals__[n] for n in sorted(names) if n in fn.__globals__]
    return refs


@contextmanager
def preserve_module_state(*models: Any) -> Iterator[None]:
    r"""Restore the buffers of every module the models reach.

    Each of ``models`` may be an ``nn.Module``, a bound method of one, or
    any callable wrapping modules (see :func:`reachable_modules`). The
    buffers of every reachable module (batch-norm running statistics move on
    each forward pass in training mode) are put back afterwards. A module in
    training mode with dropout or batch-norm layers triggers one warning: its
    behaviour while being explained differs from eval mode.

    Args:
        *models: ``nn.Module`` objects, bound methods of modules, or other
            callables (searched for the modules they use).

    Examples::

        >>> net = torch.nn.BatchNorm1d(3).train()
        >>> before = net.running_mean.clone()
        >>> with preserve_module_state(lambda x: net(x)):  # warns: train mode
        ...     _ = net(torch.randn(8, 3))
        >>> torch.equal(net.running_mean, before)
        True
    """
    modules: List[torch.nn.Module] = []
    for fn in models:
        for module in reachable_modules(fn):
            if all(module is not m for m in modules):
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
    buffers = {id(b): b for m in modules for b in m.buffers()}
    saved = [(b, b.detach().clone()) for b in buffers.values()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buf, copy in saved:
                buf.copy_(copy)


def check_autograd_usable(caller: str, inputs: Any = (), *models: Any) -> None:
    r"""Raise a clear ``RuntimeError`` before any work when autograd cannot
    run a method: the call is under ``torch.inference_mode()``, or an input
    or a parameter of a model it reaches is an inference tensor (made under
    ``inference_mode``, which autograd can never record).

    ``torch.no_grad()`` is fine: the methods enable gradients themselves.

    Args:
        caller (str): The method, for the message (e.g. ``"FIDO.attribute"``).
        inputs: A tensor or a tuple of tensors (others are skipped).
        *models: The model callables (modules, bound methods, functions that
            use modules: see :func:`reachable_modules`).

    Examples::

        >>> check_autograd_usable("FIDO.attribute", torch.rand(1, 3, 8, 8))
        >>> with torch.inference_mode():
        ...     check_autograd_usable("FIDO.attribute")
        Traceback (most recent call last):
        ...
        RuntimeError: FIDO.attribute optimises by gradient descent ...
    """
    if torch.is_inference_mode_enabled():
        raise RuntimeError(
            f"{caller} optimises by gradient descent, which autograd cannot do "
            "under torch.inference_mode(): call it outside that block "
            "(torch.no_grad() is fine: the method enables gradients itself)"
        )
    tensors = inputs if isinstance(inputs, (tuple, list)) else (inputs,)
    for i, x in enumerate(tensors):
        if isinstance(x, Tensor) and x.is_inference():
            name = "inputs" if len(tensors) == 1 else f"inputs[{i}]"
            raise RuntimeError(
                f"{name} of {caller} was made under torch.inference_mode(), so "
                f"autograd cannot record it: pass {name}.clone() made outside "
                "inference mode (or make it under torch.no_grad() instead)"
            )
    for fn in models:
        for module in reachable_modules(fn):
            for pname, p in module.named_parameters():
                if p.is_inference():
                    raise RuntimeError(
                        f"the model's parameter {pname!r} was made under "
                        "torch.inference_mode(), so autograd cannot differentiate "
                        f"through it for {caller}: build or load the model "
                        "outside inference mode (torch.no_grad() is fine)"
                    )
