r"""The defaults do not depend on the model's logit scale (issue 18, item 4).

Multiplying a classifier's logits by 0.3 or by 3 changes no evidence in the
image; with the default, adaptive sparsity weight the map must barely change:
the top-20% region of the map at each scale overlaps the unscaled one's with
an IoU of at least 0.8. A fixed weight (the paper's) is shown to fail the
same check, so the test can tell the two apart.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from captum_fido import BBMP, FIDO, CollapsedMapWarning
from captum_fido.infillers import BlurInfiller, MeanInfiller
from tests.conftest import RegionClassifier

SCALES = (0.3, 3.0)
#: The evidence region: 28 x 30 pixels, a fifth of the 64 x 64 image, so the
#: top-20% region of a good map is the region itself (a smaller one would
#: leave the top 20% to the near-zero values outside it).
BOX = (12, 20, 28, 30)


def region_images(n: int = 2, seed: int = 0) -> torch.Tensor:
    r"""Dark noisy images with a bright patch on :data:`BOX`."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 64, 64, generator=g) * 0.3
    t, l, h, w = BOX
    x[:, :, t : t + h, l : l + w] = 0.9 + 0.1 * torch.rand(n, 3, h, w, generator=g)
    return x


class Scaled(nn.Module):
    r"""``model`` with its logits multiplied by ``factor``."""

    def __init__(self, model: nn.Module, factor: float) -> None:
        super().__init__()
        self.model, self.factor = model, factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.factor * self.model(x)


def top_region(maps: torch.Tensor, share: float = 0.2) -> torch.Tensor:
    r"""Per map, the ``share`` of pixels with the highest values (ties broken
    by position, so a flat map still gives a region of that size)."""
    flat = maps[:, 0].flatten(1)
    k = max(1, int(share * flat.shape[1]))
    index = flat.topk(k, dim=1).indices
    return torch.zeros_like(flat, dtype=torch.bool).scatter_(1, index, True)


def iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a & b).sum(1).float() / (a | b).sum(1).float()


def _maps(method, model, x, target, seed=0, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapsedMapWarning)
        return method(model).attribute(x, target=target, seed=seed, **options)


METHODS = {
    "FIDO-SSR": lambda m: FIDO(m, MeanInfiller([0.0, 0.0, 0.0])),
    "FIDO-SDR": lambda m: FIDO(m, MeanInfiller([0.0, 0.0, 0.0]), objective="sdr"),
    "BBMP": lambda m: BBMP(m, MeanInfiller([0.0, 0.0, 0.0])),
}


@pytest.mark.parametrize("name", list(METHODS))
def test_default_maps_do_not_follow_the_logit_scale(name):
    model, x = RegionClassifier(BOX, scale=12.0).eval(), region_images(n=2)
    method = METHODS[name]
    base = top_region(_maps(method, model, x, 1, mask_size=16))
    t, l, h, w = BOX
    inside = torch.zeros(64, 64, dtype=torch.bool)
    inside[t : t + h, l : l + w] = True
    # The top-20% region is the evidence box.
    assert float(iou(base, inside.flatten().expand_as(base)).min()) >= 0.8
    for factor in SCALES:
        scaled = top_region(_maps(method, Scaled(model, factor), x, 1, mask_size=16))
        assert float(iou(base, scaled).min()) >= 0.8, (name, factor)


def test_a_fixed_weight_follows_the_logit_scale():
    # The same check with the paper's fixed weight: at 0.3x the map empties
    # or at 3x it floods, so the top regions part ways (or the areas differ).
    model, x = RegionClassifier(BOX, scale=12.0).eval(), region_images(n=2)
    method = METHODS["FIDO-SSR"]
    areas = [
        float(_maps(method, Scaled(model, f), x, 1, mask_size=16, l1_coeff=1e-3).mean())
        for f in (0.3, 1.0, 3.0)
    ]
    adaptive = [
        float(_maps(method, Scaled(model, f), x, 1, mask_size=16).mean())
        for f in (0.3, 1.0, 3.0)
    ]
    spread = max(areas) - min(areas)
    assert spread > 0.2, areas
    assert max(adaptive) - min(adaptive) < spread / 4, (adaptive, areas)


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["ssr", "sdr"])
def test_demo_classifier_maps_do_not_follow_the_logit_scale(objective):
    # On a six-class softmax the log-odds of an in-filled image are not an
    # exact multiple of the unscaled ones, and at the default budget the map
    # itself moves with the seed (SDR: mean top-20% IoU 0.75 between seeds 0
    # and 1 on these scenes). The bar: the scale moves the map less than 0.8
    # IoU allows, or no more than a change of seed does.
    from captum_fido.demo.domains import load_domain

    domain = load_domain("scenes")
    model = domain.load_classifier()
    x, y, _ = domain.load_split("test", 6)
    with torch.no_grad():
        correct = model(x).argmax(1) == y
    x, y = x[correct][:4], y[correct][:4]
    fill = BlurInfiller(10.0)

    def method(m):
        return FIDO(m, fill, objective=objective)

    base = top_region(_maps(method, model, x, y))
    reseeded = top_region(_maps(method, model, x, y, seed=1))
    bar = min(0.8, float(iou(base, reseeded).mean()) - 0.05)
    for factor in SCALES:
        scaled = top_region(_maps(method, Scaled(model, factor), x, y))
        assert float(iou(base, scaled).mean()) >= bar, factor
