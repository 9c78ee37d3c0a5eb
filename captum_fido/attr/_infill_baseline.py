r"""In-fill baselines for Captum's perturbation methods.

Captum's perturbation methods replace the features they ablate with a
constant baseline, ``input * (1 - mask) + baseline * mask`` (captum issue
1125 names a baseline that is a function of the input and the mask a known
limitation). :class:`InfillBaseline` lets ``FeatureAblation``, ``Occlusion``,
``ShapleyValueSampling``, ``KernelShap`` and ``Lime`` in-fill the ablated
features from the observed rest of the image with any
:class:`~captum_fido.infillers.Infiller` instead.

How: the method is given a *sentinel* baseline, a finite value no image holds
(``-2**100`` by default), and the wrapped forward function reads every pixel
holding it on any channel as dropped (``keep_mask = 0``), in-fills the batch
with ONE infiller call, puts the fill where the sentinel was and calls the
model. The methods' own batching (``perturbations_per_eval``), feature masks,
targets, extra arguments and progress bars are untouched.

In-fillers that read the pixels they fill (``honest=False``, e.g. Blur) need
the original image under each perturbation. Captum's ablation methods lay a
forward batch out as blocks of the ``N`` images (``FeatureAblation``,
``Occlusion`` and ``ShapleyValueSampling`` repeat the batch with
``torch.cat``), so row ``r`` perturbs image ``r % N``; this is checked on the
row's kept pixels, and a row that does not match raises. ``Lime`` and
``KernelShap`` explain one image at a time, so :meth:`InfillBaseline.attribute`
hands them one image at a time when the in-filler needs the originals.
"""

from __future__ import annotations

import math
import numbers
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, Optional, Tuple, Union

import torch
from captum.attr import (
    FeatureAblation,
    KernelShap,
    Lime,
    ShapleyValueSampling,
)
from torch import Tensor

from captum_fido._utils import validation as V
from captum_fido._utils.captum_compat import (
    format_additional_forward_args,
    format_tensor_into_tuples,
)
from captum_fido._utils.model_state import preserve_module_state
from captum_fido.attr._ablation_options import check_method_options
from captum_fido.infillers import Infiller, as_infiller

__all__ = ["InfillBaseline", "SENTINEL", "interpretable_similarity"]

#: The default sentinel: finite, a power of two (exact in float32, float64 and
#: bfloat16), and far outside any image's range.
SENTINEL = -(2.0**100)

#: The Captum methods whose ablated inputs are ``input * keep + baseline * drop``.
SUPPORTED = (FeatureAblation, ShapleyValueSampling, Lime)


def interpretable_similarity(
    original_inp: Any, perturbed_inp: Any, interpretable_sample: Tensor, **kwargs: Any
) -> float:
    r"""LIME's exponential kernel on the cosine distance in the interpretable
    space (kernel width 1), as in the LIME paper for images.

    Captum's default ``Lime`` similarity compares the perturbed *input* with
    the original; with a sentinel baseline that distance means nothing, so
    :meth:`InfillBaseline.attribute` gives ``Lime`` this one, which compares
    the sample of kept features with "all kept".

    Args:
        original_inp: Unused (Captum's similarity signature).
        perturbed_inp: Unused.
        interpretable_sample (Tensor): ``(1, F)`` binary sample, 1 = kept.

    Returns:
        float: ``exp(-d**2 / 2)`` with ``d = 1 - cos(sample, ones)``.

    Examples::

        >>> interpretable_similarity(None, None, torch.ones(1, 4))
        1.0
    """
    s = interpretable_sample.detach().float().flatten()
    norm = float(s.norm())
    cos = 0.0 if norm == 0.0 else float(s.sum()) / (norm * math.sqrt(s.numel()))
    return math.exp(-((1.0 - cos) ** 2) / 2.0)


class InfillBaseline:
    r"""A forward function that in-fills Captum's ablated features.

    Use :meth:`attribute` to run a Captum method with in-fill baselines, or
    build the method on this object and pass :attr:`baseline` yourself (an
    in-filler that reads the pixels it fills then needs :meth:`originals`).
    :meth:`attribute` also restores the buffers of a model left in training
    mode (batch-norm statistics), as FIDO does; the model is never changed.

    Args:
        forward_func (callable): The model; never changed.
        infiller (Infiller or callable): Fills the ablated pixels from the
            rest of the image (through :func:`~captum_fido.infillers.as_infiller`).
        n_inputs (int, optional): How many leading positional arguments of a
            forward call are images (the rest are ``additional_forward_args``).
            :meth:`attribute` sets it from its inputs. Default 1.
        sentinel (float, optional): The baseline value that marks dropped
            pixels: finite, exact in the inputs' dtype, held by no input.
            Default :data:`SENTINEL` (``-2**100``; float16 inputs need a
            smaller one, e.g. ``-32768.0``).
        seed (int, optional): Seed of a stochastic in-filler's generator,
            reset by every :meth:`attribute` call. Default ``None``: torch's
            global generator.

    Examples::

        >>> from captum.attr import FeatureAblation, Occlusion
        >>> from captum_fido.attr import InfillBaseline
        >>> from captum_fido.infillers import LocalInfiller
        >>> ib = InfillBaseline(model, LocalInfiller())
        >>> attr = ib.attribute(Occlusion, x, target=3,
        ...                     sliding_window_shapes=(3, 8, 8), strides=8)
        >>> # or build the method yourself (honest in-fillers):
        >>> attr = FeatureAblation(ib).attribute(
        ...     x, baselines=ib.baseline, target=3, feature_mask=segments)
    """

    forward_func: Callable[..., Tensor]
    infiller: Infiller
    n_inputs: int
    sentinel: float
    seed: Optional[int]
    #: In-filler calls so far (one per forward batch holding the sentinel).
    n_infill_calls: int

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        infiller: Union[Infiller, Callable[..., Tensor]],
        *,
        n_inputs: int = 1,
        sentinel: float = SENTINEL,
        seed: Optional[int] = None,
    ) -> None:
        V.check_callable(forward_func, "forward_func")
        if isinstance(sentinel, bool) or not isinstance(sentinel, numbers.Real):
            raise TypeError(f"sentinel must be a float, got {type(sentinel).__name__}")
        if not math.isfinite(float(sentinel)):
            raise ValueError(
                f"sentinel must be finite (Captum multiplies it by 0), got {sentinel}"
            )
        self.forward_func = forward_func
        self.infiller = as_infiller(infiller)
        self.n_inputs = V.check_positive_int(n_inputs, "n_inputs")
        self.sentinel = float(sentinel)
        self.seed = None if seed is None else V.check_nonnegative_int(seed, "seed")
        self.n_infill_calls = 0
        self._originals: Optional[Tuple[Tensor, ...]] = None
        self._generator: Optional[torch.Generator] = None

    @property
    def baseline(self) -> float:
        r"""The value to pass as Captum's ``baselines``: the sentinel (for tuple
        inputs pass :meth:`baselines_for`, one per input)."""
        return self.sentinel

    def __repr__(self) -> str:
        return f"InfillBaseline({self.forward_func!r}, {self.infiller!r})"

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        r"""In-fill the sentinel pixels of the image arguments, call the model."""
        images = args[: self.n_inputs]
        filled = tuple(self._fill(k, x) for k, x in enumerate(images))
        return self.forward_func(*filled, *args[self.n_inputs :], **kwargs)

    @contextmanager
    def originals(self, inputs: Union[Tensor, Tuple[Tensor, ...]]) -> Iterator[None]:
        r"""Within the block, forward calls may read the original ``inputs``
        (needed by in-fillers with ``honest=False``; checked row by row).

        Args:
            inputs (Tensor or tuple[Tensor, ...]): The images being explained,
                exactly as given to the Captum method.

        Examples::

            >>> ib = InfillBaseline(model, BlurInfiller(sigma=4.0))
            >>> with ib.originals(x):
            ...     attr = FeatureAblation(ib).attribute(
            ...         x, baselines=ib.baseline, target=3, feature_mask=seg)
        """
        inputs_tuple = self._check_inputs(inputs)
        saved = (self._originals, self.n_inputs, self._generator)
        self._originals = tuple(x.detach() for x in inputs_tuple)
        self.n_inputs = len(inputs_tuple)
        self._generator = None
        try:
            yield
        finally:
            self._originals, self.n_inputs, self._generator = saved

    def attribute(
        self,
        method: Any,
        inputs: Union[Tensor, Tuple[Tensor, ...]],
        target: Any = None,
        additional_forward_args: Any = None,
        **kwargs: Any,
    ) -> Any:
        r"""Run a Captum perturbation method with in-fill baselines.

        Args:
            method: ``FeatureAblation``, ``Occlusion``, ``ShapleyValueSampling``
                (or ``ShapleyValues``), ``KernelShap`` or ``Lime``: the class,
                or an instance built on this object (``Occlusion(ib)``). The
                ``Lime`` class gets :func:`interpretable_similarity`.
            inputs (Tensor or tuple[Tensor, ...]): Images ``(N, C, H, W)``.
            target, additional_forward_args: As for the Captum method.
            **kwargs: The method's other arguments (``feature_mask``,
                ``perturbations_per_eval``, ``sliding_window_shapes``,
                ``n_samples``, ``show_progress``, ...); not ``baselines``.

        Returns:
            What the method returns (attributions shaped like ``inputs``).

        Raises:
            TypeError: an unsupported method, ``baselines`` given, or a
                ``target`` or ``feature_mask`` of the wrong kind.
            ValueError: inputs holding the sentinel, a sentinel the dtype
                cannot hold, a method built on another forward function, a
                ``target`` outside the model's outputs (or missing for a
                model with several), a model output that is not finite on
                the inputs, a ``feature_mask`` that does not broadcast to
                the inputs or gives the channels of a pixel different ids,
                or Occlusion windows and strides that do not fit the inputs.
                All before the Captum method runs (one clean model pass).

        Examples::

            >>> ib = InfillBaseline(model, LocalInfiller())
            >>> attr = ib.attribute(FeatureAblation, x, target=3,
            ...                     feature_mask=segments, perturbations_per_eval=8)
        """
        if "baselines" in kwargs:
            raise TypeError(
                "baselines is set by InfillBaseline (the sentinel); leave it out"
            )
        attr = self._method(method)
        inputs_tuple = self._check_inputs(inputs)
        kwargs = check_method_options(attr, inputs_tuple, kwargs)
        with self.originals(inputs), preserve_module_state(self.forward_func):
            self._check_target(inputs_tuple, target, additional_forward_args)
            self._generator = self._generator_for(inputs)
            args = dict(target=target, additional_forward_args=additional_forward_args)
            n = int(inputs_tuple[0].shape[0])
            if isinstance(attr, Lime) and not self.infiller.honest and n > 1:
                return self._one_image_at_a_time(attr, inputs, n, {**args, **kwargs})
            return attr.attribute(
                inputs, baselines=self.baselines_for(inputs), **args, **kwargs
            )

    def baselines_for(self, inputs: Union[Tensor, Tuple[Tensor, ...]]) -> Any:
        r"""Captum's ``baselines`` argument for ``inputs``: the sentinel, or a
        tuple of it for tuple inputs (Captum wants one per input).

        Examples::

            >>> ib.baselines_for((x, y))
            (-1.2676506002282294e+30, -1.2676506002282294e+30)
        """
        if isinstance(inputs, tuple):
            return (self.sentinel,) * len(inputs)
        return self.sentinel

    def _check_inputs(self, inputs: Any) -> Tuple[Tensor, ...]:
        if not isinstance(inputs, (Tensor, tuple)):
            raise TypeError(
                "inputs must be a tensor or a tuple of tensors, "
                f"got {type(inputs).__name__}"
            )
        inputs_tuple = V.check_inputs(format_tensor_into_tuples(inputs))
        for i, x in enumerate(inputs_tuple):
            mark = torch.tensor(self.sentinel, dtype=x.dtype)
            if not bool(torch.isfinite(mark)) or float(mark) != self.sentinel:
                raise ValueError(
                    f"sentinel {self.sentinel} is not exact in {x.dtype}; give "
                    "InfillBaseline(sentinel=...) a value the dtype holds "
                    "(e.g. -32768.0 for float16)"
                )
            if bool((x == mark.to(x.device)).any()):
                raise ValueError(
                    f"inputs[{i}] already holds the sentinel {self.sentinel}, which "
                    "marks ablated pixels; choose another InfillBaseline(sentinel=...)"
                )
        return inputs_tuple

    def _check_target(
        self, inputs: Tuple[Tensor, ...], target: Any, additional_forward_args: Any
    ) -> None:
        r"""``target`` checked against one clean pass of the model, as the
        mask methods check theirs: the indices Captum will read from the
        model's ``(N, C)`` output must exist (a negative one would silently
        read from the end), and a model with several outputs needs one."""
        n = inputs[0].shape[0]
        targets = V.check_targets(target, n, inputs[0].device)
        args = format_additional_forward_args(additional_forward_args)
        V.check_additional_forward_args(args, n)
        with torch.no_grad():
            output = self.forward_func(*inputs, *(args or ()))
        if not isinstance(output, Tensor) or not output.is_floating_point():
            raise TypeError(
                "forward_func must return a floating-point tensor of scores, got "
                f"{getattr(output, 'dtype', type(output).__name__)}"
            )
        if not bool(torch.isfinite(output).all()):
            raise ValueError(
                "forward_func returned NaN or infinite scores on the inputs"
            )
        if output.dim() == 1 and output.shape[0] == n and targets is not None:
            raise ValueError(
                f"target must be None: forward_func returns one score per image, "
                f"shape {tuple(output.shape)}, with no classes to select"
            )
        if output.dim() != 2 or output.shape[0] != n:
            return  # a scalar per batch or another layout: Captum's rules
        n_outputs = int(output.shape[1])
        if targets is None:
            if n_outputs > 1:
                raise ValueError(
                    f"target is required: the model has {n_outputs} outputs; give "
                    "the class to explain (an int, a list of ints or a tensor of "
                    "N class indices)"
                )
            return
        bad = (targets < 0) | (targets >= n_outputs)
        if bool(bad.any()):
            raise ValueError(
                f"target out of range: the model has {n_outputs} output(s) "
                f"(valid targets 0..{n_outputs - 1}), got {targets[bad].tolist()}"
            )

    def _method(self, method: Any) -> Any:
        r"""The Captum method to run, built on this object."""
        if isinstance(method, type):
            if not issubclass(method, SUPPORTED):
                raise TypeError(_unsupported(method.__name__))
            if issubclass(method, Lime) and not issubclass(method, KernelShap):
                return method(self, similarity_func=interpretable_similarity)
            return method(self)
        if not isinstance(method, SUPPORTED):
            raise TypeError(_unsupported(type(method).__name__))
        if method.forward_func is not self:
            raise ValueError(
                f"{type(method).__name__} must be built on this InfillBaseline "
                f"({type(method).__name__}(ib)), not on the model itself"
            )
        similarity = getattr(method, "similarity_func", None)
        if getattr(similarity, "__name__", "") == "default_exp_kernel":
            raise ValueError(
                "Lime's default similarity compares inputs, which hold the "
                "sentinel here: build it with Lime(ib, similarity_func="
                "interpretable_similarity) or pass the Lime class"
            )
        return method

    def _fill(self, k: int, rows: Any) -> Any:
        r"""``rows`` with their sentinel values replaced by the in-fill."""
        if not isinstance(rows, Tensor) or not rows.is_floating_point():
            return rows
        hit = rows == torch.tensor(self.sentinel, dtype=rows.dtype, device=rows.device)
        if not bool(hit.any()):
            return rows
        if rows.dim() != 4:
            raise ValueError(
                f"forward input {k} holds the sentinel but is not an image batch "
                f"(N, C, H, W): got shape {tuple(rows.shape)}"
            )
        keep = ~hit.any(dim=1, keepdim=True)
        todo = (~keep).flatten(1).any(dim=1).nonzero().squeeze(1)
        seen = self._infiller_input(k, rows, hit)
        reference = self.infiller(
            seen.index_select(0, todo),
            keep.index_select(0, todo).to(rows.dtype),
            self._generator,
        )
        self.n_infill_calls += 1
        out = rows.clone()
        out[todo] = torch.where(hit[todo], reference, rows[todo])
        return out

    def _infiller_input(self, k: int, rows: Tensor, hit: Tensor) -> Tensor:
        r"""What the in-filler sees: zeros at dropped pixels for an honest
        in-filler, the original image's pixels for one that reads them."""
        if self.infiller.honest:
            return rows.masked_fill(hit, 0.0)
        if self._originals is None or k >= len(self._originals):
            raise ValueError(
                f"{self.infiller!r} reads the pixels it fills (honest=False), so "
                "it needs the original images: use InfillBaseline.attribute(...) "
                "or run the method inside `with ib.originals(inputs):`"
            )
        original = self._originals[k]
        order = torch.arange(rows.shape[0], device=rows.device) % original.shape[0]
        candidate = original.index_select(0, order.to(original.device)).to(rows)
        if candidate.shape != rows.shape or not bool(((rows == candidate) | hit).all()):
            raise ValueError(
                "a forward batch does not lay its rows out as blocks of the "
                "original images (row r perturbing image r % N), so the originals "
                f"under the ablated pixels are unknown for {self.infiller!r}; "
                "explain one image at a time or use an honest in-filler"
            )
        return torch.where(hit, candidate, rows)

    def _one_image_at_a_time(self, attr: Any, inputs: Any, n: int, kwargs: Any) -> Any:
        r"""Lime and KernelShap fit one model per image anyway; doing so here
        lets a dishonest in-filler read each image's own originals."""
        outputs: List[Any] = []
        for i in range(n):
            one = _select_example(inputs, i, n)
            with self.originals(one):
                self._generator = self._generator_for(one)
                outputs.append(
                    attr.attribute(
                        one,
                        baselines=self.baselines_for(one),
                        **{k: _select_example(v, i, n) for k, v in kwargs.items()},
                    )
                )
        if isinstance(outputs[0], tuple):
            return tuple(torch.cat(parts) for parts in zip(*outputs))
        return torch.cat(outputs)

    def _generator_for(self, inputs: Any) -> Optional[torch.Generator]:
        if self.seed is None:
            return None
        device = format_tensor_into_tuples(inputs)[0].device
        return torch.Generator(device=device).manual_seed(self.seed)


def _select_example(value: Any, i: int, n: int) -> Any:
    r"""Image ``i``'s part of a per-image argument (tensors and lists with
    ``n`` rows); shared values are returned as they are."""
    if isinstance(value, Tensor):
        return value[i : i + 1] if value.dim() > 0 and value.shape[0] == n else value
    if isinstance(value, tuple):
        return tuple(_select_example(v, i, n) for v in value)
    if isinstance(value, list) and len(value) == n:
        return [value[i]]
    return value


def _unsupported(name: str) -> str:
    return (
        f"InfillBaseline runs FeatureAblation, Occlusion, ShapleyValueSampling, "
        f"ShapleyValues, KernelShap and Lime (ablation with a baseline); got {name}"
    )
