r"""Argument checks run before any optimisation step.

Every check raises ``TypeError`` (wrong kind of object) or ``ValueError``
(right kind, wrong value) with a message that names the argument.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

# The box checks live in their own module (boxes.py); the metrics and the evaluation
# take them from here with the other checks.
from captum_fido._utils.boxes import EDGE_TOLERANCE, check_boxes

__all__ = [
    "check_inputs",
    "check_targets",
    "check_targets_in_range",
    "check_callable",
    "check_choice",
    "check_int_at_least",
    "check_positive_int",
    "check_nonnegative_int",
    "tensor_or_tuple",
    "per_input",
    "check_nonnegative",
    "check_positive",
    "resolve_mask_size",
    "check_additional_forward_args",
    "check_finite",
    "check_finite_values",
    "check_bool",
    "check_unit_interval",
    "check_boxes",
    "EDGE_TOLERANCE",
]


def check_inputs(
    inputs: Tuple[Any, ...], allow_tabular: bool = False
) -> Tuple[Tensor, ...]:
    r"""Each input must be a finite floating-point ``(N, C, H, W)`` tensor
    (or, with ``allow_tabular``, all of them ``(N, F)`` feature rows).

    Channels-last images ``(N, H, W, C)`` and single images ``(H, W, C)`` or
    ``(C, H, W)`` are refused with the call that fixes them: layouts are never
    guessed or reordered silently.
    """
    if len(inputs) == 0:
        raise ValueError("inputs must hold at least one tensor")
    n: Optional[int] = None
    for i, x in enumerate(inputs):
        name = "inputs" if len(inputs) == 1 else f"inputs[{i}]"
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        _check_layout(x, name, allow_tabular)
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
        if x.numel() == 0:
            raise ValueError(f"{name} is empty: shape {tuple(x.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} holds NaN or infinite values")
        if n is None:
            n = x.shape[0]
        elif x.shape[0] != n:
            raise ValueError(
                f"all inputs must share the batch size N={n}, {name} has {x.shape[0]}"
            )
        if x.device != inputs[0].device:
            raise ValueError(
                f"{name} is on {x.device}, inputs[0] on {inputs[0].device}"
            )
        if allow_tabular and x.dim() != inputs[0].dim():
            raise ValueError(
                f"{name} has {x.dim()} dimensions, inputs[0] {inputs[0].dim()}: "
                "inputs are either all images (N, C, H, W) or all feature rows (N, F)"
            )
    return inputs


#: Channel counts of image formats (grey, RGB, RGBA).
_IMAGE_CHANNELS = (1, 3, 4)


def _looks_channels_last(h: int, w: int, c: int) -> bool:
    r"""Whether sizes ``(h, w, c)`` read as an image with its channels last:
    a channel count last and two spatial sides much bigger than it (at
    least 8), where the first side is not itself a channel count."""
    return c in _IMAGE_CHANNELS and h not in _IMAGE_CHANNELS and min(h, w) >= 8


def _check_layout(x: Tensor, name: str, allow_tabular: bool) -> None:
    r"""Refuse a tensor that is not ``(N, C, H, W)`` (or ``(N, F)`` with
    ``allow_tabular``), with the call that makes it one where the layout is
    recognisable."""
    expected = "(N, C, H, W)" + (" or (N, F)" if allow_tabular else "")
    shape = tuple(x.shape)
    if x.dim() == 4 and _looks_channels_last(*shape[1:]):
        raise ValueError(
            f"{name} has shape {shape}, which looks like channels-last images "
            f"(N, H, W, C) with C={shape[3]}; the model and FIDO take "
            f"(N, C, H, W): pass {name}.permute(0, 3, 1, 2)"
        )
    if x.dim() == 4 or (allow_tabular and x.dim() == 2):
        return
    hint = ""
    if x.dim() == 3 and _looks_channels_last(*shape):
        hint = (
            f" (a single channels-last image (H, W, C) needs "
            f"{name}.permute(2, 0, 1).unsqueeze(0))"
        )
    elif x.dim() == 3 and shape[0] in _IMAGE_CHANNELS:
        hint = f" (a single image of shape (C, H, W) needs {name}.unsqueeze(0))"
    elif x.dim() == 1 and allow_tabular:
        hint = f" (a single row of F features needs {name}.unsqueeze(0))"
    raise ValueError(f"{name} must have shape {expected}, got {shape}{hint}")


def check_targets(target: Any, n: int, device: torch.device) -> Optional[Tensor]:
    r"""Turn Captum's target forms into an ``(N,)`` long tensor.

    Accepts an int, a 0-d or 1-element integer tensor (one class for every
    image), a length-``N`` list of ints or an ``(N,)`` integer tensor.
    ``None`` is returned as ``None`` (allowed only for one-output models).
    """
    if target is None:
        return None
    if isinstance(target, bool):
        raise TypeError(
            "target must be an int, a list of ints or an integer tensor, got bool"
        )
    if isinstance(target, numbers.Integral):
        return torch.full((n,), int(target), dtype=torch.long, device=device)
    if isinstance(target, tuple):
        raise TypeError(
            "target tuples select elements of multi-dimensional outputs; FIDO "
            "explains classifiers with (N, C) outputs: give an int, a list of "
            "ints or an integer tensor"
        )
    if isinstance(target, Tensor):
        if (
            target.is_floating_point()
            or target.is_complex()
            or target.dtype == torch.bool
        ):
            raise TypeError(f"target tensor must hold integers, got {target.dtype}")
        if target.numel() == 1 and target.dim() <= 1:
            return torch.full((n,), int(target.item()), dtype=torch.long, device=device)
        if target.dim() != 1 or target.shape[0] != n:
            raise ValueError(
                f"target tensor must have shape ({n},) (one class per image), "
                f"got {tuple(target.shape)}"
            )
        return target.to(device=device, dtype=torch.long)
    if isinstance(target, list):
        if len(target) != n:
            raise ValueError(
                f"target list must have one entry per image (N={n}), got {len(target)}"
            )
        for t in target:
            if isinstance(t, bool) or not isinstance(t, numbers.Integral):
                raise TypeError(
                    f"target list entries must be ints, got {type(t).__name__}"
                )
        return torch.tensor([int(t) for t in target], dtype=torch.long, device=device)
    raise TypeError(
        "target must be an int, a list of ints or an integer tensor, "
        f"got {type(target).__name__}"
    )


def check_targets_in_range(target: Tensor, n_classes: int) -> None:
    bad = (target < 0) | (target >= n_classes)
    if bool(bad.any()):
        raise ValueError(
            f"target out of range: the model has {n_classes} classes "
            f"(valid targets 0..{n_classes - 1}), got {target[bad].tolist()}"
        )


def check_callable(value: Any, name: str) -> Any:
    r"""Something that can be called (a model, a function), returned as is.

    Args:
        value: The argument's value.
        name (str): The argument's name, for error messages.

    Returns:
        ``value``.

    Examples::

        >>> check_callable(abs, "forward_func") is abs
        True
    """
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}")
    return value


def check_choice(value: Any, name: str, choices: Any, *, text: bool = False) -> Any:
    r"""One of ``choices``, returned as is (first a ``str`` when ``text``).

    Args:
        value: The argument's value.
        name (str): The argument's name, for error messages.
        choices (collection): The values allowed, shown as given in the
            message (a tuple, a sorted list, ...).
        text (bool, optional): Refuse a value that is not a ``str`` with a
            ``TypeError`` first. Default ``False``.

    Returns:
        ``value``.

    Examples::

        >>> check_choice("ssr", "objective", ("ssr", "sdr"))
        'ssr'
    """
    if text and not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_int_at_least(
    value: Any, name: str, minimum: int, kind: str = "an int"
) -> int:
    r"""An integer (not a bool) of at least ``minimum``, as an int.

    Args:
        value: The argument's value.
        name (str): The argument's name, for error messages.
        minimum (int): The smallest value allowed.
        kind (str, optional): What the ``TypeError`` says the argument must
            be. Default ``"an int"``.

    Returns:
        int: ``value``.

    Examples::

        >>> check_int_at_least(3, "n_steps", 1)
        3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {kind}, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_positive_int(value: Any, name: str) -> int:
    return check_int_at_least(value, name, 1)


def check_nonnegative_int(value: Any, name: str) -> int:
    return check_int_at_least(value, name, 0)


def tensor_or_tuple(check: Callable[[Any, str], Tensor]) -> Callable[[Any, str], Any]:
    r"""A per-input tensor option (``feature_mask``, ``avoid_regions``):
    ``None``, one tensor, or a non-empty tuple (or list) of them, one per
    input, each passed to ``check`` (named ``name[i]`` in a tuple).

    Args:
        check (callable): ``check(tensor, name)`` returns the checked tensor
            or raises.

    Returns:
        The option's check: ``None``, the checked tensor or a tuple of them.

    Examples::

        >>> floats = tensor_or_tuple(lambda t, name: t.float())
        >>> floats([torch.zeros(1)], "r")
        (tensor([0.]),)
    """

    def check_each(value: Any, name: str) -> Any:
        if value is None:
            return None
        if isinstance(value, (tuple, list)):
            if len(value) == 0:
                raise ValueError(f"{name} must not be an empty tuple")
            return tuple(check(v, f"{name}[{i}]") for i, v in enumerate(value))
        return check(value, name)

    return check_each


def _check_real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def per_input(
    value: Any, inputs: Tuple[Tensor, ...], name: str, what: str = "tensors"
) -> List[Tuple[str, Any, Tensor]]:
    r"""A per-input option (a tuple of one per input, or one value) paired
    with the inputs: ``(label, value, input)`` for each input, ``label``
    being ``name`` for a single input and ``name[i]`` in a tuple.

    Args:
        value: The option's value (a tuple, or one value for one input).
        inputs (tuple of Tensor): The inputs it belongs to.
        name (str): The option's name, for labels and errors.
        what (str, optional): What the option holds, for the error when the
            counts differ. Default ``"tensors"``.

    Returns:
        list of ``(label, value, input)``.

    Examples::

        >>> x = torch.zeros(2, 3)
        >>> [label for label, _, _ in per_input(x, (x,), "feature_mask")]
        ['feature_mask']
    """
    values = value if isinstance(value, tuple) else (value,)
    if len(values) != len(inputs):
        raise ValueError(f"{name} holds {len(values)} {what} for {len(inputs)} inputs")
    single = len(inputs) == 1
    return [
        (name if single else f"{name}[{i}]", v, x)
        for i, (v, x) in enumerate(zip(values, inputs))
    ]


def check_finite(value: Any, name: str) -> float:
    r"""A finite real number (not a bool), as a float.

    Args:
        value: The argument's value.
        name (str): The argument's name, for error messages.

    Returns:
        float: ``value``.

    Examples::

        >>> check_finite(0.5, "fill_value")
        0.5
    """
    return _check_real(value, name)


def check_finite_values(values: Any, name: str) -> List[float]:
    r"""A non-empty sequence (list, tuple, 1-D tensor or array) of finite
    real numbers, as a list of floats; a string or a single number is refused
    (a per-channel value needs one entry per channel).

    Args:
        values: The argument's value.
        name (str): The argument's name, for error messages.

    Returns:
        list of float: ``values``.

    Examples::

        >>> check_finite_values((0.485, 0.456, 0.406), "mean")
        [0.485, 0.456, 0.406]
    """
    if isinstance(values, Tensor):
        if values.dim() != 1 or values.dtype == torch.bool or values.is_complex():
            raise ValueError(
                f"{name} must be a 1-D tensor of real numbers, got shape "
                f"{tuple(values.shape)} and dtype {values.dtype}"
            )
        values = values.tolist()
    elif hasattr(values, "tolist") and not isinstance(values, (str, bytes)):
        values = values.tolist()  # a numpy array
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(
            f"{name} must be a sequence of numbers (one per channel), got "
            f"{type(values).__name__}"
        )
    if len(values) == 0:
        raise ValueError(f"{name} must hold at least one value")
    return [_check_real(v, f"{name}[{i}]") for i, v in enumerate(values)]


def check_bool(value: Any, name: str) -> bool:
    r"""A ``bool`` (a string such as ``"no"`` or a number is refused, since
    ``bool()`` of it would silently mean something else).

    Args:
        value: The argument's value.
        name (str): The argument's name, for error messages.

    Returns:
        bool: ``value``.

    Examples::

        >>> check_bool(False, "sample")
        False
    """
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_nonnegative(value: Any, name: str) -> float:
    v = _check_real(value, name)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    return v


def check_positive(value: Any, name: str) -> float:
    v = _check_real(value, name)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {v}")
    return v


def check_unit_interval(value: Any, name: str) -> float:
    v = _check_real(value, name)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {v}")
    return v


def resolve_mask_size(
    mask_size: Union[None, int, Sequence[int]], height: int, width: int, name: str
) -> Tuple[int, int]:
    r"""Grid of the mask parameters; default a quarter of each side (56 for 224)."""
    if mask_size is None:
        return (max(1, -(-height // 4)), max(1, -(-width // 4)))
    if isinstance(mask_size, numbers.Integral) and not isinstance(mask_size, bool):
        grid = (int(mask_size), int(mask_size))
    elif (
        isinstance(mask_size, (tuple, list))
        and len(mask_size) == 2
        and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool)
            for v in mask_size
        )
    ):
        grid = (int(mask_size[0]), int(mask_size[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints, got {mask_size!r}")
    if grid[0] < 1 or grid[1] < 1:
        raise ValueError(f"{name} must be >= 1, got {grid}")
    if grid[0] > height or grid[1] > width:
        raise ValueError(
            f"{name} {grid} is larger than the image ({height}, {width}); "
            "the mask grid is upsampled to the image, never downsampled"
        )
    return grid


def check_additional_forward_args(args: Optional[Tuple[Any, ...]], n: int) -> None:
    if args is None:
        return
    for i, a in enumerate(args):
        if isinstance(a, Tensor) and a.dim() > 0 and a.shape[0] != n:
            raise ValueError(
                f"additional_forward_args[{i}] is a tensor with first dimension "
                f"{a.shape[0]}; tensors are split per image and need N={n} rows "
                "(pass a 0-d tensor or a non-tensor for shared values)"
            )


def check_autocast_dtype(dtype: Any) -> Optional[torch.dtype]:
    r"""``None`` (full precision), ``torch.float16`` or ``torch.bfloat16``."""
    if dtype is None:
        return None
    if dtype not in (torch.float16, torch.bfloat16):
        raise ValueError(
            "autocast_dtype must be None, torch.float16 or torch.bfloat16, "
            f"got {dtype!r}"
        )
    return dtype
