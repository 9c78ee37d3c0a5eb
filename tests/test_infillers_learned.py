import pytest
import torch
from torch import nn

from captum_fido.infillers import (
    Infiller,
    MeanInfiller,
    ModuleInfiller,
    OpenCVInfiller,
    VAEInfiller,
)

pytestmark = pytest.mark.usefixtures("one_thread")


class _Completion(nn.Module):
    """A tiny deterministic 'inpainter': smooths the masked image."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 3, 3, padding=1)

    def forward(self, masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(torch.cat([masked, mask], 1)))


def _data(n=3, c=3, s=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, c, s, s, generator=g)
    keep = (torch.rand(n, 1, s, s, generator=g) > 0.5).float()
    return x, keep


def test_module_infiller_contract_and_honesty():
    torch.manual_seed(0)
    inf = ModuleInfiller(_Completion().eval())
    assert isinstance(inf, Infiller) and inf.honest and inf.uses_mask
    x, keep = _data()
    out = inf(x, keep)
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    # Changing the dropped pixels changes nothing: the module never sees them.
    x2 = torch.where(keep.bool(), x, torch.rand_like(x))
    assert torch.equal(inf(x2, keep), out)


def test_module_infiller_hole_convention_and_fill_value():
    seen = {}

    def spy(masked, mask):
        seen["masked"], seen["mask"] = masked.clone(), mask.clone()
        return masked

    x, keep = _data()
    ModuleInfiller(spy, mask_convention="hole", fill_value=0.5)(x, keep)
    assert torch.equal(seen["mask"], 1 - keep)
    dropped = (keep == 0).expand_as(x)
    assert torch.all(seen["masked"][dropped] == 0.5)
    assert torch.equal(seen["masked"][~dropped], x[~dropped])


def test_module_infiller_batches_and_pre_post_process():
    x, keep = _data(n=5)
    net = _Completion().eval()
    full = ModuleInfiller(net)(x, keep)
    chunked = ModuleInfiller(net, internal_batch_size=2)(x, keep)
    assert torch.allclose(full, chunked, atol=1e-6)
    shifted = ModuleInfiller(
        net, preprocess=lambda t: t * 2, postprocess=lambda t: t / 2
    )(x, keep)
    assert shifted.shape == x.shape


def test_module_infiller_generator_is_passed():
    def noisy(masked, mask, generator=None):
        return torch.rand(masked.shape, generator=generator)

    inf = ModuleInfiller(noisy, pass_generator=True)
    assert inf.stochastic
    x, keep = _data()
    a = inf(x, keep, torch.Generator().manual_seed(3))
    b = inf(x, keep, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda m, k: m[:, :2], "shape"),
        (lambda m, k: m.double(), "dtype"),
        (lambda m, k: m * float("nan"), "NaN"),
        (lambda m, k: m.to("meta"), "on meta"),
    ],
)
def test_module_infiller_rejects_bad_module_output(bad, match):
    x, keep = _data()
    with pytest.raises(ValueError, match=match):
        ModuleInfiller(bad)(x, keep)


def test_module_infiller_rejects_non_tensor_output_and_bad_arguments():
    x, keep = _data()
    with pytest.raises(TypeError, match="Tensor"):
        ModuleInfiller(lambda m, k: m.numpy())(x, keep)
    with pytest.raises(TypeError, match="module"):
        ModuleInfiller(42)
    with pytest.raises(ValueError, match="mask_convention"):
        ModuleInfiller(_Completion(), mask_convention="observed")
    with pytest.raises(ValueError, match="fill_value"):
        ModuleInfiller(_Completion(), fill_value=float("inf"))
    with pytest.raises(ValueError, match="method"):
        ModuleInfiller(_Completion(), method="sample")
    with pytest.raises(ValueError, match="internal_batch_size"):
        ModuleInfiller(_Completion(), internal_batch_size=0)


def test_vae_infiller_uses_predictive_mean():
    class VAE(nn.Module):
        def predictive_mean(self, masked, mask):
            return masked + (1 - mask) * 0.25

    x, keep = _data()
    out = VAEInfiller(VAE())(x, keep)
    assert torch.allclose(out[(keep == 0).expand_as(x)], torch.tensor(0.25))
    with pytest.raises(TypeError, match="predictive_mean"):
        VAEInfiller(_Completion())


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_opencv_infiller_contract(method):
    inf = OpenCVInfiller(method, radius=3)
    assert inf.honest and not inf.stochastic
    x, keep = _data(c=3)
    out = inf(x, keep)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.allclose(out[keep.bool().expand_as(x)], x[keep.bool().expand_as(x)])
    x2 = torch.where(keep.bool(), x, torch.rand_like(x))
    assert torch.allclose(inf(x2, keep), out)
    # Smooth images are filled smoothly: a constant image stays constant.
    const = torch.full((1, 3, 16, 16), 0.3)
    assert torch.allclose(inf(const, keep[:1]), const, atol=1e-3)


def test_opencv_infiller_other_channels_and_dtypes():
    x, keep = _data(n=2, c=1)
    assert OpenCVInfiller()(x.double(), keep.double()).dtype == torch.float64
    x5, keep5 = _data(n=1, c=5)
    assert OpenCVInfiller("ns")(x5, keep5).shape == x5.shape


def test_opencv_infiller_rejects_bad_arguments():
    with pytest.raises(ValueError, match="method"):
        OpenCVInfiller("fast")
    with pytest.raises(ValueError, match="radius"):
        OpenCVInfiller(radius=0)
    with pytest.raises(TypeError, match="radius"):
        OpenCVInfiller(radius="3")


def test_shipped_inpainter_beats_mean_at_quarter_mask():
    from captum_fido.demo.pretrained import load_classifier, load_inpainter_infiller
    from captum_fido.demo.scenes import load_split
    from captum_fido.metrics import infiller_confidence

    x, y = load_split("test", 96)
    table = infiller_confidence(
        load_classifier(),
        x,
        y,
        {
            "inpainter": load_inpainter_infiller(),
            "mean": MeanInfiller([0.5, 0.5, 0.5]),
        },
        drop_fractions=[0.25],
        seed=0,
    )
    assert table.rows["inpainter"][0] > table.rows["mean"][0]
    assert table.clean > 0.7


def _scene_batch(n=4, seed=0):
    from captum_fido.demo.scenes import load_split

    x, _ = load_split("test", n)
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, 8, 8, generator=g)
    up = torch.nn.functional.interpolate(coarse, size=(64, 64), mode="bilinear")
    keep = (up > torch.tensor([0.2, 0.5, 0.8, 0.95])[:n, None, None, None]).float()
    return x, keep


def test_observed_fill_is_honest_and_copies_observed_pixels():
    from captum_fido.demo.inpainting import observed_fill

    x, keep = _scene_batch()
    out = observed_fill(x, keep)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(out * keep, x * keep)
    assert 0 <= out.min() and out.max() <= 1
    x2 = torch.where(keep.bool(), x, torch.rand_like(x))
    assert torch.equal(observed_fill(x2, keep), out)
    assert torch.equal(observed_fill(x, torch.ones_like(keep)), x)
    empty = observed_fill(x, torch.zeros_like(keep))
    assert torch.allclose(empty, torch.full_like(x, 0.5))
    with pytest.raises(ValueError, match="method"):
        observed_fill(x, keep, method="fast")


@pytest.mark.parametrize("coarse_stage", ["pyramid", "ns"])
def test_coarse_refine_infiller_is_honest_bit_identical_and_starts_at_coarse(
    coarse_stage,
):
    from captum_fido.demo.inpainting import (
        CoarseRefineInfiller,
        RefineUNet,
        coarse_fill,
    )

    torch.manual_seed(0)
    x, keep = _scene_batch()
    untrained = CoarseRefineInfiller(RefineUNet(width=4, coarse=coarse_stage).eval())
    assert isinstance(untrained, Infiller) and untrained.honest
    assert not untrained.stochastic and untrained.uses_mask
    # Zero-initialised head: the untrained network returns the coarse fill
    # (kept 1e-3 inside (0, 1) for its logit).
    coarse = coarse_fill(x * keep, keep, coarse_stage)
    expected = torch.where(keep.bool(), x, coarse.clamp(1e-3, 1 - 1e-3))
    assert torch.allclose(untrained(x, keep), expected, atol=1e-5)
    net = RefineUNet(width=4, coarse=coarse_stage).eval()
    for p in net.out.parameters():
        torch.nn.init.normal_(p, std=0.1)
    inf = CoarseRefineInfiller(net)
    out = inf(x, keep)
    assert not torch.allclose(out, coarse, atol=1e-3)
    assert torch.equal(out * keep, x * keep)
    # Changing the dropped pixels leaves the fill bit-identical.
    x2 = torch.where(keep.bool(), x, torch.rand_like(x))
    assert torch.equal(inf(x2, keep), out)
    # Chunking does not change the result; the module alone computes the
    # same coarse stage.
    chunked = CoarseRefineInfiller(net, internal_batch_size=3)(x, keep)
    assert torch.allclose(chunked, out, atol=1e-6)
    with torch.no_grad():
        assert torch.allclose(net(x * keep, keep), out, atol=1e-6)
    with pytest.raises(ValueError, match="RGB"):
        inf(torch.rand(1, 1, 64, 64), torch.ones(1, 1, 64, 64))
    with pytest.raises(ValueError, match="internal_batch_size"):
        CoarseRefineInfiller(net, internal_batch_size=0)
