"""InfillBaseline checks feature_mask, target and Occlusion's windows before
Captum runs, naming the argument (issue 20)."""

from __future__ import annotations

import pytest
import torch
from captum.attr import FeatureAblation, KernelShap, Lime, Occlusion
from captum.attr import ShapleyValueSampling as SVS
from conftest import RegionClassifier

from captum_fido.attr import InfillBaseline
from captum_fido.infillers import BlurInfiller, LocalInfiller

S = 16
#: 16 square segments of 4 x 4 pixels, ids 0..15.
SEG = (torch.arange(S)[:, None] // 4 * 4 + torch.arange(S)[None] // 4).view(1, 1, S, S)
METHODS = [FeatureAblation, SVS, KernelShap, Lime]


class Counting(torch.nn.Module):
    r"""A region classifier that counts its forward passes."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = RegionClassifier(box=(4, 4, 8, 8)).eval()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.inner(x)


def _kw(method):
    return {"n_samples": 4} if method in (KernelShap, Lime, SVS) else {}


@pytest.fixture
def x():
    return torch.rand(2, 3, S, S, generator=torch.Generator().manual_seed(0))


BAD_MASKS = {
    "other height and width": (
        torch.zeros(1, 1, 8, 8, dtype=torch.long),
        ValueError,
        "does not broadcast",
    ),
    "other batch size": (
        torch.zeros(3, 1, S, S, dtype=torch.long),
        ValueError,
        "does not broadcast",
    ),
    "five dimensions": (SEG[None], ValueError, "at most 4 dimensions"),
    "float ids": (SEG.float(), TypeError, "integer segment ids"),
    "bool ids": (SEG > 3, TypeError, "integer segment ids"),
    "negative ids": (SEG - 1, ValueError, "negative segment ids"),
    "channels differ": (
        torch.cat([SEG, SEG.flip(-1), SEG], 1),
        ValueError,
        "one id per pixel",
    ),
    "not a tensor": ([[0, 1], [2, 3]], TypeError, "integer tensor"),
    "empty": (torch.zeros(0, dtype=torch.long), ValueError, "non-empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_MASKS))
@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.__name__)
def test_bad_feature_masks_fail_before_any_model_pass(x, case, method):
    mask, kind, words = BAD_MASKS[case]
    model = Counting()
    ib = InfillBaseline(model, LocalInfiller(3))
    with pytest.raises(kind, match="feature_mask") as err:
        ib.attribute(method, x, target=1, feature_mask=mask, **_kw(method))
    assert words in str(err.value)
    assert model.calls == 0


@pytest.mark.parametrize(
    "target, kind, words",
    [
        (3, ValueError, r"target out of range: the model has 3 output\(s\)"),
        (-1, ValueError, "target out of range"),  # never read from the end
        ([0, 5], ValueError, r"got \[5\]"),
        (torch.tensor([1, 3]), ValueError, "target out of range"),
        (None, ValueError, "target is required: the model has 3 outputs"),
        (1.5, TypeError, "target must be an int"),
        ([0, 1, 2], ValueError, "one entry per image"),
        (torch.tensor([[1]]), ValueError, "target tensor must have shape"),
    ],
)
@pytest.mark.parametrize("method", METHODS + [Occlusion], ids=lambda m: m.__name__)
def test_bad_targets_fail_after_one_clean_pass(x, method, target, kind, words):
    model = Counting()
    ib = InfillBaseline(model, LocalInfiller(3))
    options = (
        {"sliding_window_shapes": (3, 4, 4), "strides": 4}
        if method is Occlusion
        else {"feature_mask": SEG, **_kw(method)}
    )
    with pytest.raises(kind, match=words):
        ib.attribute(method, x, target=target, **options)
    assert model.calls <= 1  # at most the clean pass that reads the classes


def test_non_finite_model_output_is_refused(x):
    ib = InfillBaseline(
        lambda t: torch.full((t.shape[0], 3), float("nan")), LocalInfiller(3)
    )
    with pytest.raises(ValueError, match="NaN or infinite scores"):
        ib.attribute(FeatureAblation, x, target=1, feature_mask=SEG)


def test_one_score_per_image_takes_no_target(x):
    def score(t):
        return t.mean(dim=(1, 2, 3))

    ib = InfillBaseline(score, LocalInfiller(3))
    with pytest.raises(ValueError, match="target must be None"):
        ib.attribute(FeatureAblation, x, target=0, feature_mask=SEG)
    attr = ib.attribute(FeatureAblation, x, feature_mask=SEG)
    assert attr.shape == x.shape


@pytest.mark.parametrize(
    "options, words",
    [
        ({"sliding_window_shapes": (3, 20, 20)}, "sliding_window_shapes must be"),
        ({"sliding_window_shapes": (4, 4)}, "sliding_window_shapes must be"),
        ({"sliding_window_shapes": (3, 0, 4)}, "sliding_window_shapes must be"),
        ({"sliding_window_shapes": (3, 4, 4), "strides": 0}, "strides must be"),
        ({"sliding_window_shapes": (3, 4, 4), "strides": (1, 2)}, "strides must be"),
        ({}, "needs sliding_window_shapes"),
    ],
)
def test_occlusion_windows_and_strides_are_checked(x, options, words):
    model = Counting()
    with pytest.raises((TypeError, ValueError), match=words):
        InfillBaseline(model, LocalInfiller(3)).attribute(
            Occlusion, x, target=1, **options
        )
    assert model.calls == 0


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.__name__)
@pytest.mark.parametrize(
    "mask",
    [
        SEG,
        SEG[0, 0],  # (H, W)
        SEG[0],  # (1, H, W)
        torch.cat([SEG, SEG.flip(-1)]),  # one mask per image
        torch.cat([SEG, SEG.flip(-1)]).expand(2, 3, S, S),  # same id per channel
    ],
    ids=["shared", "HW", "1HW", "per-image", "per-image-expanded"],
)
def test_valid_feature_masks_still_work(x, method, mask):
    ib = InfillBaseline(RegionClassifier(box=(4, 4, 8, 8)).eval(), BlurInfiller(2.0))
    attr = ib.attribute(method, x, target=[1, 0], feature_mask=mask, **_kw(method))
    assert attr.shape == x.shape and bool(torch.isfinite(attr).all())


def test_known_answer_feature_ablation_with_an_in_fill(x):
    # The model reads only the 8 x 8 box at (4, 4): only the 4 segments that
    # cover it get credit, and they get all of it.
    model = RegionClassifier(box=(4, 4, 8, 8)).eval()
    attr = InfillBaseline(model, LocalInfiller(3)).attribute(
        FeatureAblation, x, target=1, feature_mask=SEG
    )
    inside = torch.zeros(S, S, dtype=torch.bool)
    inside[4:12, 4:12] = True
    assert bool((attr[:, :, ~inside] == 0).all())
    assert bool((attr[:, :, inside] != 0).any())
