"""ROAD's noisy linear imputation: exact, honest and seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from captum_fido.infillers import Infiller, NoisyLinearInfiller
from captum_fido.infillers.road import noisy_linear_imputation
from captum_fido.metrics import deletion_curve, insertion_curve
from tests.conftest import BOX, RegionClassifier, region_images


def _hole(n=2, size=16, top=4, left=5, h=6, w=7):
    keep = torch.ones(n, 1, size, size)
    keep[:, :, top : top + h, left : left + w] = 0.0
    return keep


def test_is_an_honest_mask_dependent_infiller():
    f = NoisyLinearInfiller()
    assert isinstance(f, Infiller)
    assert f.honest and f.uses_mask and f.stochastic
    assert not NoisyLinearInfiller(noise_std=0.0).stochastic


def test_reproduces_constant_and_linear_images_exactly():
    # A weighted mean with a symmetric stencil is exact on affine images
    # (the hole lies inside the image, so every neighbour exists).
    rows = torch.arange(16.0, dtype=torch.float64).view(16, 1).expand(16, 16)
    cols = torch.arange(16.0, dtype=torch.float64).view(1, 16).expand(16, 16)
    ramp = torch.stack([0.3 * rows - 0.2 * cols + 1, torch.full_like(rows, 0.7)])
    x = ramp.expand(2, 2, 16, 16).double().contiguous()
    keep = _hole().double()
    ref = NoisyLinearInfiller(noise_std=0.0)(x, keep)
    torch.testing.assert_close(ref, x, atol=1e-10, rtol=0)


def test_single_pixel_is_the_weighted_mean_of_its_neighbours():
    x = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    x[0, 0, 1, 2] = 6.0  # direct neighbour, weight 1/6
    x[0, 0, 1, 1] = 12.0  # diagonal neighbour, weight 1/12
    keep = torch.ones(1, 1, 5, 5, dtype=torch.float64)
    keep[0, 0, 2, 2] = 0
    ref = NoisyLinearInfiller(noise_std=0.0)(x, keep)
    # weights sum to 4 * 1/6 + 4 * 1/12 = 1: 6/6 + 12/12 = 2.
    assert ref[0, 0, 2, 2].item() == pytest.approx(2.0)


def test_never_reads_removed_pixels():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 16, 16, generator=g)
    keep = (torch.rand(2, 1, 16, 16, generator=g) > 0.4).float()
    y = x.clone()
    y[(keep == 0).expand_as(x)] = 1e3 * torch.rand(int((keep == 0).sum()) * 3)
    for noise in (0.0, 0.01):
        f = NoisyLinearInfiller(noise_std=noise)
        a = f(x, keep, torch.Generator().manual_seed(1))
        b = f(y, keep, torch.Generator().manual_seed(1))
        assert torch.equal(a * (1 - keep), b * (1 - keep))


def test_noise_is_drawn_from_the_generator_and_only_where_filled():
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    keep = _hole(4, 32, 4, 4, 20, 20)
    f = NoisyLinearInfiller(noise_std=0.01)
    clean = NoisyLinearInfiller(noise_std=0.0)(x, keep)
    a = f(x, keep, torch.Generator().manual_seed(7))
    b = f(x, keep, torch.Generator().manual_seed(7))
    c = f(x, keep, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    noise = (a - clean)[(keep == 0).expand_as(x)]
    assert noise.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.equal(a[(keep == 1).expand_as(x)], x[(keep == 1).expand_as(x)])


def test_nothing_kept_gives_fill_value_and_nothing_removed_gives_x():
    x = torch.rand(2, 3, 8, 8)
    f = NoisyLinearInfiller(noise_std=0.0, fill_value=0.25)
    assert torch.equal(f(x, torch.zeros(2, 1, 8, 8)), torch.full_like(x, 0.25))
    assert torch.equal(f(x, torch.ones(2, 1, 8, 8)), x)


def test_matches_the_dense_solution_on_random_masks():
    rng = np.random.default_rng(0)
    x = rng.random((1, 2, 6, 7))
    removed = rng.random((1, 6, 7)) < 0.6
    out = noisy_linear_imputation(x, removed)
    # Dense check: every removed value is the weighted mean of its neighbours.
    h, w = 6, 7
    for y0, x0 in zip(*np.nonzero(removed[0])):
        num, den = np.zeros(2), 0.0
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                yy, xx = y0 + dy, x0 + dx
                if (dy, dx) == (0, 0) or not (0 <= yy < h and 0 <= xx < w):
                    continue
                wt = 1 / 6 if dy == 0 or dx == 0 else 1 / 12
                num += wt * out[0, :, yy, xx]
                den += wt
        np.testing.assert_allclose(out[0, :, y0, x0], num / den, atol=1e-10)
    np.testing.assert_array_equal(out[0][:, ~removed[0]], x[0][:, ~removed[0]])


def test_keeps_device_dtype_and_validates():
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    ref = NoisyLinearInfiller()(x, _hole(1, 8, 2, 2, 3, 3).double())
    assert ref.dtype == torch.float64
    with pytest.raises(ValueError, match="noise_std"):
        NoisyLinearInfiller(noise_std=-1)
    with pytest.raises(TypeError, match="noise_std"):
        NoisyLinearInfiller(noise_std="0.01")
    with pytest.raises(ValueError, match="keep_mask"):
        NoisyLinearInfiller()(x, torch.ones(1, 3, 8, 8, dtype=torch.float64))
    with pytest.raises(ValueError, match="removed"):
        noisy_linear_imputation(np.zeros((1, 3, 8, 8)), np.zeros((1, 7, 8), bool))


def test_as_evaluation_infiller_of_the_curves():
    model = RegionClassifier().eval()
    x = region_images(n=2)
    t, l, h, w = BOX
    good = torch.zeros(2, 64, 64)
    good[:, t : t + h, l : l + w] = 1.0
    fill = NoisyLinearInfiller()
    fr = [0.0, 0.1, 0.5, 1.0]
    d_good = deletion_curve(model, x, good, 1, fill, fractions=fr)
    d_bad = deletion_curve(model, x, 1 - good, 1, fill, fractions=fr)
    i_good = insertion_curve(model, x, good, 1, fill, fractions=fr)
    assert (d_good.area < d_bad.area).all()
    assert (i_good.area > 0.8).all()


@pytest.mark.slow
def test_batch_of_64_at_64px_is_fast_enough():
    import time

    x = torch.rand(64, 3, 64, 64)
    keep = (torch.rand(64, 1, 64, 64) > 0.5).float()
    start = time.perf_counter()
    NoisyLinearInfiller()(x, keep, torch.Generator().manual_seed(0))
    assert time.perf_counter() - start < 10.0


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    drop=st.floats(0.05, 0.95),
    size=st.integers(2, 9),
)
def test_fill_is_a_convex_combination_of_kept_pixels(seed, drop, size):
    # A weighted mean of neighbours obeys the maximum principle: every
    # imputed value lies between the smallest and largest kept value.
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 2, size, size, generator=g, dtype=torch.float64)
    keep = (torch.rand(1, 1, size, size, generator=g) > drop).double()
    keep[0, 0, 0, 0] = 1.0  # at least one kept pixel
    ref = NoisyLinearInfiller(noise_std=0.0)(x, keep)
    kept = (keep == 1).expand_as(x)
    for c in range(2):
        vals = x[0, c][kept[0, c]]
        filled = ref[0, c][~kept[0, c]]
        if filled.numel():
            assert filled.min() >= vals.min() - 1e-9
            assert filled.max() <= vals.max() + 1e-9
