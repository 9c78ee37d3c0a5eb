r"""What every method of a comparison is behind: :class:`MethodSpec`, and
the :class:`RowCounter` that measures its cost in classifier rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from torch import Tensor, nn

__all__ = ["MethodSpec", "Explain", "scaled", "RowCounter", "unwrap"]

Explain = Callable[[nn.Module, Tensor, Tensor, int], Tensor]


@dataclass(frozen=True)
class MethodSpec:
    r"""One method of a comparison.

    Attributes:
        name: Row name in the tables, e.g. ``"FIDO-SSR (inpainter)"``.
        family: ``"captum"``, ``"captum-perturbation"``, ``"fido-ssr"``,
            ``"fido-sdr"``, ``"bbmp"`` or ``"bbmp-ca"``.
        infiller: Name of the in-filler the method optimises with, if any.
        explain: ``explain(model, images, labels, seed) -> (N, H, W)`` maps
            in ``[0, 1]``.
        probabilistic: The maps are keep/drop probabilities, thresholded at
            0.5 for localisation (the paper's rule for FIDO); other maps get
            a threshold ``alpha * mean`` chosen on a held-out split.
        tau: BBMP-CA's threshold, if any.

    Examples::

        >>> spec = captum_methods(lambda m: m.layer4)[0]
        >>> spec.name, spec.family, spec.probabilistic
        ('Saliency', 'captum', False)
        >>> maps = spec.explain(model, x, y, 0)  # (N, H, W) in [0, 1]
        >>> def centre(model, x, y, seed):  # a map that ignores the model
        ...     maps = torch.zeros(x.shape[0], *x.shape[2:])
        ...     maps[:, 16:48, 16:48] = 1.0
        ...     return maps
        >>> custom = MethodSpec("Centre", "captum", None, centre, probabilistic=False)
    """

    name: str
    family: str
    infiller: Optional[str]
    explain: Explain
    probabilistic: bool
    tau: Optional[float] = None


def scaled(attr: Tensor) -> Tensor:
    r"""``(N, C, H, W)`` attributions -> ``(N, H, W)`` in ``[0, 1]``."""
    maps = attr.detach().abs().mean(dim=1)
    top = maps.flatten(1).amax(dim=1).clamp_min(1e-12)
    return (maps / top[:, None, None]).float()


class RowCounter(nn.Module):
    r"""A transparent wrapper counting the rows (images) the classifier sees,
    so every method's cost is measured in classifier passes per image.

    The count is the ``rows`` attribute; set it to 0 to start again.

    Args:
        model (nn.Module): The classifier; its forward receives the same
            arguments.

    Examples::

        >>> counter = RowCounter(model)
        >>> _ = counter(torch.rand(4, 3, 64, 64))
        >>> counter.rows
        4
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.rows = 0

    def forward(self, x: Tensor, *args: object) -> Tensor:
        self.rows += int(x.shape[0])
        return self.model(x, *args)


def unwrap(model: nn.Module) -> nn.Module:
    r"""The classifier inside a :class:`RowCounter` (itself otherwise)."""
    return model.model if isinstance(model, RowCounter) else model
