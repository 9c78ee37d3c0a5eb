r"""Argument checks run before any optimisation step.

Every check raises ``TypeError`` (wrong kind of object) or ``ValueError``
(right kind, wrong value) with a message that names the argument.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

__all__ = [
    "check_inputs",
    "check_targets",
    "check_targets_in_range",
    "check_positive_int",
    "check_nonnegative_int",
    "check_nonnegative",
    "check_positive",
    "resolve_mask_size",
    "check_additional_forward_args",
    "check_finite",
    "check_finite_values",
    "check_bool",
    "check_unit_interval",
    "check_autograd_usable",
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


def check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def _check_real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


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


def check_nonnegative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def check_feature_mask(value: Any, name: str) -> Any:
    r"""A segment ``feature_mask``'s kind: ``None``, an integer tensor with
    ids ``>= 0`` and at most 4 dimensions, or a tuple of them (shapes are
    checked against each input by :func:`segment_index`).

    Args:
        value: The option's value.
        name (str): The option's name, for error messages.

    Returns:
        ``value`` (a list becomes a tuple).

    Examples::

        >>> check_feature_mask(torch.zeros(1, 1, 8, 8, dtype=torch.long), "m")
        tensor(...)
    """
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        if len(value) == 0:
            raise ValueError(f"{name} must not be an empty tuple")
        return tuple(
            _check_segment_tensor(v, f"{name}[{i}]") for i, v in enumerate(value)
        )
    return _check_segment_tensor(value, name)


def _check_segment_tensor(mask: Any, name: str) -> Tensor:
    if not isinstance(mask, Tensor):
        raise TypeError(
            f"{name} must be an integer tensor of segment ids (or a tuple of "
            f"them), got {type(mask).__name__}"
        )
    if mask.is_floating_point() or mask.is_complex() or mask.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer segment ids, got {mask.dtype}")
    if mask.dim() > 4 or mask.numel() == 0:
        raise ValueError(
            f"{name} must be a non-empty tensor of at most 4 dimensions, "
            f"broadcastable to the input (N, C, H, W); got {tuple(mask.shape)}"
        )
    if bool((mask < 0).any()):
        raise ValueError(f"{name} holds negative segment ids; ids must be >= 0")
    return mask


def segment_index(mask: Tensor, x: Tensor, name: str) -> Tuple[Tensor, int]:
    r"""Per-pixel segment numbers for input ``x`` from a ``feature_mask``.

    ``mask`` must broadcast to ``x``'s shape ``(N, C, H, W)`` and hold the same
    id on every channel of a pixel (one mask value per pixel). Ids are
    renumbered ``0 .. S - 1`` in increasing order over all images.

    Args:
        mask (Tensor): Integer segment ids (already checked by
            :func:`check_feature_mask`).
        x (Tensor): The input it belongs to.
        name (str): The option's name, for error messages.

    Returns:
        ``(index, S)``: an ``(N, 1, H, W)`` long tensor on ``x``'s device and
        the number of segments.

    Examples::

        >>> ids = torch.tensor([[5, 5], [7, 9]]).view(1, 1, 2, 2)
        >>> index, s = segment_index(ids, torch.rand(3, 3, 2, 2), "feature_mask")
        >>> index.shape, s
        (torch.Size([3, 1, 2, 2]), 3)
    """
    shape = (1,) * (4 - mask.dim()) + tuple(mask.shape)
    n, c, h, w = x.shape
    if any(m not in (1, t) for m, t in zip(shape, (n, c, h, w))):
        raise ValueError(
            f"{name} of shape {tuple(mask.shape)} does not broadcast to the "
            f"input's shape {(n, c, h, w)}: give (1 or N, 1 or C, H, W) = "
            f"({n}, 1, {h}, {w}) for one mask per image"
        )
    full = mask.reshape(shape).to(x.device)
    if shape[1] > 1 and bool((full != full[:, :1]).any()):
        raise ValueError(
            f"{name} gives different segments to the channels of a pixel; FIDO "
            "and BBMP keep or drop whole pixels: give one id per pixel (C = 1)"
        )
    full = full[:, :1].expand(n, 1, h, w)
    ids, index = torch.unique(full, return_inverse=True)
    return index.to(torch.long).view(n, 1, h, w), int(ids.numel())


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
            use modules: see :func:`~captum_fido._utils.model_state.reachable_modules`).

    Examples::

        >>> check_autograd_usable("FIDO.attribute", torch.rand(1, 3, 8, 8))
        >>> with torch.inference_mode():
        ...     check_autograd_usable("FIDO.attribute")
        Traceback (most recent call last):
        ...
        RuntimeError: FIDO.attribute optimises by gradient descent ...
    """
    from captum_fido._utils.model_state import reachable_modules

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


#: Box edges may pass the image's by this much (pixels): float rounding of
#: boxes scaled from another resolution, never a real overhang.
EDGE_TOLERANCE = 1e-3


def check_boxes(
    boxes: Any,
    n: int,
    size: Optional[Tuple[int, int]] = None,
    name: str = "gt_boxes",
) -> List[Tensor]:
    r"""Boxes, one ``(4,)`` or ``(K, 4)`` entry per image (or an ``(N, 4)``
    tensor), as a list of ``(K, 4)`` float tensors.

    A box is ``(x0, y0, x1, y1)`` in pixel edges with ``0 <= x0 < x1 <= W``
    and ``0 <= y0 < y1 <= H`` (``size = (H, W)``; without it only the lower
    bounds are checked): finite, not empty and inside the image. A box is
    never clipped or reordered: one that fails raises ``ValueError`` naming
    ``name``, the image and the box.
    """
    if isinstance(boxes, Tensor) and boxes.dim() == 2 and boxes.shape[1] == 4:
        boxes = list(boxes)  # one box per image, (N, 4)
    if isinstance(boxes, (str, bytes, Tensor)) or not isinstance(boxes, Sequence):
        shape = f" of shape {tuple(boxes.shape)}" if isinstance(boxes, Tensor) else ""
        raise TypeError(
            f"{name} must be a sequence of (4,) or (K, 4) box tensors, one per "
            f"image, or an (N, 4) tensor; got {type(boxes).__name__}{shape}"
        )
    if len(boxes) != n:
        raise ValueError(
            f"{name} must hold one entry per image ({n}), got {len(boxes)}"
        )
    return [_check_image_boxes(b, f"{name}[{i}]", size) for i, b in enumerate(boxes)]


def _check_image_boxes(b: Any, name: str, size: Optional[Tuple[int, int]]) -> Tensor:
    if isinstance(b, Tensor) and (b.dtype == torch.bool or b.is_complex()):
        raise TypeError(f"{name} must hold real box coordinates, got {b.dtype}")
    try:
        box = torch.as_tensor(b).detach().to("cpu", torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(
            f"{name} must be a (4,) or (K, 4) tensor of box coordinates, got {b!r}"
        ) from err
    if box.dim() == 1:
        box = box[None]
    if box.dim() != 2 or box.shape[1] != 4:
        raise ValueError(
            f"{name} must have shape (4,) or (K, 4), got {tuple(box.shape)}"
        )
    if box.shape[0] == 0:
        raise ValueError(f"{name} holds no box; every image needs at least one")
    rules = "boxes are (x0, y0, x1, y1) pixel edges with 0 <= x0 < x1 <= W and "
    rules += "0 <= y0 < y1 <= H"
    for k, (x0, y0, x1, y1) in enumerate(box.tolist()):
        where = f"{name}" if box.shape[0] == 1 else f"{name}[{k}]"
        shown = f"({x0:g}, {y0:g}, {x1:g}, {y1:g})"
        if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
            raise ValueError(f"{where} = {shown} holds NaN or infinite coordinates")
        if not (x0 < x1 and y0 < y1):
            raise ValueError(f"{where} = {shown} is empty or reversed: {rules}")
        if x0 < 0 or y0 < 0:
            raise ValueError(
                f"{where} = {shown} has negative coordinates (outside the image): "
                f"{rules}"
            )
        if size is not None:
            h, w = size
            if x1 > w + EDGE_TOLERANCE or y1 > h + EDGE_TOLERANCE:
                raise ValueError(
                    f"{where} = {shown} reaches outside the {h} x {w} (H x W) "
                    f"image: {rules}"
                )
    return box.float()
