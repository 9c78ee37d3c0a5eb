"""One declaration per option, one infiller call path."""

from __future__ import annotations

import inspect
import typing

import pytest
import torch

from captum_fido import BBMP, FIDO
from captum_fido.attr import (
    BBMP_DEFAULTS,
    BBMP_PAPER,
    FIDO_DEFAULTS,
    FIDO_PAPER,
    MaskOptions,
)
from captum_fido.attr._base import MaskAttribution
from captum_fido.attr._options import option_names
from captum_fido.infillers import BlurInfiller, CallableInfiller, as_infiller
from captum_fido.metrics import confidence_under_masks, deletion_curve


def _keyword_only(fn):
    return [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]


def test_attribute_keywords_are_the_declared_options():
    assert _keyword_only(MaskAttribution.attribute) == list(option_names())
    overloads = typing.get_overloads(MaskAttribution.attribute.__wrapped__)
    assert len(overloads) == 2
    for overload in overloads:
        assert _keyword_only(overload) == list(option_names())


def test_docstring_documents_every_option():
    doc = MaskAttribution.attribute.__doc__
    assert "{options}" not in doc
    for name in option_names():
        assert f"{name} (optional):" in doc


def test_signature_defaults_come_from_the_declaration():
    params = inspect.signature(FIDO.attribute).parameters
    for name in option_names():
        default = params[name].default
        assert default is None or default == getattr(FIDO_DEFAULTS, name)


@pytest.mark.filterwarnings("ignore::captum_fido.CollapsedMapWarning")
def test_method_defaults_are_data(region_model, region_x):
    # The defaults: at most 300 classifier rows per image, counting the
    # clean pass and the fully in-filled one (two rows, plus one check).
    for defaults in (FIDO_DEFAULTS, BBMP_DEFAULTS):
        assert defaults.n_steps * defaults.n_samples + 3 <= 300
        assert defaults.l1_coeff == "adaptive" and defaults.preset == "adaptive"
    assert FIDO_DEFAULTS.n_samples == 4 and BBMP_DEFAULTS.n_samples == 1
    # The paper's appendix, exactly.
    assert (FIDO_PAPER.n_steps, FIDO_PAPER.n_samples) == (300, 8)
    assert FIDO_PAPER.l1_coeff == 1e-3 and FIDO_PAPER.effective_lr == 0.05
    assert FIDO_PAPER.effective_tv(on_grid=True) == 0.01
    assert FIDO_PAPER.effective_warmup == 30 and FIDO_PAPER.temperature == 0.1
    assert BBMP_PAPER.l1_coeff == pytest.approx(5 * FIDO_PAPER.l1_coeff)
    assert BBMP_PAPER.n_samples == 1
    _, details = BBMP(region_model, BlurInfiller(2.0)).attribute(
        region_x[:1], target=1, n_steps=2, return_details=True
    )
    assert details.loss_history.shape == (1, 2)


def test_options_validate_themselves():
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        MaskOptions(n_samples=0)
    with pytest.raises(TypeError, match="show_progress must be a bool"):
        MaskOptions(show_progress="yes")
    options = MaskOptions(n_steps=75)
    assert options.effective_lr == pytest.approx(0.2)
    assert options.effective_warmup == 8
    with pytest.raises(ValueError, match="l1_coeff must be >= 0"):
        options.replace(l1_coeff=-1.0)


def test_options_are_keyword_only(region_model, region_x):
    fido = FIDO(region_model, BlurInfiller(2.0))
    with pytest.raises(TypeError):
        fido.attribute(region_x, 1, None, 5)  # n_steps given positionally


def test_other_methods_option_is_refused(region_model, region_x):
    with pytest.raises(ValueError, match="tau is an option of another method"):
        FIDO(region_model, BlurInfiller(2.0)).attribute(region_x, target=1, tau=0.5)
    with pytest.raises(ValueError, match="temperature is an option of another"):
        BBMP(region_model, BlurInfiller(2.0)).attribute(
            region_x, target=1, temperature=0.1
        )


def test_explicit_none_for_a_plain_option_is_refused(region_model, region_x):
    with pytest.raises(TypeError, match="n_counterfactuals must be an int"):
        FIDO(region_model, BlurInfiller(2.0)).attribute(
            region_x, target=1, n_counterfactuals=None
        )


def test_objective_in_any_case(region_model):
    assert FIDO(region_model, BlurInfiller(), objective="SSR").objective == "ssr"
    assert BBMP(region_model, BlurInfiller(), objective="Sdr").objective == "sdr"


def test_infiller_class_instead_of_instance_is_explained(region_model):
    with pytest.raises(TypeError, match=r"pass BlurInfiller\(\) instead"):
        FIDO(region_model, BlurInfiller)


def test_as_infiller_wraps_plain_callables_once():
    fill = BlurInfiller()
    assert as_infiller(fill) is fill
    wrapped = as_infiller(lambda x, keep: x * 0)
    assert isinstance(wrapped, CallableInfiller) and wrapped.uses_mask
    with pytest.raises(TypeError, match="infiller must be an Infiller or a callable"):
        as_infiller(3)
    with pytest.raises(TypeError, match="apply to plain callables only"):
        as_infiller(fill, stochastic=True)


def test_one_plain_function_works_in_every_consumer(region_model, region_x):
    calls = []

    def grey(x, keep_mask):
        calls.append(tuple(x.shape))
        return torch.full_like(x, 0.5)

    maps = FIDO(region_model, grey).attribute(region_x, target=1, n_steps=3)
    curve = deletion_curve(region_model, region_x, maps, 1, grey, fractions=[0, 1])
    keep = torch.ones_like(region_x[:, :1])
    labels = torch.ones(3, dtype=torch.long)  # integer classes, as targets are
    conf = confidence_under_masks(region_model, region_x, labels, grey, keep)
    assert maps.shape == region_x.shape
    assert curve.area.shape == (3,) and conf.shape == (3,)
    assert len(calls) >= 3


def test_stochastic_plain_function_gets_the_generator(region_model, region_x):
    seen = []

    def noise(x, keep_mask, generator=None):
        seen.append(generator)
        return torch.rand(x.shape, generator=generator)

    fill = as_infiller(noise, stochastic=True, uses_mask=False)
    a = FIDO(region_model, fill).attribute(region_x, target=1, n_steps=3, seed=4)
    b = FIDO(region_model, fill).attribute(region_x, target=1, n_steps=3, seed=4)
    assert all(isinstance(g, torch.Generator) for g in seen)
    torch.testing.assert_close(a, b)


def test_dishonest_evaluation_infiller_warns(region_model, region_x):
    maps = torch.rand(3, 64, 64)
    with pytest.warns(UserWarning, match="reads the pixels it replaces"):
        deletion_curve(region_model, region_x, maps, 1, BlurInfiller(2.0))
