"""The sampling in-painter: noise at two scales, seeded draws, honest fills."""

from __future__ import annotations

import pytest
import torch

from captum_fido.demo.inpainting import (
    CoarseRefineInfiller,
    RefineUNet,
    SamplingRefineInfiller,
)
from captum_fido.demo.pretrained import load_inpainter_infiller, load_sampler_infiller
from captum_fido.demo.train_sampler import _warm_start, train_sampler


def _scene_and_mask(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(3, 3, 64, 64, generator=g)
    keep = torch.ones(3, 1, 64, 64)
    keep[:, :, 8:40, 16:56] = 0
    return x, keep


def _noisy(net: RefineUNet) -> RefineUNet:
    r"""Noise layers and output layer away from their zero start."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for layer in (net.noise_mid, net.noise_e1, net.out):
            layer.weight.normal_(0, 0.5, generator=g)
    return net.eval()


def test_untrained_noise_layers_leave_the_deterministic_network():
    torch.manual_seed(0)
    det = RefineUNet(width=8, fold=4).eval()
    with torch.no_grad():  # a non-trivial deterministic refinement
        det.out.weight.normal_(0, 0.1)
    sampler = RefineUNet(width=8, fold=4, noise_channels=3).eval()
    missing, unexpected = sampler.load_state_dict(det.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("noise_") for k in missing)
    x, keep = _scene_and_mask()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        expected = det(x * keep, keep)
        drawn = sampler(x * keep, keep, noise=sampler.draw_noise(x, g))
    assert torch.allclose(drawn, expected, atol=1e-6)


def test_draws_differ_repeat_with_the_seed_and_stay_honest():
    sampler = SamplingRefineInfiller(_noisy(RefineUNet(8, fold=4, noise_channels=3)))
    x, keep = _scene_and_mask()

    def draw(seed: int, image: torch.Tensor = x) -> torch.Tensor:
        return sampler(image, keep, torch.Generator().manual_seed(seed))

    a, b = draw(0), draw(1)
    assert torch.equal(a, draw(0))
    holes = keep.expand_as(x) == 0
    assert (a - b).abs()[holes].mean() > 1e-3
    assert torch.equal(a[~holes], x[~holes])
    # Honest: what the dropped pixels held never reaches the fill.
    other = torch.where(holes, torch.rand_like(x), x)
    assert torch.equal(draw(0, other), a)


def test_deterministic_networks_are_refused_and_noise_is_checked():
    with pytest.raises(ValueError, match="noise_channels > 0"):
        SamplingRefineInfiller(RefineUNet(width=8).eval())
    with pytest.raises(ValueError, match="noise_channels"):
        RefineUNet(width=8, noise_channels=-1)
    net = RefineUNet(width=8).eval()
    with pytest.raises(ValueError, match="noise_channels"):
        net.draw_noise(torch.rand(1, 3, 64, 64))


def test_warm_start_begins_as_the_shipped_inpainter():
    net, name = _warm_start(None, 4, 8)
    assert name is None and net.noise_channels == 4
    from captum_fido.demo._training import WEIGHTS_DIR

    net, name = _warm_start(WEIGHTS_DIR / "inpainter.pt", 4, None)
    assert name == "inpainter.pt"
    x, keep = _scene_and_mask()
    sampler = SamplingRefineInfiller(net.eval())
    shipped = load_inpainter_infiller()
    assert torch.allclose(
        sampler(x, keep, torch.Generator().manual_seed(0)), shipped(x, keep), atol=1e-5
    )


def test_train_sampler_smoke():
    summary = train_sampler(
        steps=2, batch_size=2, n_scenes=16, start=None, show_progress=False
    )
    assert summary["settings"]["n_draws"] == 4
    assert summary["spread"] >= 0 and summary["best_l1"] > 0
    with pytest.raises(ValueError, match="n_draws"):
        train_sampler(steps=1, n_draws=1, start=None, show_progress=False)


def test_the_shipped_sampler_gives_diverse_completions():
    sampler = load_sampler_infiller()
    assert sampler.stochastic and sampler.honest
    assert not CoarseRefineInfiller.stochastic
    x, keep = _scene_and_mask()
    a = sampler(x, keep, torch.Generator().manual_seed(0))
    b = sampler(x, keep, torch.Generator().manual_seed(1))
    holes = keep.expand_as(x) == 0
    assert (a - b).abs()[holes].mean() > 0.005


def test_the_command_trains_a_loadable_sampler(tmp_path):
    from captum_fido.cli import train_inpainters

    argv = ["--model", "sampler", "--tiny", "--no-progress", "--out-dir", str(tmp_path)]
    assert train_inpainters.main(argv) == 0
    sampler = load_sampler_infiller(tmp_path / "sampler.pt")
    x, keep = _scene_and_mask()
    assert sampler(x, keep, torch.Generator().manual_seed(0)).shape == x.shape
    with pytest.raises(ValueError, match="does not hold a sampling in-painter"):
        from captum_fido.demo._training import WEIGHTS_DIR

        load_sampler_infiller(WEIGHTS_DIR / "inpainter.pt")
