"""First contact: image layouts refused with the fix, collapsed maps explained."""

from __future__ import annotations

import re
import warnings

import pytest
import torch

from captum_fido import BBMP, FIDO, CollapsedMapWarning
from captum_fido.attr import log_odds
from captum_fido.infillers import MeanInfiller
from captum_fido.metrics import deletion_curve
from tests.conftest import BOX, RegionClassifier, region_images


class Counting(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return torch.stack([x.mean(dim=(1, 2, 3)), -x.mean(dim=(1, 2, 3))], 1)


@pytest.mark.parametrize("c", [1, 3, 4])
def test_channels_last_batch_refused_with_the_permute(c):
    model = Counting()
    x = torch.rand(2, 32, 24, c)
    with pytest.raises(ValueError, match=re.escape("inputs.permute(0, 3, 1, 2)")):
        FIDO(model, MeanInfiller()).attribute(x, target=0, n_steps=2)
    assert model.calls == 0


@pytest.mark.parametrize("c", [1, 3, 4])
def test_single_channels_last_image_needs_permute_then_unsqueeze(c):
    with pytest.raises(ValueError) as info:
        FIDO(Counting(), MeanInfiller()).attribute(
            torch.rand(32, 32, c), target=0, n_steps=2
        )
    assert "permute(2, 0, 1).unsqueeze(0)" in str(info.value)


@pytest.mark.parametrize("c", [1, 3, 4])
def test_single_channels_first_image_needs_unsqueeze_only(c):
    with pytest.raises(ValueError) as info:
        BBMP(Counting(), MeanInfiller()).attribute(
            torch.rand(c, 32, 32), target=0, n_steps=2
        )
    message = str(info.value)
    assert "inputs.unsqueeze(0)" in message and "permute" not in message


@pytest.mark.parametrize(
    "shape", [(2, 3, 16, 16), (2, 3, 16, 3), (2, 1, 8, 4), (1, 4, 4, 4), (2, 3, 5, 3)]
)
def test_channels_first_images_still_accepted(shape):
    # Small widths or heights equal to a channel count are not mistaken for
    # channels-last images when the second dimension is itself a channel count
    # or the sides are small.
    attr = FIDO(Counting(), MeanInfiller()).attribute(
        torch.rand(shape), target=0, n_steps=1, mask_size=1
    )
    assert attr.shape == shape


def test_five_dimensional_inputs_still_refused():
    with pytest.raises(ValueError, match=r"must have shape \(N, C, H, W\) or"):
        FIDO(Counting(), MeanInfiller()).attribute(
            torch.rand(2, 3, 4, 8, 8), target=0, n_steps=1
        )


def test_metrics_refuse_channels_last_too():
    x = torch.rand(1, 16, 16, 3)
    with pytest.raises(ValueError, match=re.escape("permute(0, 3, 1, 2)")):
        deletion_curve(Counting(), x, torch.rand(1, 16, 16), 0, MeanInfiller())


# ------------------------------------------------------------- collapsed maps

ZERO = [0.0, 0.0, 0.0]
RUN = dict(target=1, n_steps=60, seed=0, mask_size=16)


def _collapse_warnings(caught):
    return [str(w.message) for w in caught if w.category is CollapsedMapWarning]


SUGGESTION = r"a fixed weight on that scale is l1_coeff=([0-9.e+-]+) "


def _attribute(method, x, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        attr = method.attribute(x, **{**RUN, **kwargs})
    return attr, _collapse_warnings(caught)


def _box_share(attr):
    t, l, h, w = BOX
    m = attr[:, 0]
    return (m[:, t : t + h, l : l + w].sum(dim=(1, 2)) / m.sum(dim=(1, 2))).min()


@pytest.mark.parametrize("method_cls", [FIDO, BBMP])
def test_too_heavy_l1_warns_and_the_suggestion_uncollapses(method_cls):
    # The region model's log-odds are ~16; l1_coeff=0.05 charges 2509 for the
    # whole image, so SSR keeps nothing.
    model, x = RegionClassifier().eval(), region_images(n=2)
    method = method_cls(model, MeanInfiller(ZERO), objective="ssr")
    attr, texts = _attribute(method, x, l1_coeff=0.05)
    assert float(attr.max()) < 0.1
    assert len(texts) == 1
    text = texts[0]
    assert "nothing kept" in text and "log-odds are [" in text
    # Named as created: FIDO's default objective is SSR, BBMP's is SDR.
    name = "FIDO" if method_cls is FIDO else "BBMP(objective='ssr')"
    assert text.startswith(name + " returned empty maps")
    # The cost is stated for the input's own size, not the reference mask's.
    assert "for the whole 64 x 64 input" in text and "50176" not in text
    with torch.no_grad():
        clean = log_odds(model(x), torch.tensor([1, 1]), "logits")
    assert f"[{float(clean[0]):.3g}, {float(clean[1]):.3g}]" in text
    suggested = float(re.search(SUGGESTION, text).group(1))
    assert suggested < 0.05
    attr, texts = _attribute(method, x, l1_coeff=suggested)
    assert texts == []
    assert float(_box_share(attr)) > 0.5  # the evidence box holds the map
    # The default, adaptive weight needs no suggestion.
    attr, texts = _attribute(method, x)
    assert texts == [] and float(_box_share(attr)) > 0.5


def test_sdr_too_heavy_l1_uncollapses_with_the_suggestion():
    model, x = RegionClassifier().eval(), region_images(n=1)
    method = FIDO(model, MeanInfiller(ZERO), objective="sdr")
    attr, texts = _attribute(method, x, l1_coeff=0.05)
    assert len(texts) == 1 and "nothing dropped" in texts[0]
    assert "FIDO(objective='sdr') returned empty maps" in texts[0]
    suggested = float(re.search(SUGGESTION, texts[0]).group(1))
    attr, texts = _attribute(method, x, l1_coeff=suggested)
    assert texts == [] and float(_box_share(attr)) > 0.5


def test_sdr_everything_dropped_suggests_a_heavier_l1():
    # Every pixel raises the score, so without a sparsity weight SDR drops all.
    brightness = lambda x: torch.stack([torch.zeros(len(x)), 10 * x.mean((1, 2, 3))], 1)
    method = FIDO(brightness, MeanInfiller(ZERO), objective="sdr")
    attr, texts = _attribute(method, region_images(n=1), l1_coeff=0.0, tv_coeff=0.0)
    assert float(attr.min()) > 0.9
    assert len(texts) == 1 and "flooded maps" in texts[0]
    assert "75% or more of the input dropped" in texts[0]
    suggested = float(re.search(SUGGESTION, texts[0]).group(1))
    assert suggested > 0.0


def test_model_that_ignores_the_input_gets_no_suggestion():
    # Connected to the input (so the loop can back-propagate) but flat in it.
    const = lambda x: torch.tensor([[0.0, 1.0]]) + 0.0 * x.mean((1, 2, 3))[:, None]
    attr, texts = _attribute(FIDO(const, MeanInfiller(ZERO)), torch.rand(1, 3, 16, 16))
    assert len(texts) == 1
    assert "the model gives no evidence here" in texts[0]
    assert "l1_coeff=" not in texts[0]


def test_a_good_map_does_not_warn():
    model, x = RegionClassifier().eval(), region_images(n=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FIDO(model, MeanInfiller(ZERO)).attribute(x, **{**RUN, "l1_coeff": 1e-3})
