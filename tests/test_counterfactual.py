r"""Latent counterfactuals (captum_fido.counterfactual): known answers, the
Captum contract, the keyword-only options, model safety and bad inputs. The
shipped digit models are tested in test_counterfactual_digits.py."""

from __future__ import annotations

import dataclasses
import inspect
import math

import pytest
import torch
from captum.attr import NoiseTunnel
from torch import nn

from captum_fido.counterfactual import (
    CounterfactualResult,
    LatentCounterfactual,
    prototype_confidence,
)
from captum_fido.counterfactual._options import SearchOptions

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


def test_attribute_future_completes_with_attribute() -> None:
    x = _queries()
    future = _identity_method().attribute_future(x, target=1, **FAST)
    assert future.done()
    torch.testing.assert_close(
        future.wait(), _identity_method().attribute(x, target=1, **FAST)
    )


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


def _check_bisection_against_grid(grid) -> None:
    x = _queries()[:1]
    method = _identity_method()
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


def test_bisection_picks_the_smallest_succeeding_lambda_of_a_grid() -> None:
    r"""Short version: four grid points around the known answer 2 / max|w|
    (0.67), spaced by a factor 1.5."""
    _check_bisection_against_grid([0.1 * 1.5**i for i in range(3, 7)])


@pytest.mark.slow
def test_bisection_picks_the_smallest_succeeding_lambda_of_a_wide_grid() -> None:
    _check_bisection_against_grid([0.1 * 1.5**i for i in range(12)])


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
    r"""Short version: rows with different targets and margins, fewer steps
    (a mix-up of rows in the bisection's bookkeeping still shows)."""
    x = _queries()
    method = _identity_method()
    short = dict(n_steps=60, lr=0.1, n_bisection=4, lambda_range=(1e-2, 1e3))
    targets = [1, 0, 1]
    batched = method.explain(x, target=targets, **short)
    for i in (0, 2):
        single = method.explain(x[i : i + 1], target=targets[i], **short)
        torch.testing.assert_close(
            single.counterfactual, batched.counterfactual[i : i + 1], atol=1e-5, rtol=0
        )
        torch.testing.assert_close(single.lambdas, batched.lambdas[i : i + 1])


@pytest.mark.slow
def test_rows_are_independent_of_the_batch_full_length() -> None:
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
    with pytest.raises(ValueError, match="output_type must be one of"):
        LatentCounterfactual(
            _linear_classifier(), _identity_generator, _identity_encoder, "scores"
        )
    bad_outputs = [
        (lambda x: x.view(-1, 2, 2), ValueError, "forward_func must return scores"),
        (lambda x: x.flatten(1).long(), TypeError, "floating-point"),
        (lambda x: x.flatten(1).tolist(), TypeError, "torch.Tensor"),
        (lambda x: x.flatten(1) * float("inf"), ValueError, "NaN or infinite"),
    ]
    for forward, error, match in bad_outputs:
        method = LatentCounterfactual(forward, _identity_generator, _identity_encoder)
        with pytest.raises(error, match=match):
            method.explain(_queries()[:1], target=0, n_steps=5)
    # A single binary output has two classes: targets 0 and 1 only.
    single = LatentCounterfactual(
        _binary_classifier(), _identity_generator, _identity_encoder
    )
    with pytest.raises(ValueError, match="target out of range"):
        single.explain(_queries()[:1], target=2, n_steps=5)
    with pytest.raises(ValueError, match="target out of range"):
        prototype_confidence(_binary_classifier(), _queries(), target=2)


# ------------------------------------------------------ keyword-only options


def test_options_are_keyword_only_and_match_the_options_dataclass() -> None:
    names = [f.name for f in dataclasses.fields(SearchOptions)]
    defaults = SearchOptions()
    explain_only = {"path_length", "top_k"}
    for fn, expected in (
        (LatentCounterfactual.attribute, [n for n in names if n not in explain_only]),
        (LatentCounterfactual.explain, names),
    ):
        params = list(inspect.signature(fn).parameters.values())
        leading = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
        assert leading == ["self", "inputs", "target", "additional_forward_args"]
        keywords = [p for p in params if p.kind is p.KEYWORD_ONLY]
        assert [p.name for p in keywords] == expected
        for p in keywords:
            assert p.default == getattr(defaults, p.name), p.name
            # Each option's text comes from the dataclass field.
            assert f"{p.name} (" in (fn.__doc__ or ""), p.name
        assert "{options}" not in (fn.__doc__ or "")


def test_passing_an_option_positionally_raises_type_error() -> None:
    x = _queries()[:1]
    method = _identity_method()
    with pytest.raises(TypeError):
        method.attribute(x, 1, None, (1e-2, 1e3))
    with pytest.raises(TypeError):
        method.explain(x, 1, None, (1e-2, 1e3))
    with pytest.raises(TypeError):
        method(x, 1, None, (1e-2, 1e3))


def test_search_options_validate_themselves() -> None:
    with pytest.raises(ValueError, match="n_steps"):
        SearchOptions(n_steps=0)
    with pytest.raises(TypeError, match="show_progress must be a bool"):
        SearchOptions(show_progress="yes")
    with pytest.raises(ValueError, match="min_confidence"):
        SearchOptions(min_confidence=torch.tensor([0.5, float("nan")]))
    options = SearchOptions(lambda_range=[1, 10], min_confidence=torch.tensor(0.5))
    assert options.lambda_range == (1.0, 10.0)
    assert options.per_row(3, torch.device("cpu")).tolist() == [0.5, 0.5, 0.5]
    with pytest.raises(ValueError, match=r"min_confidence tensor must have shape"):
        SearchOptions(min_confidence=torch.tensor([0.5, 0.5])).per_row(
            3, torch.device("cpu")
        )


# ----------------------------------------------- one-output binary classifiers


class _BinaryLinear(nn.Module):
    r"""The two-class model above as one logit for class 1:
    ``W_DIFF . x + B[1] - B[0]`` (the log-odds of class 1 are the same)."""

    def __init__(self, keep_dim: bool = False) -> None:
        super().__init__()
        self.keep_dim = keep_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logit = x.flatten(1) @ W_DIFF + (B[1] - B[0])
        return logit.unsqueeze(1) if self.keep_dim else logit


def _binary_classifier(keep_dim: bool = False) -> nn.Module:
    return _BinaryLinear(keep_dim).eval()


@pytest.mark.parametrize("keep_dim", [False, True], ids=["(N,)", "(N, 1)"])
def test_one_output_binary_criticism_reaches_the_other_class(keep_dim) -> None:
    r"""Same known answer as the two-class model: L1 = margin / max|w|, all on
    the pixel with the largest weight, predicted class = logit > 0."""
    x = _queries() if not keep_dim else _queries()[:1]
    model = _binary_classifier(keep_dim)
    method = LatentCounterfactual(model, _identity_generator, _identity_encoder)
    result = method.explain(x, target=1, **FAST)
    optimal_l1 = _margin(x) / W_DIFF.abs().max()
    assert bool(result.success.all())
    assert result.predicted.tolist() == [1] * len(x)
    with torch.no_grad():
        assert bool((model(result.counterfactual) > 0).all())
    torch.testing.assert_close(result.l1_change, optimal_l1, rtol=0.02, atol=2e-3)
    best_pixel = int(W_DIFF.abs().argmax())
    assert bool((result.top_latent_dims[:, 0] == best_pixel).all())
    torch.testing.assert_close(
        result.original_confidence, torch.sigmoid(-_margin(x)), rtol=1e-5, atol=0
    )
    assert bool((result.target_confidence >= 0.5).all())
    assert bool((result.target_confidence < 0.52).all())


def test_one_output_binary_criticism_towards_class_zero() -> None:
    r"""Inputs of class 1 (logit > 0) criticised towards class 0, whose
    log-odds are -logit: the same L1 budget, in the opposite direction."""
    x = torch.tensor([[0.1, 0.9, 0.0, 0.2]]).view(1, 1, 2, 2)  # logit 0.8
    logit = x.flatten(1) @ W_DIFF + (B[1] - B[0])
    assert bool((logit > 0).all())
    method = LatentCounterfactual(
        _binary_classifier(), _identity_generator, _identity_encoder
    )
    result = method.explain(x, target=0, **FAST)
    assert bool(result.success.all()) and result.predicted.tolist() == [0]
    torch.testing.assert_close(
        result.l1_change, logit / W_DIFF.abs().max(), rtol=0.02, atol=2e-3
    )
    attr = method.attribute(x, target=0, **FAST)
    torch.testing.assert_close(attr, result.difference)


def test_prototype_confidence_of_a_one_output_model() -> None:
    x = _queries()
    logit = -_margin(x).double()
    q1 = prototype_confidence(_binary_classifier(), x, target=1, log_odds_gain=1.0)
    q0 = prototype_confidence(_binary_classifier(True), x, target=0, log_odds_gain=1.0)
    torch.testing.assert_close(q1, torch.sigmoid(logit + 1.0))
    torch.testing.assert_close(q0, torch.sigmoid(-logit + 1.0))


def test_probability_outputs_give_the_logit_answer() -> None:
    r"""``output_type="probs"``: the same log-odds, so the same criticism."""
    x = _queries()[:1]
    classifier = _linear_classifier()

    def probs(images: torch.Tensor) -> torch.Tensor:
        return classifier(images).softmax(dim=1)

    method = LatentCounterfactual(
        probs, _identity_generator, _identity_encoder, output_type="probs"
    )
    result = method.explain(x, target=1, **FAST)
    assert bool(result.success.all())
    torch.testing.assert_close(
        result.l1_change, _margin(x) / W_DIFF.abs().max(), rtol=0.02, atol=2e-3
    )
