"""The model stays untouched however it is passed; inference mode, small
images for the amortised explainer and one-shot training data get clear
errors before any work (issue 20)."""

from __future__ import annotations

import functools
import warnings

import pytest
import torch
from captum.attr import FeatureAblation
from conftest import RegionClassifier, TinyCNN
from torch import nn

from captum_fido import BBMP, FIDO
from captum_fido._utils.model_state import preserve_module_state, reachable_modules
from captum_fido.attr import (
    AmortisedFIDO,
    InfillBaseline,
    MaskExplainerNet,
    train_explainer,
)
from captum_fido.attr._options import FIDO_DEFAULTS
from captum_fido.counterfactual import LatentCounterfactual
from captum_fido.infillers import BlurInfiller, LocalInfiller, MeanInfiller
from captum_fido.metrics import deletion_curve, saliency_metric

S = 16


def _x(n: int = 2) -> torch.Tensor:
    return torch.rand(n, 3, S, S, generator=torch.Generator().manual_seed(0))


def _state(model: nn.Module) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(model: nn.Module, before: dict) -> bool:
    return all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# ------------------------------------------------- the model stays untouched

#: A module-level model that a module-level function uses by its global name.
GLOBAL_NET = TinyCNN()


def _uses_global(x):
    return GLOBAL_NET(x)


class Holder:
    r"""A callable object holding the model (a common wrapper)."""

    def __init__(self, net):
        self.net = net

    def __call__(self, x):
        return self.net(x)


def _closure(net):
    def forward(x):
        return net(x)

    return forward


def _nested(net):
    parts = {"body": [net]}
    return lambda x: parts["body"][0](x)


def _default(x, net=None):
    return net(x)


WRAPPINGS = {
    "lambda": lambda net: lambda x: net(x),
    "closure": _closure,
    "partial of forward": lambda net: functools.partial(net.forward),
    "partial with the model": lambda net: functools.partial(lambda m, x: m(x), net),
    "bound method": lambda net: net.forward,
    "callable object": Holder,
    "container in a closure": _nested,
    "default argument": lambda net: functools.partial(_default, net=net),
    "lambda of a lambda": lambda net: (lambda f: lambda x: f(x))(lambda x: net(x)),
}


@pytest.mark.parametrize("how", sorted(WRAPPINGS))
def test_reachable_modules_finds_the_model(how):
    net = TinyCNN()
    assert reachable_modules(WRAPPINGS[how](net)) == [net]


def test_reachable_modules_through_globals_and_limits():
    assert reachable_modules(_uses_global) == [GLOBAL_NET]
    assert reachable_modules(lambda x: x * 2) == []
    assert reachable_modules(torch.sigmoid) == []

    def fresh(x):  # a model built at each call: nothing to protect
        return nn.Linear(x.shape[1], 2)(x)

    assert reachable_modules(fresh) == []
    # Several models, each once, outermost first.
    a, b = TinyCNN(), TinyCNN()
    found = reachable_modules(lambda x: a(x) + b(x) + a(x))
    assert len(found) == 2 and {id(m) for m in found} == {id(a), id(b)}


def _run_methods(forward, x):
    r"""Every kind of call that runs the model: FIDO, BBMP, an in-fill
    baseline, a deletion curve and the Saliency Metric."""
    FIDO(forward, BlurInfiller(2.0)).attribute(
        x, target=1, n_steps=2, n_samples=2, l1_coeff=1e-3, seed=0
    )
    BBMP(forward, BlurInfiller(2.0)).attribute(
        x, target=1, n_steps=2, l1_coeff=1e-3, seed=0
    )
    seg = (torch.arange(S)[:, None] // 8 * 2 + torch.arange(S)[None] // 8).view(
        1, 1, S, S
    )
    InfillBaseline(forward, LocalInfiller(3)).attribute(
        FeatureAblation, x, target=1, feature_mask=seg
    )
    deletion_curve(forward, x, torch.rand(2, S, S), 1, MeanInfiller([0.5] * 3), (0, 1))
    saliency_metric(forward, x, torch.tensor([[0.0, 0.0, 8.0, 8.0]] * 2), 1)


@pytest.mark.parametrize("how", sorted(WRAPPINGS))
def test_wrapped_model_in_train_mode_is_untouched(how):
    net = TinyCNN().train()
    for p in net.parameters():
        p.requires_grad_(True)
    before = _state(net)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _run_methods(WRAPPINGS[how](net), _x())
    # Batch-norm statistics moved during the calls and were put back.
    assert _same(net, before)
    assert net.training and all(m.training for m in net.modules())
    assert all(p.grad is None and p.requires_grad for p in net.parameters())
    assert any("training mode" in str(w.message) for w in caught)


def test_global_model_used_by_a_function_is_untouched():
    GLOBAL_NET.train()
    before = _state(GLOBAL_NET)
    with pytest.warns(UserWarning, match="training mode"):
        FIDO(_uses_global, BlurInfiller(2.0)).attribute(
            _x(), target=1, n_steps=2, n_samples=2, l1_coeff=1e-3, seed=0
        )
    assert _same(GLOBAL_NET, before)
    GLOBAL_NET.eval()


def test_buffers_changed_in_eval_mode_are_restored_too():
    class Counter(nn.Module):
        r"""Counts its calls in a buffer, even in eval mode."""

        def __init__(self):
            super().__init__()
            self.register_buffer("calls", torch.zeros(()))
            self.inner = RegionClassifier(box=(2, 2, 8, 8))

        def forward(self, x):
            self.calls += 1
            return self.inner(x)

    net = Counter().eval()
    with preserve_module_state(lambda x: net(x)):
        net(_x())
        assert float(net.calls) == 1
    assert float(net.calls) == 0


# ----------------------------------------------------------- inference mode


def _latent():
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(4, 2)).eval()
    return LatentCounterfactual(
        classifier, lambda z: z.view(-1, 1, 2, 2), lambda x: x.flatten(1)
    )


CALLS = {
    "FIDO": lambda: FIDO(
        RegionClassifier(box=(2, 2, 8, 8)), BlurInfiller(2.0)
    ).attribute(_x(), target=1, n_steps=2, seed=0),
    "BBMP": lambda: BBMP(
        RegionClassifier(box=(2, 2, 8, 8)), BlurInfiller(2.0)
    ).attribute(_x(), target=1, n_steps=2, seed=0),
    "AmortisedFIDO.attribute with refine_steps": lambda: AmortisedFIDO(
        RegionClassifier(box=(2, 2, 8, 8)),
        MaskExplainerNet(n_classes=3),
        BlurInfiller(2.0),
    ).attribute(_x(), target=1, refine_steps=2, seed=0),
    "train_explainer": lambda: train_explainer(
        RegionClassifier(box=(2, 2, 8, 8)),
        (_x(4), torch.ones(4, dtype=torch.long)),
        BlurInfiller(2.0),
        options=FIDO_DEFAULTS.replace(n_steps=2),
        batch_size=2,
        show_progress=False,
    ),
    "LatentCounterfactual.explain": lambda: _latent().explain(
        torch.rand(1, 1, 2, 2), target=1
    ),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_inference_mode_is_a_clear_error(name):
    with torch.inference_mode():
        with pytest.raises(RuntimeError, match=r"torch\.inference_mode\(\)") as err:
            CALLS[name]()
    assert name.split(".")[0] in str(err.value)
    assert "torch.no_grad() is fine" in str(err.value)


@pytest.mark.parametrize("name", ["FIDO", "BBMP", "LatentCounterfactual.explain"])
def test_no_grad_still_works(name):
    with torch.no_grad():
        CALLS[name]()


def test_what_needs_no_gradient_works_under_inference_mode():
    model = RegionClassifier(box=(2, 2, 8, 8)).eval()
    with torch.inference_mode():
        maps = AmortisedFIDO(model, MaskExplainerNet(n_classes=3), BlurInfiller(1.0))
        assert maps.attribute(_x(), target=1).shape == (2, 3, S, S)
        seg = torch.zeros(1, 1, S, S, dtype=torch.long)
        seg[..., S // 2 :] = 1
        attr = InfillBaseline(model, LocalInfiller(3)).attribute(
            FeatureAblation, _x(), target=1, feature_mask=seg
        )
        assert bool(torch.isfinite(attr).all())


def test_inference_tensors_are_named():
    model = RegionClassifier(box=(2, 2, 8, 8)).eval()
    with torch.inference_mode():
        x = _x()
        frozen = RegionClassifier(box=(2, 2, 8, 8)).eval()
    with pytest.raises(RuntimeError, match=r"inputs of FIDO.attribute .*inputs.clone"):
        FIDO(model, BlurInfiller(2.0)).attribute(x, target=1, n_steps=2)
    with pytest.raises(RuntimeError, match=r"parameter 'scale' was made under"):
        FIDO(lambda t: frozen(t), BlurInfiller(2.0)).attribute(
            _x(), target=1, n_steps=2
        )
    # The fix the message gives works.
    FIDO(model, BlurInfiller(2.0)).attribute(x.clone(), target=1, n_steps=2, seed=0)


# ------------------------------------------------------ amortised explainer


@pytest.mark.parametrize("width", [3, 5, 6, 12, 20])
def test_explainer_width_that_groupnorm_cannot_split_is_refused(width):
    with pytest.raises(ValueError, match="width must be 1, 2, 4 or a multiple of 8"):
        MaskExplainerNet(n_classes=3, width=width)


@pytest.mark.parametrize(
    "width, side, smallest", [(4, 4, 8), (4, 1, 8), (8, 2, 4), (2, 16, 32)]
)
def test_images_too_small_for_the_explainer_fail_before_it_runs(width, side, smallest):
    net = MaskExplainerNet(n_classes=3, width=width)
    calls = []
    net.register_forward_pre_hook(lambda *a: calls.append(1))
    amortised = AmortisedFIDO(RegionClassifier(), net, BlurInfiller(1.0))
    for n in (1, 2):  # PyTorch refuses only n = 1; both are meaningless
        x = torch.rand(n, 3, side, side)
        with pytest.raises(ValueError, match="inputs of .* too small") as err:
            amortised.attribute(x, target=0)
        assert f"at least {smallest} x {smallest}" in str(err.value)
    assert calls == []
    # The size the message names works.
    ok = amortised.attribute(torch.rand(1, 3, smallest, smallest), target=0)
    assert ok.shape == (1, 3, smallest, smallest)


def test_default_explainer_takes_tiny_images():
    net = MaskExplainerNet(n_classes=3)
    assert net.values_per_group(1, 1) == 2
    out = AmortisedFIDO(RegionClassifier(), net, BlurInfiller(1.0)).attribute(
        torch.rand(1, 3, 1, 1), target=0
    )
    assert out.shape == (1, 3, 1, 1)


# ----------------------------------------------------- one-shot training data


def _batches(k: int):
    x = _x(2 * k)
    y = torch.ones(2 * k, dtype=torch.long)
    return [(x[2 * i : 2 * i + 2], y[2 * i : 2 * i + 2]) for i in range(k)]


class Counting(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = RegionClassifier(box=(2, 2, 8, 8)).eval()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.inner(x)


@pytest.mark.parametrize(
    "make",
    [
        lambda: (b for b in _batches(3)),
        lambda: iter(_batches(3)),
        lambda: map(lambda b: b, _batches(3)),
        lambda: zip(*zip(*_batches(3))),
    ],
    ids=["generator", "iter", "map", "zip"],
)
def test_one_shot_iterators_are_refused_up_front(make):
    model = Counting()
    with pytest.raises(TypeError, match="one-shot iterator") as err:
        train_explainer(
            model,
            make(),
            BlurInfiller(2.0),
            options=FIDO_DEFAULTS.replace(n_steps=5),
            show_progress=False,
        )
    assert "list(data)" in str(err.value)
    assert model.calls == 0


def test_reiterable_data_trains_for_all_steps():
    # Three batches cycled over seven steps: the run is never cut short.
    net, history = train_explainer(
        Counting(),
        _batches(3),
        BlurInfiller(2.0),
        options=FIDO_DEFAULTS.replace(n_steps=7, n_samples=2),
        width=4,
        show_progress=False,
    )
    assert len(history.loss) == 7

    class Stream:
        r"""A stream that starts anew at each pass: accepted."""

        def __iter__(self):
            return iter(_batches(2))

    _, history = train_explainer(
        Counting(),
        Stream(),
        BlurInfiller(2.0),
        options=FIDO_DEFAULTS.replace(n_steps=3, n_samples=2),
        width=4,
        show_progress=False,
    )
    assert len(history.loss) == 3


def test_training_images_too_small_are_refused():
    x = torch.rand(4, 3, 4, 4)
    with pytest.raises(ValueError, match="data's images of 4 x 4 pixels are too small"):
        train_explainer(
            Counting(),
            (x, torch.ones(4, dtype=torch.long)),
            BlurInfiller(1.0),
            options=FIDO_DEFAULTS.replace(n_steps=2, n_samples=2),
            width=4,
            show_progress=False,
        )


def test_search_is_bounded_on_large_data_structures():
    # A function naming a big nested structure: the search stops after its
    # budget instead of walking millions of objects; a model named directly
    # is still found.
    big = [[{"k": [0] * 300} for _ in range(300)] for _ in range(300)]
    net = TinyCNN()

    def forward(x):
        return net(x) if big else x

    assert net in reachable_modules(forward)


def test_data_empty_on_a_later_pass_says_so():
    class Once:
        r"""Re-iterable in form, but empty after its first pass."""

        def __init__(self):
            self.batches = _batches(2)

        def __iter__(self):
            batches, self.batches = self.batches, []
            return iter(batches)

    with pytest.raises(ValueError, match=r"no batches when read again \(pass 2\)"):
        train_explainer(
            Counting(),
            Once(),
            BlurInfiller(2.0),
            options=FIDO_DEFAULTS.replace(n_steps=5, n_samples=2),
            width=4,
            show_progress=False,
        )
    with pytest.raises(ValueError, match="^data yielded no batches$"):
        train_explainer(
            Counting(),
            [],
            BlurInfiller(2.0),
            options=FIDO_DEFAULTS.replace(n_steps=5),
            show_progress=False,
        )
