"""Cross-checks against Quantus 0.6 on the same maps and models.

Quantus is imported once per module (it is slow to import); the models and
batches are tiny so each test stays fast.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from captum_fido.infillers import NoisyLinearInfiller
from captum_fido.metrics import deletion_curve, model_randomisation, pointing_game

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    quantus = pytest.importorskip("quantus")
    from quantus.functions.perturb_func import noisy_linear_imputation


def _model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 6),
        nn.ReLU(),
        nn.Linear(6, 3),
    ).eval()


def _gradient_maps(model, x, target):
    x = torch.as_tensor(x).clone().requires_grad_(True)
    t = torch.as_tensor(target).long().view(-1)
    out = model(x)
    (g,) = torch.autograd.grad(out[torch.arange(len(x)), t].sum(), x)
    return (g * x).sum(1, keepdim=True).detach()  # (N, 1, H, W)


def test_noisy_linear_imputation_matches_quantus_road():
    # Quantus's ROAD imputation (noise=0) on one image, one shared mask.
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 16, 16, generator=g, dtype=torch.float64)
    keep = (torch.rand(3, 1, 16, 16, generator=g) > 0.5).double()
    keep[1, :, 2:14, 2:14] = 0  # a large hole
    ours = NoisyLinearInfiller(noise_std=0.0)(x, keep)
    for i in range(3):
        removed = np.nonzero((keep[i, 0] == 0).numpy().reshape(-1))[0]
        theirs = noisy_linear_imputation(x[i].numpy(), removed, noise=0.0)
        np.testing.assert_allclose(ours[i].numpy(), theirs, atol=1e-10, rtol=0)


def test_pointing_game_matches_quantus():
    # Quantus hits when ANY maximal pixel lies on the (mask) box with no
    # tolerance: ours with ties="any", tolerance=0 is the same quantity.
    g = torch.Generator().manual_seed(0)
    n = 8
    maps = torch.rand(n, 1, 16, 16, generator=g)
    maps[6] = 1.0  # constant: every pixel a maximum
    maps[7] = 0.0
    maps[7, 0, 3:5, 3:5] = 1.0  # tied maxima, inside the box
    boxes = [torch.tensor([3.0, 2.0, 11.0, 9.0]) for _ in range(n)]
    masks = np.zeros((n, 1, 16, 16))
    masks[:, :, 2:9, 3:11] = 1.0
    theirs = quantus.PointingGame(abs=False, normalise=False, disable_warnings=True)(
        model=_model(),
        x_batch=np.random.rand(n, 3, 16, 16).astype(np.float32),
        y_batch=np.zeros(n, dtype=int),
        a_batch=maps.numpy(),
        s_batch=masks,
        device="cpu",
    )
    ours = pointing_game(maps, boxes, tolerance=0, ties="any")
    assert ours.hits.tolist() == [bool(v) for v in theirs]
    assert ours.hits[6] and ours.hits[7]
    # Our default resolves ties conservatively: the constant map misses.
    assert not pointing_game(maps, boxes, tolerance=0).hits[6]


def test_model_randomisation_matches_quantus_mprt():
    # Quantus re-seeds torch with seed + 1 before each layer's
    # reset_parameters(); ours re-seeds with seed + k at stage k. With
    # independent randomisation of one layer at a time and our seed set to
    # Quantus's seed + 1, both randomise each layer with the same weights, so
    # the Spearman correlations agree to float precision. (In cascading mode
    # only the first stage coincides: Quantus reuses one seed for every
    # layer, we give each layer its own.)
    model = _model()
    x = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    y = np.array([0, 1, 2, 0])
    theirs = quantus.MPRT(layer_order="independent", seed=42, disable_warnings=True)(
        model=model,
        x_batch=x.numpy(),
        y_batch=y,
        a_batch=None,
        explain_func=lambda model, inputs, targets, **kw: _gradient_maps(
            model, inputs, targets
        ).numpy(),
        device="cpu",
    )
    for name in ("0", "3", "5"):
        ours = model_randomisation(
            model,
            x,
            torch.as_tensor(y),
            _gradient_maps,
            layers=[name],
            mode="independent",
            seed=43,
        )
        np.testing.assert_allclose(
            ours.correlations[0].numpy(), np.asarray(theirs[name]), atol=1e-5
        )
    # Cascading from the top: the first stage is the same as Quantus's.
    top = quantus.MPRT(layer_order="top_down", seed=42, disable_warnings=True)(
        model=model,
        x_batch=x.numpy(),
        y_batch=y,
        a_batch=None,
        explain_func=lambda model, inputs, targets, **kw: _gradient_maps(
            model, inputs, targets
        ).numpy(),
        device="cpu",
    )
    ours = model_randomisation(model, x, torch.as_tensor(y), _gradient_maps, seed=43)
    assert ours.layers == ["5", "3", "0"]
    np.testing.assert_allclose(
        ours.correlations[0].numpy(), np.asarray(top["5"]), atol=1e-5
    )


def test_road_accuracy_matches_quantus_road():
    # Quantus's ROAD reports, per percentage of most-salient pixels imputed,
    # the accuracy of the model's predictions. For a two-class model the
    # target is predicted exactly when its log-odds are positive, so our
    # deletion curve under NoisyLinearInfiller (noise 0, as Quantus's
    # ``noise=0``) gives the same accuracies. One-channel images: Quantus
    # flattens the attributions over the input's channels. The percentages
    # remove whole numbers of pixels (Quantus truncates, we round).
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(1024, 2)
    ).eval()
    g = torch.Generator().manual_seed(4)
    x = torch.rand(12, 1, 16, 16, generator=g)
    maps = torch.rand(12, 1, 16, 16, generator=g)
    with torch.no_grad():
        y = model(x).argmax(1)
    percentages = [12.5, 25.0, 50.0, 75.0]
    theirs = quantus.ROAD(percentages=percentages, noise=0.0, disable_warnings=True)(
        model=model,
        x_batch=x.numpy(),
        y_batch=y.numpy(),
        a_batch=maps.numpy(),
        device="cpu",
    )
    curve = deletion_curve(
        model,
        x,
        maps,
        y,
        NoisyLinearInfiller(noise_std=0.0),
        fractions=[p / 100 for p in percentages],
    )
    ours = (curve.log_odds > 0).float().mean(0)
    np.testing.assert_allclose(
        ours.numpy(), [theirs[p] for p in percentages], atol=1e-6
    )
    assert len(set(ours.tolist())) > 1  # the accuracies do move
