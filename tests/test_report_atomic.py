"""Every file the comparison's report writes (results.csv, table.md,
verdict.md, maps.png) is written whole or not at all: a failure mid-write
leaves the previous file as it was and no temporary file behind (issue 20)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from captum_fido._utils import files
from captum_fido._utils.files import save_figure_atomic
from captum_fido.evaluation.report import MethodSummary, write_results, write_table
from captum_fido.evaluation.verdict import compare_verdict, write_verdict

OLD = b"the previous file\n"


def _summary(method: str, mean: object = 0.25) -> MethodSummary:
    keys = (
        "wsl_error",
        "saliency_metric",
        "pointing",
        "outside_mass",
        "seconds",
        "passes",
    )
    return MethodSummary(
        method, "captum", 4, "alpha=1", {k: (mean, 0.1, 0.4, 4) for k in keys}
    )


def _leftovers(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _old_file(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_bytes(OLD)
    return path


class _Unformattable:
    r"""A value whose formatting fails: the writer stops part-way through."""

    def __format__(self, spec: str) -> str:
        raise RuntimeError("cannot format")


def test_an_error_part_way_leaves_the_old_file(tmp_path):
    path = _old_file(tmp_path, "results.csv")
    # The first method's row is made, the second's fails.
    summaries = [_summary("A"), _summary("B", _Unformattable())]
    with pytest.raises(RuntimeError, match="cannot format"):
        write_results(summaries, path)
    assert path.read_bytes() == OLD and _leftovers(tmp_path) == []


def _crash_on_replace(monkeypatch):
    def crash(src, dst):
        raise OSError("disk gone at the rename")

    monkeypatch.setattr(files.os, "replace", crash)


@pytest.mark.parametrize("writer", [write_results, write_table])
def test_a_crash_before_the_rename_leaves_the_old_file(tmp_path, monkeypatch, writer):
    path = _old_file(tmp_path, "out")
    _crash_on_replace(monkeypatch)
    with pytest.raises(OSError, match="disk gone"):
        writer([_summary("A"), _summary("B")], path)
    assert path.read_bytes() == OLD and _leftovers(tmp_path) == []


def test_written_files_are_complete_and_replace_the_old(tmp_path):
    results = _old_file(tmp_path, "results.csv")
    table = _old_file(tmp_path, "table.md")
    write_results([_summary("A"), _summary("B", math.nan)], results)
    write_table([_summary("A"), _summary("B", math.nan)], table, "title")
    lines = results.read_bytes().split(b"\r\n")
    assert lines[0].startswith(b"method,family,n_images,n_failed,wsl_threshold,")
    assert lines[1].startswith(b"A,captum,4,0,alpha=1,") and lines[-1] == b""
    assert len(lines) == 4
    text = table.read_text()
    assert text.startswith("# title") and "| B | – |" in text
    assert _leftovers(tmp_path) == []


def test_verdict_is_written_atomically(tmp_path, monkeypatch):
    rows = [
        {"image_id": str(i), "split": "test", "method": "M", "family": "captum"}
        | {"pointing_hit": str(i % 2), "map_status": "ok"}
        for i in range(3)
    ]
    path = _old_file(tmp_path, "verdict.md")
    _crash_on_replace(monkeypatch)
    with pytest.raises(OSError):
        write_verdict(compare_verdict(rows), path)
    assert path.read_bytes() == OLD and _leftovers(tmp_path) == []


class _Figure:
    r"""Stands for a matplotlib figure whose saving fails after some bytes."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.kwargs: dict = {}

    def savefig(self, target, **kwargs):
        self.kwargs = kwargs
        with open(target, "wb") as fh:
            fh.write(b"\x89PNG half")
            if self.fail:
                raise RuntimeError("renderer crashed")
            fh.write(b" and the rest")


def test_a_figure_that_fails_mid_save_leaves_the_old_one(tmp_path):
    path = _old_file(tmp_path, "maps.png")
    with pytest.raises(RuntimeError, match="renderer crashed"):
        save_figure_atomic(_Figure(fail=True), path, dpi=50)
    assert path.read_bytes() == OLD and _leftovers(tmp_path) == []
    fig = _Figure(fail=False)
    save_figure_atomic(fig, path, dpi=50)
    assert path.read_bytes() == b"\x89PNG half and the rest"
    # The format comes from the destination, not the temporary file's name.
    assert fig.kwargs == {"dpi": 50, "format": "png"}
    save_figure_atomic(fig, tmp_path / "maps.PDF")
    assert fig.kwargs["format"] == "pdf"


def test_plot_map_grid_writes_through_the_helper(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import torch

    from captum_fido.evaluation import figure
    from captum_fido.evaluation.harness import preview_path

    for i in (0, 1):
        path = preview_path(tmp_path / "preview", "M", i)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(torch.rand(16, 16), path)
    saved = []
    real = figure.save_figure_atomic
    monkeypatch.setattr(
        figure,
        "save_figure_atomic",
        lambda fig, out, **kw: saved.append(out) or real(fig, out, **kw),
    )
    images = torch.rand(2, 3, 16, 16)
    boxes = torch.tensor([[2.0, 2.0, 8.0, 8.0]]).repeat(2, 1)
    out = figure.plot_map_grid(
        images, boxes, [0, 1], ["M"], tmp_path / "preview", tmp_path / "maps.png"
    )
    assert saved == [out] and out.read_bytes().startswith(b"\x89PNG")
    assert _leftovers(tmp_path) == [] and os.path.getsize(out) > 100
