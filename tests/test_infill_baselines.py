"""In-fill baselines for Captum's perturbation methods (InfillBaseline)."""

from __future__ import annotations

import warnings

import pytest
import torch
from captum.attr import (
    FeatureAblation,
    KernelShap,
    Lime,
    Occlusion,
    Saliency,
    ShapleyValueSampling,
)
from conftest import TinyCNN
from torch import nn

from captum_fido import InfillBaseline
from captum_fido.attr import SENTINEL, interpretable_similarity
from captum_fido.infillers import (
    BlurInfiller,
    LocalInfiller,
    RandomInfiller,
    as_infiller,
)

SIZE = 32
EVIDENCE = (slice(4, 12), slice(4, 12))  # what the model reads
IGNORED = (slice(16, 32), slice(16, 32))  # what it ignores unless out of range
EVIDENCE_BLOCKS = (slice(0, 16), slice(0, 16))  # the 8 x 8 blocks it overlaps


class OutOfRangeDetector(nn.Module):
    r"""Logit 1 reads only the evidence box, plus an "out-of-distribution"
    reaction to dark pixels in the bottom-right quadrant, which is bright
    (0.5 to 0.8) in every image it was built for:

    ``s = 10 * (mean(evidence) - 0.65) - 50 * mean(relu(0.4 - x[ignored]))``.

    On its images the second term is 0: the quadrant carries no evidence.
    A zero baseline there is far outside the quadrant's range and moves the
    logit by 20; an honest in-fill from the bright neighbours does not."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        evidence = x[:, :, EVIDENCE[0], EVIDENCE[1]].mean(dim=(1, 2, 3))
        dark = torch.relu(0.4 - x[:, :, IGNORED[0], IGNORED[1]])
        s = 10 * (evidence - 0.65) - 50 * dark.mean(dim=(1, 2, 3))
        return torch.stack([torch.zeros_like(s), s], dim=1)


def _images(n: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = 0.5 + 0.3 * torch.rand(n, 3, SIZE, SIZE, generator=g)
    x[:, :, EVIDENCE[0], EVIDENCE[1]] = 1.0
    return x


def _blocks(side: int = 8) -> torch.Tensor:
    r"""Feature ids of ``side x side`` blocks, ``(1, 1, SIZE, SIZE)``."""
    per_row = SIZE // side
    rows = torch.arange(SIZE).view(SIZE, 1) // side
    cols = torch.arange(SIZE).view(1, SIZE) // side
    return (rows * per_row + cols).view(1, 1, SIZE, SIZE)


def _share(attr: torch.Tensor, region) -> float:
    r"""Share of the total absolute attribution that falls in ``region``."""
    a = attr.abs().sum(dim=1)
    inside = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    inside[region] = True
    return float(a[:, inside].sum() / a.sum())


class _Spy(InfillBaseline):
    r"""Counts forward batches, those holding ablated pixels, and the rows
    handed to the in-filler."""

    def __init__(self, infiller) -> None:
        inner = as_infiller(infiller)
        self.fill_rows = []

        def fill(x, keep):
            self.fill_rows.append(x.shape[0])
            return inner(x, keep)

        super().__init__(OutOfRangeDetector(), as_infiller(fill, honest=inner.honest))
        self.forward_calls = 0
        self.ablated_calls = 0

    def __call__(self, x):
        self.forward_calls += 1
        self.ablated_calls += bool((x == SENTINEL).any())
        return super().__call__(x)


METHODS = {
    "FeatureAblation": (FeatureAblation, {"feature_mask": _blocks()}),
    "Occlusion": (
        Occlusion,
        {"sliding_window_shapes": (3, 8, 8), "strides": 8},
    ),
    "ShapleyValueSampling": (
        ShapleyValueSampling,
        {"feature_mask": _blocks(16), "n_samples": 2},
    ),
    "KernelShap": (KernelShap, {"feature_mask": _blocks(16), "n_samples": 12}),
    "Lime": (Lime, {"feature_mask": _blocks(16), "n_samples": 12}),
}


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("fill", [LocalInfiller(), BlurInfiller(3.0)], ids=str)
def test_every_method_runs_with_one_infill_call_per_batch(name, fill):
    method, kwargs = METHODS[name]
    ib = _Spy(fill)
    x = _images(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Captum's "one example at a time" advice
        attr = ib.attribute(method, x, target=1, perturbations_per_eval=3, **kwargs)
    assert attr.shape == x.shape and bool(torch.isfinite(attr).all())
    # Exactly one in-fill call per forward batch that holds ablated pixels.
    assert len(ib.fill_rows) == ib.n_infill_calls == ib.ablated_calls
    assert ib.ablated_calls >= ib.forward_calls - 2 > 0
    assert max(ib.fill_rows) <= 3 * 2  # perturbations_per_eval x images
    if name in ("FeatureAblation", "Occlusion"):
        assert ib.ablated_calls == ib.forward_calls - 1  # all but the clean pass


@pytest.mark.parametrize("name", ["FeatureAblation", "Occlusion"])
def test_zero_baseline_credits_the_ignored_region_and_infill_does_not(name):
    method, kwargs = METHODS[name]
    model, x = OutOfRangeDetector(), _images(2)
    zero = method(model).attribute(x, target=1, baselines=0.0, **kwargs)
    infill = InfillBaseline(model, LocalInfiller()).attribute(
        method, x, target=1, **kwargs
    )
    assert _share(zero, IGNORED) > 0.6  # zeros are out of range there
    assert _share(infill, IGNORED) == 0.0  # in-filled from its bright neighbours
    assert _share(infill, EVIDENCE_BLOCKS) > 0.99


def test_dishonest_infiller_reads_each_rows_own_image():
    model, x = OutOfRangeDetector(), _images(3)
    x[1] = 0.5 + 0.3 * torch.rand(3, SIZE, SIZE, generator=torch.Generator())
    blur, fm = BlurInfiller(3.0), _blocks()
    ib = InfillBaseline(model, blur)
    batched = ib.attribute(
        FeatureAblation, x, target=1, feature_mask=fm, perturbations_per_eval=5
    )
    # By hand: ablate each block with the blur of the image, one at a time.
    clean = model(x)[:, 1]
    expected = torch.zeros_like(x)
    for f in range(int(fm.max()) + 1):
        drop = (fm == f).expand_as(x)
        phi = torch.where(drop, blur(x, torch.ones_like(x[:, :1])), x)
        delta = clean - model(phi)[:, 1]
        expected += delta.view(-1, 1, 1, 1) * drop
    torch.testing.assert_close(batched, expected)


def test_dishonest_infiller_with_lime_runs_image_by_image():
    model, x = OutOfRangeDetector(), _images(2)
    ib = InfillBaseline(model, BlurInfiller(3.0))
    kwargs = dict(feature_mask=_blocks(16), n_samples=10)
    torch.manual_seed(0)
    both = ib.attribute(KernelShap, x, target=[1, 1], **kwargs)
    torch.manual_seed(0)
    first = ib.attribute(KernelShap, x[:1], target=[1], **kwargs)
    assert both.shape == x.shape
    torch.testing.assert_close(both[:1], first)


def test_raw_use_with_captum_and_the_originals_context():
    model, x, fm = OutOfRangeDetector(), _images(2), _blocks()
    ib = InfillBaseline(model, LocalInfiller())
    raw = FeatureAblation(ib).attribute(
        x, baselines=ib.baseline, target=1, feature_mask=fm
    )
    helped = ib.attribute(FeatureAblation, x, target=1, feature_mask=fm)
    torch.testing.assert_close(raw, helped)
    blur = InfillBaseline(model, BlurInfiller(3.0))
    with pytest.raises(ValueError, match="needs the original images"):
        FeatureAblation(blur).attribute(x, baselines=blur.baseline, target=1)
    with blur.originals(x):
        FeatureAblation(blur).attribute(
            x, baselines=blur.baseline, target=1, feature_mask=fm
        )
    with pytest.raises(ValueError, match="lay its rows out"), blur.originals(x):
        FeatureAblation(blur).attribute(
            x.flip(0), baselines=blur.baseline, target=1, feature_mask=fm
        )


def test_additional_args_targets_tuples_and_progress():
    def scaled(a, b, scale):
        return OutOfRangeDetector()(a) * scale.view(-1, 1) + b.mean() * 0

    x = _images(1).repeat(2, 1, 1, 1)  # the same image twice, scaled apart
    scale = torch.tensor([1.0, 2.0])
    ib = InfillBaseline(scaled, LocalInfiller())
    fm = (_blocks(), _blocks() + 16)
    attr = ib.attribute(
        FeatureAblation,
        (x, x.clone()),
        target=torch.tensor([1, 1]),
        additional_forward_args=(scale,),
        feature_mask=fm,
        perturbations_per_eval=4,
        show_progress=True,
    )
    assert isinstance(attr, tuple) and attr[0].shape == x.shape
    torch.testing.assert_close(attr[0][1], 2 * attr[0][0], rtol=1e-4, atol=1e-5)
    # 32 features in batches of 4: 8 batches, each ablating one of the inputs,
    # one in-fill call each (per input holding ablated pixels, per batch).
    assert ib.n_infill_calls == 8
    torch.testing.assert_close(attr[1], attr[0] * 0)  # b only enters as 0 * b


def test_stochastic_infiller_is_reproducible_with_a_seed():
    model, x = OutOfRangeDetector(), _images(1)
    kwargs = dict(target=1, feature_mask=_blocks())
    a = InfillBaseline(model, RandomInfiller(), seed=3)
    b = InfillBaseline(model, RandomInfiller(), seed=3)
    torch.testing.assert_close(
        a.attribute(FeatureAblation, x, **kwargs),
        b.attribute(FeatureAblation, x, **kwargs),
    )


def test_the_model_is_left_untouched():
    model = TinyCNN().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(2, 3, SIZE, SIZE)
    with pytest.warns(UserWarning, match="training mode"):
        InfillBaseline(model, LocalInfiller()).attribute(
            Occlusion, x, target=0, sliding_window_shapes=(3, 16, 16), strides=16
        )
    assert model.training
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])
    assert all(p.grad is None and p.requires_grad for p in model.parameters())


def test_bad_arguments_raise_clearly():
    model, x = OutOfRangeDetector(), _images(1)
    ib = InfillBaseline(model, LocalInfiller())
    with pytest.raises(TypeError, match="infiller must be an Infiller"):
        InfillBaseline(model, 3)
    with pytest.raises(TypeError, match=r"pass LocalInfiller\(\) instead"):
        InfillBaseline(model, LocalInfiller)
    with pytest.raises(TypeError, match="forward_func must be callable"):
        InfillBaseline("model", LocalInfiller())
    with pytest.raises(ValueError, match="sentinel must be finite"):
        InfillBaseline(model, LocalInfiller(), sentinel=float("-inf"))
    with pytest.raises(TypeError, match="runs FeatureAblation"):
        ib.attribute(Saliency, x, target=1)
    with pytest.raises(TypeError, match="baselines is set by InfillBaseline"):
        ib.attribute(FeatureAblation, x, target=1, baselines=0.0)
    with pytest.raises(ValueError, match="built on this InfillBaseline"):
        ib.attribute(FeatureAblation(model), x, target=1)
    with pytest.raises(ValueError, match="default similarity"):
        ib.attribute(Lime(ib), x, target=1)
    bad = x.clone()
    bad[0, 0, 0, 0] = SENTINEL
    with pytest.raises(ValueError, match="already holds the sentinel"):
        ib.attribute(FeatureAblation, bad, target=1)
    with pytest.raises(ValueError, match="not exact in torch.float16"):
        ib.attribute(FeatureAblation, x.half(), target=1)
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\)"):
        ib.attribute(FeatureAblation, x[0], target=1)


def test_interpretable_similarity():
    assert interpretable_similarity(None, None, torch.ones(1, 4)) == 1.0
    half = interpretable_similarity(None, None, torch.tensor([[1.0, 1.0, 0, 0]]))
    assert 0.0 < half < 1.0
    assert interpretable_similarity(None, None, torch.zeros(1, 4)) < half
