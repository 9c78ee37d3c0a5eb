"""The log-odds score and the mask distributions against first principles."""

from __future__ import annotations

import pytest
import torch

from captum_fido import FIDO, log_odds
from captum_fido.attr._masks import relaxed_bernoulli_sample, upsample
from captum_fido.infillers import MeanInfiller


def _reference_log_odds(p, c):
    pc = p[torch.arange(len(c)), c].double()
    return (torch.log(pc) - torch.log1p(-pc)).float()


def test_log_odds_from_logits_probs_and_log_probs():
    logits = torch.randn(5, 7) * 3
    c = torch.tensor([0, 3, 6, 2, 2])
    probs = logits.softmax(1)
    expected = _reference_log_odds(probs, c)
    torch.testing.assert_close(
        log_odds(logits, c, "logits"), expected, atol=1e-4, rtol=1e-4
    )
    torch.testing.assert_close(
        log_odds(probs, c, "probs"), expected, atol=1e-4, rtol=1e-4
    )
    torch.testing.assert_close(
        log_odds(logits.log_softmax(1), c, "log_probs"), expected, atol=1e-4, rtol=1e-4
    )


def test_log_odds_is_stable_for_confident_models():
    logits = torch.tensor([[200.0, 0.0, 0.0], [0.0, -300.0, 0.0]])
    s = log_odds(logits, torch.tensor([0, 1]), "logits")
    assert torch.isfinite(s).all()
    torch.testing.assert_close(
        s,
        torch.tensor(
            [
                200.0 - torch.log(torch.tensor(2.0)),
                -300.0 - torch.log(torch.tensor(2.0)),
            ]
        ),
    )


@pytest.mark.parametrize("shape", [(4,), (4, 1)])
def test_single_logit_binary(shape):
    z = torch.tensor([-2.0, 0.0, 1.5, 4.0]).reshape(shape)
    ones, zeros = torch.ones(4, dtype=torch.long), torch.zeros(4, dtype=torch.long)
    flat = z.reshape(-1)
    torch.testing.assert_close(log_odds(z, ones, "logits"), flat)
    torch.testing.assert_close(log_odds(z, zeros, "logits"), -flat)
    torch.testing.assert_close(
        log_odds(torch.sigmoid(z), ones, "probs"), flat, atol=1e-4, rtol=1e-4
    )
    torch.testing.assert_close(
        log_odds(torch.nn.functional.logsigmoid(z), ones, "log_probs"),
        flat,
        atol=1e-4,
        rtol=1e-4,
    )


def test_single_logit_model_explains_positive_class_by_default():
    x = torch.rand(2, 3, 16, 16)
    model = lambda x: (
        10 * (x[:, :, :8].mean(dim=(1, 2, 3)) - x[:, :, 8:].mean(dim=(1, 2, 3)))
    )  # noqa: E731
    a_none = FIDO(model, MeanInfiller([0.0] * 3)).attribute(x, seed=0, n_steps=5)
    a_one = FIDO(model, MeanInfiller([0.0] * 3)).attribute(
        x, target=1, seed=0, n_steps=5
    )
    assert torch.equal(a_none, a_one)
    with pytest.raises(ValueError, match="target out of range"):
        FIDO(model, MeanInfiller()).attribute(x, target=2, n_steps=5)


def test_relaxed_sample_matches_torch_distributions():
    probs = torch.rand(3, 1, 5, 5).clamp(0.05, 0.95)
    torch.manual_seed(0)
    expected = torch.distributions.RelaxedBernoulli(
        torch.tensor(0.1), probs=probs
    ).rsample()
    torch.manual_seed(0)
    uniforms = torch.rand(probs.shape)
    ours = relaxed_bernoulli_sample(probs, 0.1, uniforms)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-4)


def test_relaxed_sample_is_nearly_binary_with_right_mean():
    probs = torch.full((1, 1, 200, 200), 0.3)
    s = relaxed_bernoulli_sample(probs, 0.1, torch.rand(probs.shape))
    assert abs(s.mean().item() - 0.3) < 0.02
    assert ((s < 0.05) | (s > 0.95)).float().mean() > 0.8


def test_upsample_is_identity_at_full_resolution():
    g = torch.rand(1, 1, 8, 8)
    assert upsample(g, (8, 8)) is g
    assert upsample(g, (32, 32)).shape == (1, 1, 32, 32)


def test_details_are_consistent(region_model, region_x):
    infiller = MeanInfiller([0.0, 0.0, 0.0])
    attr, d = FIDO(region_model, infiller).attribute(
        region_x, target=1, seed=0, n_steps=40, return_details=True, n_counterfactuals=3
    )
    n = region_x.shape[0]
    assert d.method == "FIDO" and d.objective == "ssr" and d.steps_run == 40
    assert d.mask_params[0].shape == (n, 1, 16, 16)
    assert d.loss_history.shape == (n, 40) and d.log_odds_history.shape == (n, 40)
    cf, masks = d.counterfactuals[0], d.counterfactual_masks[0]
    assert cf.shape == (n, 3, *region_x.shape[1:]) and masks.shape == (n, 3, 1, 64, 64)
    # Counterfactual masks are binary samples; composition is z*x + (1-z)*fill.
    assert set(masks.unique().tolist()) <= {0.0, 1.0}
    expected = masks * region_x[:, None] + (1 - masks) * 0.0
    torch.testing.assert_close(cf, expected)
    # Reported confidences are the model's on those images.
    lo = log_odds(region_model(cf.flatten(0, 1)), torch.ones(n * 3, dtype=torch.long))
    torch.testing.assert_close(d.counterfactual_log_odds, lo.view(n, 3))
    torch.testing.assert_close(d.counterfactual_probs, torch.sigmoid(lo.view(n, 3)))
    torch.testing.assert_close(d.final_log_odds, lo.view(n, 3).mean(1))
    torch.testing.assert_close(
        d.clean_log_odds,
        log_odds(region_model(region_x), torch.ones(n, dtype=torch.long)),
    )
    # SSR keeps the evidence: the classifier stays confident on the counterfactuals.
    assert (d.final_log_odds > 5).all()
    # The map is the expected (upsampled) keep probability.
    torch.testing.assert_close(attr[:, :1], upsample(d.keep_prob[0], (64, 64)))


def test_early_stopping_stops(region_model, region_x):
    _, d = FIDO(region_model, MeanInfiller([0.0] * 3)).attribute(
        region_x,
        target=1,
        seed=0,
        n_steps=300,
        stop_tol=0.05,
        stop_patience=5,
        return_details=True,
    )
    assert d.steps_run < 300
    assert d.loss_history.shape[1] == d.steps_run


def test_early_stopping_is_decided_per_image(region_model, region_x):
    # Each image settles, cools down and freezes on its own history: a batch
    # gives the maps of separate calls, and the run ends with the last image.
    fido = FIDO(region_model, MeanInfiller([0.0] * 3))
    options = dict(target=1, seed=0, n_steps=200, stop_tol=0.02, stop_patience=5)
    batched, d = fido.attribute(region_x, return_details=True, **options)
    separate = [
        fido.attribute(region_x[i : i + 1], return_details=True, **options)
        for i in range(len(region_x))
    ]
    torch.testing.assert_close(batched, torch.cat([a for a, _ in separate]))
    assert d.steps_run == max(s.steps_run for _, s in separate) < 200
