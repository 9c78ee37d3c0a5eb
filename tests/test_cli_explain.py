"""`captum-fido explain` end to end on image files the tests write.

Tiny step counts keep every run to a few seconds: these check the command's
plumbing (files in, maps, figures and index out, targets, errors, resume),
not map quality. The data-set machinery itself is tested in
tests/test_explain_dataset*.py.
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
    r"""``(settings, rows of index.jsonl, rows of index.csv)``."""
    settings = json.loads((out / "settings.json").read_text())
    rows = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    with (out / "index.csv").open() as fh:
        table = list(csv.DictReader(fh))
    return settings, rows, table


def test_demo_fido_on_a_folder(scenes, tmp_path, capsys):
    out = tmp_path / "out"
    assert explain.main([str(scenes), *FAST, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "note: 1 image(s) are not 64x64; each is resized" in text
    assert "knows only its six scene classes" in text  # the odd-sized photo
    settings, rows, table = _results(out)
    method = settings["method"]
    assert method["infiller"]["repr"].startswith("CoarseRefineInfiller")
    # No sparsity weight of the command's own: the method's default.
    assert method["options"]["given"] == {"n_steps": 1, "n_samples": 2}
    assert [r["id"] for r in rows] == ["odd.jpg", "s0.png", "s1.png"]
    assert [r["id"] for r in table] == [r["id"] for r in rows]
    classes = load_domain("scenes").classes
    model = load_domain("scenes").load_classifier()
    for row in rows:
        assert row["target_name"] == classes[row["target"]]
        assert len(row["counterfactual_probabilities"]) == 3
        assert all(0 <= p <= 1 for p in row["counterfactual_probabilities"])
        assert row["seconds"] > 0 and row["map_status"] in ("ok", "empty", "flooded")
        assert row["figure"] == f"figures/{row['id']}.png"
        image = np.asarray(Image.open(out / row["figure"]))
        assert image.ndim == 3 and image.shape[1] > image.shape[0]
        attribution = np.load(out / row["map"])
        assert attribution.shape == (64, 64)
        assert attribution.min() >= 0 and attribution.max() <= 1
    assert rows[0]["source"]["size"] == [50, 80]
    # A 64 px PNG reaches the model unchanged (up to 8-bit rounding): the
    # reported probability and default target are the model's own on it.
    scene = torch.from_numpy(np.array(Image.open(scenes / "s0.png"))).permute(2, 0, 1)
    with torch.no_grad():
        probs = model(scene[None].float() / 255).softmax(1)[0]
    row = rows[1]
    assert row["target"] == int(probs.argmax())
    assert row["probability"] == pytest.approx(float(probs.max()), abs=1e-5)


def test_rerun_resumes_and_other_settings_are_refused(scenes, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [str(scenes / "s0.png"), "--method", "saliency", "--out", str(out)]
    assert explain.main(argv) == 0
    assert explain.main(argv) == 0
    assert "0 explained, 1 already done, 0 failed" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        explain.main([*argv, "--target", "2"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "holds a run made with other settings (target: " in err, err


def test_demo_target_by_name_and_captum_method(scenes, tmp_path):
    out = tmp_path / "out"
    argv = [str(scenes / "s0.png"), str(scenes / "s1.png"), "--method", "saliency"]
    assert explain.main([*argv, "--target", "Triangle", "--out", str(out)]) == 0
    _, rows, table = _results(out)
    index = load_domain("scenes").classes.index("triangle")
    assert [r["target"] for r in rows] == [index, index]
    assert all(r["counterfactual_probabilities"] is None for r in rows)
    assert table[0]["counterfactual_probabilities"] == ""
    other = tmp_path / "other"
    assert explain.main([*argv, "--target", "0", "--out", str(other)]) == 0
    assert [r["target_name"] for r in _results(other)[1]] == ["circle"] * 2


def test_colliding_names_get_their_own_outputs(scenes, tmp_path):
    for name, source in [("x/s0.png", "s0"), ("y/s0.png", "s1"), ("y/s0-2.png", "s0")]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes((scenes / f"{source}.png").read_bytes())
    out = tmp_path / "out"
    argv = [str(tmp_path / "x" / "s0.png"), str(tmp_path / "y"), "--method", "gradcam"]
    assert explain.main([*argv, "--out", str(out)]) == 0
    maps = sorted(p.relative_to(out / "maps").as_posix() for p in out.rglob("*.npy"))
    assert maps == ["x/s0.png.npy", "y/s0-2.png.npy", "y/s0.png.npy"]
    figures = sorted(p.name for p in (out / "figures").rglob("*.png"))
    assert figures == ["s0-2.png.png", "s0.png.png", "s0.png.png"]


def test_broken_files_are_recorded_not_fatal(scenes, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "good.png").write_bytes((scenes / "s0.png").read_bytes())
    (data / "broken.png").write_text("not a PNG")
    (data / "empty.jpg").write_bytes(b"")
    out = tmp_path / "out"
    argv = [str(data), "--method", "saliency", "--out", str(out)]
    assert explain.main(argv) == 1  # some input failed
    text = capsys.readouterr().out
    assert "3 inputs: 1 explained, 0 already done, 2 failed" in text
    assert "failed: broken.png: not an image" in text
    assert "failed: empty.jpg: empty file (0 bytes)" in text
    _, rows, _ = _results(out)
    assert [r["status"] for r in rows] == ["failed", "failed", "done"]


def test_torchvision_model_with_a_weights_file(resnet_weights, tmp_path, capsys):
    rng = np.random.default_rng(1)
    small = _save(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8), tmp_path / "a.png")
    out = tmp_path / "out"
    common = ["--model", "torchvision:resnet18", "--weights", str(resnet_weights)]
    argv = [str(small), *common, "--target", "tabby", "--out", str(out)]
    assert explain.main([*argv, *FAST[:2], "--n-samples", "1", "--threads", "1"]) == 0
    assert "224x224" in capsys.readouterr().out
    settings, (row,), _ = _results(out)
    assert (row["target"], row["target_name"]) == (281, "tabby")
    assert settings["method"]["infiller"].startswith("BlurInfiller")
    assert len(row["counterfactual_probabilities"]) == 3
    assert np.load(out / row["map"]).shape == (224, 224)
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
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = [
        ([str(tmp_path / "missing.png")], "no such file or folder"),
        ([str(empty)], "holds no image file"),
        ([str(scenes), "--out", str(blocker / "out")], "cannot write there"),
        ([str(scenes), "--out", str(blocker)], "is not a folder"),
        # Never among the inputs: the folder itself, inside it, or around it.
        ([str(scenes), "--out", str(scenes)], "is the input folder"),
        ([str(scenes), "--out", str(scenes / "maps")], "is the input folder"),
        ([str(scenes / "s0.png"), "--out", str(scenes)], "is the input folder"),
        ([str(scenes), "--out", str(scenes.parent)], "is inside --out"),
        ([str(scenes / "s0.png"), "--out", str(scenes.parent)], "is inside --out"),
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
        ([image, "--batch-size", "0"], "must be >= 1"),
        ([image, "--device", "warp"], "--device 'warp'"),
        ([image, "--device", "cuda:7"], "--device cuda:7"),
        ([image, "--model", "keras:vgg"], "expected 'demo' or 'torchvision:NAME'"),
        ([image, "--weights", str(resnet_weights)], "--weights goes with"),
        ([image, "--model", "torchvision:resnet19"], "did you mean resnet18"),
        ([image, "--model", "torchvision:resnet18"], "needs --weights FILE"),
        ([image, *tv, "--infiller", "inpainter"], "goes with --model demo only"),
        ([image, *tv, "--infiller", "sampler"], "goes with --model demo only"),
        ([image, "--n-infills", "0"], "must be >= 1"),
        ([image, "--n-infills", "3"], "--infiller inpainter gives the same fill"),
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
    assert (out / "maps" / "s0.png.npy").is_file()
    (row,) = _results(out)[1]
    assert not any("require gradients" in w for w in row["warnings"])


def test_demo_fido_marginalising_over_sampled_fills(scenes, tmp_path):
    out = tmp_path / "marginal"
    argv = [str(scenes / "s0.png"), *FAST, "--infiller", "sampler", "--n-infills", "2"]
    assert explain.main([*argv, "--out", str(out)]) == 0
    settings, rows, _ = _results(out)
    assert [r["status"] for r in rows] == ["done"]
