r"""Early stopping, image by image: settle, cool down, freeze.

The loop's learning rate falls linearly to 0 over ``n_steps``; stopping the
moment the masks stop moving (the first ``stop_tol``) left them where a
large step size had put them, and did worse than simply running fewer
steps. Here an image that has *settled* does not stop at once: its step
size then falls linearly to 0 over the next ``stop_patience`` steps (the
end of the schedule, compressed), and the image is frozen. The run ends
when every image is frozen.

An image has settled when, after the warm-up, the mean absolute change of
its coarse keep probabilities over the last ``stop_patience`` steps is below
``stop_tol``. Each image's decision depends on its own history only, so a
batch still gives the maps of separate calls.
"""

from __future__ import annotations

from collections import deque
from typing import Deque, List

import torch
from torch import Tensor

__all__ = ["EarlyStop"]


class EarlyStop:
    r"""Per-image settling, cool-down and freezing.

    Args:
        n (int): Images.
        tol (float): ``stop_tol``.
        patience (int): ``stop_patience``: the window and the cool-down.
        warmup (int): Steps before the first check (the regularisers'
            warm-up).

    Examples::

        >>> stop = EarlyStop(n=1, tol=0.01, patience=2, warmup=0)
        >>> keep = [torch.full((1, 1, 4, 4), 0.5)]
        >>> for step in range(3):  # unchanged: settled after step 2
        ...     stop.record(step, keep)
        >>> stop.factors(3), stop.done(3)  # half a step, then none
        (tensor([0.5000]), False)
        >>> stop.done(4)
        True
    """

    def __init__(self, n: int, tol: float, patience: int, warmup: int) -> None:
        self.tol, self.patience = float(tol), int(patience)
        self.first_check = warmup + patience
        self.history: Deque[List[Tensor]] = deque(maxlen=patience + 1)
        #: Per image, the step its cool-down began (-1: still optimising).
        self.since = torch.full((n,), -1, dtype=torch.long)

    def record(self, step: int, keep_probability: List[Tensor]) -> None:
        r"""After step ``step``: its keep probabilities; start the cool-down
        of every image that has settled."""
        # Clone: BBMP's keep probabilities are its parameters, updated in place.
        self.history.append([p.detach().clone() for p in keep_probability])
        if step + 1 < self.first_check or len(self.history) <= self.patience:
            return
        oldest = self.history[0]
        change = torch.stack(
            [
                (c - o).abs().flatten(1).mean(dim=1).cpu()
                for c, o in zip(self.history[-1], oldest)
            ]
        ).amax(dim=0)
        start = (self.since < 0) & (change < self.tol)
        self.since = torch.where(start, torch.full_like(self.since, step), self.since)

    def factors(self, step: int) -> Tensor:
        r"""``(N,)`` multipliers of each image's step at ``step``: 1 while
        optimising, then falling linearly to 0 over the cool-down."""
        cooling = self.since >= 0
        left = 1.0 - (step - self.since).float() / self.patience
        return torch.where(cooling, left.clamp(0.0, 1.0), torch.ones_like(left))

    def done(self, step: int) -> bool:
        r"""Whether every image is frozen before step ``step``."""
        return bool((self.factors(step) == 0).all())
