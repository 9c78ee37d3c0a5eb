"""The command line's first contact: program name, --version, help text with
defaults, bad values refused in one line before any work, real paths in the
`wrote` messages, and Captum's bookkeeping warnings kept out of the output."""

from __future__ import annotations

import configparser
import re
import runpy
import sys
import warnings
from pathlib import Path

import pytest

from captum_fido import __version__, cli
from captum_fido.cli import COMMANDS
from captum_fido.cli import counterfactual as counterfactual_command
from captum_fido.cli import demo as demo_command
from captum_fido.cli import main as cli_main
from captum_fido.cli import train_classifier as train_classifier_command
from captum_fido.cli import train_inpainters as train_inpainters_command
from captum_fido.cli._common import figure_path, make_parser, quiet_captum_warnings
from captum_fido.demo.domains import Domain

ROOT = Path(__file__).resolve().parents[1]


def _exit(argv, capsys, prog=None):
    with pytest.raises(SystemExit) as info:
        cli_main(argv) if prog is None else cli_main(argv, prog=prog)
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_version(capsys):
    code, out, _ = _exit(["--version"], capsys)
    assert (code, out.strip()) == (0, f"captum-fido {__version__}")


def test_console_script_points_at_main_and_names_itself(capsys):
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    scripts = cfg["options.entry_points"]["console_scripts"]
    assert "captum-fido = captum_fido.cli:main" in scripts
    code, out, _ = _exit(["demo", "--help"], capsys)
    assert code == 0 and out.startswith("usage: captum-fido demo")
    code, out, _ = _exit(["explain", "--help"], capsys, prog="python -m captum_fido")
    assert code == 0 and out.startswith("usage: python -m captum_fido explain")


def test_python_dash_m_names_itself(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["__main__.py", "compare", "--n-images", "0"])
    with pytest.raises(SystemExit) as info:
        runpy.run_module("captum_fido", run_name="__main__")
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.startswith("usage: python -m captum_fido compare")
    assert "error: argument --n-images: must be >= 1, got 0" in err


def test_no_command_prints_the_commands(capsys):
    assert cli_main([]) == 2
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name} " in out


def _option_entries(help_text: str):
    r"""``--option ... help text`` blocks of an argparse help page."""
    options = help_text.split("options:", 1)[1]
    return re.split(r"\n(?=  -)", options.strip("\n"))


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_option_has_help_and_its_default(command, capsys):
    code, out, _ = _exit([command, "--help"], capsys)
    assert code == 0
    entries = _option_entries(out)
    assert len(entries) >= 3
    for entry in entries:
        if entry.lstrip().startswith("-h, --help"):
            continue
        assert "(default:" in entry, entry
        head, _, text = entry.partition("  ")
        assert re.search(r"[a-z]{3}", entry.split("\n", 1)[-1] + text), entry


BAD_VALUES = [
    (["demo", "--l1-coeff", "-1"], "argument --l1-coeff: must be a finite number >= 0"),
    (["demo", "--n-images", "0"], "argument --n-images: must be >= 1, got 0"),
    (["demo", "--steps", "x"], "argument --steps: expected an integer, got 'x'"),
    (["demo", "--offset", "99999999"], "runs past the 100000 test scenes"),
    (["demo", "--out", "figure.xyz"], "unsupported suffix '.xyz'"),
    (["compare", "--chunk-size", "0"], "argument --chunk-size: must be >= 1, got 0"),
    (["compare", "--n-val", "-1"], "argument --n-val: must be >= 0, got -1"),
    (["compare", "--domain", "moon"], "invalid choice: 'moon'"),
    (["compare", "--n-images", "99999999"], "test and 100000 validation images"),
    (["counterfactual", "--n-steps", "0"], "argument --n-steps: must be >= 1"),
    (["counterfactual", "--out", "paths.docx"], "unsupported suffix '.docx'"),
    (["explain", "x.png", "--steps", "-3"], "argument --steps: must be >= 1"),
]


@pytest.fixture
def no_work(monkeypatch):
    r"""Every command's expensive step fails the test if it is reached."""

    def fail(*args, **kwargs):
        raise AssertionError("the command started working")

    monkeypatch.setattr(demo_command, "explain_scenes", fail)
    monkeypatch.setattr(Domain, "infillers", fail)
    monkeypatch.setattr(counterfactual_command, "_run", fail)


@pytest.mark.parametrize("argv,message", BAD_VALUES)
def test_bad_values_are_one_line_errors_before_work(argv, message, no_work, capsys):
    code, out, err = _exit(argv, capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert lines[-1].startswith(f"captum-fido {argv[0]}: error: "), err
    assert message in lines[-1], err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "command", [train_classifier_command, train_inpainters_command]
)
def test_training_commands_refuse_a_zero_batch_size(command, capsys):
    with pytest.raises(SystemExit) as info:
        command.main(["--batch-size", "0"])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert "argument --batch-size: must be >= 1, got 0" in err


def test_unwritable_out_is_refused_before_work(tmp_path, no_work, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for argv in (
        ["demo", "--out", str(blocker / "demo.png")],
        ["counterfactual", "--out", str(blocker / "cf.png")],
        ["compare", "--out", str(blocker / "cmp")],
        ["compare", "--out", str(blocker)],
    ):
        code, _, err = _exit(argv, capsys)
        assert code == 2 and "error: argument" not in err
        assert "--out" in err.splitlines()[-1] and "Traceback" not in err
    assert list(tmp_path.iterdir()) == [blocker]


def test_figure_path_adds_the_suffix_it_writes(tmp_path):
    parser = make_parser("demo", "test")
    assert figure_path(parser, "--out", tmp_path / "noext") == tmp_path / "noext.png"
    assert figure_path(parser, "--out", tmp_path / "a.PDF") == tmp_path / "a.PDF"
    assert not (tmp_path / "noext.png").exists()


def test_demo_says_the_file_it_wrote(tmp_path, capsys):
    out = tmp_path / "sub" / "noext"
    argv = ["demo", "--n-images", "1", "--steps", "1", "--n-samples", "1"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cli_main([*argv, "--out", str(out)]) == 0
    written = out.with_name("noext.png")
    assert f"wrote {written}\n" in capsys.readouterr().out
    assert written.is_file()
    noise = [str(w.message) for w in caught if "captum" in w.filename]
    assert not [m for m in noise if "require gradients" in m or "backward hooks" in m]


def test_only_the_known_captum_warnings_are_hidden():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_captum_warnings():
            warnings.warn("something the user should see", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["something the user should see"]
    # outside the CLI nothing is filtered
    assert not any("require gradients" in str(f[1]) for f in warnings.filters if f[1])


def test_a_missing_demo_dependency_says_how_to_install_it(monkeypatch, capsys):
    def missing(name):
        raise ModuleNotFoundError("No module named 'skimage'", name="skimage")

    monkeypatch.setattr(cli, "command_main", missing)
    code, _, err = _exit(["demo"], capsys)
    assert code == 2 and "Traceback" not in err
    assert "needs scikit-image (module 'skimage')" in err
    assert "pip install 'captum-fido[demo]'" in err
