r"""The Captum perturbation method's own options that shape the ablation
(``feature_mask``, Occlusion's ``sliding_window_shapes`` and ``strides``),
checked against the inputs before :class:`~captum_fido.attr.InfillBaseline`
runs the method, so a mistake is named before any model pass."""

from __future__ import annotations

import numbers
from typing import Any, Dict, Tuple

from captum.attr import Occlusion
from torch import Tensor

from captum_fido._utils import validation as V
from captum_fido._utils.segments import check_feature_mask

__all__ = ["check_method_options"]


def check_method_options(
    method: Any, inputs: Tuple[Tensor, ...], kwargs: Dict[str, Any]
) -> Dict[str, Any]:
    r"""The Captum method's options that shape the ablation, checked against
    the inputs before it runs: ``feature_mask`` (returned contiguous, as
    ``ShapleyValueSampling`` needs), and Occlusion's
    ``sliding_window_shapes`` and ``strides``."""
    kwargs = dict(kwargs)
    if kwargs.get("feature_mask") is not None:
        kwargs["feature_mask"] = _check_feature_mask(kwargs["feature_mask"], inputs)
    if isinstance(method, Occlusion):
        _check_windows(kwargs, inputs)
    return kwargs


def _check_feature_mask(mask: Any, inputs: Tuple[Tensor, ...]) -> Any:
    r"""Captum's ``feature_mask`` for in-filled ablation: integer ids >= 0,
    broadcastable to each input ``(N, C, H, W)``, one id per pixel (the
    in-fill replaces whole pixels: a pixel is dropped on every channel)."""
    out = []
    for name, m, x in V.per_input(mask, inputs, "feature_mask", "masks"):
        check_feature_mask(m, name)
        shape = (1,) * (4 - m.dim()) + tuple(m.shape)
        if any(s not in (1, t) for s, t in zip(shape, x.shape)):
            n, _, h, w = x.shape
            raise ValueError(
                f"{name} of shape {tuple(m.shape)} does not broadcast to the "
                f"input's shape {tuple(x.shape)}: give (H, W) = ({h}, {w}), "
                f"(1, 1, {h}, {w}) for every image or ({n}, 1, {h}, {w}) for one "
                "mask per image"
            )
        full = m.reshape(shape)
        if shape[1] > 1 and bool((full != full[:, :1]).any()):
            raise ValueError(
                f"{name} gives the channels of a pixel different ids; the in-fill "
                "replaces whole pixels (a pixel is dropped on every channel), so "
                "give one id per pixel (C = 1)"
            )
        out.append(m.contiguous())
    return tuple(out) if isinstance(mask, tuple) else out[0]


def _check_windows(kwargs: Dict[str, Any], inputs: Tuple[Tensor, ...]) -> None:
    r"""Occlusion's windows and strides: positive ints that fit each input's
    ``(C, H, W)``, one shape per input."""
    windows = kwargs.get("sliding_window_shapes")
    if windows is None:
        raise TypeError("Occlusion needs sliding_window_shapes, e.g. (3, 8, 8)")
    per_input = (windows,) if not isinstance(windows[0], tuple) else windows
    strides = kwargs.get("strides")
    if isinstance(strides, (tuple, list)) and any(
        isinstance(v, tuple) for v in strides
    ):
        stride_list: Tuple[Any, ...] = tuple(strides)
    else:
        stride_list = (strides,) * len(inputs)
    if len(per_input) != len(inputs) or len(stride_list) != len(inputs):
        raise ValueError(
            f"sliding_window_shapes and strides need one entry per input "
            f"({len(inputs)})"
        )
    for i, (window, stride, x) in enumerate(zip(per_input, stride_list, inputs)):
        dims = tuple(x.shape[1:])
        name = "sliding_window_shapes" + ("" if len(inputs) == 1 else f"[{i}]")
        if (
            not isinstance(window, tuple)
            or len(window) != len(dims)
            or not all(_is_int(v) and 1 <= v <= d for v, d in zip(window, dims))
        ):
            raise ValueError(
                f"{name} must be a tuple of {len(dims)} ints, each from 1 to the "
                f"input's size {dims}, got {window!r}"
            )
        if stride is None:
            continue
        steps = (stride,) * len(dims) if _is_int(stride) else stride
        if (
            not isinstance(steps, tuple)
            or len(steps) != len(dims)
            or not all(_is_int(v) and v >= 1 for v in steps)
        ):
            raise ValueError(
                f"strides must be an int >= 1 or a tuple of {len(dims)} of them "
                f"per input, got {stride!r}"
            )


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
