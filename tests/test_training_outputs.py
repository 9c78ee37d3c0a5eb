"""The training commands never write into the installed package: they write
under ``outputs/`` by default, and an output inside the package is refused
before any work."""

from __future__ import annotations

import json

import pytest

from captum_fido.cli import main as cli_main
from captum_fido.cli import train_classifier, train_digits, train_inpainters
from captum_fido.cli.train_explainer import main
from captum_fido.demo._training import WEIGHTS_DIR
from captum_fido.demo.digits import WEIGHTS_DIR as DIGITS_DIR

TINY = ["--tiny", "--no-progress", "--threads", "1"]


def test_default_out_is_an_outputs_file(tmp_path, monkeypatch):
    shipped = WEIGHTS_DIR / "explainer_scenes.pt"
    before = shipped.read_bytes()
    monkeypatch.chdir(tmp_path)
    assert main(TINY) == 0
    assert (tmp_path / "outputs" / "explainer_scenes.pt").is_file()
    assert (tmp_path / "outputs" / "explainer_scenes.json").is_file()
    assert shipped.read_bytes() == before


@pytest.mark.parametrize(
    "out", [WEIGHTS_DIR / "explainer_scenes.pt", WEIGHTS_DIR / "new.pt"]
)
def test_out_inside_the_package_is_refused_before_work(out, capsys):
    existed = out.is_file()
    before = out.read_bytes() if existed else None
    with pytest.raises(SystemExit) as stop:
        main([*TINY, "--out", str(out)])
    assert stop.value.code == 2
    assert "inside the installed package" in capsys.readouterr().err
    assert out.is_file() == existed
    if existed:
        assert out.read_bytes() == before


def _shipped():
    files = [*WEIGHTS_DIR.iterdir(), *DIGITS_DIR.iterdir()]
    return {p: p.stat().st_mtime_ns for p in files}


@pytest.mark.parametrize(
    "argv,written",
    [
        (["train-classifier", *TINY], ["classifier.pt"]),
        (
            ["train-classifier", *TINY, "--variant", "context"],
            ["classifier_context.pt"],
        ),
        (["train-inpainters", *TINY], ["inpainter.pt", "vae.pt"]),
        (["train-inpainters", *TINY, "--model", "sampler"], ["sampler.pt"]),
        (["train-digits", "--tiny", "--no-progress"], ["digits/digit_vae.pt"]),
    ],
)
def test_training_commands_write_under_outputs(argv, written, tmp_path, monkeypatch):
    before = _shipped()
    monkeypatch.chdir(tmp_path)
    assert (
        cli_main([*argv, "--no-progress"] if "--no-progress" not in argv else argv) == 0
    )
    for name in written:
        path = tmp_path / "outputs" / name
        assert path.is_file(), path
        assert json.loads(path.with_suffix(".json").read_text())
    assert _shipped() == before


@pytest.mark.parametrize(
    "module,function,argv",
    [
        (train_classifier, "train_classifier", ["--out", str(WEIGHTS_DIR / "c.pt")]),
        (train_classifier, "train_classifier", ["--out", str(WEIGHTS_DIR)]),
        (train_inpainters, "train_inpainter", ["--out-dir", str(WEIGHTS_DIR)]),
        (train_inpainters, "train_vae", ["--out-dir", str(WEIGHTS_DIR / "new")]),
        (train_digits, "train_digit_models", ["--out", str(DIGITS_DIR)]),
    ],
)
def test_training_commands_refuse_the_package(
    module, function, argv, monkeypatch, capsys
):
    def fail(*args, **kwargs):
        raise AssertionError("the command started working")

    monkeypatch.setattr(module, function, fail)
    before = _shipped()
    with pytest.raises(SystemExit) as stop:
        module.main([*argv, "--tiny"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "inside the installed package" in err and "load" in err
    assert _shipped() == before


@pytest.mark.parametrize(
    "command", ["train-classifier", "train-inpainters", "train-digits"]
)
def test_training_help_says_how_to_use_the_file(command, capsys):
    with pytest.raises(SystemExit):
        cli_main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "outputs" in text and "never inside the installed package" in text
    assert "load" in text
