"""FIDO and BBMP behave like any other Captum attribution method."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from captum.attr import LayerAttribution, LayerGradCam, NoiseTunnel, Saliency
from captum.attr import visualization as viz
from captum.metrics import infidelity, sensitivity_max

from captum_fido import BBMP, FIDO, FIDOSDR, FIDOSSR
from captum_fido.infillers import BlurInfiller, LocalInfiller, MeanInfiller
from tests.conftest import TinyCNN

FAST = dict(n_steps=5, n_samples=2)


def methods(model):
    return [
        FIDO(model, BlurInfiller(sigma=2.0)),
        FIDOSDR(model, LocalInfiller(window=3)),
        BBMP(model, MeanInfiller()),
    ]


def test_is_perturbation_attribution(cnn):
    from captum.attr import PerturbationAttribution

    for m in methods(cnn):
        assert isinstance(m, PerturbationAttribution)
        assert m.multiplies_by_inputs is False
    assert FIDOSSR(cnn, BlurInfiller()).objective == "ssr"
    assert FIDOSDR(cnn, BlurInfiller()).objective == "sdr"
    assert hasattr(FIDO.attribute, "__wrapped__")  # log_usage, used by NoiseTunnel


@pytest.mark.filterwarnings("ignore:.*returned collapsed maps:UserWarning")
def test_attribute_future_is_a_completed_future_of_attribute(cnn, small_x):
    for m in methods(cnn):
        future = m.attribute_future(small_x, target=1, seed=0, **FAST)
        assert isinstance(future, torch.futures.Future) and future.done()
        expected = m.attribute(small_x, target=1, seed=0, **FAST)
        assert torch.equal(future.wait(), expected)
    with pytest.raises(ValueError, match="n_steps"):  # bad input: raised at once
        FIDO(cnn, BlurInfiller()).attribute_future(small_x, target=1, n_steps=0)


@pytest.mark.parametrize("method_index", [0, 1, 2])
@pytest.mark.filterwarnings("ignore:.*returned collapsed maps:UserWarning")
def test_noise_tunnel(cnn, small_x, method_index):
    method = methods(cnn)[method_index]
    nt = NoiseTunnel(method)
    attr = nt.attribute(
        small_x,
        nt_type="smoothgrad",
        nt_samples=2,
        stdevs=0.05,
        target=1,
        **FAST,
        seed=0,
    )
    assert attr.shape == small_x.shape
    assert torch.isfinite(attr).all()


@pytest.mark.filterwarnings("ignore:.*returned collapsed maps:UserWarning")
def test_infidelity_and_sensitivity(cnn, small_x):
    def perturb(inputs):
        noise = torch.randn_like(inputs) * 0.01
        return noise, inputs - noise

    for method in methods(cnn):
        attr = method.attribute(small_x, target=1, seed=0, **FAST)
        infid = infidelity(cnn, perturb, small_x, attr, target=1, n_perturb_samples=3)
        assert infid.shape == (small_x.shape[0],)
        sens = sensitivity_max(
            method.attribute, small_x, target=1, n_perturb_samples=2, seed=0, **FAST
        )
        assert sens.shape == (small_x.shape[0],)
        assert torch.isfinite(sens).all()


def test_under_no_grad(cnn, small_x):
    with torch.no_grad():
        a = FIDO(cnn, BlurInfiller()).attribute(small_x, target=0, seed=3, **FAST)
    b = FIDO(cnn, BlurInfiller()).attribute(small_x, target=0, seed=3, **FAST)
    assert torch.equal(a, b)


def test_visualize_image_attr(region_model, region_x):
    attr = FIDO(region_model, MeanInfiller([0, 0, 0])).attribute(
        region_x[:1], target=1, seed=0, n_steps=30
    )
    # Captum wants HWC numpy arrays.
    hwc = attr[0].permute(1, 2, 0).numpy()
    img = region_x[0].permute(1, 2, 0).numpy()
    fig, _ = viz.visualize_image_attr(
        hwc,
        img,
        method="blended_heat_map",
        sign="positive",
        outlier_perc=0,
        use_pyplot=False,
    )
    assert fig is not None


def test_side_by_side_with_captum_baselines(cnn, small_x):
    saliency = Saliency(cnn).attribute(small_x, target=1)
    gradcam = LayerGradCam(cnn, cnn.features[-1]).attribute(small_x, target=1)
    gradcam = LayerAttribution.interpolate(gradcam, small_x.shape[-2:])
    fido = FIDO(cnn, BlurInfiller()).attribute(small_x, target=1, seed=0, **FAST)
    assert saliency.shape == fido.shape
    assert gradcam.shape[-2:] == fido.shape[-2:]


def test_tuple_inputs_and_additional_args():
    class TwoInputModel(torch.nn.Module):
        def forward(self, a, b, scale, offset):
            return (a.mean(dim=(1, 2, 3)) - b.mean(dim=(1, 2, 3)))[:, None] * scale[
                :, None
            ] * torch.tensor([1.0, -1.0]) + offset

    model = TwoInputModel().eval()
    a = torch.rand(2, 3, 12, 12)
    b = torch.rand(2, 1, 8, 8)
    scale = torch.tensor([1.0, 2.0])
    attr = FIDO(model, MeanInfiller()).attribute(
        (a, b), target=[0, 1], additional_forward_args=(scale, 0.5), seed=0, **FAST
    )
    assert isinstance(attr, tuple) and len(attr) == 2
    assert attr[0].shape == a.shape and attr[1].shape == b.shape
    # One-tuple in, one-tuple out.
    single = FIDO(model, MeanInfiller()).attribute(
        (a, b), target=0, additional_forward_args=(scale, 0.0), seed=0, **FAST
    )
    assert isinstance(single, tuple)
    one = FIDO(lambda x: x.mean(dim=(2, 3)), MeanInfiller()).attribute(
        (a,), target=0, seed=0, **FAST
    )
    assert isinstance(one, tuple) and one[0].shape == a.shape


@pytest.mark.parametrize(
    "target",
    [1, torch.tensor(1), torch.tensor([1]), [1, 2], torch.tensor([1, 2]), np.int64(1)],
)
def test_target_forms(cnn, small_x, target):
    attr = FIDO(cnn, BlurInfiller()).attribute(small_x, target=target, seed=0, **FAST)
    assert attr.shape == small_x.shape


def test_per_image_targets_match_single_calls(cnn, small_x):
    # A fixed weight: on an untrained network the adaptive one balances the
    # score against the area to the last digit, where Adam follows rounding
    # (see test_batch_equals_separate_calls_with_the_adaptive_weight).
    fido = FIDO(cnn, BlurInfiller())
    fixed = dict(FAST, l1_coeff=1e-3)
    both = fido.attribute(small_x, target=[1, 3], seed=5, **fixed)
    first = fido.attribute(small_x[:1], target=1, seed=5, **fixed)
    second = fido.attribute(small_x[1:], target=3, seed=5, **fixed)
    torch.testing.assert_close(both, torch.cat([first, second]))


def test_gradcam_layer_model_is_tinycnn():
    assert isinstance(TinyCNN().features[-1], torch.nn.ReLU)


def test_mixed_precision_and_channels_last(region_model, region_x):
    fido = FIDO(region_model, MeanInfiller([0.0, 0.0, 0.0]))
    full = fido.attribute(region_x, target=1, seed=0, n_steps=30)
    mixed = fido.attribute(
        region_x,
        target=1,
        seed=0,
        n_steps=30,
        autocast_dtype=torch.bfloat16,
        channels_last=True,
    )
    assert mixed.dtype == region_x.dtype and mixed.shape == region_x.shape
    # Same optimisation up to bf16 rounding of the classifier.
    assert (full - mixed).abs().mean() < 0.05
    with pytest.raises(ValueError, match="autocast_dtype must be"):
        fido.attribute(region_x, target=1, n_steps=2, autocast_dtype=torch.int8)
