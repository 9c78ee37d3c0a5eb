r"""Tabular inputs: ``(N, F)`` feature rows through the image mask loop.

The loop (:mod:`captum_fido.attr._loop`) works on ``(N, C, H, W)`` inputs
with ``(N, 1, H, W)`` masks. A row of ``F`` features is shown to it as a
one-row image ``(N, 1, 1, F)`` whose mask grid is ``(1, F)``: one mask
parameter per feature (upsampling is the identity), or one per group of a
Captum-style ``feature_mask``. The classifier and the (tabular) infiller are
wrapped so that they still see ``(rows, F)`` and ``(rows, F)`` keep masks,
and the maps and details come back with the rows' shapes.

The regularisers keep their meaning where features have one:

- ``l1_coeff`` charges the expected *fraction* of features kept (SSR) or
  dropped (SDR), times ``REFERENCE_PIXELS`` as for images (with a
  ``feature_mask``, each group counts by its number of features);
- ``tv_coeff`` has none: features have no neighbours. Its default is 0 on
  feature rows, 0 is accepted, and any other value raises, so a user's
  explicit choice is never ignored.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Optional, Tuple

import torch
from torch import Tensor

from captum_fido._utils import validation as V
from captum_fido._utils.segments import segment_index
from captum_fido.attr._details import MaskOptimizationDetails
from captum_fido.attr._masks import GridLayout, MaskLayout, SegmentLayout
from captum_fido.attr._options import MaskOptions
from captum_fido.attr._problem import MaskProblem
from captum_fido.infillers import Infiller, TabularInfiller

__all__ = ["TabularView", "tabular_view"]


def tabular_view(
    inputs: Tuple[Tensor, ...],
    infiller: Infiller,
    options: MaskOptions,
) -> Optional[TabularView]:
    r"""The tabular view of checked ``inputs``, or ``None`` for images.

    Checks that the infiller fills the kind of input given (a tabular
    infiller for feature rows, an image infiller for images) and the options
    that mean nothing for features, before any work.

    Args:
        inputs (tuple[Tensor, ...]): Inputs already checked by
            :func:`captum_fido._utils.validation.check_inputs`; either all
            ``(N, F)`` or all ``(N, C, H, W)``.
        infiller (Infiller): The method's infiller.
        options (MaskOptions): The call's options.

    Returns:
        :class:`TabularView` for feature rows, ``None`` for images.

    Examples::

        >>> fill = GaussianConditionalInfiller().fit(x_train)
        >>> view = tabular_view((x_test,), fill, FIDO_DEFAULTS)
        >>> view.layouts[0].shape  # a (1, F) grid: one parameter per feature
        (1, 30)
    """
    if inputs[0].dim() != 2:
        if infiller.tabular:
            raise TypeError(
                f"{infiller!r} fills feature rows (N, F), but inputs are images "
                f"{tuple(inputs[0].shape)}: use an image infiller"
            )
        return None
    if not infiller.tabular:
        raise TypeError(
            f"inputs are feature rows (N, F) but the infiller {infiller!r} fills "
            "images: use a tabular infiller (GaussianConditionalInfiller, "
            "NearestNeighbourInfiller or FeatureMeanInfiller, fitted on training "
            "rows) or as_infiller(fn, tabular=True) for your own fn(x, keep_mask)"
        )
    _check_fitted(infiller, inputs)
    if options.mask_size is not None:
        raise ValueError(
            "mask_size applies to images; feature rows (N, F) have one mask "
            "parameter per feature (group features with feature_mask)"
        )
    if getattr(options, "avoid_regions", None) is not None:
        raise ValueError(
            "avoid_regions is not supported for feature rows (N, F) yet; "
            "group or leave out features with feature_mask instead"
        )
    if options.tv_coeff not in (None, 0.0):
        raise ValueError(
            f"tv_coeff={options.tv_coeff} has no meaning for feature rows (N, F): "
            "features have no neighbours, so there is no total variation; leave "
            "it at its default (0 on feature rows) or pass 0"
        )
    return TabularView(inputs, options.replace(tv_coeff=0.0))


def _check_fitted(infiller: Infiller, inputs: Tuple[Tensor, ...]) -> None:
    r"""A fitted infiller must know the inputs' features (checked before the
    model runs, so a mismatch is not reported as the model's shape error)."""
    if not isinstance(infiller, TabularInfiller):
        return
    if infiller.n_features is None:
        raise ValueError(f"{infiller!r} is not fitted: call .fit(X_train) first")
    for i, x in enumerate(inputs):
        if x.shape[1] != infiller.n_features:
            name = "inputs" if len(inputs) == 1 else f"inputs[{i}]"
            raise ValueError(
                f"{infiller!r} was fitted on {infiller.n_features} features, but "
                f"{name} has {x.shape[1]}: fit it on training rows of the "
                "model's features"
            )


class TabularView:
    r"""``(N, F)`` inputs shown to the mask loop as ``(N, 1, 1, F)`` images.

    Args:
        inputs (tuple[Tensor, ...]): The checked ``(N, F)`` inputs.
        options (MaskOptions): The call's options for the loop (TV off).

    Examples::

        >>> view = tabular_view((x,), infiller, options)
        >>> problem = view.loop_problem(problem)  # the loop sees images
        >>> rows = view.rows(importance)          # maps back to (N, F)
    """

    def __init__(self, inputs: Tuple[Tensor, ...], options: MaskOptions) -> None:
        self.options = options
        self.n_features = tuple(int(x.shape[1]) for x in inputs)
        self.layouts = self._layouts(inputs, options)

    @staticmethod
    def _layouts(
        inputs: Tuple[Tensor, ...], options: MaskOptions
    ) -> Tuple[MaskLayout, ...]:
        r"""One parameter per feature on a ``(1, F)`` grid, or per group of
        ``feature_mask`` (Captum's tabular form: ``(F,)``, ``(1, F)`` or
        ``(N, F)`` integer ids)."""
        masks = options.feature_mask
        if masks is None:
            return tuple(GridLayout((1, x.shape[1]), (1, x.shape[1])) for x in inputs)
        layouts = []
        for name, m, x in V.per_input(masks, inputs, "feature_mask", "masks"):
            n, f = x.shape
            if (
                m.dim() > 2
                or m.shape[-1] != f
                or (m.dim() == 2 and m.shape[0] not in (1, n))
            ):
                raise ValueError(
                    f"{name} of shape {tuple(m.shape)} does not fit feature rows "
                    f"{(n, f)}: give ({f},), (1, {f}) or ({n}, {f}) group ids"
                )
            rows = m.reshape(-1, 1, 1, f)
            layouts.append(SegmentLayout(*segment_index(rows, _as_image(x), name)))
        return tuple(layouts)

    def loop_problem(self, problem: MaskProblem) -> MaskProblem:
        r"""``problem`` with its inputs, classifier and infiller seen as images."""
        n_inputs = len(self.n_features)
        return dataclasses.replace(
            problem,
            forward_func=_RowsForward(problem.forward_func, n_inputs),
            inputs=tuple(_as_image(x) for x in problem.inputs),
            infiller=_ImageViewInfiller(problem.infiller),
            layouts=self.layouts,
        )

    @staticmethod
    def rows(maps: Tuple[Tensor, ...]) -> Tuple[Tensor, ...]:
        r"""Loop maps ``(N, 1, 1, F)`` back to ``(N, F)``."""
        return tuple(m.flatten(1) for m in maps)

    def details(
        self, details: Optional[MaskOptimizationDetails]
    ) -> Optional[MaskOptimizationDetails]:
        r"""Details with every per-feature tensor ``(..., 1, 1, F)`` (masks,
        counterfactual rows, parameters) reshaped to ``(..., F)``."""
        if details is None:
            return None
        changes: Dict[str, Any] = {}
        for f in dataclasses.fields(details):
            value = getattr(details, f.name)
            if isinstance(value, tuple) and all(isinstance(v, Tensor) for v in value):
                changes[f.name] = tuple(
                    self._feature_rows(v, n) for v, n in zip(value, self.n_features)
                )
        return dataclasses.replace(details, **changes)

    @staticmethod
    def _feature_rows(t: Tensor, n_features: int) -> Tensor:
        if t.dim() >= 3 and tuple(t.shape[-3:]) == (1, 1, n_features):
            return t.reshape(*t.shape[:-3], n_features)
        return t


def _as_image(x: Tensor) -> Tensor:
    r"""``(N, F)`` rows as ``(N, 1, 1, F)`` one-row images (a view)."""
    return x.reshape(x.shape[0], 1, 1, x.shape[1])


class _RowsForward:
    r"""The user's classifier, fed ``(rows, F)`` from the loop's images."""

    def __init__(self, forward_func: Callable[..., Tensor], n_inputs: int) -> None:
        self.forward_func = forward_func
        self.n_inputs = n_inputs

    def __call__(self, *args: Any) -> Tensor:
        images, rest = args[: self.n_inputs], args[self.n_inputs :]
        return self.forward_func(*(x.flatten(1) for x in images), *rest)


class _ImageViewInfiller(Infiller):
    r"""A tabular infiller called by the loop with one-row images
    ``(N, 1, 1, F)`` and keep masks ``(N, 1, 1, F)``; it fills ``(N, F)``."""

    def __init__(self, infiller: Infiller) -> None:
        self.infiller = infiller
        self.uses_mask = infiller.uses_mask
        self.stochastic = infiller.stochastic
        self.honest = infiller.honest

    def fill(
        self, x: Tensor, keep_mask: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        return self.infiller(x.flatten(1), keep_mask.flatten(1), generator).view_as(x)
