r"""Per-image FIDO started from the amortised explainer's mask
(:class:`~captum_fido.attr.AmortisedFIDO`'s ``refine_steps``)."""

from __future__ import annotations

from typing import Callable, Optional, Tuple

from torch import Tensor

from captum_fido.attr._fido import FIDO
from captum_fido.attr._masks import MaskDistribution, RelaxedBernoulliMask
from captum_fido.attr._options import MaskOptions
from captum_fido.infillers import Infiller

__all__ = ["WarmStartMask", "WarmStartFIDO"]


class WarmStartMask(RelaxedBernoulliMask):
    r"""FIDO's relaxed Bernoulli keep-mask, started from given logits
    (the amortised mask) instead of 0.

    Args:
        logits (Tensor): ``(N, 1, h, w)`` initial logits on the grid.
        temperature (float, optional): Concrete temperature. Default 0.1.
        temperature_final (float, optional): The temperature at the last
            step (annealed as :class:`RelaxedBernoulliMask` does). Default
            ``None``: constant.
    """

    name = "FIDO (warm start)"

    def __init__(
        self,
        logits: Tensor,
        temperature: float = 0.1,
        temperature_final: Optional[float] = None,
    ) -> None:
        super().__init__(temperature, temperature_final)
        self.logits = logits.detach()

    def init_params(self, n: int, grid: Tuple[int, ...], like: Tensor) -> Tensor:
        if tuple(self.logits.shape) != (n, 1, *grid):
            raise ValueError(
                f"warm-start logits have shape {tuple(self.logits.shape)}, the "
                f"run needs {(n, 1, *grid)}"
            )
        return self.logits.to(device=like.device, dtype=like.dtype).clone()


class WarmStartFIDO(FIDO):
    r"""Per-image FIDO whose mask parameters start at given logits."""

    def __init__(
        self,
        forward_func: Callable[..., Tensor],
        infiller: Infiller,
        objective: str,
        output_type: str,
        logits: Tensor,
    ) -> None:
        super().__init__(forward_func, infiller, objective, output_type)
        self.logits = logits

    def mask_distribution(self, options: MaskOptions) -> MaskDistribution:
        return WarmStartMask(
            self.logits, options.temperature, options.temperature_final
        )
