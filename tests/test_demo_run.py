"""``python -m captum_fido demo`` writes its figure (tiny settings)."""

import pytest
import torch

from captum_fido.cli import demo as demo_command
from captum_fido.cli import main as cli_main
from captum_fido.demo.showcase import box_mass

pytestmark = pytest.mark.usefixtures("one_thread")


def test_run_demo_writes_a_png(tmp_path, capsys):
    out = tmp_path / "demo.png"
    rc = demo_command.main(
        ["--out", str(out), "--n-images", "1", "--steps", "2", "--n-samples", "2"]
    )
    assert rc == 0
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = capsys.readouterr().out
    assert f"wrote {out}" in text and "GradCAM" in text


def test_cli_dispatches_to_the_demo(tmp_path):
    out = tmp_path / "cli.png"
    assert (
        cli_main(
            [
                "demo",
                "--out",
                str(out),
                "--n-images",
                "1",
                "--steps",
                "1",
                "--n-samples",
                "2",
            ]
        )
        == 0
    )
    assert out.is_file()


def test_box_mass():
    m = torch.zeros(1, 8, 8)
    m[0, 2:4, 2:4] = 1
    assert box_mass(m, torch.tensor([[2, 2, 4, 4]])).item() == 1.0
    assert box_mass(m, torch.tensor([[4, 4, 8, 8]])).item() == 0.0
