"""The pointing game on maps whose answers are known."""

from __future__ import annotations

import math

import pytest
import torch

from captum_fido.metrics import (
    PointingGameResult,
    default_pointing_tolerance,
    pointing_game,
)
from tests.conftest import BOX

T, L, H, W = BOX
GT = torch.tensor([L, T, L + W, T + H], dtype=torch.float32)  # (x0, y0, x1, y1)


def _box_map(n=3, size=64):
    m = torch.zeros(n, size, size)
    m[:, T : T + H, L : L + W] = 1.0
    return m


def _peak(row, col, size=64):
    m = torch.zeros(1, size, size)
    m[0, row, col] = 1.0
    return m


def test_perfect_uniform_and_inverted_maps():
    gts = [GT] * 3
    perfect = pointing_game(_box_map() + 0.1 * torch.rand(3, 64, 64), gts)
    assert isinstance(perfect, PointingGameResult)
    assert perfect.hits.tolist() == [True] * 3 and perfect.accuracy == 1.0
    # A constant map does not point: every pixel is a maximum.
    uniform = torch.ones(3, 64, 64)
    assert pointing_game(uniform, gts).accuracy == 0.0
    assert pointing_game(uniform, gts, ties="any").accuracy == 1.0
    assert pointing_game(uniform, gts, ties="first").accuracy == 0.0  # (0, 0)
    inverted = 1.0 - _box_map()
    for ties in ("all", "first"):
        assert pointing_game(inverted, gts, ties=ties).accuracy == 0.0
    # Maxima just outside the box lie within the tolerance.
    assert pointing_game(inverted, gts, ties="any").accuracy == 1.0
    assert pointing_game(inverted, gts, tolerance=0, ties="any").accuracy == 0.0


def test_tolerance_is_euclidean_between_pixel_centres():
    gts = [GT]
    right = L + W - 1  # last column inside the box
    bottom = T + H - 1
    assert pointing_game(_peak(T, right + 3), gts, tolerance=3).hits.item()
    assert not pointing_game(_peak(T, right + 4), gts, tolerance=3).hits.item()
    # Diagonal: distance 3 * sqrt(2) = 4.24.
    diag = _peak(bottom + 3, right + 3)
    assert not pointing_game(diag, gts, tolerance=4.2).hits.item()
    assert pointing_game(diag, gts, tolerance=4.25).hits.item()
    assert pointing_game(_peak(T, L), gts, tolerance=0).hits.item()
    assert not pointing_game(_peak(T - 1, L), gts, tolerance=0).hits.item()


def test_default_tolerance_scales_15px_at_224():
    assert default_pointing_tolerance(224, 224) == 15.0
    assert default_pointing_tolerance(64, 64) == pytest.approx(15 * 64 / 224)
    assert default_pointing_tolerance(448, 224) == 15.0
    res = pointing_game(_peak(T, L + W - 1 + 4), [GT])  # 4 px < 4.29 px
    assert res.tolerance == pytest.approx(15 * 64 / 224) and res.hits.item()
    assert not pointing_game(_peak(T, L + W - 1 + 5), [GT]).hits.item()


def test_several_boxes_per_image_and_points():
    other = torch.tensor([0.0, 50.0, 10.0, 60.0])
    m = _peak(55, 5)
    res = pointing_game(m, [torch.stack([GT, other])], tolerance=0)
    assert res.hits.item() and res.points.tolist() == [[55, 5]]
    assert not pointing_game(m, [GT], tolerance=0).hits.item()
    # Boxes of IoU 0 with the peak never count; accuracy = hits / images.
    maps = torch.cat([_peak(T, L), _peak(0, 0), _peak(T + 1, L + 1), _peak(63, 63)])
    res = pointing_game(maps, [GT] * 4, tolerance=0)
    assert res.hits.tolist() == [True, False, True, False]
    assert res.accuracy == 0.5
    # (N, C, H, W) attributions: absolute values averaged over channels.
    attr = -_box_map(2)[:, None].expand(2, 3, 64, 64)
    assert pointing_game(attr, [GT, GT]).accuracy == 1.0


def test_validation_names_the_argument():
    m = _box_map(2)
    with pytest.raises(ValueError, match=r"gt_boxes\[0\] must have shape"):
        pointing_game(m, [torch.zeros(3), GT])
    with pytest.raises(ValueError, match="gt_boxes must hold one entry per image"):
        pointing_game(m, [GT])
    with pytest.raises(TypeError, match="gt_boxes"):
        pointing_game(m, 3)
    with pytest.raises(ValueError, match="maps must have shape"):
        pointing_game(torch.rand(64, 64), [GT])
    with pytest.raises(TypeError, match="maps must be a torch.Tensor"):
        pointing_game(m.numpy(), [GT, GT])
    with pytest.raises(ValueError, match="ties"):
        pointing_game(m, [GT, GT], ties="some")
    with pytest.raises(ValueError, match="tolerance"):
        pointing_game(m, [GT, GT], tolerance=-1)
    with pytest.raises(ValueError, match="tolerance"):
        pointing_game(m, [GT, GT], tolerance=math.inf)
    with pytest.raises(TypeError, match="tolerance"):
        pointing_game(m, [GT, GT], tolerance="15")
