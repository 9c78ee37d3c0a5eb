"""Hard masks, several explanations and uncertainty, on models with a known answer."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch
from torch import nn

from captum_fido import BBMP, FIDO
from captum_fido.attr import (
    Explanation,
    RelaxedBernoulliMask,
    alternative_explanations,
    map_uncertainty,
    plot_explanations,
    plot_uncertainty,
)
from captum_fido.infillers import MeanInfiller
from tests.conftest import BOX

matplotlib.use("Agg")

#: Two separate evidence patches (top, left, height, width) in 64 x 64 images.
PATCH_A, PATCH_B = (8, 8, 14, 14), (40, 38, 14, 14)
DARK = MeanInfiller([0.15, 0.15, 0.15])


class TwoPatches(nn.Module):
    r"""``logit_1 = 30 (combine(mean(A), mean(B)) - 0.5)``, ``logit_0 = -logit_1``:
    with ``max`` either bright patch alone suffices (OR), with ``min``
    darkening either one removes the class (AND)."""

    def __init__(self, combine: str) -> None:
        super().__init__()
        self.combine = torch.maximum if combine == "max" else torch.minimum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = (_inside(x, p).mean(dim=(1, 2, 3)) for p in (PATCH_A, PATCH_B))
        s = 30.0 * (self.combine(a, b) - 0.5)
        return torch.stack([-s, s], dim=1)


def _inside(x: torch.Tensor, box) -> torch.Tensor:
    t, l, h, w = box
    return x[:, :, t : t + h, l : l + w]


def _outside(x: torch.Tensor, boxes, margin: int = 6) -> torch.Tensor:
    r"""Pixels of ``x[0, 0]`` more than ``margin`` px away from every box."""
    far = torch.ones(x.shape[-2:], dtype=torch.bool)
    for t, l, h, w in boxes:
        far[
            max(0, t - margin) : t + h + margin, max(0, l - margin) : l + w + margin
        ] = False
    return x[0, 0][far]


@pytest.fixture
def two_patch_x() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 64, 64, generator=g) * 0.3
    for t, l, h, w in (PATCH_A, PATCH_B):
        x[:, :, t : t + h, l : l + w] = 0.9 + 0.1 * torch.rand(1, 3, h, w, generator=g)
    return x


RUN = dict(n_steps=60, n_samples=4, seed=0)


# Hard masks ---------------------------------------------------------------


def test_temperature_anneals_geometrically():
    dist = RelaxedBernoulliMask(0.1, temperature_final=0.001)
    for progress, expected in ((0.0, 0.1), (0.5, 0.01), (1.0, 0.001)):
        dist.anneal(progress)
        assert dist.temperature == pytest.approx(expected)
    constant = RelaxedBernoulliMask(0.1)
    constant.anneal(1.0)
    assert constant.temperature == pytest.approx(0.1)


@pytest.mark.parametrize("objective", ["ssr", "sdr"])
def test_hard_map_is_the_box_and_meets_the_objective(region_model, region_x, objective):
    fido = FIDO(region_model, DARK, objective=objective)
    maps, details = fido.attribute(
        region_x[:1],
        target=1,
        temperature_final=0.01,
        hard=True,
        l1_coeff=1e-3,
        return_details=True,
        **RUN,
    )
    assert set(maps.unique().tolist()) <= {0.0, 1.0}
    box = torch.zeros_like(maps[:, :1], dtype=torch.bool)
    t, l, h, w = BOX
    box[:, :, t : t + h, l : l + w] = True
    region = maps[:, :1].bool()
    # The box, up to the 4-pixel cells of the default 16 x 16 grid.
    recall = (region & box).sum() / box.sum()
    precision = (region & box).sum() / region.sum()
    assert recall > 0.95 and precision > 0.6, (recall, precision)
    assert details.hard_met.all()
    if objective == "ssr":  # keeping the box alone keeps the class
        assert (details.hard_probs > 0.99).all()
    else:  # dropping the box alone removes it
        assert (details.hard_probs < 0.01).all()
    assert details.hard_threshold.shape == (1,)


def test_hard_is_off_by_default_and_temperature_final_is_fido_only(
    region_model, region_x
):
    _, details = FIDO(region_model, DARK).attribute(
        region_x, target=1, n_steps=3, return_details=True
    )
    assert details.hard_probs is None and details.hard_met is None
    with pytest.raises(ValueError, match="temperature_final is an option of another"):
        BBMP(region_model, DARK).attribute(region_x, target=1, temperature_final=0.01)
    with pytest.raises(ValueError, match="temperature_final must be > 0"):
        FIDO(region_model, DARK).attribute(region_x, target=1, temperature_final=0.0)


def test_bbmp_hard_map_is_binary(region_model, region_x):
    maps = BBMP(region_model, DARK).attribute(
        region_x, target=1, n_steps=20, hard=True, seed=0
    )
    assert set(maps.unique().tolist()) <= {0.0, 1.0}


# Several explanations -----------------------------------------------------


@pytest.mark.parametrize("combine, objective", [("max", "ssr"), ("min", "sdr")])
def test_two_explanations_find_both_patches(two_patch_x, combine, objective):
    fido = FIDO(TwoPatches(combine), DARK, objective=objective)
    found = alternative_explanations(
        fido, two_patch_x, target=1, k=2, l1_coeff=3e-3, hard=True, **RUN
    )
    assert len(found) == 2 and all(isinstance(e, Explanation) for e in found)
    covers = torch.tensor(
        [
            [_inside(e.attribution, p).mean().item() for p in (PATCH_A, PATCH_B)]
            for e in found
        ]
    )
    # Each explanation is one patch, and the two are different patches.
    assert ((covers > 0.9) | (covers < 0.1)).all(), covers
    assert (covers > 0.9).sum(dim=1).tolist() == [1, 1], covers
    assert (covers > 0.9).sum(dim=0).tolist() == [1, 1], covers
    for e in found:  # each meets the objective on its own
        if objective == "ssr":
            assert e.class_probs.item() > 0.99
        else:
            assert e.class_probs.item() < 0.01
        assert e.counterfactuals[0].shape == (1, 4, 3, 64, 64)


def test_alternatives_refuse_what_they_set(two_patch_x):
    fido = FIDO(TwoPatches("max"), DARK)
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        alternative_explanations(fido, two_patch_x, target=1, k=0)
    with pytest.raises(TypeError, match="sets avoid_regions itself"):
        alternative_explanations(fido, two_patch_x, target=1, avoid_regions=None)


def test_avoid_regions_are_validated(region_model, region_x):
    fido = FIDO(region_model, DARK)
    with pytest.raises(ValueError, match=r"avoid_regions must have shape"):
        fido.attribute(region_x, target=1, avoid_regions=torch.zeros(3, 1, 8, 8))
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        fido.attribute(region_x, target=1, avoid_regions=torch.full_like(region_x, 2))
    with pytest.raises(ValueError, match="equal across channels"):
        fido.attribute(region_x, target=1, avoid_regions=torch.rand_like(region_x))


def test_explanations_figure(two_patch_x, tmp_path):
    fido = FIDO(TwoPatches("max"), DARK)
    found = alternative_explanations(fido, two_patch_x, target=1, k=2, n_steps=2)
    fig = plot_explanations(two_patch_x, found, path=tmp_path / "k.png")
    assert (tmp_path / "k.png").stat().st_size > 0
    assert len(fig.axes) >= 6


# Uncertainty --------------------------------------------------------------


def test_sample_spread_is_zero_where_certain_and_high_where_ignored(
    region_model, region_x
):
    # No sparsity: the pixels the model ignores get no pull at all and stay
    # undecided (p = 0.5); the box is kept with near certainty.
    u = map_uncertainty(
        FIDO(region_model, DARK),
        region_x[:1],
        target=1,
        seeds=(0, 1),
        l1_coeff=0.0,
        tv_coeff=0.0,
        n_steps=40,
        n_samples=4,
    )
    assert _inside(u.sample_std, BOX).max() < 0.15
    assert _outside(u.sample_std, [BOX]).min() == pytest.approx(0.5, abs=1e-3)
    assert u.seed_std.max() < 0.05  # nothing for the seeds to disagree on


def test_seed_spread_is_high_where_the_model_is_indifferent(two_patch_x, tmp_path):
    # Either patch suffices: the runs keep one or the other depending on the
    # seed (here B, A, B); the background is dropped by every run.
    u = map_uncertainty(
        FIDO(TwoPatches("max"), DARK),
        two_patch_x,
        target=1,
        seeds=(0, 1, 2),
        l1_coeff=3e-3,
        n_steps=40,
        n_samples=4,
    )
    for patch in (PATCH_A, PATCH_B):
        assert _inside(u.seed_std, patch).mean() > 0.3
    assert _outside(u.seed_std, [PATCH_A, PATCH_B]).mean() < 0.02
    assert u.maps.shape == (3, 1, 3, 64, 64)
    torch.testing.assert_close(u.mean, u.maps.mean(dim=0))
    plot_uncertainty(two_patch_x, u, path=tmp_path / "u.png")
    assert (tmp_path / "u.png").stat().st_size > 0


def test_uncertainty_refuses_bad_requests(region_model, region_x):
    fido = FIDO(region_model, DARK)
    with pytest.raises(ValueError, match="at least two distinct seeds"):
        map_uncertainty(fido, region_x, target=1, seeds=(3, 3))
    with pytest.raises(ValueError, match="needs hard=False"):
        map_uncertainty(fido, region_x, target=1, hard=True)
    with pytest.raises(TypeError, match="sets seed itself"):
        map_uncertainty(fido, region_x, target=1, seed=1)


def test_bbmp_has_no_sample_spread(region_model, region_x):
    u = map_uncertainty(
        BBMP(region_model, DARK), region_x[:1], target=1, seeds=(0, 1), n_steps=3
    )
    assert u.sample_std.abs().max() == 0.0
    assert not math.isnan(float(u.seed_std.max()))
