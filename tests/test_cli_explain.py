"""`captum-fido explain` end to end on image files the tests write.

Tiny step counts keep every run to a few seconds: these check the command's
plumbing (files in, figures and results out, targets, errors), not map
quality.
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from captum_fido.cli import _models, explain
from captum_fido.cli import main as cli_main
from captum_fido.demo.domains import load_domain
from captum_fido.demo.photos import NormalizedClassifier

FAST = ["--steps", "1", "--n-samples", "2", "--threads", "1"]


def _save(array: np.ndarray, path: Path) -> Path:
    Image.fromarray(array).save(path)
    return path


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Path:
    r"""A folder with two 64 px demo test scenes (PNG), one odd-sized JPEG
    and a text file the folder scan must skip."""
    folder = tmp_path_factory.mktemp("scenes")
    images, _, _ = load_domain("scenes").load_split("test", 2)
    for i, x in enumerate(images):
        _save(
            (x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8),
            folder / f"s{i}.png",
        )
    rng = np.random.default_rng(0)
    _save(rng.integers(0, 256, (50, 80, 3), dtype=np.uint8), folder / "odd.jpg")
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture(scope="module")
def resnet_weights(tmp_path_factory) -> Path:
    r"""An untrained ResNet-18's state_dict, saved as a user would."""
    path = tmp_path_factory.mktemp("weights") / "resnet18.pt"
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    return path


def _results(out: Path):
    data = json.loads((out / "results.json").read_text())
    with (out / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    return data, rows


def test_demo_fido_on_a_folder(scenes, tmp_path, capsys):
    out = tmp_path / "out"
    assert explain.main([str(scenes), *FAST, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "note: 1 image(s) are not 64x64; each is resized" in text
    data, rows = _results(out)
    assert data["settings"]["infiller"] == "inpainter"  # the demo's default
    assert data["settings"]["l1_coeff"] == 1e-4  # the demo model's FIDO weight
    assert [Path(r["file"]).name for r in data["images"]] == [
        "odd.jpg",
        "s0.png",
        "s1.png",
    ]
    assert [r["file"] for r in rows] == [r["file"] for r in data["images"]]
    classes = load_domain("scenes").classes
    model = load_domain("scenes").load_classifier()
    for row in data["images"]:
        assert row["target_name"] == classes[row["target"]]
        assert len(row["counterfactual_probabilities"]) == 3
        assert all(0 <= p <= 1 for p in row["counterfactual_probabilities"])
        assert row["seconds"] > 0
        image = np.asarray(Image.open(row["figure"]))
        assert image.ndim == 3 and image.shape[1] > image.shape[0]
        attribution = np.load(row["map"])
        assert attribution.shape == (64, 64)
        assert attribution.min() >= 0 and attribution.max() <= 1
    # A 64 px PNG reaches the model unchanged (up to 8-bit rounding): the
    # reported probability and default target are the model's own on it.
    scene = torch.from_numpy(np.array(Image.open(scenes / "s0.png"))).permute(2, 0, 1)
    with torch.no_grad():
        probs = model(scene[None].float() / 255).softmax(1)[0]
    row = data["images"][1]
    assert row["target"] == int(probs.argmax())
    assert row["probability"] == pytest.approx(float(probs.max()), abs=1e-5)


def test_demo_target_by_name_and_captum_method(scenes, tmp_path):
    out = tmp_path / "out"
    argv = [str(scenes / "s0.png"), str(scenes / "s1.png"), "--method", "saliency"]
    assert explain.main([*argv, "--target", "Triangle", "--out", str(out)]) == 0
    data, rows = _results(out)
    index = load_domain("scenes").classes.index("triangle")
    assert [r["target"] for r in data["images"]] == [index, index]
    assert all(r["counterfactual_probabilities"] == [] for r in data["images"])
    assert rows[0]["counterfactual_probabilities"] == ""
    assert explain.main([*argv, "--target", "0", "--out", str(out)]) == 0
    assert [r["target_name"] for r in _results(out)[0]["images"]] == ["circle"] * 2


def test_same_names_in_two_folders_get_two_figures(scenes, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "s0.png").write_bytes((scenes / "s0.png").read_bytes())
    out = tmp_path / "out"
    argv = [str(scenes / "s0.png"), str(other), "--method", "gradcam"]
    assert explain.main([*argv, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["s0-2.png", "s0.png"]


def test_torchvision_model_with_a_weights_file(resnet_weights, tmp_path, capsys):
    rng = np.random.default_rng(1)
    small = _save(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8), tmp_path / "a.png")
    out = tmp_path / "out"
    common = ["--model", "torchvision:resnet18", "--weights", str(resnet_weights)]
    argv = [str(small), *common, "--target", "tabby", "--out", str(out)]
    assert explain.main([*argv, *FAST[:2], "--n-samples", "1", "--threads", "1"]) == 0
    assert "224x224" in capsys.readouterr().out
    data, _ = _results(out)
    (row,) = data["images"]
    assert (row["target"], row["target_name"]) == (281, "tabby")
    assert data["settings"]["infiller"] == "blur"
    assert len(row["counterfactual_probabilities"]) == 3
    assert np.load(row["map"]).shape == (224, 224)
    # The probability is the one the weights' own preprocessing gives.
    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    model = torchvision.models.resnet18(weights=None)
    model.load_state_dict(torch.load(resnet_weights, weights_only=True))
    x = weights.transforms()(
        torch.from_numpy(np.array(Image.open(small))).permute(2, 0, 1)
    )
    with torch.no_grad():
        expected = model.eval()(x[None]).softmax(1)[0, 281]
    assert row["probability"] == pytest.approx(float(expected), rel=2e-2)


def test_torchvision_gradcam_finds_the_last_feature_map(resnet_weights):
    model = torchvision.models.resnet18(weights=None)
    assert _models._last_spatial_layer(NormalizedClassifier(model), 64) is model.layer4


def _fails_before_work(monkeypatch, capsys, argv, message):
    def no_work(*args, **kwargs):
        raise AssertionError("the run started")

    monkeypatch.setattr(explain, "_run", no_work)
    with pytest.raises(SystemExit) as info:
        explain.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "Traceback" not in err


def test_bad_paths_fail_before_work(tmp_path, scenes, monkeypatch, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    broken = tmp_path / "broken.png"
    broken.write_text("not a PNG")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = [
        ([str(tmp_path / "missing.png")], "no such file or folder"),
        ([str(empty)], "holds no PNG/JPEG file"),
        ([str(broken)], "cannot read image"),
        ([str(scenes), "--out", str(blocker / "out")], "cannot write there"),
        ([str(scenes), "--out", str(blocker)], "is not a folder"),
    ]
    for argv, message in cases:
        _fails_before_work(monkeypatch, capsys, argv, message)
    assert not (blocker.parent / "out").exists()


def test_bad_options_fail_before_work(
    scenes, resnet_weights, tmp_path, monkeypatch, capsys
):
    image = str(scenes / "s0.png")
    tv = ["--model", "torchvision:resnet18", "--weights", str(resnet_weights)]
    cases = [
        ([image, "--method", "lime"], "invalid choice: 'lime'"),
        ([image, "--infiller", "gan"], "invalid choice: 'gan'"),
        ([image, "--method", "saliency", "--infiller", "blur"], "--infiller goes with"),
        ([image, "--target", "giraffe"], "unknown class"),
        ([image, "--target", "circel"], "did you mean 'circle'"),
        (
            [image, "--target", "99"],
            f"classes 0..{len(load_domain('scenes').classes) - 1}",
        ),
        ([image, "--steps", "0"], "must be >= 1"),
        ([image, "--l1-coeff", "-1"], "must be a finite number >= 0"),
        ([image, "--device", "warp"], "--device 'warp'"),
        ([image, "--device", "cuda:7"], "--device cuda:7"),
        ([image, "--model", "keras:vgg"], "expected 'demo' or 'torchvision:NAME'"),
        ([image, "--weights", str(resnet_weights)], "--weights goes with"),
        ([image, "--model", "torchvision:resnet19"], "did you mean resnet18"),
        ([image, "--model", "torchvision:resnet18"], "needs --weights FILE"),
        ([image, *tv, "--infiller", "inpainter"], "goes with --model demo only"),
        ([image, *tv, "--target", "no such class"], "unknown class"),
    ]
    for argv, message in cases:
        _fails_before_work(monkeypatch, capsys, argv, message)


def test_weights_that_do_not_fit_are_named(
    resnet_weights, tmp_path, monkeypatch, capsys
):
    image = _save(np.zeros((32, 32, 3), np.uint8), tmp_path / "a.png")
    text = tmp_path / "weights.pt"
    text.write_text("not torch")
    bad_values = tmp_path / "list.pt"
    torch.save([1, 2], bad_values)
    ten = tmp_path / "ten.pt"
    state = torch.load(resnet_weights, weights_only=True)
    state["fc.weight"], state["fc.bias"] = (
        state["fc.weight"][:10],
        state["fc.bias"][:10],
    )
    torch.save(state, ten)
    cases = [
        (["torchvision:resnet34", resnet_weights], "does not fit torchvision:resnet34"),
        (["torchvision:resnet34", resnet_weights], "missing: layer1.2.conv1.weight"),
        (["torchvision:resnet18", text], "not a loadable state_dict"),
        (["torchvision:resnet18", bad_values], "expected a state_dict"),
        (["torchvision:resnet18", tmp_path / "none.pt"], "no such file"),
    ]
    for (model, weights), message in cases:
        argv = [str(image), "--model", model, "--weights", str(weights)]
        _fails_before_work(monkeypatch, capsys, argv, message)
    # A fine-tuned head (10 classes) loads; ImageNet's names no longer apply.
    argv = [str(image), "--model", "torchvision:resnet18", "--weights", str(ten)]
    _fails_before_work(
        monkeypatch, capsys, [*argv, "--target", "tabby"], "has no class names"
    )
    _fails_before_work(monkeypatch, capsys, [*argv, "--target", "10"], "classes 0..9")


def test_a_model_that_cannot_take_the_images(scenes, monkeypatch, capsys):
    def flat_model() -> _models.LoadedModel:
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(10, 2))
        return _models.LoadedModel("demo", model, 64, 64, None, lambda m: m)

    monkeypatch.setattr(_models, "_demo_model", flat_model)
    argv = [str(scenes / "s0.png"), "--method", "saliency"]
    _fails_before_work(
        monkeypatch, capsys, argv, "demo cannot take a (1, 3, 64, 64) image"
    )


def test_through_the_cli_without_captum_noise(scenes, tmp_path, capsys):
    out = tmp_path / "out"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        argv = ["explain", str(scenes / "s0.png"), "--method", "saliency"]
        assert cli_main([*argv, "--out", str(out)]) == 0
    assert not [w for w in caught if "require gradients" in str(w.message)]
    assert (out / "s0.png").is_file()
