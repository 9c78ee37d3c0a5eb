"""FIDO's marginalisation over in-fills (``n_infills``, the paper's Eq. 1)."""

from __future__ import annotations

import pytest
import torch

from captum_fido import FIDO
from captum_fido._utils.scores import marginal_log_odds
from captum_fido.infillers import BlurInfiller, RandomInfiller, as_infiller

FAST = dict(n_steps=6, n_samples=2, seed=3)


def test_marginal_log_odds_is_the_log_odds_of_the_mean_probability():
    s = torch.tensor([[1.0, -3.0, 0.5], [20.0, 20.0, 20.0], [-50.0, 50.0, 0.0]])
    p = torch.sigmoid(s.double()).mean(dim=1)
    expected = (torch.log(p) - torch.log1p(-p)).float()
    assert torch.allclose(marginal_log_odds(s), expected, atol=1e-5)
    # One fill: the log-odds itself; finite where probabilities saturate.
    one = torch.tensor([[7.5], [-300.0]])
    assert torch.allclose(marginal_log_odds(one), one.squeeze(1))
    assert torch.isfinite(marginal_log_odds(torch.tensor([[400.0, 400.0]]))).all()


def test_n_infills_needs_a_sampling_infiller(region_model, region_x):
    fido = FIDO(region_model, BlurInfiller(sigma=2.0))
    with pytest.raises(ValueError, match="n_infills=3 needs an infiller that samples"):
        fido.attribute(region_x, target=1, n_infills=3, **FAST)
    with pytest.raises(ValueError, match="n_infills"):
        fido.attribute(region_x, target=1, n_infills=0, **FAST)


def test_identical_fills_give_the_single_fill_map(region_model, region_x):
    # A "sampler" whose every draw is the same fill: the marginal of equal
    # probabilities is that probability, and the masks come from the same
    # random stream, so the map must not move.
    grey = as_infiller(
        lambda x, keep, generator=None: torch.full_like(x, 0.4), stochastic=True
    )
    fido = FIDO(region_model, grey)
    one = fido.attribute(region_x, target=1, n_infills=1, **FAST)
    three = fido.attribute(region_x, target=1, n_infills=3, **FAST)
    assert torch.allclose(one, three, atol=1e-5)


def test_several_fills_are_seeded_batch_independent_and_chunk_free(
    region_model, region_x
):
    fido = FIDO(region_model, RandomInfiller())
    opts = dict(FAST, n_infills=3)
    a = fido.attribute(region_x, target=1, **opts)
    assert torch.equal(a, fido.attribute(region_x, target=1, **opts))
    # A chunk size that is not a multiple of the fills still keeps each
    # mask's fills together: the same map.
    chunked = fido.attribute(region_x, target=1, internal_batch_size=4, **opts)
    assert torch.allclose(a, chunked, atol=1e-6)
    alone = fido.attribute(region_x[1:2], target=1, **opts)
    assert torch.allclose(a[1:2], alone, atol=1e-6)
    # Different fills than with one fill per mask: the option is used.
    assert not torch.equal(a, fido.attribute(region_x, target=1, **FAST))
