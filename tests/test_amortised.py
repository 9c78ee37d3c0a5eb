"""Amortised FIDO: the explainer network, its training on FIDO's loss, the
Captum method and its per-image refinement."""

from __future__ import annotations

import pytest
import torch
from captum.attr import NoiseTunnel
from conftest import BOX, RegionClassifier, region_images

from captum_fido.attr import (
    FIDO_DEFAULTS,
    AmortisedFIDO,
    MaskExplainerNet,
    train_explainer,
)
from captum_fido.attr._amortised import WarmStartMask
from captum_fido.attr._loop import MaskProblem, _Run
from captum_fido.attr._masks import GridLayout, RelaxedBernoulliMask
from captum_fido.infillers import MeanInfiller

FILL = MeanInfiller([0.0, 0.0, 0.0])
OPTIONS = FIDO_DEFAULTS.replace(n_steps=12, n_samples=2, l1_coeff=1e-3)


def _data(n: int = 16, size: int = 32):
    # Evidence for class 1 sits in BOX (scaled to a 32-pixel image).
    x = region_images(n, size=64, seed=3)
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="area")
    return x, torch.ones(n, dtype=torch.long)


def _model() -> RegionClassifier:
    t, left, h, w = BOX
    return RegionClassifier(box=(t // 2, left // 2, h // 2, w // 2)).eval()


def _snapshot(model: torch.nn.Module):
    return (
        {k: v.detach().clone() for k, v in model.state_dict().items()},
        [p.grad for p in model.parameters()],
        [p.requires_grad for p in model.parameters()],
        model.training,
    )


def _train(model, steps: int = 12, seed: int = 0):
    return train_explainer(
        model,
        _data(),
        FILL,
        options=OPTIONS.replace(n_steps=steps),
        batch_size=8,
        lr=1e-2,
        width=4,
        seed=seed,
        show_progress=False,
    )


def test_training_lowers_the_loss_and_leaves_the_classifier_untouched():
    model = _model()
    before = _snapshot(model)
    net, history = _train(model, steps=30)
    after = _snapshot(model)
    assert len(history.loss) == 30
    first, last = sum(history.loss[:5]) / 5, sum(history.loss[-5:]) / 5
    assert last < first - 0.5
    assert history.classifier_rows == 30 * 8 * (1 + OPTIONS.n_samples)
    assert all(torch.equal(before[0][k], after[0][k]) for k in before[0])
    assert after[1] == [None] and after[2] == before[2] and not after[3]
    assert not net.training


def test_objective_is_the_loops_own_loss():
    # The same run state scored by the per-image loop's step and by
    # backward_loss on its keep probabilities gives the same per-image loss
    # and the same gradients.
    model = _model()
    x, y = _data(3)
    options = OPTIONS.replace(temperature_final=0.05)

    def run() -> _Run:
        layout = GridLayout((8, 8), (32, 32))
        clean = torch.zeros(3)
        problem = MaskProblem(
            forward_func=model,
            inputs=(x,),
            target=y,
            additional_forward_args=None,
            infiller=FILL,
            output_type="logits",
            objective="ssr",
            layouts=(layout,),
            seed=7,
            clean_log_odds=clean,
        )
        return _Run(problem, RelaxedBernoulliMask(0.1, 0.05), options)

    with torch.no_grad():
        init = torch.randn(3, 1, 8, 8)
    looped, ours = run(), run()
    for r in (looped, ours):
        with torch.no_grad():
            r.params[0].copy_(init)
    looped.step(2)  # its Adam step leaves the gradient in .grad
    loss, _ = ours.backward_loss(ours.keep_probability(), 2, ours.params)
    assert torch.allclose(loss, looped.loss_history[:, 2], atol=1e-5)
    assert torch.allclose(ours.params[0].grad, looped.params[0].grad, atol=1e-6)
    assert ours.dist.temperature == looped.dist.temperature < 0.1


def test_training_is_seeded():
    model = _model()
    a, ha = _train(model, steps=3, seed=5)
    b, hb = _train(model, steps=3, seed=5)
    assert ha.loss == hb.loss
    x, y = _data(2)
    assert torch.equal(a(x, y), b(x, y))


def test_attribute_shape_range_and_no_classifier_pass():
    model = _model()
    net, _ = _train(model, steps=3)
    calls = []
    model.register_forward_hook(lambda *args: calls.append(1))
    x, y = _data(3)
    maps = AmortisedFIDO(model, net, FILL).attribute(x, target=y)
    assert maps.shape == x.shape
    assert float(maps.min()) >= 0 and float(maps.max()) <= 1
    assert torch.equal(maps[:, 0], maps[:, 2])
    assert calls == []
    (single,) = AmortisedFIDO(model, net, FILL).attribute((x,), target=1)
    assert torch.allclose(single, maps)
    future = AmortisedFIDO(model, net, FILL).attribute_future(x, target=y)
    assert future.done() and torch.equal(future.wait(), maps)


def test_refinement_runs_from_the_amortised_mask():
    model = _model()
    net, _ = _train(model, steps=3)
    x, y = _data(2)
    method = AmortisedFIDO(model, net, FILL)
    refined = method.attribute(x, target=y, refine_steps=2, seed=0)
    again = method.attribute(x, target=y, refine_steps=2, seed=0)
    assert refined.shape == x.shape and torch.equal(refined, again)
    assert not torch.equal(refined, method.attribute(x, target=y))


def test_warm_start_mask_starts_at_the_given_logits():
    logits = torch.randn(2, 1, 4, 4)
    start = WarmStartMask(logits).init_params(2, (4, 4), torch.zeros(1))
    assert torch.equal(start, logits)
    with pytest.raises(ValueError, match="warm-start logits"):
        WarmStartMask(logits).init_params(3, (4, 4), torch.zeros(1))


def test_noise_tunnel_accepts_the_method():
    model = _model()
    net, _ = _train(model, steps=2)
    x, y = _data(2)
    nt = NoiseTunnel(AmortisedFIDO(model, net, FILL))
    maps = nt.attribute(x, target=y, nt_samples=2, stdevs=0.01)
    assert maps.shape == x.shape


def test_explainer_grid_is_a_quarter_of_each_side():
    net = MaskExplainerNet(3, width=4)
    out = net(torch.rand(2, 3, 30, 45), torch.tensor([0, 2]))
    assert out.shape == (2, 1, 8, 12)


def test_bad_inputs_raise():
    model = _model()
    net = MaskExplainerNet(3, width=4)
    method = AmortisedFIDO(model, net, FILL)
    x, y = _data(2)
    with pytest.raises(ValueError, match="target is required"):
        method.attribute(x)
    with pytest.raises(ValueError, match="target out of range"):
        method.attribute(x, target=3)
    with pytest.raises(ValueError, match="channels"):
        method.attribute(x[:, :1], target=1)
    with pytest.raises(ValueError, match="one image tensor"):
        method.attribute((x, x), target=1)
    with pytest.raises(ValueError, match="refine_steps >= 1"):
        method.attribute(x, target=1, seed=0)
    with pytest.raises(ValueError, match="mask_size"):
        method.attribute(x, target=1, refine_steps=1, mask_size=4)
    with pytest.raises(TypeError, match="refine_steps"):
        method.attribute(x, target=1, refine_steps=1.5)
    with pytest.raises(TypeError, match="explainer"):
        AmortisedFIDO(model, object(), FILL)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mask_size"):
        train_explainer(model, (x, y), FILL, options=OPTIONS.replace(mask_size=4))
    with pytest.raises(ValueError, match="hard must be False"):
        train_explainer(model, (x, y), FILL, options=OPTIONS.replace(hard=True))
    with pytest.raises(ValueError, match="seed must be None"):
        train_explainer(model, (x, y), FILL, options=OPTIONS.replace(seed=1))
    with pytest.raises(ValueError, match="same number of rows"):
        train_explainer(model, (x, y[:1]), FILL, options=OPTIONS)
    with pytest.raises(TypeError, match="data must be"):
        train_explainer(model, x, FILL, options=OPTIONS)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="explainer is for"):
        train_explainer(
            model, (x, y), FILL, options=OPTIONS, explainer=MaskExplainerNet(5)
        )


def test_demo_training_script_writes_loadable_weights(tmp_path):
    from captum_fido.cli.train_explainer import main
    from captum_fido.demo.pretrained import load_explainer

    out = tmp_path / "explainer.pt"
    assert main(["--tiny", "--no-progress", "--threads", "1", "--out", str(out)]) == 0
    net = load_explainer(out)
    assert net.n_classes == 6 and net.width == 4 and not net.training
    with pytest.raises(SystemExit):
        main(["--steps", "0"])


@pytest.mark.slow
def test_shipped_scenes_explainer_keeps_the_object():
    from captum_fido.demo.domains import load_domain
    from captum_fido.demo.infillers import demo_infillers
    from captum_fido.demo.pretrained import load_explainer

    domain = load_domain("scenes")
    images, labels, boxes = domain.load_split("test", 16)
    net = load_explainer()
    assert sum(p.numel() for p in net.parameters()) * 4 < 10 * 2**20
    maps = AmortisedFIDO(domain.load_classifier(), net, demo_infillers()["Blur"])
    keep = maps.attribute(images, target=labels)[:, 0]
    inside = torch.zeros_like(keep, dtype=torch.bool)
    for i, (x0, y0, x1, y1) in enumerate(boxes.round().long().tolist()):
        inside[i, y0:y1, x0:x1] = True
    # Mean keep probability inside the object's box exceeds that outside.
    per_image_in = (keep * inside).flatten(1).sum(1) / inside.flatten(1).sum(1)
    per_image_out = (keep * ~inside).flatten(1).sum(1) / (~inside).flatten(1).sum(1)
    assert float((per_image_in > per_image_out).float().mean()) >= 0.8


def test_adaptive_weight_in_training_uses_the_full_in_fill(monkeypatch):
    # With the defaults' l1_coeff="adaptive", each training batch measures
    # its fully in-filled log-odds, so the weight is area_cost * delta per
    # image, not the floor a missing in-fill would give (delta = 0).
    import captum_fido.attr._loop as loop
    from captum_fido._utils.scores import log_odds

    seen = []
    real = loop.SparsityWeights

    def spy(l1_coeff, area_cost, clean, filled, reference_pixels):
        seen.append((clean.clone(), filled.clone()))
        return real(l1_coeff, area_cost, clean, filled, reference_pixels)

    monkeypatch.setattr(loop, "SparsityWeights", spy)
    model = _model()
    x, y = _data()
    _, history = train_explainer(
        model,
        (x, y),
        FILL,
        options=FIDO_DEFAULTS.replace(n_steps=2, n_samples=2),
        batch_size=8,
        width=4,
        show_progress=False,
    )
    with torch.no_grad():
        filled = log_odds(model(FILL(x, torch.zeros_like(x[:, :1]))), y)
        clean = log_odds(model(x), y)
    assert len(seen) == 2
    got_clean = torch.cat([c for c, _ in seen]).float()
    got_filled = torch.cat([f for _, f in seen]).float()
    # Batches are drawn shuffled: compare as sets of values.
    assert torch.allclose(got_filled.sort().values, filled.sort().values, atol=1e-4)
    assert torch.allclose(got_clean.sort().values, clean.sort().values, atol=1e-4)
    assert bool((got_clean - got_filled > 1.0).all())  # real evidence, not 0
    assert history.classifier_rows == 2 * 8 * (2 + 2)
