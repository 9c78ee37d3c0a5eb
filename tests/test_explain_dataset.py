"""explain_dataset: folders, data sets, any method; resumable and safe.

A tiny CNN on 16 px images and two FIDO steps keep each run well under a
second: these check the bookkeeping (ids, files, index, resume, failures),
with maps compared against direct ``attribute`` calls as known answers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from captum.attr import LayerGradCam, Saliency
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from captum_fido import FIDO, explain_dataset
from captum_fido.explain import SettingsMismatch, find_images, read_image
from captum_fido.infillers import BlurInfiller

STEPS = {"n_steps": 2}
#: Batched and single-image calls differ by float rounding only (kernels
#: may sum in another order for another batch size); docs/explain_dataset.md.
ATOL = 1e-5


def assert_same_map(a, b) -> None:
    np.testing.assert_allclose(a, b, rtol=0, atol=ATOL)


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16, 3),
    ).eval()


@pytest.fixture
def fido() -> FIDO:
    return FIDO(tiny_model(), BlurInfiller(sigma=2.0))


def _image(path: Path, seed: int, size=(16, 16)) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def tree(tmp_path) -> Path:
    r"""Colliding names: cat.png in two folders, cat-2.png and cat.jpg next
    to cat.png, and a text file the scan must ignore."""
    root = tmp_path / "data"
    for i, name in enumerate(["a/cat.png", "b/cat.png", "a/cat-2.png", "a/cat.jpg"]):
        _image(root / name, i)
    (root / "a" / "notes.txt").write_text("not an input")
    return root


def _direct_map(fido: FIDO, path: Path) -> np.ndarray:
    r"""The map of one image from one ``attribute`` call (the known answer)."""
    x = read_image(path).image[None]
    with torch.no_grad():
        target = int(fido.forward_func(x).argmax())
    attr = fido.attribute(x, target=target, seed=0, **STEPS)
    return attr[0, 0].numpy()


def _rows(out: Path) -> list:
    return [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]


def test_colliding_names_get_their_own_maps(fido, tree, tmp_path):
    out = tmp_path / "out"
    summary = explain_dataset(fido, tree, out, attribute_kwargs=STEPS, batch_size=3)
    ids = ["a/cat-2.png", "a/cat.jpg", "a/cat.png", "b/cat.png"]
    assert (summary.total, summary.done, summary.failed) == (4, 4, 0)
    assert [r["id"] for r in summary.rows] == ids == [r["id"] for r in _rows(out)]
    for row in summary.rows:
        assert row["map"] == f"maps/{row['id']}.npy"
        saved = np.load(out / row["map"])
        # Each input's map is its own single-image map, whatever its batch.
        assert_same_map(saved, _direct_map(fido, tree / row["id"]))
        assert row["map_status"] == "ok" and row["batch_size"] in (1, 3)
        assert len(row["counterfactual_probabilities"]) == 3
        assert 0 < row["probability"] < 1 and row["target"] == row["predicted"]
    assert (out / "index.csv").read_text().count("\n") == 5
    assert json.loads((out / "summary.json").read_text())["done"] == 4
    assert not list(tree.rglob("*.npy"))  # nothing written among the inputs


def test_maps_do_not_depend_on_the_batch(fido, tree, tmp_path):
    maps = []
    for size in (1, 2, 4):
        out = tmp_path / f"out{size}"
        explain_dataset(
            fido,
            tree,
            out,
            attribute_kwargs=STEPS,
            batch_size=size,
            show_progress=False,
        )
        maps.append([np.load(p) for p in sorted(out.rglob("*.npy"))])
    for other in maps[1:]:
        for a, b in zip(maps[0], other):
            assert_same_map(a, b)


def test_broken_files_are_recorded_and_skipped(fido, tree, tmp_path):
    good = (tree / "a" / "cat.png").read_bytes()
    (tree / "b" / "truncated.png").write_bytes(good[: len(good) // 2])
    (tree / "b" / "text.png").write_text("hello")
    (tree / "b" / "empty.png").write_bytes(b"")
    out = tmp_path / "out"
    summary = explain_dataset(fido, tree, out, attribute_kwargs=STEPS)
    assert (summary.done, summary.failed) == (4, 3)
    reasons = {r["id"]: r["reason"] for r in summary.failures}
    assert reasons["b/empty.png"] == "empty file (0 bytes)"
    assert reasons["b/text.png"].startswith("not an image")
    assert "truncated" in reasons["b/truncated.png"]
    assert all(r["stage"] == "decode" for r in summary.failures)
    # A re-run keeps the failures (not retried) and redoes nothing.
    again = explain_dataset(fido, tree, out, attribute_kwargs=STEPS)
    assert (again.done, again.skipped, again.failed) == (0, 4, 3)
    # Fixed files are explained with retry_failed.
    (tree / "b" / "text.png").write_bytes(good)
    retried = explain_dataset(
        fido, tree, out, attribute_kwargs=STEPS, retry_failed=True
    )
    assert (retried.done, retried.skipped, retried.failed) == (1, 4, 2)
    assert len(_rows(out)) == 7


def test_output_folder_among_the_inputs_is_refused(fido, tree, tmp_path):
    for out, message in [
        (tree, "is the input folder"),
        (tree / "a" / "out", "is the input folder"),
        (tmp_path, "is inside out"),
    ]:
        with pytest.raises(ValueError, match=message):
            explain_dataset(fido, tree, out, attribute_kwargs=STEPS)
    # A file given: its folder is an input folder too; a folder below it
    # holds no input and is never scanned, so it may take the outputs.
    with pytest.raises(ValueError, match="is the input folder"):
        explain_dataset(fido, tree / "a" / "cat.png", tree / "a")
    assert not (tree / "a" / "out").exists()
    beside = explain_dataset(
        fido, tree / "a" / "cat.png", tree / "a" / "maps", attribute_kwargs=STEPS
    )
    assert beside.done == 1 and beside.rows[0]["id"] == "cat.png"
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="not empty"):
        explain_dataset(fido, tree, foreign, attribute_kwargs=STEPS)
    assert sorted(p.name for p in foreign.iterdir()) == [".lock", "thesis.tex"]


def test_resume_skips_done_inputs_and_refuses_other_settings(fido, tree, tmp_path):
    out = tmp_path / "out"
    explain_dataset(fido, tree, out, attribute_kwargs=STEPS)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.npy")}
    _image(tree / "c" / "new.png", 9)
    summary = explain_dataset(fido, tree, out, attribute_kwargs=STEPS)
    assert (summary.done, summary.skipped) == (1, 4)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # not rewritten
    with pytest.raises(SettingsMismatch, match="n_steps: 2 there, 3 now"):
        explain_dataset(fido, tree, out, attribute_kwargs={"n_steps": 3})
    with pytest.raises(SettingsMismatch, match="seed: 0 there, 1 now"):
        explain_dataset(fido, tree, out, attribute_kwargs=STEPS, seed=1)
    other = FIDO(tiny_model(), BlurInfiller(sigma=3.0))
    with pytest.raises(SettingsMismatch, match="sigma=3.0"):
        explain_dataset(other, tree, out, attribute_kwargs=STEPS)
    trained = tiny_model()
    with torch.no_grad():
        trained[0].bias += 1
    with pytest.raises(SettingsMismatch, match="model.sha256"):
        explain_dataset(
            FIDO(trained, BlurInfiller(sigma=2.0)),
            tree,
            out,
            **{"attribute_kwargs": STEPS},
        )


def test_a_crash_in_any_state_is_recovered(fido, tree, tmp_path):
    r"""The state a kill can leave: a half-written last row, a map without
    its row, a row whose map is gone, a temporary file. The re-run redoes
    exactly those inputs and the result equals an uninterrupted run."""
    reference = tmp_path / "reference"
    explain_dataset(fido, tree, reference, attribute_kwargs=STEPS)
    out = tmp_path / "out"
    explain_dataset(fido, tree, out, attribute_kwargs=STEPS)
    rows = _rows(out)
    kept, half, no_row, no_map = rows[0], rows[1], rows[2], rows[3]
    (out / "index.jsonl").write_text(
        json.dumps(kept) + "\n" + json.dumps(no_map) + "\n"
    )
    (out / ".parts").mkdir(exist_ok=True)
    line = json.dumps(half)
    (out / ".parts" / "index-0.jsonl").write_text(line[: len(line) // 2])
    (out / no_map["map"]).unlink()
    stale = out / "maps" / "a" / ".cat.png.npy.x1y2.tmp"
    stale.write_bytes(b"partial")
    summary = explain_dataset(fido, tree, out, attribute_kwargs=STEPS)
    assert (summary.done, summary.skipped) == (3, 1)
    assert sorted(r["id"] for r in _rows(out)) == sorted(r["id"] for r in rows)
    assert not stale.exists() and not list((out / ".parts").iterdir())
    assert no_row["id"] in [r["id"] for r in summary.rows]
    for row in _rows(reference):
        assert_same_map(np.load(out / row["map"]), np.load(reference / row["map"]))


def test_one_failing_input_fails_alone(tree, tmp_path):
    class Picky(nn.Module):
        r"""Fails on bright images, like a model with an input check."""

        def __init__(self) -> None:
            super().__init__()
            self.net = tiny_model()

        def forward(self, x):
            if bool((x.flatten(1).mean(1) > 0.9).any()):
                raise ValueError("too bright for this model")
            return self.net(x)

    Image.fromarray(np.full((16, 16, 3), 255, np.uint8)).save(tree / "b" / "white.png")
    picky = FIDO(Picky(), BlurInfiller(sigma=2.0))
    out = tmp_path / "out"
    summary = explain_dataset(picky, tree, out, attribute_kwargs=STEPS, batch_size=8)
    assert (summary.done, summary.failed) == (4, 1)
    (failure,) = summary.failures
    assert failure["id"] == "b/white.png" and failure["stage"] == "method"
    assert failure["reason"] == "ValueError: too bright for this model"
    plain = FIDO(tiny_model(), BlurInfiller(sigma=2.0))
    for row in summary.rows[:4]:
        assert_same_map(np.load(out / row["map"]), _direct_map(plain, tree / row["id"]))


def test_a_method_failing_everywhere_stops_the_run(fido, tree, tmp_path):
    out = tmp_path / "out"
    # tau is BBMP's option: FIDO refuses it on every call.
    for batch_size in (8, 1):
        with pytest.raises(RuntimeError, match="inputs all failed the same way"):
            explain_dataset(
                fido,
                tree,
                out,
                attribute_kwargs={**STEPS, "tau": 0.3},
                batch_size=batch_size,
            )
    assert len(_rows(out)) <= 1  # at most the first single-input failure
    # The folder holds no map: fixed settings start over in it.
    summary = explain_dataset(fido, tree, out, attribute_kwargs=STEPS)
    assert (summary.done, summary.failed) == (4, 0) and len(_rows(out)) == 4


def test_data_sets_and_loaders(fido, tmp_path):
    torch.manual_seed(1)
    images, labels = torch.rand(5, 3, 16, 16), torch.tensor([0, 1, 2, 1, 0])
    data = TensorDataset(images, labels)
    a = explain_dataset(
        fido, data, tmp_path / "a", target="label", **{"attribute_kwargs": STEPS}
    )
    assert [r["id"] for r in a.rows] == [f"{i:06d}" for i in range(5)]
    assert (
        [r["target"] for r in a.rows] == [r["label"] for r in a.rows] == [0, 1, 2, 1, 0]
    )
    expected = fido.attribute(images, target=labels, seed=0, **STEPS)[:, 0]
    for i, row in enumerate(a.rows):
        assert_same_map(np.load(tmp_path / "a" / row["map"]), expected[i])
    loader = DataLoader(data, batch_size=2)
    b = explain_dataset(
        fido, loader, tmp_path / "b", target="label", **{"attribute_kwargs": STEPS}
    )
    for ra, rb in zip(a.rows, b.rows):
        assert_same_map(
            np.load(tmp_path / "a" / ra["map"]), np.load(tmp_path / "b" / rb["map"])
        )
    with pytest.raises(ValueError, match="shuffles"):
        explain_dataset(fido, DataLoader(data, shuffle=True), tmp_path / "c")
    by_id = explain_dataset(
        fido,
        TensorDataset(images),
        tmp_path / "d",
        attribute_kwargs=STEPS,
        target={"000000": 2, "000001": 0},
    )
    assert [r.get("target") for r in by_id.rows[:2]] == [2, 0]
    assert by_id.rows[2]["reason"] == "no target for this input in the target mapping"


def test_captum_methods_and_functions(tree, tmp_path):
    model = tiny_model()
    summary = explain_dataset(Saliency(model), tree, tmp_path / "sal")
    row = summary.rows[0]
    x = read_image(tree / row["id"]).image[None].requires_grad_(True)
    grad = Saliency(model).attribute(x, target=row["target"]).abs().mean(1)[0]
    saved = np.load(tmp_path / "sal" / row["map"])
    np.testing.assert_allclose(saved, (grad / grad.max()).numpy(), rtol=1e-5)
    assert row["counterfactual_probabilities"] is None
    cam = explain_dataset(LayerGradCam(model, model[0]), tree, tmp_path / "cam")
    assert np.load(tmp_path / "cam" / cam.rows[0]["map"]).shape == (16, 16)

    def corner(x, target):
        maps = torch.zeros(x.shape[0], *x.shape[2:])
        maps[:, :4, :4] = 1.0
        return maps

    def nothing(x, target):
        return torch.zeros(x.shape[0], *x.shape[2:])

    def everything(x, target):
        return torch.ones(x.shape[0], *x.shape[2:])

    for fn, status in [(corner, "ok"), (nothing, "empty"), (everything, "flooded")]:
        result = explain_dataset(fn, tree, tmp_path / fn.__name__, model=model)
        assert [r["map_status"] for r in result.rows] == [status] * 4
        assert result.map_status == {status: 4}

    def unscaled(x, target):
        return torch.full((x.shape[0], *x.shape[2:]), 3.0)

    with pytest.raises(RuntimeError, match=r"outside \[0, 1\]"):
        explain_dataset(unscaled, tree, tmp_path / "unscaled", model=model)


def test_bad_arguments_fail_before_work(fido, tree, tmp_path):
    out = tmp_path / "out"
    cases = [
        (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1"),
        (dict(seed=-1), ValueError, "seed must be"),
        (dict(target="cat"), ValueError, "target must be 'predicted'"),
        (dict(target="label"), ValueError, "needs a data set with labels"),
        (dict(attribute_kwargs={"seed": 3}), ValueError, "must not set seed"),
        (dict(attribute_kwargs={"n_stepz": 3}), TypeError, "n_stepz not an argument"),
        (dict(attribute_kwargs={"n_steps": 0}), ValueError, "n_steps must be >= 1"),
        (dict(transform="resize"), TypeError, "transform must be callable"),
        (dict(output_type="scores"), ValueError, "output_type must be one of"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            explain_dataset(fido, tree, out, **kwargs)
    with pytest.raises(TypeError, match="got the class FIDO"):
        explain_dataset(FIDO, tree, out)
    with pytest.raises(TypeError, match="data must be"):
        explain_dataset(fido, 42, out)
    with pytest.raises(ValueError, match="no such file or folder"):
        explain_dataset(fido, tmp_path / "missing", out)
    with pytest.raises(ValueError, match="needs the classifier"):
        explain_dataset(lambda x, t: x[:, 0], tree, out)
    assert not out.exists()


def test_find_images_ids_are_relative_to_the_common_root(tree):
    images = find_images([tree / "a", tree / "b" / "cat.png", tree / "a" / "cat.png"])
    assert images.root == tree
    assert images.ids == ("a/cat-2.png", "a/cat.jpg", "a/cat.png", "b/cat.png")
    (tree / ".hidden").mkdir()
    _image(tree / ".hidden" / "x.png", 0)
    assert "x.png" not in " ".join(find_images(tree).ids)


def test_progress_bars_move_during_a_batch(fido, tree, tmp_path, capsys):
    explain_dataset(fido, tree, tmp_path / "out", attribute_kwargs=STEPS)
    err = capsys.readouterr().err
    assert "image/s" in err or "s/image" in err  # the bar over the inputs
    assert "FIDO-SSR" in err and "it/s" in err  # the nested bar over the steps


def test_transform_and_device(fido, tree, tmp_path):
    from torchvision.transforms import v2 as T

    resize = T.Resize(8, antialias=True)
    summary = explain_dataset(
        fido,
        tree,
        tmp_path / "out",
        attribute_kwargs=STEPS,
        transform=resize,
        device="cpu",
    )
    assert summary.rows[0]["input_shape"] == [3, 8, 8]
    assert np.load(tmp_path / "out" / summary.rows[0]["map"]).shape == (8, 8)
    assert os.path.isfile(tmp_path / "out" / "settings.json")
