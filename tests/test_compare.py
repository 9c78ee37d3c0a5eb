"""The comparison harness: rows per image, resumable, the same when sharded."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from captum_fido.cli import compare
from captum_fido.evaluation import EvalData, bootstrap_ci, paired_difference
from captum_fido.evaluation.harness import read_rows
from captum_fido.evaluation.methods import captum_methods, select_methods
from captum_fido.evaluation.report import summarise

METHODS = "Saliency,FIDO-SSR (Blur),BBMP-CA tau=0.5"
ARGS = ["--n-images", "2", "--n-val", "1", "--steps", "2", "--n-samples", "2"]
ARGS += ["--n-sanity", "1", "--n-stability", "1", "--chunk-size", "2"]


def _results(path: Path) -> dict:
    with open(path / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    # Wall time differs between runs; everything else is deterministic.
    return {
        r["method"]: {k: v for k, v in r.items() if not k.startswith("seconds")}
        for r in rows
    }


@pytest.fixture(scope="module")
def one_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "run"
    assert compare.main([*ARGS, "--methods", METHODS, "--out", str(out)]) == 0
    return out


def test_writes_every_output(one_run):
    for name in ("per_image.csv", "results.csv", "table.md", "maps.png"):
        assert (one_run / name).is_file(), name
    rows = read_rows(one_run / "per_image.csv")
    # (2 test + 1 val images) x (3 methods + Max + Center)
    assert len(rows) == 3 * 5
    results = _results(one_run)
    assert set(results) == {
        "Max (whole image)",
        "Center (half area)",
        "Saliency",
        "FIDO-SSR (Blur)",
        "BBMP-CA tau=0.5",
    }
    fido = results["FIDO-SSR (Blur)"]
    # 1 clean pass (checks), 2 rows for the evidence scale (clean and fully
    # in-filled) + 2 steps x 2 samples per image; the curves under both
    # evaluation in-fillers are there.
    assert float(fido["passes"]) == 7
    for key in ("deletion_inpainter", "deletion_road", "insertion_road"):
        assert key in fido
    table = (one_run / "table.md").read_text()
    assert "| FIDO-SSR (Blur) |" in table and "WSL err %" in table


@pytest.mark.filterwarnings("ignore:.*returned collapsed maps:UserWarning")
def test_resumes_where_it_stopped(one_run, tmp_path):
    out = tmp_path / "resumed"
    out.mkdir()
    rows = read_rows(one_run / "per_image.csv")
    # An interrupted run: the first half of the rows were written.
    with open(out / "per_image.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows[: len(rows) // 2])
    assert compare.main([*ARGS, "--methods", METHODS, "--out", str(out)]) == 0
    _assert_same_tables(_results(out), _results(one_run))


@pytest.mark.slow
def test_two_processes_give_the_table_of_one(one_run, tmp_path):
    out = tmp_path / "sharded"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    cmd += ["-m", "captum_fido", "compare", *ARGS, "--methods", METHODS]
    subprocess.run([*cmd, "--out", str(out)], check=True, env=env, timeout=600)
    assert sorted(p.name for p in out.glob("per_image*.csv")) == [
        "per_image.csv",
        "per_image.rank0.csv",
        "per_image.rank1.csv",
    ]
    _assert_same_tables(_results(out), _results(one_run))


def _assert_same_tables(a: dict, b: dict) -> None:
    # Exactly the same numbers: processes take whole chunks, a resumed run
    # recomputes whole chunks, so every image is explained in the batch of
    # an uninterrupted one-process run; the summaries aggregate in a fixed
    # order with a seeded bootstrap.
    assert a.keys() == b.keys()
    for method in a:
        assert a[method] == b[method], method


def test_bad_arguments_fail_before_work(tmp_path, capsys):
    for bad in (["--n-images", "0"], ["--steps", "-1"], ["--methods", "nope"]):
        with pytest.raises(SystemExit):
            compare.main([*bad, "--out", str(tmp_path / "x")])
    assert "unknown method 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_select_methods_by_name_and_family():
    specs = captum_methods(lambda m: m)
    assert [s.name for s in select_methods(specs, ["gradcam", "Saliency"])] == [
        "GradCAM",
        "Saliency",
    ]
    assert len(select_methods(specs, ["captum"])) == 5
    with pytest.raises(ValueError, match="unknown method"):
        select_methods(specs, ["fido"])


def test_eval_data_checks_its_fields():
    x = torch.rand(2, 3, 8, 8)
    boxes = torch.tensor([[0.0, 0, 4, 4]] * 2)
    with pytest.raises(ValueError, match="image_ids must be unique"):
        EvalData(x, torch.tensor([0, 1]), boxes, [1, 1], ["test", "val"])
    with pytest.raises(ValueError, match="boxes must have shape"):
        EvalData(x, torch.tensor([0, 1]), boxes[:1], [0, 1], ["test", "val"])
    with pytest.raises(ValueError, match="splits"):
        EvalData(x, torch.tensor([0, 1]), boxes, [0, 1], ["test", "train"])


def test_bootstrap_known_answers():
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    mean, low, high = bootstrap_ci(list(range(100)))
    assert mean == pytest.approx(49.5) and low < 49.5 < high
    assert high - low == pytest.approx(2 * 1.96 * 29.0 / 10, rel=0.2)
    diff = paired_difference({0: 1.0, 1: 2.0, 2: 3.0}, {0: 0.5, 1: 1.5, 2: 2.5})
    assert diff == (0.5, 0.5, 0.5, 3)


def test_wsl_threshold_is_chosen_on_val_rows():
    # alpha index 0 is right on val, so it is used on test (where index 1 is).
    val = {"split": "val", "wsl_by_threshold": "1" + "0" * 25}
    test = {"split": "test", "wsl_by_threshold": "01" + "0" * 24}
    rows = [
        {
            "image_id": i,
            "method": "M",
            "family": "captum",
            **part,
            "sm_by_threshold": "",
        }
        for i, part in enumerate([val, val, test])
    ]
    (summary,) = summarise(rows)
    assert summary.threshold == "alpha=0"
    assert summary.values["wsl_error"][0] == 1.0


def test_resume_with_other_settings_is_refused(one_run, capsys):
    with pytest.raises(SystemExit):
        compare.main([*ARGS[:4], "--steps", "3", "--out", str(one_run)])
    assert "--steps 2 (now 3)" in capsys.readouterr().err
