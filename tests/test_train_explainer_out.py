"""``train-explainer`` never writes into the installed package."""

from __future__ import annotations

import pytest

from captum_fido.cli.train_explainer import main
from captum_fido.demo._training import WEIGHTS_DIR

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
