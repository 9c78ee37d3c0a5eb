"""BBMP-CA observes its mask's cells: r = 1[m > tau] on the grid, not on the
bilinearly upsampled pixels (which eroded every deleted region by a cell)."""

from __future__ import annotations

from typing import List, Optional

import pytest
import torch
from torch import Tensor, nn

from captum_fido import BBMP
from captum_fido.attr import ContinuousMask, RelaxedBernoulliMask
from captum_fido.attr._masks import GridLayout
from captum_fido.infillers import Infiller


class _Recording(Infiller):
    r"""Fills with the observed pixels' mean; records every keep-mask."""

    uses_mask = True

    def __init__(self) -> None:
        self.seen: List[Tensor] = []

    def fill(
        self, x: Tensor, keep_mask: Tensor, generator: Optional[torch.Generator]
    ) -> Tensor:
        self.seen.append(keep_mask.detach().clone())
        total = keep_mask.sum((2, 3), keepdim=True).clamp_min(1.0)
        mean = (x * keep_mask).sum((2, 3), keepdim=True) / total
        return keep_mask * x + (1 - keep_mask) * mean.expand_as(x)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 256, 3)
    ).eval()


@pytest.mark.parametrize("tau", [0.0, 0.1, 0.5])
def test_bbmp_ca_observes_whole_cells(tau):
    fill = _Recording()
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    BBMP(_model(), fill).attribute(
        x, target=0, tau=tau, n_steps=12, mask_size=4, seed=0, show_progress=False
    )
    assert fill.seen
    mixed = 0
    for keep in fill.seen:
        # 4 x 4 cells of 4 x 4 pixels: every cell all observed or all not.
        cells = keep.unfold(2, 4, 4).unfold(3, 4, 4)
        assert torch.equal(cells.amin((-1, -2)), cells.amax((-1, -2)))
        mixed += int(0 < keep.mean() < 1)
    # The optimisation moved some cells over tau and left others below it,
    # so the check above saw partly observed masks.
    assert mixed > 0


def test_cells_to_pixels_spreads_each_cell():
    layout = GridLayout((2, 2), (4, 4))
    cells = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    pixels = layout.cells_to_pixels(cells, 1)
    assert torch.equal(pixels[0, 0, :2, :2], torch.ones(2, 2))
    assert torch.equal(pixels[0, 0, :2, 2:], torch.zeros(2, 2))
    # Bilinear upsampling (the mask itself) mixes neighbouring cells instead.
    assert 0 < layout.expected(cells)[0, 0, 1, 2] < 1


def test_only_the_deterministic_mask_observes_cells():
    assert ContinuousMask(0.3).observes_cells
    assert not RelaxedBernoulliMask(0.1).observes_cells
