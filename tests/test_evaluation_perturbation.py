"""Captum's perturbation methods with zero and in-fill baselines as
comparison specs (evaluation.methods.perturbation_methods)."""

from __future__ import annotations

import pytest
import torch
from conftest import RegionClassifier
from torch import Tensor, nn

from captum_fido.evaluation.methods import (
    PERTURBATION_METHODS,
    captum_methods,
    patch_mask,
    perturbation_methods,
    select_methods,
    standard_methods,
)
from captum_fido.infillers import (
    BlurInfiller,
    LocalInfiller,
    MeanInfiller,
    RandomInfiller,
    as_infiller,
)

#: The evidence: rows and columns 4..11 of a 16 x 16 image, 4 of the 16
#: 4 x 4 patches.
BOX = (4, 4, 8, 8)
PPE = 4


class CountingInfiller:
    r"""Local in-fill that records the rows of every call."""

    def __init__(self) -> None:
        self.rows: list = []
        self.local = LocalInfiller(window=3)

    def __call__(self, x: Tensor, keep: Tensor) -> Tensor:
        self.rows.append(int(x.shape[0]))
        return self.local(x, keep)


class CallCounter(nn.Module):
    r"""Counts forward calls whose batch holds a row that is not an original
    image (a perturbed batch)."""

    def __init__(self, model: nn.Module, originals: Tensor) -> None:
        super().__init__()
        self.model, self.originals = model, originals
        self.perturbed_calls = 0

    def forward(self, x: Tensor) -> Tensor:
        same = (x[:, None] == self.originals[None]).flatten(2).all(2).any(1)
        self.perturbed_calls += int(not bool(same.all()))
        return self.model(x)


def _specs(fill: object = None) -> list:
    fills = {
        "inpainter": as_infiller(fill or LocalInfiller(window=5)),
        "local": LocalInfiller(window=3),
    }
    return perturbation_methods(
        fills,
        patch=4,
        occlusion_window=4,
        occlusion_stride=4,
        n_samples=32,
        n_permutations=1,
        perturbations_per_eval=PPE,
    )


@pytest.fixture(scope="module")
def data():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 16, 16) * 0.8 + 0.1
    return RegionClassifier(box=BOX).eval(), x, torch.tensor([1, 1])


def test_names_families_and_order():
    specs = _specs()
    names = [s.name for s in specs]
    assert len(names) == len(set(names)) == 15
    assert names[:3] == [
        "FeatureAblation (zero)",
        "FeatureAblation (inpainter)",
        "FeatureAblation (local)",
    ]
    assert {s.family for s in specs} == {"captum-perturbation"}
    assert [s.infiller for s in specs[:3]] == [None, "inpainter", "local"]
    assert not any(s.probabilistic for s in specs)
    assert [s.name.split(" ")[0] for s in specs[::3]] == list(PERTURBATION_METHODS)


def test_maps_shape_range_and_known_answer(data):
    model, x, y = data
    t, l, h, w = BOX
    inside = torch.zeros(16, 16, dtype=torch.bool)
    inside[t : t + h, l : l + w] = True
    for spec in _specs():
        maps = spec.explain(model, x, y, 0)
        assert maps.shape == (2, 16, 16), spec.name
        assert bool(torch.isfinite(maps).all()), spec.name
        assert float(maps.min()) >= 0 and float(maps.max()) == pytest.approx(1.0)
        outside = (maps * ~inside).flatten(1).sum(1) / maps.flatten(1).sum(1)
        exact = ("FeatureAblation", "Occlusion", "ShapleyValueSampling (zero)")
        if spec.name.startswith(exact):
            # The model reads only the box: one patch at a time with any
            # baseline, or any coalition with a constant one, changes nothing
            # outside it. (An in-fill of the box reads its neighbours, so
            # coalitions can credit them: no exact answer there.)
            assert torch.allclose(outside, torch.zeros(2), atol=1e-6), spec.name
        elif spec.infiller is None:
            assert bool((outside < 0.5).all()), (spec.name, outside)


def test_one_infill_call_per_perturbed_batch(data):
    model, x, y = data
    fill = CountingInfiller()
    for spec in _specs(fill):
        if spec.infiller != "inpainter":
            continue
        fill.rows.clear()
        counter = CallCounter(model, x)
        spec.explain(counter, x, y, 0)
        assert len(fill.rows) == counter.perturbed_calls > 0, spec.name
        # perturbations_per_eval is honoured: batches of several perturbations
        # (both images together for the deterministic methods).
        assert 1 < max(fill.rows) <= 2 * PPE, spec.name
    feature_ablation = _specs(fill)[1]
    fill.rows.clear()
    feature_ablation.explain(model, x, y, 0)
    assert fill.rows == [2 * PPE] * (16 // PPE)


def test_seeded_and_independent_of_batching(data):
    model, x, y = data
    spec = select_methods(_specs(), ["KernelShap (local)"])[0]
    both = spec.explain(model, x, y, 3)
    assert torch.equal(both, spec.explain(model, x, y, 3))
    assert torch.equal(both[1:], spec.explain(model, x[1:], y[1:], 3))
    state = torch.get_rng_state()
    spec.explain(model, x, y, 3)
    assert torch.equal(state, torch.get_rng_state())


def test_selection():
    specs = captum_methods(lambda m: m) + _specs()
    assert len(select_methods(specs, ["captum-perturbation"])) == 15
    assert len(select_methods(specs, ["captum"])) == 5
    chosen = select_methods(specs, ["Lime (local)", "occlusion (zero)"])
    assert [s.name for s in chosen] == ["Lime (local)", "Occlusion (zero)"]
    with pytest.raises(ValueError, match="Lime \\(local\\)"):
        select_methods(specs, ["Lime (blur)"])


def test_opt_in_through_standard_methods():
    fills = {
        "Mean": MeanInfiller(),
        "Blur": BlurInfiller(),
        "Random": RandomInfiller(),
        "Local": LocalInfiller(window=3),
        "Inpainter": LocalInfiller(window=5),
    }
    specs = standard_methods(lambda m: m, fills, 1, 0.0, generative="Inpainter")
    default = select_methods(specs, None)
    assert not any(s.family == "captum-perturbation" for s in default)
    assert len(default) == len(specs) - 15
    chosen = select_methods(specs, ["captum-perturbation"])
    assert [s.infiller for s in chosen[:3]] == [None, "inpainter", "local"]


def test_bad_arguments():
    with pytest.raises(ValueError, match="'zero'"):
        perturbation_methods({"zero": LocalInfiller()})
    with pytest.raises(ValueError, match="patch"):
        perturbation_methods({}, patch=0)
    with pytest.raises(TypeError, match="n_samples"):
        perturbation_methods({}, n_samples=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="patch"):
        patch_mask(4, 4, 0)


def test_patch_mask():
    ids = patch_mask(5, 6, 2)
    assert ids.shape == (1, 1, 5, 6)
    assert ids[0, 0, 0].tolist() == [0, 0, 1, 1, 2, 2]
    assert ids[0, 0, 4].tolist() == [6, 6, 7, 7, 8, 8]
