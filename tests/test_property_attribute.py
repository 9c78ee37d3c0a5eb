"""Property-based tests of ``attribute`` over its input space: batch sizes,
channels, image sizes, dtypes, value ranges, targets, and inputs that must
be refused (issue 20). Two optimisation steps per example keep them fast;
the properties are the contract, not the map's quality."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from captum_fido import BBMP, FIDO
from captum_fido.infillers import BlurInfiller, LocalInfiller, MeanInfiller

# Two steps on a weak model often give empty maps, which is not the property
# under test (the collapse warning has its own tests).
pytestmark = pytest.mark.filterwarnings("ignore:.*returned .* maps:UserWarning")

FAST = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)


class Classes(torch.nn.Module):
    r"""Three classes from the image's left-right brightness difference; any
    size, channel count, value range and floating dtype."""

    def forward(self, x):
        w = x.shape[-1]
        left = x[..., : max(1, w // 2)].mean((1, 2, 3))
        s = 8.0 * (left - x.mean((1, 2, 3))) / (1.0 + x.abs().amax((1, 2, 3)))
        return torch.stack([s, -s, torch.zeros_like(s)], dim=1)


#: Every device this machine has (CUDA when present).
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

INFILLERS = {
    "blur": lambda c: BlurInfiller(sigma=1.5),
    "local": lambda c: LocalInfiller(window=3),
    "mean": lambda c: MeanInfiller([0.5] * c),
}


@st.composite
def calls(draw):
    n = draw(st.integers(1, 3))
    c = draw(st.sampled_from([1, 3]))
    h = draw(st.integers(2, 12))
    w = draw(st.integers(2, 12))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    scale = draw(st.sampled_from([1.0, 255.0, 1e-3]))
    shift = draw(st.sampled_from([0.0, -0.5]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    device = draw(st.sampled_from(DEVICES))
    x = ((torch.rand(n, c, h, w, generator=g) + shift) * scale).to(device, dtype)
    target = draw(
        st.one_of(
            st.integers(0, 2),
            st.lists(st.integers(0, 2), min_size=n, max_size=n),
        )
    )
    method = draw(st.sampled_from([FIDO, BBMP]))
    objective = draw(st.sampled_from(["ssr", "sdr"]))
    infiller = draw(st.sampled_from(sorted(INFILLERS)))
    seed = draw(st.integers(0, 1000))
    return x, target, method, objective, infiller, seed


def _attribute(x, target, method, objective, infiller, seed, **kw):
    explainer = method(Classes(), INFILLERS[infiller](x.shape[1]), objective=objective)
    return explainer.attribute(
        x, target=target, n_steps=2, n_samples=2, l1_coeff=1e-3, seed=seed, **kw
    )


@FAST
@given(calls())
def test_attribute_contract_over_the_input_space(call):
    x, target, method, objective, infiller, seed = call
    attr = _attribute(*call)
    assert attr.shape == x.shape and attr.dtype == x.dtype
    assert attr.device == x.device
    assert bool(torch.isfinite(attr).all())
    assert bool(((attr >= 0) & (attr <= 1)).all())
    # One value per pixel, the same on every channel.
    assert bool((attr == attr[:, :1]).all())
    # The same seed gives the same map.
    torch.testing.assert_close(_attribute(*call), attr, rtol=0, atol=0)


@FAST
@given(calls(), st.sampled_from(["nan", "inf", "-inf"]))
def test_non_finite_inputs_are_refused_before_any_pass(call, kind):
    x, target, method, objective, infiller, seed = call
    bad = x.clone()
    bad.view(-1)[-1] = float(kind)
    with pytest.raises(ValueError, match="NaN or infinite"):
        _attribute(bad, target, method, objective, infiller, seed)


@FAST
@given(calls(), st.integers(-3, 6))
def test_targets_outside_the_classes_are_refused(call, bad_target):
    x, _, method, objective, infiller, seed = call
    if 0 <= bad_target < 3:
        bad_target = 3 + bad_target
    with pytest.raises(ValueError, match="target out of range"):
        _attribute(x, bad_target, method, objective, infiller, seed)


@FAST
@given(calls(), st.sampled_from([torch.int64, torch.uint8, torch.bool]))
def test_non_float_inputs_are_refused(call, dtype):
    x, target, method, objective, infiller, seed = call
    with pytest.raises(TypeError, match="floating-point"):
        _attribute(x.to(dtype), target, method, objective, infiller, seed)


@FAST
@given(calls())
def test_layouts_are_never_guessed(call):
    x, target, method, objective, infiller, seed = call
    for wrong in (x[0], x.flatten(2), x[None]):
        with pytest.raises(ValueError, match="must have shape"):
            _attribute(wrong, target, method, objective, infiller, seed)
