"""Every file the package writes is written whole or not at all, through
captum_fido._utils.files (issue 20): figures, weights and JSON summaries keep
the old file when the write fails, new files get the usual permissions, and
a destination that is a link never has its target written."""

from __future__ import annotations

import ast
import json
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from captum_fido._utils import files
from captum_fido._utils.files import atomic_path, save_torch_atomic, write_text_atomic

OLD = b"the previous file\n"
PACKAGE = Path(__file__).resolve().parents[1] / "captum_fido"


def _leftovers(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _old_file(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_bytes(OLD)
    return path


def _crash_on_replace(monkeypatch):
    def crash(src, dst):
        raise OSError("disk gone at the rename")

    monkeypatch.setattr(files.os, "replace", crash)


# -- the places that write --------------------------------------------------

#: Calls that write a file, found anywhere in the package, that are allowed
#: outside _utils/files.py: (module, function) -> why it is safe.
_ALLOWED = {
    ("evaluation/_rows_file.py", "append_rows"): "append-only, checksummed rows",
    ("evaluation/_rows_file.py", "write_rows"): "writes atomic_path's temporary",
    ("evaluation/report.py", "write_results"): "writes atomic_path's temporary",
    ("explain/_figures.py", "write_figure"): "savefig into a BytesIO buffer",
    ("explain/_store.py", "atomic_write"): "writes atomic_path's temporary",
    ("explain/_store.py", "lock"): "an empty lock file, opened to append",
    ("explain/_store.py", "part"): "append-only JSON lines, torn tail skipped",
    ("explain/_store.py", "write_map"): "np.save into atomic_write's file",
}
_WRITE_METHODS = {
    "savefig",
    "write_text",
    "write_bytes",
    "to_csv",
    "imsave",
    "savez",
    "savez_compressed",
    "tofile",
    "dump",
}


def _open_mode(call: ast.Call) -> str:
    for kw in call.keywords:
        if kw.arg == "mode" and isinstance(kw.value, ast.Constant):
            return str(kw.value.value)
    at = 1 if isinstance(call.func, ast.Name) else 0  # open(path, mode) / p.open(mode)
    if len(call.args) > at and isinstance(call.args[at], ast.Constant):
        return str(call.args[at].value)
    return "r"


def _writes(tree: ast.AST):
    r"""(function, call) for each call in ``tree`` that writes a file."""
    found = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node.name
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            module = getattr(getattr(fn, "value", None), "id", "")
            writes = (
                (isinstance(fn, ast.Attribute) and name in _WRITE_METHODS)
                or (name == "save" and module in ("torch", "np", "numpy"))
                or (name == "open" and any(c in _open_mode(node) for c in "wax+"))
            )
            if writes:
                found.append((function, f"{name} (line {node.lineno})"))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "<module>")
    return found


def test_the_scan_finds_direct_writes():
    source = (
        "def f(fig, p):\n"
        "    fig.savefig(p)\n"
        "    torch.save({}, p)\n"
        "    open(p, 'w').write('x')\n"
        "    p.open(mode='a')\n"
        "    json.dump({}, p)\n"
        "    open(p).read()\n"
    )
    names = [what.split()[0] for _, what in _writes(ast.parse(source))]
    assert names == ["savefig", "save", "open", "open", "dump"]


def test_the_package_writes_only_through_the_atomic_helpers():
    direct = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        if module == "_utils/files.py":
            continue
        for function, what in _writes(ast.parse(path.read_text(encoding="utf-8"))):
            if (module, function) not in _ALLOWED:
                direct.append(f"{module}:{function}: {what}")
    assert direct == [], "write through captum_fido._utils.files"


# -- the helpers --------------------------------------------------------------


def test_save_torch_atomic_keeps_the_old_file_when_saving_fails(tmp_path, monkeypatch):
    path = _old_file(tmp_path, "weights.pt")

    def half_save(obj, target):
        Path(target).write_bytes(b"PK half")
        raise RuntimeError("killed while saving")

    monkeypatch.setattr(torch, "save", half_save)
    with pytest.raises(RuntimeError, match="killed"):
        save_torch_atomic({"w": torch.ones(2)}, path)
    assert path.read_bytes() == OLD and _leftovers(tmp_path) == []
    monkeypatch.undo()
    save_torch_atomic({"w": torch.arange(3.0)}, path)
    assert torch.equal(torch.load(path)["w"], torch.arange(3.0))
    assert _leftovers(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_new_files_get_the_umask_and_old_files_keep_their_mode(tmp_path):
    umask = os.umask(0o027)
    try:
        write_text_atomic(tmp_path / "new.txt", "x")
    finally:
        os.umask(umask)
    # What open(path, "w") gives, not tempfile's owner-only 0o600.
    assert stat.S_IMODE(os.stat(tmp_path / "new.txt").st_mode) == 0o640
    old = _old_file(tmp_path, "old.txt")
    os.chmod(old, 0o604)
    write_text_atomic(old, "y")
    assert stat.S_IMODE(os.stat(old).st_mode) == 0o604 and old.read_text() == "y"


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_a_link_is_replaced_and_its_target_never_written(tmp_path):
    users = _old_file(tmp_path, "users_image.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "figure.png").symlink_to(users)
    write_text_atomic(out / "figure.png", "new")
    assert users.read_bytes() == OLD
    assert not (out / "figure.png").is_symlink()
    assert (out / "figure.png").read_text() == "new"


def test_a_failed_block_removes_its_temporary(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "a.bin") as tmp:
            tmp.write_bytes(b"part")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


# -- the writers that use them ----------------------------------------------


def _uncertainty() -> SimpleNamespace:
    maps = torch.rand(1, 1, 8, 8)
    return SimpleNamespace(
        mean=maps, seed_std=maps / 4, sample_std=maps / 5, seeds=[0, 1]
    )


def test_a_plot_that_fails_mid_save_leaves_the_old_figure(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from captum_fido.attr import plot_uncertainty

    path = _old_file(tmp_path, "u.png")
    real = Figure.savefig

    def crash_mid_save(self, target, **kwargs):
        Path(target).write_bytes(b"\x89PNG half")
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(Figure, "savefig", crash_mid_save)
    image = torch.rand(1, 3, 8, 8)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        plot_uncertainty(image, _uncertainty(), path=path)
    assert path.read_bytes() == OLD and _leftovers(tmp_path) == []
    monkeypatch.setattr(Figure, "savefig", real)
    fig = plot_uncertainty(image, _uncertainty(), path=path)
    plt.close(fig)
    assert path.read_bytes().startswith(b"\x89PNG") and _leftovers(tmp_path) == []


def test_digit_weights_and_summary_survive_a_crash_at_the_rename(tmp_path, monkeypatch):
    from captum_fido.demo.digits.train import _save, write_summary

    model = torch.nn.Linear(2, 1)
    weights = _old_file(tmp_path, "classifier.pt")
    summary = _old_file(tmp_path, "classifier.json")
    _crash_on_replace(monkeypatch)
    with pytest.raises(OSError, match="disk gone"):
        _save(model, {"test_accuracy": 0.5}, weights)
    with pytest.raises(OSError, match="disk gone"):
        write_summary({"test_accuracy": 0.5}, model.state_dict(), summary)
    assert weights.read_bytes() == OLD and summary.read_bytes() == OLD
    assert _leftovers(tmp_path) == []
    monkeypatch.undo()
    _save(model, {"test_accuracy": 0.5}, weights)
    assert torch.load(weights)["info"] == {"test_accuracy": 0.5}
    # The summary keeps its format: sorted, indented by 2, a final newline.
    expected = {"n_parameters": 3.0, "test_accuracy": 0.5}
    assert summary.read_text() == json.dumps(expected, indent=2, sort_keys=True) + "\n"
