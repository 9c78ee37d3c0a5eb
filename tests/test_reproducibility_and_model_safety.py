"""Seeded runs repeat exactly, batches equal separate calls, models stay as
they were, and nothing keeps the autograd graph alive."""

from __future__ import annotations

import gc
import warnings

import pytest
import torch

from captum_fido import BBMP, FIDO
from captum_fido.infillers import BlurInfiller, LocalInfiller, RandomInfiller
from tests.conftest import TinyCNN

FAST = dict(n_steps=8, n_samples=3)


@pytest.mark.parametrize(
    "infiller", [BlurInfiller(2.0), LocalInfiller(5), RandomInfiller()]
)
def test_seeded_runs_repeat(cnn, small_x, infiller):
    fido = FIDO(cnn, infiller)
    a = fido.attribute(small_x, target=1, seed=11, **FAST)
    b = fido.attribute(small_x, target=1, seed=11, **FAST)
    c = fido.attribute(small_x, target=1, seed=12, **FAST)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_global_seed_when_seed_is_none(cnn, small_x):
    fido = FIDO(cnn, RandomInfiller())
    torch.manual_seed(3)
    a = fido.attribute(small_x, target=1, **FAST)
    torch.manual_seed(3)
    b = fido.attribute(small_x, target=1, **FAST)
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    "infiller", [BlurInfiller(2.0), LocalInfiller(5), RandomInfiller()]
)
def test_batch_equals_separate_calls(cnn, infiller):
    # A fixed weight: the untrained network gives no evidence, so the
    # adaptive weight balances the score against the area to the last
    # digit, where Adam's steps follow float rounding (the batched
    # classifier rounds differently from a one-image one, ~1e-8 here). The
    # adaptive weight on a trained model is the next test.
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    targets = [0, 1, 2, 3]
    fido = FIDO(cnn, infiller)
    batched = fido.attribute(x, target=targets, seed=7, l1_coeff=1e-3, **FAST)
    separate = torch.cat(
        [
            fido.attribute(x[i : i + 1], target=t, seed=7, l1_coeff=1e-3, **FAST)
            for i, t in enumerate(targets)
        ]
    )
    torch.testing.assert_close(batched, separate, rtol=1e-4, atol=1e-5)


def test_batch_equals_separate_calls_with_the_adaptive_weight():
    # The demo classifier (trained), LocalInfiller, the default sparsity: the
    # evidence scale comes from a two-row pass per image, so a single image
    # sees the same rounding as a batch.
    from captum_fido.demo.domains import load_domain

    domain = load_domain("scenes")
    model = domain.load_classifier()
    x, y, _ = domain.load_split("test", 3)
    fido = FIDO(model, LocalInfiller(15))
    batched = fido.attribute(x, target=y, seed=7, n_steps=12)
    separate = torch.cat(
        [
            fido.attribute(x[i : i + 1], target=y[i : i + 1], seed=7, n_steps=12)
            for i in range(3)
        ]
    )
    torch.testing.assert_close(batched, separate, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("internal_batch_size", [1, 5])
def test_chunking_does_not_change_the_map(cnn, small_x, internal_batch_size):
    # A fixed weight, as in test_batch_equals_separate_calls: one-row chunks
    # round differently, which the adaptive weight's balance on an untrained
    # network would follow.
    fido = FIDO(cnn, RandomInfiller())
    fixed = dict(FAST, l1_coeff=1e-3)
    full = fido.attribute(small_x, target=1, seed=2, **fixed)
    chunked = fido.attribute(
        small_x, target=1, seed=2, internal_batch_size=internal_batch_size, **fixed
    )
    torch.testing.assert_close(full, chunked, rtol=1e-4, atol=1e-5)


def _snapshot(model):
    return (
        {k: v.detach().clone() for k, v in model.state_dict().items()},
        {
            n: (p.requires_grad, None if p.grad is None else p.grad.clone())
            for n, p in model.named_parameters()
        },
        [m.training for m in model.modules()],
    )


@pytest.mark.parametrize("train_mode", [False, True])
@pytest.mark.parametrize("method_cls", [FIDO, BBMP])
def test_model_untouched(small_x, train_mode, method_cls):
    torch.manual_seed(0)
    model = TinyCNN()
    model.train(train_mode)
    # Some parameters frozen, some with an existing gradient.
    model.features[0].weight.requires_grad_(False)
    model.head[-1].weight.grad = torch.full_like(model.head[-1].weight, 0.25)
    before = _snapshot(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        method_cls(model, BlurInfiller(2.0)).attribute(
            small_x, target=1, seed=0, **FAST
        )
    after = _snapshot(model)
    for k in before[0]:
        assert torch.equal(before[0][k], after[0][k]), k  # params and BN buffers
    for n, (req, grad) in before[1].items():
        req_after, grad_after = after[1][n]
        assert req == req_after, n
        assert (grad is None and grad_after is None) or torch.equal(grad, grad_after), n
    assert before[2] == after[2]
    assert any("training mode" in str(w.message) for w in caught) == train_mode


def test_no_graph_kept_alive(cnn, small_x):
    fido = FIDO(cnn, BlurInfiller(2.0))
    attr, details = fido.attribute(
        small_x, target=1, seed=0, return_details=True, **FAST
    )
    tensors = [attr, details.loss_history, details.final_log_odds, *details.mask_params]
    tensors += [*details.counterfactuals, *details.keep_prob]
    for t in tensors:
        assert t.grad_fn is None and not t.requires_grad
    gc.collect()
    alive = [
        o
        for o in gc.get_objects()
        if isinstance(o, torch.Tensor) and o.grad_fn is not None
    ]
    assert alive == []
