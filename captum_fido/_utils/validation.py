r"""Argument checks run before any optimisation step.

Every check raises ``TypeError`` (wrong kind of object) or ``ValueError``
(right kind, wrong value) with a message that names the argument.
"""

from __future__ import annotations

import numbers
from typing import Any, Optional, Sequence, Tuple, Union

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
]


def check_inputs(inputs: Tuple[Any, ...]) -> Tuple[Tensor, ...]:
    r"""Each input must be a finite floating-point ``(N, C, H, W)`` tensor."""
    if len(inputs) == 0:
        raise ValueError("inputs must hold at least one tensor")
    n: Optional[int] = None
    for i, x in enumerate(inputs):
        name = "inputs" if len(inputs) == 1 else f"inputs[{i}]"
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 4:
            hint = (
                " (a single image of shape (C, H, W) needs x.unsqueeze(0))"
                if x.dim() == 3
                else ""
            )
            raise ValueError(
                f"{name} must have shape (N, C, H, W), got {tuple(x.shape)}{hint}"
            )
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
    return inputs


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
