r"""Latent counterfactuals (captum_fido.counterfactual): known answers, the
Captum contract, model safety, bad inputs, and the shipped digit models."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest
import torch
from captum.attr import NoiseTunnel
from torch import nn

from captum_fido.counterfactual import (
    CounterfactualResult,
    LatentCounterfactual,
    prototype_confidence,
)

# A two-class linear classifier on 2x2 images: logits = W x + b.
W = torch.tensor([[0.5, -1.0, 2.0, 0.25], [-0.5, 1.0, -1.0, 0.75]])
B = torch.tensor([1.0, 0.0])
W_DIFF = W[1] - W[0]  # the decision is sign(W_DIFF . x + B[1] - B[0])


def _linear_classifier() -> nn.Module:
    linear = nn.Linear(4, 2)
    with torch.no_grad():
        linear.weight.copy_(W)
        linear.bias.copy_(B)
    return nn.Sequential(nn.Flatten(), linear).eval()


def _identity_generator(z: torch.Tensor) -> torch.Tensor:
    return z.view(-1, 1, 2, 2)


def _identity_encoder(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1)


def _identity_method() -> LatentCounterfactual:
    return LatentCounterfactual(
        _linear_classifier(), _identity_generator, _identity_encoder
    )


def _queries() -> torch.Tensor:
    # All three are class 0 with different margins to the boundary.
    return torch.tensor(
        [[0.2, 0.1, 0.4, 0.3], [0.0, 0.0, 0.0, 0.0], [0.9, 0.5, 0.2, 0.1]]
    ).view(-1, 1, 2, 2)


def _margin(x: torch.Tensor) -> torch.Tensor:
    return -(x.flatten(1) @ W_DIFF + (B[1] - B[0]))


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    r"""These problems are tiny: extra intra-op threads only add overhead,
    and a lot of it on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


FAST = dict(n_steps=200, lr=0.1, n_bisection=10, lambda_range=(1e-2, 1e3))


# ---------------------------------------------------------------- known answers


def test_linear_identity_reaches_minimal_l1_change() -> None:
    r"""With G = identity and a linear two-class model, reaching p(c') = 1/2
    needs a change of L1 norm margin / max|w| (the dual of L1 is L-infinity),
    all of it on the pixel with the largest weight. The relaxed problem's
    optimum at lambda gives p(c') = 1 - 1/(lambda max|w|), so the smallest
    succeeding lambda is 2 / max|w|."""
    x = _queries()
    assert bool((_margin(x) > 0).all())
    result = _identity_method().explain(x, target=1, **FAST)
    optimal_l1 = _margin(x) / W_DIFF.abs().max()
    assert bool(result.success.all())
    torch.testing.assert_close(result.l1_change, optimal_l1, rtol=0.02, atol=2e-3)
    best_pixel = int(W_DIFF.abs().argmax())
    # The change goes in the direction of the weight, on that pixel only.
    change = -result.difference.flatten(1) * W_DIFF.sign()
    assert bool((change[:, best_pixel] > 0.98 * optimal_l1).all())
    assert bool((result.top_latent_dims[:, 0] == best_pixel).all())
    expected_lambda = 2.0 / float(W_DIFF.abs().max())
    torch.testing.assert_close(
        result.lambdas, torch.full((3,), expected_lambda), rtol=0.05, atol=0.0
    )
    # The counterfactual sits just past the boundary.
    assert bool((result.target_confidence >= 0.5).all())
    assert bool((result.target_confidence < 0.52).all())


def test_higher_confidence_costs_the_predicted_change() -> None:
    r"""Reaching p(c') = q needs logit difference log(q / (1 - q)): the minimal
    L1 change grows by exactly that over max|w|."""
    x = _queries()[:1]
    q = 0.9
    result = _identity_method().explain(x, target=1, min_confidence=q, **FAST)
    expected = (_margin(x) + math.log(q / (1 - q))) / W_DIFF.abs().max()
    assert bool(result.success.all())
    assert float(result.target_confidence) >= q
    torch.testing.assert_close(result.l1_change, expected, rtol=0.02, atol=2e-3)


def test_bisection_picks_the_smallest_succeeding_lambda_of_a_grid() -> None:
    x = _queries()[:1]
    method = _identity_method()
    grid = [0.1 * 1.5**i for i in range(12)]
    success = []
    for lam in grid:
        fixed = method.explain(
            x, target=1, n_steps=200, lr=0.1, n_bisection=0, lambda_range=(lam, lam)
        )
        success.append(bool(fixed.success))
    # Success is monotone in lambda on this convex problem ...
    first = success.index(True)
    assert not any(success[:first]) and all(success[first:])
    assert first > 0
    # ... and the bisection lands between the last failing grid value and
    # the first succeeding one.
    chosen = float(method.explain(x, target=1, **FAST).lambdas)
    assert grid[first - 1] <= chosen <= grid[first]


def test_unreachable_target_reports_failure_and_warns() -> None:
    x = _queries()[:1]
    method = _identity_method()
    result = method.explain(x, target=1, n_steps=50, lambda_range=(1e-3, 1e-2))
    assert not bool(result.success.any())
    assert float(result.lambdas) == pytest.approx(1e-2)
    with pytest.warns(UserWarning, match="did not reach the target"):
        method.attribute(x, target=1, n_steps=50, lambda_range=(1e-3, 1e-2))


def test_prototype_raises_confidence_in_own_class() -> None:
    x = _queries()
    result = _identity_method().explain(x, target=0, min_confidence=0.99, **FAST)
    assert bool(result.success.all())
    assert bool((result.target_confidence >= 0.99).all())
    assert bool((result.target_confidence > result.original_confidence).all())


def test_hinge_loss_keeps_pulling_where_cross_entropy_saturates() -> None:
    r"""A prototype at p(c) >= 1 - 1e-4 needs log-odds logit(1 - 1e-4) = 9.21;
    with the hinge max(0, 9.21 + 0.01 - s) on the log-odds s as the
    classification term the minimal change is (9.22 - current log-odds) / max|w|. The cross-entropy's pull,
    lambda (1 - p) max|w|, is below the L1 term's 1 there for any lambda
    < 1 / (1e-4 max|w|) = 3333, so it cannot get there with lambda <= 1e3."""
    x = _queries()[:1]
    q = 1.0 - 1e-4
    method = _identity_method()
    current = _margin(x)  # the log-odds of class 0 (two classes)
    result = method.explain(x, target=0, min_confidence=q, loss="hinge", **FAST)
    expected = (math.log(q / (1 - q)) + 0.01 - current) / W_DIFF.abs().max()
    assert bool(result.success.all())
    torch.testing.assert_close(result.l1_change, expected, rtol=0.02, atol=2e-3)
    saturated = method.explain(x, target=0, min_confidence=q, **FAST)
    assert not bool(saturated.success.any())


def test_prototype_confidence_raises_the_log_odds_by_the_gain() -> None:
    x = _queries()
    q = prototype_confidence(_linear_classifier(), x, target=0, log_odds_gain=2.0)
    # Two classes: the log-odds of class 0 are the margin to class 1.
    expected = torch.sigmoid(_margin(x).double() + 2.0)
    torch.testing.assert_close(q, expected)
    result = _identity_method().explain(
        x, target=0, min_confidence=q, loss="hinge", **FAST
    )
    assert bool(result.success.all())
    # The hinge stops just past the threshold: a change of (2 + 0.01) / max|w|.
    torch.testing.assert_close(
        result.l1_change,
        torch.full((3,), 2.01 / float(W_DIFF.abs().max())),
        rtol=0.02,
        atol=2e-3,
    )
    with pytest.raises(ValueError, match="log_odds_gain"):
        prototype_confidence(_linear_classifier(), x, target=0, log_odds_gain=0.0)


def test_results_select_and_concat() -> None:
    x = _queries()
    result = _identity_method().explain(x, target=1, n_steps=20, n_bisection=1)
    parts = [result.select([2]), result.select(slice(0, 2))]
    joined = CounterfactualResult.concat(parts)
    order = torch.tensor([2, 0, 1])
    assert torch.equal(joined.counterfactual, result.counterfactual[order])
    assert torch.equal(joined.path, result.path[order])
    assert torch.equal(joined.lambdas, result.lambdas[order])
    assert torch.equal(joined.path_steps, result.path_steps)


def test_per_image_min_confidence_tensor() -> None:
    x = _queries()[:2]
    q = torch.tensor([0.5, 0.95])
    result = _identity_method().explain(x, target=1, min_confidence=q, **FAST)
    assert bool((result.target_confidence >= q).all())
    assert float(result.l1_change[1]) > float(result.l1_change[0])


def test_rows_are_independent_of_the_batch() -> None:
    x = _queries()
    method = _identity_method()
    batched = method.explain(x, target=[1, 1, 1], **FAST)
    for i in range(3):
        single = method.explain(x[i : i + 1], target=1, **FAST)
        torch.testing.assert_close(
            single.counterfactual, batched.counterfactual[i : i + 1], atol=1e-5, rtol=0
        )


# --------------------------------------------------------------- captum contract


def test_attribute_is_input_minus_counterfactual_with_input_shape() -> None:
    x = _queries()
    method = _identity_method()
    attr = method.attribute(x, target=torch.tensor([1, 1, 1]), **FAST)
    result = method(x, target=1, **FAST)
    assert isinstance(result, CounterfactualResult)
    assert attr.shape == x.shape and attr.dtype == x.dtype
    torch.testing.assert_close(attr, x - result.counterfactual)
    torch.testing.assert_close(attr, result.difference)
    assert not attr.requires_grad and attr.grad_fn is None
    assert method.multiplies_by_inputs is False


def test_path_starts_at_the_reconstruction_and_ends_at_the_counterfactual() -> None:
    x = _queries()
    result = _identity_method().explain(x, target=1, path_length=5, **FAST)
    assert result.path.shape == (3, 5, 1, 2, 2)
    assert result.path_steps.tolist() == [0, 50, 100, 150, 200]
    torch.testing.assert_close(result.path[:, 0], result.reconstruction)
    torch.testing.assert_close(result.path[:, -1], result.counterfactual)
    torch.testing.assert_close(result.path_confidence[:, -1], result.target_confidence)
    # The target confidence climbs from the start to the end of the path.
    assert bool((result.path_confidence[:, -1] > result.path_confidence[:, 0]).all())
    changes = result.top_latent_changes.abs()
    assert bool((changes[:, :-1] >= changes[:, 1:]).all())
    delta = (result.latent - result.original_latent).gather(1, result.top_latent_dims)
    torch.testing.assert_close(result.top_latent_changes, delta)


def test_tuple_inputs_and_additional_forward_args() -> None:
    r"""Two inputs, a generator returning two images, and a per-image offset
    added to the classifier's logits through additional_forward_args."""
    classifier = _linear_classifier()

    def forward(a: torch.Tensor, b: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        return classifier(a + b) + offset

    def generator(z: torch.Tensor):
        return z[:, :4].view(-1, 1, 2, 2), z[:, 4:].view(-1, 1, 2, 2)

    def encoder(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.cat([a.flatten(1), b.flatten(1)], dim=1)

    a = _queries()[:2]
    b = torch.zeros_like(a)
    offset = torch.tensor([[0.0, 0.0], [0.0, -1.0]])
    method = LatentCounterfactual(forward, generator, encoder)
    attr = method.attribute((a, b), target=1, additional_forward_args=(offset,), **FAST)
    assert isinstance(attr, tuple) and len(attr) == 2
    assert attr[0].shape == a.shape and attr[1].shape == b.shape
    # The offset moves the second image's boundary by 1 in logit space.
    margin = _margin(a) - offset[:, 1]
    total_l1 = attr[0].abs().flatten(1).sum(1) + attr[1].abs().flatten(1).sum(1)
    torch.testing.assert_close(
        total_l1, margin / W_DIFF.abs().max(), rtol=0.03, atol=3e-3
    )


def test_runs_under_no_grad_and_inside_noise_tunnel() -> None:
    x = _queries()[:1]
    method = _identity_method()
    with torch.no_grad():
        attr = method.attribute(x, target=1, **FAST)
    assert attr.shape == x.shape and float(attr.abs().sum()) > 0
    tunnel = NoiseTunnel(method)
    smoothed = tunnel.attribute(
        x, nt_samples=2, stdevs=0.01, target=1, n_steps=100, n_bisection=4
    )
    assert smoothed.shape == x.shape


def test_seeded_runs_are_reproducible() -> None:
    x = _queries()
    method = _identity_method()
    torch.manual_seed(0)
    first = method.explain(x, target=1, n_steps=60, n_bisection=3)
    torch.manual_seed(123)
    second = method.explain(x, target=1, n_steps=60, n_bisection=3)
    assert torch.equal(first.counterfactual, second.counterfactual)
    assert torch.equal(first.lambdas, second.lambdas)
    assert torch.equal(first.path, second.path)


class _BatchNormClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(1)
        self.linear = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.norm(x).flatten(1))


def test_models_are_untouched() -> None:
    torch.manual_seed(0)
    classifier = _BatchNormClassifier().train()  # batch-norm buffers would move
    generator = nn.Linear(3, 4)
    generator.weight.requires_grad_(False)  # a frozen parameter stays frozen
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(4, 3)).eval()
    for p in classifier.parameters():
        p.grad = torch.full_like(p, 7.0)

    def generate(z: torch.Tensor) -> torch.Tensor:
        return generator(z).view(-1, 1, 2, 2)

    models = (classifier, generator, encoder)
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in models]
    flags = [[p.requires_grad for p in m.parameters()] for m in models]
    modes = [[s.training for s in m.modules()] for m in models]
    method = LatentCounterfactual(classifier, generate, encoder)
    method.explain(torch.rand(4, 1, 2, 2), target=1, n_steps=20, n_bisection=2)
    for m, state, flag, mode in zip(models, before, flags, modes):
        for k, v in m.state_dict().items():
            assert torch.equal(v, state[k]), k
        assert [p.requires_grad for p in m.parameters()] == flag
        assert [s.training for s in m.modules()] == mode
    for p in classifier.parameters():
        assert torch.equal(p.grad, torch.full_like(p, 7.0))
    assert generator.bias.grad is None and encoder[1].weight.grad is None


# ------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(inputs=torch.rand(4)), ValueError, "inputs must have shape"),
        (dict(inputs=torch.ones(1, 1, 2, 2, dtype=torch.long)), TypeError, "floating"),
        (dict(inputs=torch.full((1, 1, 2, 2), float("nan"))), ValueError, "NaN"),
        (dict(inputs=[torch.rand(1, 1, 2, 2)]), TypeError, "inputs must be"),
        (dict(target=None), ValueError, "target is required"),
        (dict(target=2), ValueError, "target out of range"),
        (dict(target=[1, 1]), ValueError, "one entry per image"),
        (dict(target=1.0), TypeError, "target must be"),
        (dict(lambda_range=(1.0, 0.1)), ValueError, "lambda_range must be increasing"),
        (dict(lambda_range=(0.0, 1.0)), ValueError, r"lambda_range\[0\]"),
        (dict(lambda_range=(1.0, float("inf"))), ValueError, r"lambda_range\[1\]"),
        (dict(lambda_range=1.0), TypeError, "lambda_range must be a pair"),
        (dict(n_steps=0), ValueError, "n_steps"),
        (dict(n_bisection=-1), ValueError, "n_bisection"),
        (dict(n_bisection=1.5), TypeError, "n_bisection"),
        (dict(lr=0.0), ValueError, "lr"),
        (dict(min_confidence=1.0), ValueError, "min_confidence"),
        (dict(min_confidence=torch.tensor([0.5, 0.5])), ValueError, "min_confidence"),
        (dict(path_length=1), ValueError, "path_length"),
        (dict(top_k=0), ValueError, "top_k"),
        (dict(loss="log_odds"), ValueError, "loss must be one of"),
        (dict(additional_forward_args=(torch.zeros(3),)), ValueError, "additional"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, match) -> None:
    call = dict(inputs=_queries()[:1], target=1, n_steps=5, n_bisection=1)
    call.update(kwargs)
    with pytest.raises(error, match=match):
        _identity_method().explain(**call)


@pytest.mark.parametrize(
    "generator, encoder, match",
    [
        (lambda z: z.view(-1, 1, 4, 1), _identity_encoder, "generator output"),
        (lambda z: (z.view(-1, 1, 2, 2),) * 2, _identity_encoder, "2 tensors"),
        (lambda z: z.tolist(), _identity_encoder, "generator must return"),
        (_identity_generator, lambda x: x.flatten(1)[:0], "encoder must return"),
        (_identity_generator, lambda x: (x, x), "encoder must return"),
        (_identity_generator, lambda x: x.flatten(1) * float("nan"), "NaN"),
    ],
)
def test_bad_generator_or_encoder_outputs_raise(generator, encoder, match) -> None:
    method = LatentCounterfactual(_linear_classifier(), generator, encoder)
    with pytest.raises((ValueError, TypeError), match=match):
        method.explain(_queries()[:1], target=1, n_steps=5)


def test_bad_models_raise() -> None:
    with pytest.raises(TypeError, match="generator must be callable"):
        LatentCounterfactual(_linear_classifier(), None, _identity_encoder)
    method = LatentCounterfactual(
        lambda x: x.flatten(1)[:, 0], _identity_generator, _identity_encoder
    )
    with pytest.raises(ValueError, match="forward_func must return logits"):
        method.explain(_queries()[:1], target=0, n_steps=5)


# ---------------------------------------------------------- shipped digit models


@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    from captum_fido.counterfactual.digits import load_digit_data, load_pretrained

    return load_pretrained(), load_digit_data()


def test_shipped_digit_models_match_their_recorded_metrics(digits) -> None:
    models, data = digits
    with torch.no_grad():
        predicted = models.classifier(data.test_images).argmax(1)
        recon = models.vae(data.test_images)
    accuracy = float((predicted == data.test_labels).float().mean())
    l1 = float((recon - data.test_images).abs().mean())
    assert accuracy >= 0.97
    assert accuracy == pytest.approx(models.classifier_info["test_accuracy"], abs=1e-6)
    assert l1 == pytest.approx(models.vae_info["test_l1"], rel=1e-4)
    for path in Path(models_dir := _weights_dir()).glob("*.pt"):
        assert path.stat().st_size < 1_000_000, path
    assert models_dir.is_dir()


def _weights_dir() -> Path:
    from captum_fido.counterfactual.digits import WEIGHTS_DIR

    return WEIGHTS_DIR


def test_digit_criticisms_reach_their_targets(digits) -> None:
    models, data = digits
    x = data.test_images[:4]
    labels = data.test_labels[:4]
    targets = (labels + 3) % 10
    method = LatentCounterfactual(
        models.classifier, models.vae.decoder, models.vae.encoder
    )
    result = method.explain(x, target=targets, n_steps=100, lr=0.2, n_bisection=3)
    assert float(result.success.float().mean()) >= 0.75
    with torch.no_grad():
        predicted = models.classifier(result.counterfactual).argmax(1)
    assert torch.equal(predicted[result.success], targets[result.success])


def test_training_script_smoke(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    from captum_fido.counterfactual import train_digits
    from captum_fido.counterfactual.digits import load_pretrained

    assert train_digits.main(["--tiny", "--no-progress", "--out", str(tmp_path)]) == 0
    models = load_pretrained(tmp_path)
    assert not models.classifier.training and not models.vae.training
    assert 0.0 <= models.classifier_info["test_accuracy"] <= 1.0


def test_cli_demo_writes_a_figure(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    from captum_fido.counterfactual import demo

    out = tmp_path / "sub" / "cf.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert demo.main(["--out", str(out), "--n-digits", "2", "--n-steps", "40"]) == 0
    assert out.is_file() and out.stat().st_size > 1000
