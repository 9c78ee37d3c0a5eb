"""The shipped, trained demo models load without training and do their job."""

import pytest
import torch

from captum_fido.demo.pretrained import (
    WEIGHTS_DIR,
    load_classifier,
    load_inpainter_infiller,
    load_vae_infiller,
)
from captum_fido.demo.scenes import load_split
from captum_fido.infillers import ModuleInfiller, VAEInfiller
from captum_fido.metrics import confidence_under_masks

pytestmark = pytest.mark.usefixtures("one_thread")


def test_weights_are_small_state_dicts():
    files = sorted(WEIGHTS_DIR.glob("*.pt"))
    assert {f.name for f in files} >= {"classifier.pt", "inpainter.pt", "vae.pt"}
    for f in files:
        assert f.stat().st_size < 10 * 2**20
        assert isinstance(torch.load(f, weights_only=True), dict)


def test_shipped_classifier_accuracy_on_held_out_scenes():
    model = load_classifier()
    assert not model.training
    x, y = load_split("test", 300)
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    assert acc >= 0.9


def test_shipped_infillers_are_honest_deterministic_infillers():
    x, _, _, obj, _ = load_split("test", 4, with_details=True)
    keep = 1 - obj
    for inf, cls in (
        (load_inpainter_infiller(), ModuleInfiller),
        (load_vae_infiller(), VAEInfiller),
    ):
        assert isinstance(inf, cls) and inf.honest and not inf.stochastic
        out = inf(x, keep)
        assert out.shape == x.shape and 0 <= out.min() and out.max() <= 1
        x2 = torch.where(keep.bool(), x, torch.rand_like(x))
        assert torch.allclose(inf(x2, keep), out, atol=1e-6)


def test_inpainter_removes_rather_than_redraws_the_object():
    model = load_classifier()
    x, y, _, _, boxes = load_split("test", 60, with_details=True)
    keep = torch.ones(60, 1, 64, 64)
    for i, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        keep[i, :, y0:y1, x0:x1] = 0
    clean = confidence_under_masks(model, x, y, None, None)
    removed = confidence_under_masks(model, x, y, load_inpainter_infiller(), keep)
    assert clean.mean() > 0.7
    assert removed.mean() < 0.5


@pytest.mark.slow
def test_inpainter_beats_heuristics_at_every_mask_size():
    from captum_fido.infillers import (
        BlurInfiller,
        LocalInfiller,
        MeanInfiller,
        RandomInfiller,
    )
    from captum_fido.metrics import infiller_confidence

    x, y = load_split("test", 300)
    table = infiller_confidence(
        load_classifier(),
        x,
        y,
        {
            "inpainter": load_inpainter_infiller(),
            "mean": MeanInfiller(x.mean((0, 2, 3)).tolist()),
            "blur": BlurInfiller(10.0),
            "random": RandomInfiller(0.2),
            "local": LocalInfiller(15),
        },
        drop_fractions=[0.1, 0.25, 0.5, 0.75],
        seed=0,
    )
    ours = table.rows.pop("inpainter")
    for name, row in table.rows.items():
        assert all(o > r for o, r in zip(ours, row)), name
