"""In-filler constructors refuse values that would fail (or fill garbage)
later, and the Gaussian tabular in-filler refuses a singular covariance with
a clear error (issue 20)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from captum_fido.infillers import (
    BlurInfiller,
    GaussianConditionalInfiller,
    LocalInfiller,
    MeanInfiller,
    ModuleInfiller,
    NearestNeighbourInfiller,
    NoisyLinearInfiller,
    OpenCVInfiller,
    RandomInfiller,
    VAEInfiller,
)

NAN, INF = float("nan"), float("inf")


def _identity(x, mask):
    return x


#: (constructor call, exception, argument named in the message)
BAD = {
    "Blur sigma inf": (lambda: BlurInfiller(sigma=INF), ValueError, "sigma"),
    "Blur sigma -inf": (lambda: BlurInfiller(sigma=-INF), ValueError, "sigma"),
    "Blur sigma nan": (lambda: BlurInfiller(sigma=NAN), ValueError, "sigma"),
    "Blur sigma 0": (lambda: BlurInfiller(sigma=0.0), ValueError, "sigma"),
    "Blur sigma str": (lambda: BlurInfiller(sigma="10"), TypeError, "sigma"),
    "Blur sigma bool": (lambda: BlurInfiller(sigma=True), TypeError, "sigma"),
    "Mean nan": (lambda: MeanInfiller([0.5, NAN, 0.5]), ValueError, r"mean\[1\]"),
    "Mean inf": (lambda: MeanInfiller([INF] * 3), ValueError, r"mean\[0\]"),
    "Mean str": (lambda: MeanInfiller("0.5"), TypeError, "mean"),
    "Mean scalar": (lambda: MeanInfiller(0.5), TypeError, "mean"),
    "Mean empty": (lambda: MeanInfiller([]), ValueError, "mean"),
    "Mean bools": (lambda: MeanInfiller([True, False, True]), TypeError, "mean"),
    "Mean 2-D": (lambda: MeanInfiller(torch.ones(3, 1)), ValueError, "mean"),
    "Random std inf": (lambda: RandomInfiller(noise_std=INF), ValueError, "noise_std"),
    "Random std nan": (lambda: RandomInfiller(noise_std=NAN), ValueError, "noise_std"),
    "Random std < 0": (lambda: RandomInfiller(noise_std=-0.1), ValueError, "noise_std"),
    "Random std str": (lambda: RandomInfiller(noise_std="0.2"), TypeError, "noise_std"),
    "Random low nan": (lambda: RandomInfiller(low=NAN), ValueError, "low"),
    "Random high inf": (lambda: RandomInfiller(high=INF), ValueError, "high"),
    "Random high <= low": (
        lambda: RandomInfiller(low=1.0, high=1.0),
        ValueError,
        "high",
    ),
    "Random norm nan": (
        lambda: RandomInfiller(normalize_mean=[NAN] * 3, normalize_std=[1.0] * 3),
        ValueError,
        "normalize_mean",
    ),
    "Random norm std inf": (
        lambda: RandomInfiller(normalize_mean=[0.0] * 3, normalize_std=[INF] * 3),
        ValueError,
        "normalize_std",
    ),
    "Random norm std 0": (
        lambda: RandomInfiller(normalize_mean=[0.0] * 3, normalize_std=[1, 0, 1]),
        ValueError,
        "normalize_std",
    ),
    "Random norm lengths": (
        lambda: RandomInfiller(normalize_mean=[0.0] * 2, normalize_std=[1.0] * 3),
        ValueError,
        "normalize_mean and normalize_std",
    ),
    "Random norm one": (
        lambda: RandomInfiller(normalize_mean=[0.0] * 3),
        ValueError,
        "normalize_mean and normalize_std",
    ),
    "Local bool": (lambda: LocalInfiller(window=True), TypeError, "window"),
    "Local float": (lambda: LocalInfiller(window=15.0), TypeError, "window"),
    "Local even": (lambda: LocalInfiller(window=4), ValueError, "window"),
    "Local 0": (lambda: LocalInfiller(window=0), ValueError, "window"),
    "Local fallback": (lambda: LocalInfiller(fallback="mean"), ValueError, "fallback"),
    "Module fill inf": (
        lambda: ModuleInfiller(_identity, fill_value=INF),
        ValueError,
        "fill_value",
    ),
    "Module fill bool": (
        lambda: ModuleInfiller(_identity, fill_value=True),
        TypeError,
        "fill_value",
    ),
    "Module batch bool": (
        lambda: ModuleInfiller(_identity, internal_batch_size=True),
        TypeError,
        "internal_batch_size",
    ),
    "Module batch 0": (
        lambda: ModuleInfiller(_identity, internal_batch_size=0),
        ValueError,
        "internal_batch_size",
    ),
    "Module pass_generator str": (
        lambda: ModuleInfiller(_identity, pass_generator="no"),
        TypeError,
        "pass_generator",
    ),
    "Module convention": (
        lambda: ModuleInfiller(_identity, mask_convention="holes"),
        ValueError,
        "mask_convention",
    ),
    "Module not callable": (lambda: ModuleInfiller(3), TypeError, "module"),
    "VAE no predictive mean": (lambda: VAEInfiller(nn.Identity()), TypeError, "vae"),
    "OpenCV radius inf": (lambda: OpenCVInfiller(radius=INF), ValueError, "radius"),
    "OpenCV radius bool": (lambda: OpenCVInfiller(radius=True), TypeError, "radius"),
    "OpenCV method": (lambda: OpenCVInfiller("fast"), ValueError, "method"),
    "ROAD noise inf": (
        lambda: NoisyLinearInfiller(noise_std=INF),
        ValueError,
        "noise_std",
    ),
    "ROAD fill nan": (
        lambda: NoisyLinearInfiller(fill_value=NAN),
        ValueError,
        "fill_value",
    ),
    "Gauss shrinkage str": (
        lambda: GaussianConditionalInfiller(shrinkage="a"),
        TypeError,
        "shrinkage",
    ),
    "Gauss shrinkage bool": (
        lambda: GaussianConditionalInfiller(shrinkage=True),
        TypeError,
        "shrinkage",
    ),
    "Gauss shrinkage > 1": (
        lambda: GaussianConditionalInfiller(shrinkage=1.5),
        ValueError,
        "shrinkage",
    ),
    "Gauss shrinkage nan": (
        lambda: GaussianConditionalInfiller(shrinkage=NAN),
        ValueError,
        "shrinkage",
    ),
    "Gauss sample str": (
        lambda: GaussianConditionalInfiller(sample="no"),
        TypeError,
        "sample",
    ),
    "NN neighbours 0": (
        lambda: NearestNeighbourInfiller(n_neighbors=0),
        ValueError,
        "n_neighbors",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_constructors_refuse_values_that_fail_later(case):
    make, kind, name = BAD[case]
    with pytest.raises(kind, match=name):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: BlurInfiller(sigma=1e-3),
        lambda: BlurInfiller(sigma=1e6),  # the kernel is capped to the image
        lambda: BlurInfiller(sigma=np.float32(2.5)),
        lambda: MeanInfiller(torch.tensor([0.5, 0.4, 0.3])),
        lambda: MeanInfiller(np.array([0.5, 0.4, 0.3])),
        lambda: MeanInfiller((0,)),
        lambda: RandomInfiller(noise_std=0.0, low=-1.0, high=1.0),
        lambda: RandomInfiller(normalize_mean=(0.5,) * 3, normalize_std=(0.2,) * 3),
        lambda: LocalInfiller(window=1),
        lambda: LocalInfiller(window=99),  # larger than the image
        lambda: ModuleInfiller(_identity, fill_value=np.float64(0.5)),
        lambda: NoisyLinearInfiller(noise_std=0),
    ],
)
def test_valid_values_still_construct_and_fill(make):
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    keep = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(1)) > 0.5
    ref = make()(x, keep.float(), torch.Generator().manual_seed(2))
    assert ref.shape == x.shape and bool(torch.isfinite(ref).all())


def test_blur_with_a_huge_sigma_is_the_image_mean():
    x = torch.rand(1, 1, 9, 9, generator=torch.Generator().manual_seed(0))
    ref = BlurInfiller(sigma=1e9)(x, torch.ones(1, 1, 9, 9))
    # A flat kernel over the capped window: every pixel near the mean.
    assert float((ref - x.mean()).abs().max()) < 0.35


# ------------------------------------------------- Gaussian tabular in-filler


def _rows(m: int = 400, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(m, 4, generator=g, dtype=torch.float64)


@pytest.mark.parametrize(
    "data, words",
    [
        (lambda X: torch.cat([X, X[:, :1] + X[:, 1:2]], 1), "linear combinations"),
        (lambda X: torch.cat([X, X[:, :1]], 1), "linear combinations"),
        (lambda X: X[:3], "fewer rows (3) than features (4)"),
    ],
    ids=["sum of two", "duplicate", "few rows"],
)
def test_singular_covariance_is_a_clear_error(data, words):
    X = data(_rows())
    with pytest.raises(ValueError, match="covariance of X is singular") as err:
        GaussianConditionalInfiller(shrinkage=0.0).fit(X)
    assert words in str(err.value) and "shrinkage > 0" in str(err.value)
    # The documented remedy works: shrinkage regularises it.
    fill = GaussianConditionalInfiller(shrinkage=0.05, sample=True).fit(X)
    keep = torch.ones(2, X.shape[1])
    keep[:, 0] = 0
    out = fill(X[:2].float(), keep, torch.Generator().manual_seed(0))
    assert bool(torch.isfinite(out).all())


def test_constant_feature_is_still_named():
    X = _rows()
    X[:, 2] = 1.0
    with pytest.raises(ValueError, match="constant"):
        GaussianConditionalInfiller(shrinkage=0.0).fit(X)


def test_features_on_very_different_scales_are_not_singular():
    # Feature 1 = 2 * feature 0 + noise, on scales 1e-4 and 1e4: a
    # well-conditioned correlation. Known answer: the conditional mean of
    # feature 1 given feature 0 is mu_1 + S_10 / S_00 (x_0 - mu_0).
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5000, 2, generator=g, dtype=torch.float64)
    X = torch.stack([1e-4 * z[:, 0], 1e4 * (0.8 * z[:, 0] + 0.6 * z[:, 1])], 1)
    fill = GaussianConditionalInfiller(shrinkage=0.0, sample=False).fit(X)
    keep = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    x = torch.tensor([[2e-4, 0.0]], dtype=torch.float64)
    out = fill(x, keep)
    mu = X.mean(0)
    cov = torch.cov(X.T)
    expected = mu[1] + cov[1, 0] / cov[0, 0] * (x[0, 0] - mu[0])
    assert math.isclose(float(out[0, 1]), float(expected), rel_tol=1e-6)
    assert float(out[0, 0]) == float(x[0, 0])
