r"""map_status: empty, flooded and informative maps, with known answers."""

import pytest
import torch

from captum_fido.metrics import EMPTY_BELOW, FLOODED_AREA, map_status


def test_known_statuses():
    maps = torch.zeros(4, 1, 10, 10)
    maps[1, :, :5, :5] = 1.0  # a quarter
    maps[2] = 0.95  # everything, nearly
    maps[3] = EMPTY_BELOW  # at the bound: not empty
    assert map_status(maps) == ["empty", "ok", "flooded", "ok"]


def test_flood_bound_and_layouts():
    rows = torch.zeros(2, 8)
    rows[0, :6] = 1.0  # exactly 3/4 of the features
    rows[1, :5] = 1.0
    assert FLOODED_AREA == 0.75
    assert map_status(rows) == ["flooded", "ok"]
    assert map_status(torch.zeros(1, 6, 6)) == ["empty"]


@pytest.mark.parametrize(
    "bad, error",
    [
        (torch.zeros(3), ValueError),
        (torch.zeros(0, 4), ValueError),
        (torch.full((1, 4), 1.5), ValueError),
        (torch.full((1, 4), float("nan")), ValueError),
        (torch.zeros(1, 4, dtype=torch.long), TypeError),
        ([[0.0, 1.0]], TypeError),
    ],
)
def test_bad_maps(bad, error):
    with pytest.raises(error, match="maps"):
        map_status(bad)
