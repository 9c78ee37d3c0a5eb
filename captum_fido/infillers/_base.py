r"""The infiller protocol shared by every in-filling strategy.

An infiller answers one question: *given an image and the pixels we may look
at, what should the other pixels be?* FIDO composes its counterfactual as
``phi = z * x + (1 - z) * infill(x, z)``, so an infiller only has to produce
values for the pixels to fill; whatever it returns at observed pixels is
ignored by the composition.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from typing import Any, Callable, Optional

import torch
from torch import Tensor

__all__ = ["Infiller", "CallableInfiller", "as_infiller", "check_infill_output"]


class Infiller(ABC):
    r"""Base class of all infillers.

    Subclasses implement :meth:`fill`. Calling an infiller validates its
    arguments, runs :meth:`fill` without autograd (the reference is a constant
    for the mask optimisation, as in the reference implementation) and checks
    what it returned.

    Class attributes tell the optimisation loop what it may cache:

    - ``uses_mask``: the fill depends on ``keep_mask``. When ``False`` (Mean,
      Blur, Random) the loop computes the reference without recomputing it
      for each mask sample.
    - ``stochastic``: the fill draws random numbers. Stochastic infillers
      must draw them from the ``generator`` they are given, so that seeded
      runs are reproducible and each image keeps its own random stream.
    - ``honest``: the fill never reads the pixels it fills (``keep_mask == 0``).
      Blur and image-mean infilling are not honest: they leak the dropped
      pixels into the reference. Evaluations (deletion and insertion curves)
      warn when they are given an infiller that is not honest.
    - ``tabular``: the infiller fills feature rows ``x`` of shape ``(N, F)``
      with a keep mask of the same shape ``(N, F)`` instead of images
      (:mod:`captum_fido.infillers.tabular`).

    The call signature is::

        reference = infiller(x, keep_mask, generator=None)

    with ``x`` of shape ``(N, C, H, W)``, ``keep_mask`` of shape
    ``(N, 1, H, W)`` with values in ``{0, 1}`` (1 = observed), and
    ``reference`` of exactly ``x``'s shape, dtype and device.

    Examples::

        >>> class GreyInfiller(Infiller):
        ...     uses_mask = False
        ...
        ...     def fill(self, x, keep_mask, generator):
        ...         return torch.full_like(x, 0.5)
        >>> x, keep = torch.rand(2, 3, 32, 32), torch.ones(2, 1, 32, 32)
        >>> GreyInfiller()(x, keep).shape
        torch.Size([2, 3, 32, 32])
    """

    uses_mask: bool = True
    stochastic: bool = False
    honest: bool = True
    tabular: bool = False

    @abstractmethod
    def fill(
        self, x: Tensor, keep_mask: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        r"""Return in-fill values for ``x`` where ``keep_mask == 0``."""

    def __call__(
        self,
        x: Tensor,
        keep_mask: Tensor,
        generator: Optional[torch.Generator] = None,
    ) -> Tensor:
        _check_infill_arguments(x, keep_mask, self.tabular)
        with torch.no_grad():
            reference = self.fill(x.detach(), keep_mask.detach(), generator)
        check_infill_output(reference, x, type(self).__name__)
        return reference

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_")
        )
        return f"{type(self).__name__}({fields})"


class CallableInfiller(Infiller):
    r"""A plain function ``fn(x, keep_mask) -> reference`` as an :class:`Infiller`.

    Made by :func:`as_infiller`; the function gets the same argument and
    output checks, and the same ``torch.no_grad`` call, as every infiller.

    Args:
        fn (callable): ``fn(x, keep_mask)``, or ``fn(x, keep_mask,
            generator=g)`` when ``stochastic``.
        uses_mask (bool, optional): Whether the fill depends on
            ``keep_mask``. Default ``True`` (the safe assumption).
        stochastic (bool, optional): Whether ``fn`` draws random numbers; it
            is then passed ``generator=`` and must draw from it. Default
            ``False``.
        honest (bool, optional): Whether ``fn`` never reads the pixels it
            fills. Default ``True``.
        tabular (bool, optional): Whether ``fn`` fills ``(N, F)`` feature
            rows (keep mask ``(N, F)``) instead of images. Default ``False``.

    Examples::

        >>> grey = as_infiller(lambda x, keep: torch.full_like(x, 0.5),
        ...                    uses_mask=False)
    """

    def __init__(
        self,
        fn: Callable[..., Tensor],
        *,
        uses_mask: bool = True,
        stochastic: bool = False,
        honest: bool = True,
        tabular: bool = False,
    ) -> None:
        self.fn = fn
        self.uses_mask = bool(uses_mask)
        self.stochastic = bool(stochastic)
        self.honest = bool(honest)
        self.tabular = bool(tabular)

    def fill(
        self, x: Tensor, keep_mask: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        if self.stochastic:
            return self.fn(x, keep_mask, generator=generator)
        return self.fn(x, keep_mask)

    def __repr__(self) -> str:
        name = getattr(self.fn, "__name__", type(self.fn).__name__)
        return f"CallableInfiller({name})"


def as_infiller(infiller: Any, name: str = "infiller", **flags: bool) -> Infiller:
    r"""The one way every consumer turns its ``infiller`` argument into an
    :class:`Infiller`.

    An :class:`Infiller` is returned as is; a plain callable ``(x, keep_mask)``
    is wrapped in :class:`CallableInfiller` (``flags`` are its ``uses_mask``,
    ``stochastic`` and ``honest``). Everything else raises a ``TypeError``
    naming ``name``, before any work.

    Args:
        infiller (Infiller or callable): What to use.
        name (str, optional): The argument's name in error messages.
        **flags (bool): ``uses_mask``, ``stochastic``, ``honest``, ``tabular``
            for a plain callable.

    Returns:
        Infiller

    Examples::

        >>> from captum_fido.infillers import BlurInfiller, as_infiller
        >>> as_infiller(BlurInfiller()) is not None
        True
        >>> fill = as_infiller(lambda x, keep: x.mean() * torch.ones_like(x))
    """
    if isinstance(infiller, Infiller):
        if flags:
            raise TypeError(
                f"{name} is already an Infiller; uses_mask/stochastic/honest/"
                "tabular apply to plain callables only"
            )
        return infiller
    if isinstance(infiller, type):
        raise TypeError(
            f"{name} must be an infiller instance, got the class "
            f"{infiller.__name__}: pass {infiller.__name__}() instead"
        )
    if not callable(infiller):
        raise TypeError(
            f"{name} must be an Infiller or a callable infiller(x, keep_mask), "
            f"got {type(infiller).__name__}"
        )
    return CallableInfiller(infiller, **flags)


def warn_if_dishonest(infiller: Infiller, purpose: str) -> None:
    r"""Warn that an evaluation uses an infiller that reads what it replaces.

    Does nothing for an ``honest`` infiller; otherwise issues a
    ``UserWarning`` naming ``purpose`` and the infiller.

    Args:
        infiller (Infiller): The infiller the evaluation uses.
        purpose (str): What uses it, the start of the warning message.

    Examples::

        >>> from captum_fido.infillers import BlurInfiller, LocalInfiller
        >>> warn_if_dishonest(LocalInfiller(), "deletion curve")  # no warning
        >>> warn_if_dishonest(BlurInfiller(), "deletion curve")  # warns
    """
    if not infiller.honest:
        warnings.warn(
            f"{purpose} uses {infiller!r}, which reads the pixels it replaces, "
            "so their content leaks into the evaluation; prefer an honest "
            "infiller (LocalInfiller, a learned in-painter) for judging maps",
            stacklevel=3,
        )


def _check_infill_arguments(x: Tensor, keep_mask: Tensor, tabular: bool) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if tabular:
        if x.dim() != 2:
            raise ValueError(
                f"a tabular infiller fills feature rows x of shape (N, F), got "
                f"{tuple(x.shape)}"
            )
        layout, expected = "x's shape (N, F)", tuple(x.shape)
    else:
        if x.dim() != 4:
            hint = " (feature rows need a tabular infiller)" if x.dim() == 2 else ""
            raise ValueError(
                f"x must have shape (N, C, H, W), got {tuple(x.shape)}{hint}"
            )
        layout, expected = "shape (N, 1, H, W)", (x.shape[0], 1, *x.shape[2:])
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    if not isinstance(keep_mask, Tensor):
        raise TypeError(
            f"keep_mask must be a torch.Tensor, got {type(keep_mask).__name__}"
        )
    if tuple(keep_mask.shape) != expected:
        raise ValueError(
            f"keep_mask must have {layout} = {expected}, got {tuple(keep_mask.shape)}"
        )
    if keep_mask.device != x.device:
        raise ValueError(f"keep_mask is on {keep_mask.device} but x is on {x.device}")


def check_infill_output(reference: object, x: Tensor, name: str) -> None:
    r"""Raise if an infiller's output cannot stand in for ``x``.

    Args:
        reference: What the infiller returned.
        x: The image it was asked to fill.
        name: The infiller's name, used in the error message.

    Raises:
        TypeError: ``reference`` is not a tensor.
        ValueError: its shape, dtype or device differs from ``x``'s, or it
            holds NaN or infinite values.

    Examples::

        >>> x = torch.rand(2, 3, 8, 8)
        >>> check_infill_output(torch.zeros_like(x), x, "zeros")  # passes
        >>> check_infill_output(torch.zeros(2, 3, 4, 4), x, "small")
        Traceback (most recent call last):
        ...
        ValueError: infiller small returned shape (2, 3, 4, 4), expected ...
    """
    if not isinstance(reference, Tensor):
        raise TypeError(
            f"infiller {name} must return a torch.Tensor, "
            f"got {type(reference).__name__}"
        )
    if reference.shape != x.shape:
        raise ValueError(
            f"infiller {name} returned shape {tuple(reference.shape)}, "
            f"expected the input's shape {tuple(x.shape)}"
        )
    if reference.dtype != x.dtype:
        raise ValueError(
            f"infiller {name} returned dtype {reference.dtype}, "
            f"expected the input's dtype {x.dtype}"
        )
    if reference.device != x.device:
        raise ValueError(
            f"infiller {name} returned a tensor on {reference.device}, "
            f"expected the input's device {x.device}"
        )
    if not bool(torch.isfinite(reference).all()):
        raise ValueError(f"infiller {name} returned NaN or infinite values")
