"""Model-parameter randomisation sanity check (Adebayo et al. 2018)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from captum_fido.metrics import (
    RandomisationResult,
    model_randomisation,
    randomisable_layers,
    spearman_correlation,
)


def _model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 5),
    ).eval()


def _x():
    return torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(1))


def gradient(model, x, target):
    x = x.clone().requires_grad_(True)
    out = model(x)
    (g,) = torch.autograd.grad(out[torch.arange(len(x)), target].sum(), x)
    return g


def image_only(model, x, target):
    # Ignores the model (like an edge detector): fails the sanity check.
    return x.sum(1)


def test_spearman_known_answers():
    a = torch.rand(2, 50)
    torch.testing.assert_close(spearman_correlation(a, a.exp()), torch.ones(2))
    torch.testing.assert_close(spearman_correlation(a, -a), -torch.ones(2))
    # Constant rows (the documented convention): 0 against a varying row,
    # 1 against another constant row.
    rho = spearman_correlation(a, torch.ones(2, 50))
    assert rho.tolist() == [0.0, 0.0]
    assert spearman_correlation(torch.ones(2, 50), 3 * torch.ones(2, 50)).tolist() == [
        1.0,
        1.0,
    ]
    with pytest.raises(ValueError, match="same shape"):
        spearman_correlation(a, a[:, :10])


def test_model_independent_maps_fail_the_check():
    res = model_randomisation(_model(), _x(), [0, 1, 2], image_only)
    assert isinstance(res, RandomisationResult)
    assert res.layers == ["3", "0"]  # output layer first
    torch.testing.assert_close(res.correlations, torch.ones(2, 3))


def test_gradient_maps_decorrelate_and_stages_cascade():
    model = _model()
    x = _x()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.random.get_rng_state()
    res = model_randomisation(model, x, torch.tensor([0, 1, 2]), gradient)
    assert res.correlations.shape == (2, 3)
    assert res.stages == [("3",), ("3", "0")]
    assert res.original_maps.shape == (3, 8, 8)
    assert (res.correlations.abs() < 0.6).all()
    # The user's model and the global random state are untouched.
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    assert torch.equal(torch.random.get_rng_state(), rng)
    again = model_randomisation(model, x, torch.tensor([0, 1, 2]), gradient)
    assert torch.equal(res.correlations, again.correlations)


def test_independent_mode_randomises_one_layer_at_a_time():
    model = _model()
    x = _x()
    cas = model_randomisation(model, x, 0, gradient)
    ind = model_randomisation(model, x, 0, gradient, mode="independent")
    assert ind.stages == [("3",), ("0",)]
    # Stage 1 is the same in both modes; stage 2 differs (3 stays trained).
    torch.testing.assert_close(ind.correlations[0], cas.correlations[0])
    assert not torch.equal(ind.correlations[1], cas.correlations[1])


def test_layers_argument_and_modules_without_reset_parameters():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.linspace(1, 2, 64).view(1, 1, 8, 8))

        def forward(self, x):
            return (x * self.w).flatten(1)[:, :5]

    model = nn.Sequential(Scale()).eval()
    assert randomisable_layers(model) == ["0"]
    res = model_randomisation(model, _x(), 0, gradient, layers=["0"])
    assert res.layers == ["0"] and res.correlations.shape == (1, 3)
    # A container is randomised as a whole.
    res = model_randomisation(_model(), _x(), 0, gradient, layers=[""])
    assert res.layers == [""]


def test_validation_before_any_explanation():
    def refuse(model, x, target):  # pragma: no cover - must never run
        raise AssertionError("explain ran before validation")

    model = _model()
    x = _x()
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        model_randomisation(lambda v: v, x, 0, refuse)
    with pytest.raises(ValueError, match="inputs must have shape"):
        model_randomisation(model, x[0], 0, refuse)
    with pytest.raises(TypeError, match="explain must be callable"):
        model_randomisation(model, x, 0, None)
    with pytest.raises(ValueError, match="mode"):
        model_randomisation(model, x, 0, refuse, mode="bottom_up")
    with pytest.raises(ValueError, match="layers names modules the model lacks"):
        model_randomisation(model, x, 0, refuse, layers=["head"])
    with pytest.raises(ValueError, match="without parameters"):
        model_randomisation(model, x, 0, refuse, layers=["1"])
    with pytest.raises(TypeError, match="layers"):
        model_randomisation(model, x, 0, refuse, layers="0")
    with pytest.raises(ValueError, match="target"):
        model_randomisation(model, x, [0, 1], refuse)
    with pytest.raises(ValueError, match="must return maps covering the inputs"):
        model_randomisation(model, x, 0, lambda m, v, t: torch.rand(3, 4, 4))
