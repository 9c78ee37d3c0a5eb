"""Property tests for the heuristic infillers."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from captum_fido.infillers import (
    BlurInfiller,
    LocalInfiller,
    MeanInfiller,
    RandomInfiller,
)
from captum_fido.infillers import functional as IF

shapes = st.tuples(
    st.integers(1, 3), st.sampled_from([1, 3]), st.integers(1, 24), st.integers(1, 24)
)
dtypes = st.sampled_from([torch.float32, torch.float64])


def _data(shape, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g, dtype=dtype)
    keep = (torch.rand((shape[0], 1, *shape[2:]), generator=g) > 0.6).to(dtype)
    return x, keep


ALL = [
    MeanInfiller(),
    BlurInfiller(sigma=3.0),
    RandomInfiller(),
    LocalInfiller(window=5),
    LocalInfiller(window=15, fallback="zero"),
]


@settings(max_examples=40, deadline=None)
@given(shape=shapes, dtype=dtypes, seed=st.integers(0, 10**6))
def test_shape_dtype_device_and_finite(shape, dtype, seed):
    x, keep = _data(shape, dtype, seed)
    for infiller in ALL:
        ref = infiller(x, keep, generator=torch.Generator().manual_seed(0))
        assert ref.shape == x.shape and ref.dtype == x.dtype and ref.device == x.device
        assert torch.isfinite(ref).all()
        assert not ref.requires_grad


@settings(max_examples=40, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10**6), window=st.sampled_from([1, 3, 7, 15]))
def test_local_never_reads_dropped_pixels(shape, seed, window):
    x, keep = _data(shape, torch.float64, seed)
    other = torch.where(keep.bool(), x, torch.rand_like(x) * 100 - 50)
    infiller = LocalInfiller(window=window)
    assert torch.equal(infiller(x, keep), infiller(other, keep))


@settings(max_examples=30, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10**6))
def test_local_is_the_mean_of_observed_neighbours(shape, seed):
    x, keep = _data(shape, torch.float64, seed)
    ref = LocalInfiller(window=3)(x, keep)
    n, c, h, w = shape
    i, j = h // 2, w // 2
    rows = slice(max(0, i - 1), i + 2)
    cols = slice(max(0, j - 1), j + 2)
    k = keep[0, 0, rows, cols]
    if k.sum() > 0:
        expected = (x[0, :, rows, cols] * k).sum(dim=(1, 2)) / k.sum()
        torch.testing.assert_close(ref[0, :, i, j], expected)


@settings(max_examples=20, deadline=None)
@given(shape=shapes, seed=st.integers(0, 10**6))
def test_random_is_reproducible_under_a_generator(shape, seed):
    x, keep = _data(shape, torch.float32, seed)
    inf = RandomInfiller()
    a = inf(x, keep, generator=torch.Generator().manual_seed(seed))
    b = inf(x, keep, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1


def test_mask_independent_infillers_ignore_the_mask():
    x, keep = _data((2, 3, 16, 16), torch.float32, 0)
    for infiller in (MeanInfiller(), BlurInfiller(), MeanInfiller([0.1, 0.2, 0.3])):
        assert not infiller.uses_mask
        assert torch.equal(infiller(x, keep), infiller(x, torch.ones_like(keep)))


def test_honesty_flags():
    assert LocalInfiller().honest and RandomInfiller().honest
    assert not BlurInfiller().honest and not MeanInfiller().honest
    assert MeanInfiller([0.0, 0.0, 0.0]).honest


def test_blur_matches_a_wide_gaussian():
    x = torch.zeros(1, 1, 65, 65)
    x[0, 0, 32, 32] = 1.0
    out = IF.blur_fill(x, sigma=3.0)
    assert abs(out.sum().item() - 1.0) < 1e-4
    assert out[0, 0, 32, 32] == out.max()
    # sigma 10 on a small image: the kernel is capped to fit, no error.
    assert BlurInfiller(10.0)(torch.rand(1, 3, 8, 8), torch.ones(1, 1, 8, 8)).shape == (
        1,
        3,
        8,
        8,
    )


def test_random_infiller_normalisation():
    inf = RandomInfiller(normalize_mean=[0.5] * 3, normalize_std=[0.25] * 3)
    ref = inf(
        torch.rand(1, 3, 8, 8),
        torch.ones(1, 1, 8, 8),
        generator=torch.Generator().manual_seed(0),
    )
    assert ref.min() >= -2.0 - 1e-6 and ref.max() <= 2.0 + 1e-6


def test_infiller_argument_checks():
    import pytest

    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="keep_mask must have shape"):
        LocalInfiller()(x, torch.ones(1, 3, 8, 8))
    with pytest.raises(ValueError, match="x must have shape"):
        LocalInfiller()(x[0], torch.ones(1, 1, 8, 8))
    with pytest.raises(ValueError, match="window must be a positive odd"):
        LocalInfiller(window=4)
    with pytest.raises(ValueError, match="high must be greater"):
        RandomInfiller(low=1.0, high=0.0)


def test_separable_blur_equals_torchvision():
    import torchvision.transforms.functional as TF

    x = torch.rand(2, 3, 40, 50, generator=torch.Generator().manual_seed(0))
    for sigma in (1.0, 3.0, 10.0):
        k = IF.gaussian_kernel_size(sigma, 40, 50)
        expected = TF.gaussian_blur(x, kernel_size=[k, k], sigma=[sigma, sigma])
        torch.testing.assert_close(
            IF.blur_fill(x, sigma), expected, atol=1e-5, rtol=1e-4
        )


def test_pyramid_fill_known_answers_and_honesty():
    from captum_fido.infillers.functional import pyramid_fill

    # A hole inside a constant colour is filled with that colour.
    x = torch.full((1, 3, 9, 7), 0.25)
    keep = torch.ones(1, 1, 9, 7)
    keep[..., 2:7, 1:6] = 0
    assert torch.allclose(pyramid_fill(x, keep), x)
    # Observed pixels are returned exactly; dropped ones are never read.
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 2, 17, 12, generator=g)
    keep = (torch.rand(3, 1, 17, 12, generator=g) > 0.8).float()
    out = pyramid_fill(x, keep)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(out * keep, x * keep)
    other = torch.where(keep.bool(), x, torch.rand_like(x))
    assert torch.equal(pyramid_fill(other, keep), out)
    # Fills stay within the observed values' range (averages of them).
    lo = x.masked_fill(keep == 0, 2.0).amin(dim=(2, 3), keepdim=True)
    hi = x.masked_fill(keep == 0, -1.0).amax(dim=(2, 3), keepdim=True)
    assert bool(((out >= lo - 1e-6) & (out <= hi + 1e-6)).all())
    # Left half observed black, right half dropped: the fill is black.
    half = torch.zeros(1, 1, 8, 8)
    half[..., :4] = 1
    assert torch.equal(
        pyramid_fill(torch.zeros(1, 3, 8, 8), half), torch.zeros(1, 3, 8, 8)
    )
    # Nothing observed: the empty value; everything observed: the input.
    assert torch.equal(
        pyramid_fill(x, torch.zeros_like(keep), empty_value=0.5),
        torch.full_like(x, 0.5),
    )
    assert torch.equal(pyramid_fill(x, torch.ones_like(keep)), x)
