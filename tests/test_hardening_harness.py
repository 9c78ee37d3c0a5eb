"""The comparison harness never loses or silently corrupts its per-image rows,
and neither resuming nor sharding changes a number (issue 20)."""

from __future__ import annotations

import csv
import json
import random
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from captum_fido.cli import compare
from captum_fido.evaluation import ComparisonSettings, EvalData, run_comparison
from captum_fido.evaluation.distributed import Shard
from captum_fido.evaluation.harness import (
    CHECK_COLUMN,
    append_rows,
    read_rows,
    row_check,
    write_rows,
)
from captum_fido.evaluation.methods import MethodSpec
from captum_fido.evaluation.report import paired_difference, summarise
from captum_fido.infillers import MeanInfiller

# ---------------------------------------------------------------- CSV I/O


def _rows(n: int, method: str = "Saliency", **extra: object) -> list:
    return [
        {
            "image_id": i,
            "split": "test" if i % 2 else "val",
            "method": method,
            "family": "captum",
            "label": i % 3,
            "pointing_hit": i % 2,
            "outside_mass": f"{0.125 * i:.6g}",
            **extra,
        }
        for i in range(n)
    ]


def _as_strings(rows: list) -> list:
    return [{k: str(v) for k, v in r.items()} for r in rows]


def _strip(rows: list) -> list:
    return [{k: v for k, v in r.items() if k != CHECK_COLUMN} for r in rows]


def _quiet_read(path: Path) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return read_rows(path)


def test_rows_round_trip_with_their_checksum(tmp_path):
    path = tmp_path / "per_image.csv"
    append_rows(path, _rows(3))
    append_rows(path, _rows(2, method="FIDO"))
    rows = _quiet_read(path)
    assert _strip(rows) == _as_strings(_rows(3) + _rows(2, method="FIDO"))
    assert all(r[CHECK_COLUMN] == row_check(r) for r in rows)
    assert len(rows[0][CHECK_COLUMN]) == 8


def test_checksum_ignores_empty_columns_and_value_types():
    row = {"image_id": 3, "method": "FIDO", "split": "test"}
    assert row_check(row) == row_check({**_as_strings([row])[0], "later": ""})
    assert row_check(row) != row_check({**row, "image_id": 4})
    assert row_check(row) != row_check({**row, "extra": "0"})


def _cut(path: Path, n_bytes: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - n_bytes])


@pytest.mark.parametrize("cut", [1, 2, 9, 30])
def test_half_written_last_row_is_left_out_and_redone(tmp_path, cut):
    path = tmp_path / "per_image.csv"
    append_rows(path, _rows(4))
    _cut(path, cut)  # killed while writing the last row
    with pytest.warns(UserWarning, match=r"1 incomplete or malformed row"):
        rows = read_rows(path)
    if cut <= 2:
        # Only the line end was lost: the record may be complete, but
        # without its end it is not trusted.
        assert len(rows) == 3
    assert _strip(rows) == _as_strings(_rows(4))[:3]
    # The next append never glues a row onto the torn one.
    with pytest.warns(UserWarning):
        append_rows(path, _rows(4)[3:] + _rows(1, method="FIDO"))
    again = _quiet_read(path)
    assert _strip(again) == _as_strings(_rows(4) + _rows(1, method="FIDO"))
    assert path.read_bytes().endswith(b"\r\n")


def test_rows_glued_by_an_older_writer_are_malformed(tmp_path):
    path = tmp_path / "per_image.csv"
    append_rows(path, _rows(3))
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    # An older writer appended the next row onto a torn one: too many fields.
    glued = lines[:-1] + [lines[-1][:12] + lines[-1]]
    path.write_text("".join(glued))
    with pytest.warns(UserWarning, match="line 4"):
        rows = read_rows(path)
    assert [int(r["image_id"]) for r in rows] == [0, 1]


@pytest.mark.parametrize(
    "damage",
    [
        lambda v: v.replace("0.25", "0.26"),  # a changed value: checksum fails
        lambda v: v.replace(",val,", ",,", 1),  # no split
        lambda v: v.replace("\r\n2,", "\r\nx2,"),  # image id not an int
        lambda v: v.replace(",Saliency,", ",,", 1),  # no method (first row)
        lambda v: v[:-40] + "\x00" * 38 + "\r\n",  # zeros from a lost write
        lambda v: v.replace("0.25", "0.2\udcff5"),  # undecodable bytes
    ],
)
def test_malformed_rows_are_left_out_with_a_warning(tmp_path, damage):
    path = tmp_path / "per_image.csv"
    append_rows(path, _rows(4))
    text = path.read_bytes().decode("utf-8")
    broken = damage(text)
    assert broken != text
    path.write_bytes(broken.encode("utf-8", errors="surrogateescape"))
    with pytest.warns(UserWarning, match="1 incomplete or malformed row"):
        rows = read_rows(path)
    assert len(rows) == 3
    assert all(r[CHECK_COLUMN] == row_check(r) for r in rows)


def test_new_columns_rewrite_the_file_atomically(tmp_path, monkeypatch):
    path = tmp_path / "per_image.csv"
    append_rows(path, _rows(3))
    before = path.read_bytes()

    import captum_fido._utils.files as files

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed during the rewrite")

    monkeypatch.setattr(files.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        append_rows(path, _rows(1, method="FIDO", stability="0.9"))
    # The old file is whole, and no temporary file is left behind.
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["per_image.csv"]
    monkeypatch.undo()
    append_rows(path, _rows(1, method="FIDO", stability="0.9"))
    rows = _quiet_read(path)
    assert list(rows[0]) == [*_rows(1)[0], "stability", CHECK_COLUMN]
    assert [r["stability"] for r in rows] == ["", "", "", "0.9"]


def test_files_without_checksums_are_upgraded_not_lost(tmp_path):
    path = tmp_path / "per_image.csv"
    old = _as_strings(_rows(3))
    with open(path, "w", newline="") as f:  # an older harness's file
        writer = csv.DictWriter(f, fieldnames=list(old[0]))
        writer.writeheader()
        writer.writerows(old)
    assert _quiet_read(path) == old
    append_rows(path, _rows(1, method="FIDO"))
    rows = _quiet_read(path)
    assert _strip(rows) == old + _as_strings(_rows(1, method="FIDO"))
    assert all(r[CHECK_COLUMN] == row_check(r) for r in rows)


def test_repeated_pairs_keep_the_last_row(tmp_path):
    path = tmp_path / "per_image.csv"
    append_rows(path, _rows(2))
    append_rows(path, [_rows(2)[1] | {"label": 7}])
    rows = _quiet_read(path)
    assert [(r["image_id"], r["label"]) for r in rows] == [("0", "0"), ("1", "7")]
    append_rows(path, _rows(1, method="FIDO"))  # rewritten without the repeat
    assert len(path.read_text().splitlines()) == 1 + 3


@pytest.mark.parametrize(
    "header", ["", "image_id,method\r\n", "image_id,split,method,method\r\n"]
)
def test_a_file_without_a_per_image_header_is_refused(tmp_path, header):
    path = tmp_path / "per_image.csv"
    path.write_text(header + "0,test,Saliency\r\n" if header else "garbage\r\n1,2\r\n")
    with pytest.raises(ValueError, match="per-image header"):
        read_rows(path)
    with pytest.raises(ValueError, match="move it away"):
        append_rows(path, _rows(1))


def test_empty_and_torn_header_files_hold_no_rows(tmp_path):
    path = tmp_path / "per_image.csv"
    path.write_text("")
    assert _quiet_read(path) == []
    path.write_text("image_id,spl")  # killed while writing the header
    with pytest.warns(UserWarning):
        assert read_rows(path) == []
    with pytest.warns(UserWarning):
        append_rows(path, _rows(2))
    assert _strip(_quiet_read(path)) == _as_strings(_rows(2))


def test_write_rows_is_atomic_and_complete(tmp_path, monkeypatch):
    path = tmp_path / "per_image.csv"
    write_rows(path, _rows(2) + _rows(1, method="FIDO", extra="x"))
    rows = _quiet_read(path)
    assert [r["extra"] for r in rows] == ["", "", "x"]
    before = path.read_bytes()
    import captum_fido._utils.files as files

    monkeypatch.setattr(files.os, "replace", lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        write_rows(path, _rows(1))
    assert path.read_bytes() == before


# ------------------------------------------------- resume and sharding


class _Net(nn.Module):
    r"""A small conv classifier with batch norm in eval mode: its output for
    an image can depend, in the last digits, on the batch around it."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.fc = nn.Linear(6, 3)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3)))


def _grad_map(model, x, y, seed):
    x = x.clone().requires_grad_(True)
    out = model(x).gather(1, y[:, None]).sum()
    (g,) = torch.autograd.grad(out, x)
    maps = g.abs().mean(dim=1)
    return maps / maps.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None]


def _noisy_map(model, x, y, seed):
    r"""A seeded 'mask method' whose map depends on the seed and the batch."""
    g = torch.Generator().manual_seed(seed)
    base = _grad_map(model, x, y, seed)
    return (0.7 * base + 0.3 * torch.rand(base.shape, generator=g)).clamp(0, 1)


SPECS = [
    MethodSpec("Grad", "captum", None, _grad_map, probabilistic=False),
    MethodSpec("Noisy", "fido-ssr", "Mean", _noisy_map, probabilistic=True),
]


def _data(n: int = 7) -> EvalData:
    g = torch.Generator().manual_seed(1)
    boxes = torch.tensor([[2.0, 3.0, 10.0, 12.0]]).repeat(n, 1)
    return EvalData(
        torch.rand(n, 3, 16, 16, generator=g),
        torch.arange(n) % 3,
        boxes,
        [100 + i if i < 2 else i - 2 for i in range(n)],
        ["val" if i < 2 else "test" for i in range(n)],
    )


SETTINGS = ComparisonSettings(
    seed=3,
    fractions=(0.0, 0.5, 1.0),
    chunk_size=3,
    n_stability=2,
    n_sanity=0,
    preview=0,
    show_progress=False,
)


def _run(data: EvalData, path: Path, previous=()) -> list:
    torch.manual_seed(0)
    return run_comparison(
        _Net().eval(),
        data,
        SPECS,
        {"mean": MeanInfiller([0.5, 0.5, 0.5])},
        path,
        SETTINGS,
        previous=previous,
    )


def _by_pair(rows: list) -> dict:
    # Wall time differs between runs; every other cell must be identical (a
    # file without a column holds what an empty cell holds).
    return {
        (r["image_id"], r["method"]): {
            k: v for k, v in r.items() if k not in ("seconds", CHECK_COLUMN) and v != ""
        }
        for r in rows
    }


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    path = tmp_path_factory.mktemp("h") / "per_image.csv"
    return _by_pair(_run(_data(), path))


def test_resume_redoes_torn_and_malformed_rows_exactly(uninterrupted, tmp_path):
    path = tmp_path / "per_image.csv"
    _run(_data(), path)
    text = path.read_bytes()
    lines = text.split(b"\r\n")
    # Damage a middle row (a changed digit) and tear the last one.
    lines[5] = lines[5].replace(b"0.", b"1.", 1)
    path.write_bytes(b"\r\n".join(lines)[:-25])
    with pytest.warns(UserWarning, match="2 incomplete or malformed"):
        assert len(read_rows(path)) == len(uninterrupted) - 2
    with pytest.warns(UserWarning):
        rows = _run(_data(), path)
    assert _by_pair(rows) == uninterrupted
    assert len(_quiet_read(path)) == len(uninterrupted)


def test_shards_by_whole_chunks_give_the_rows_of_one_run(uninterrupted, tmp_path):
    data = _data()
    rows = []
    for rank in range(3):
        share = Shard(rank, 3).take_chunks(len(data.image_ids), SETTINGS.chunk_size)
        rows += _run(data.subset(share), tmp_path / f"rank{rank}.csv")
    assert _by_pair(rows) == uninterrupted


def test_previous_rows_of_another_process_are_not_redone(uninterrupted, tmp_path):
    data = _data()
    first = _run(data.subset([0, 1, 2]), tmp_path / "rank0.csv")
    rows = _run(data, tmp_path / "rank1.csv", previous=first)
    assert {(r["image_id"]) for r in rows}.isdisjoint({"100", "101", "0"})
    assert _by_pair(first + rows) == uninterrupted


def test_take_chunks_known_answers():
    assert Shard(0, 2).take_chunks(7, 2) == [0, 1, 4, 5]
    assert Shard(1, 2).take_chunks(7, 2) == [2, 3, 6]
    assert Shard(2, 3).take_chunks(4, 2) == []
    assert Shard(0, 1).take_chunks(5, 16) == [0, 1, 2, 3, 4]
    for n in range(0, 12):
        for world in (1, 2, 3):
            for size in (1, 2, 5):
                shares = [Shard(r, world).take_chunks(n, size) for r in range(world)]
                assert sorted(i for s in shares for i in s) == list(range(n))
                # Re-chunked, each share is made of the one-process chunks.
                chunks = {tuple(range(s, min(n, s + size))) for s in range(0, n, size)}
                for s in shares:
                    mine = {tuple(s[k : k + size]) for k in range(0, len(s), size)}
                    assert mine <= chunks
    for bad in ((-1, 2), (3, 0), (2.0, 1), (3, True)):
        with pytest.raises((TypeError, ValueError)):
            Shard(0, 2).take_chunks(*bad)


def _summary_numbers(rows: list) -> dict:
    return {s.method: (s.n_images, s.threshold, s.values) for s in summarise(rows)}


def test_summaries_do_not_depend_on_row_order(uninterrupted):
    rows = list(uninterrupted.values())
    expected = _summary_numbers(rows)
    for seed in range(5):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        assert _summary_numbers(shuffled) == expected
    # Known answer: the mean of the test rows' outside mass, bootstrap seeded.
    grad = [r for r in rows if r["method"] == "Grad" and r["split"] == "test"]
    mean = sum(float(r["outside_mass"]) for r in grad) / len(grad)
    assert expected["Grad"][2]["outside_mass"][0] == pytest.approx(mean, rel=1e-12)
    a = {i: float(i) for i in range(6)}
    b = {i: 0.5 * i for i in range(6)}
    shuffled_a = dict(sorted(a.items(), key=lambda kv: -kv[0]))
    assert paired_difference(a, b) == paired_difference(shuffled_a, b)


# ---------------------------------------------------------- settings.json


def _settings_error(tmp_path, capsys, content) -> str:
    out = tmp_path / "run"
    out.mkdir()
    if isinstance(content, bytes):
        (out / "settings.json").write_bytes(content)
    elif content is None:
        (out / "settings.json").mkdir()
    else:
        (out / "settings.json").write_text(content)
    parser = compare._parser()
    args = parser.parse_args(["--out", str(out)])
    with pytest.raises(SystemExit) as exc:
        compare._check_settings(parser, args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    return err[-1]


@pytest.mark.parametrize(
    "content",
    [
        '{"domain": "scenes", "steps": 3',  # truncated
        "",  # empty
        b"\x80\x81\x00garbage",  # not UTF-8
        "[1, 2]",  # not an object
        "null",
        None,  # a folder named settings.json
    ],
)
def test_damaged_settings_json_is_a_one_line_error(tmp_path, capsys, content):
    line = _settings_error(tmp_path, capsys, content)
    assert "settings.json" in line and "error:" in line
    assert "restore it, delete it" in line and "--out" in line
    assert "Traceback" not in line


def test_sound_settings_json_still_checks_and_writes(tmp_path, capsys):
    parser = compare._parser()
    out = tmp_path / "run"
    args = parser.parse_args(["--out", str(out), "--steps", "7"])
    compare._check_settings(parser, args)
    written = json.loads((out / "settings.json").read_text())
    assert written["steps"] == 7
    compare._check_settings(parser, args)  # same settings: accepted
    other = parser.parse_args(["--out", str(out), "--steps", "8"])
    with pytest.raises(SystemExit):
        compare._check_settings(parser, other)
    assert "--steps 7 (now 8)" in capsys.readouterr().err


# ------------------------------------------ inputs checked before any work


@pytest.mark.parametrize(
    "change, kind, words",
    [
        (dict(boxes=torch.tensor([[-1.0, 0, 5, 5]] * 7)), ValueError, "negative"),
        (dict(boxes=torch.tensor([[0.0, 0, 17, 5]] * 7)), ValueError, "outside"),
        (dict(boxes=torch.tensor([[0.0, 0, float("nan"), 5]] * 7)), ValueError, "NaN"),
        (dict(boxes=torch.tensor([[5.0, 0, 5, 5]] * 7)), ValueError, "empty"),
        (dict(labels=torch.full((7,), 1.0)), TypeError, "labels"),
        (dict(labels=torch.tensor([0, 1, 2, -1, 0, 1, 2])), ValueError, "labels"),
        (dict(images=torch.full((7, 3, 16, 16), float("nan"))), ValueError, "NaN"),
        (dict(images=torch.zeros(7, 3, 16, 16, dtype=torch.long)), TypeError, "images"),
    ],
)
def test_eval_data_checks_what_the_metrics_need(change, kind, words):
    d = _data()
    fields = dict(
        images=d.images,
        labels=d.labels,
        boxes=d.boxes,
        image_ids=d.image_ids,
        splits=d.splits,
    )
    with pytest.raises(kind, match=words):
        EvalData(**{**fields, **change})


@pytest.mark.parametrize(
    "change",
    [
        dict(seed=-1),
        dict(seed=True),
        dict(chunk_size=0),
        dict(n_stability=-1),
        dict(preview=1.5),
        dict(show_progress="no"),
        dict(output_type="scores"),
        dict(fractions=(0.0,)),
        dict(fractions=(0.0, 0.5, 0.5, 1.0)),
        dict(fractions=(0.0, 1.5)),
        dict(fractions=(0.0, float("nan"))),
    ],
)
def test_comparison_settings_refuse_values_that_fail_later(change):
    with pytest.raises((TypeError, ValueError), match=next(iter(change))):
        ComparisonSettings(**change)


def test_labels_outside_the_model_fail_before_any_method(tmp_path):
    explained = []

    def explain(model, x, y, seed):
        explained.append(1)
        return torch.rand(x.shape[0], *x.shape[2:])

    d = _data()
    data = EvalData(d.images, d.labels + 1, d.boxes, d.image_ids, d.splits)
    spec = MethodSpec("M", "captum", None, explain, probabilistic=False)
    with pytest.raises(ValueError, match=r"target out of range: the model has 3"):
        run_comparison(_Net().eval(), data, [spec], {}, tmp_path / "p.csv", SETTINGS)
    assert explained == [] and not (tmp_path / "p.csv").exists()


def test_non_finite_maps_name_the_method_and_images(tmp_path):
    nan_image = _data().images[1]  # image id 101

    def explain(model, x, y, seed):
        maps = torch.rand(x.shape[0], *x.shape[2:])
        for i, row in enumerate(x):
            if torch.equal(row, nan_image):
                maps[i, 0, 0] = float("nan")
        return maps

    spec = MethodSpec("Broken", "captum", None, explain, probabilistic=False)
    with pytest.warns(
        UserWarning, match=r"Broken failed \(method\) on image ids \[101\]"
    ):
        _run_with(spec, tmp_path / "p.csv")
    # The image's row says why; the others were scored; the comparison went on.
    rows = {
        int(r["image_id"]): r
        for r in _quiet_read(tmp_path / "p.csv")
        if r["method"] == "Broken"
    }
    assert len(rows) == 7 and rows[101]["status"] == "failed"
    assert "Broken returned NaN" in rows[101]["reason"]
    assert "image ids [101]" in rows[101]["reason"]
    assert all(r["status"] == "done" for i, r in rows.items() if i != 101)


def _run_with(spec, path):
    return run_comparison(
        _Net().eval(),
        _data(),
        [spec],
        {"mean": MeanInfiller([0.5, 0.5, 0.5])},
        path,
        SETTINGS,
    )
