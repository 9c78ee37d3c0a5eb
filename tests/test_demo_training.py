"""Smoke tests: every training script runs a few steps on a tiny configuration."""

import json

import numpy as np
import pytest
import torch

from captum_fido.cli import train_classifier as train_classifier_command
from captum_fido.cli import train_inpainters as train_inpainters_command
from captum_fido.demo import train_inpainters
from captum_fido.demo.inpainting import CoarseRefineInfiller, RefineUNet
from captum_fido.demo.masks import MASK_KINDS, infill_targets, sample_keep_masks
from captum_fido.demo.pretrained import (
    load_classifier,
    load_inpainter,
    load_inpainter_infiller,
    load_vae,
)
from captum_fido.demo.scenes import load_split

pytestmark = pytest.mark.usefixtures("one_thread")


def test_classifier_smoke_training_writes_loadable_weights(tmp_path, capsys):
    out = tmp_path / "classifier.pt"
    assert (
        train_classifier_command.main(["--tiny", "--out", str(out), "--threads", "1"])
        == 0
    )
    assert out.is_file() and out.with_suffix(".json").is_file()
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["steps"] >= 1 and summary["settings"]["seed"] == 0
    model = load_classifier(out)
    assert model(torch.rand(2, 3, 64, 64)).shape == (2, 6)
    assert "test accuracy" in capsys.readouterr().out


def test_inpainter_and_vae_smoke_training(tmp_path):
    argv = ["--tiny", "--no-progress", "--out-dir", str(tmp_path)]
    assert train_inpainters_command.main(argv) == 0
    inp, vae = load_inpainter(tmp_path / "inpainter.pt"), load_vae(tmp_path / "vae.pt")
    assert isinstance(inp, RefineUNet)
    summary = json.loads((tmp_path / "inpainter.json").read_text())
    assert summary["settings"]["architecture"] == "RefineUNet"
    assert summary["seconds"] > 0 and summary["threads"] >= 1
    assert {"l1", "grad", "coarse_l1", "cpu_seconds"} <= set(summary)
    x, keep = torch.rand(2, 3, 64, 64), (torch.rand(2, 1, 64, 64) > 0.5).float()
    with torch.no_grad():
        for model in (inp, vae):
            out = model(x * keep, keep)
            assert out.shape == x.shape
            assert torch.allclose(out * keep, x * keep)
    infiller = load_inpainter_infiller(tmp_path / "inpainter.pt")
    assert isinstance(infiller, CoarseRefineInfiller)


@pytest.mark.parametrize("train", ["train_vae", "train_inpainter"])
def test_smoke_training_is_seeded(tmp_path, train):
    fn = getattr(train_inpainters, train)
    kwargs = dict(steps=2, batch_size=2, n_scenes=8, width=8, show_progress=False)
    a = fn(out=tmp_path / "a.pt", **kwargs)
    b = fn(out=tmp_path / "b.pt", **kwargs)
    assert a["l1"] == b["l1"]
    sa = torch.load(tmp_path / "a.pt", weights_only=True)
    sb = torch.load(tmp_path / "b.pt", weights_only=True)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_inpainter_gan_term_runs():
    out = train_inpainters.train_inpainter(
        steps=2,
        batch_size=2,
        n_scenes=8,
        width=8,
        adv_weight=0.01,
        out=None,
        show_progress=False,
    )
    assert np.isfinite(out["adv"]) and out["settings"]["adv_weight"] == 0.01


def test_grid_masks_span_small_to_nearly_total_drops():
    m = sample_keep_masks(300, 64, np.random.default_rng(0), kinds=["grid"])
    dropped = 1 - m.mean((1, 2, 3))
    assert dropped.min() < 0.1 and dropped.max() > 0.9


def test_training_masks_cover_every_kind_and_targets_remove_objects():
    _, _, _, obj, _ = load_split("train", 12, with_details=True)
    for kind in MASK_KINDS:
        m = sample_keep_masks(12, 64, np.random.default_rng(0), obj, kinds=[kind])
        assert m.shape == (12, 1, 64, 64)
        assert set(m.unique().tolist()) <= {0.0, 1.0}
    x, _, bg, obj, _ = load_split("train", 4, with_details=True)
    drop_object = 1 - obj
    assert torch.equal(infill_targets(x, bg, obj, drop_object), bg)
    assert torch.equal(infill_targets(x, bg, obj, torch.ones_like(obj)), x)
