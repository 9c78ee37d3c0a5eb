"""compare --retry-failed, and the merge of a sharded run's files: a scored
row of an (image, method) wins over a failed one whatever the order, and no
file's rows are dropped (issue 20)."""

from __future__ import annotations

import csv
import itertools
import warnings
from argparse import Namespace
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from captum_fido.cli import compare
from captum_fido.evaluation import ComparisonSettings, EvalData, run_comparison
from captum_fido.evaluation.harness import (
    BASELINES,
    merge_rows,
    read_rows,
    write_rows,
)
from captum_fido.evaluation.methods import MethodSpec
from captum_fido.infillers import MeanInfiller

# -- merge_rows on known rows -------------------------------------------------


def _row(image: int, method: str, status: str, note: str = "") -> dict:
    return {"image_id": str(image), "method": method, "status": status, "note": note}


def test_a_scored_row_wins_over_a_failed_one_in_any_order():
    done = _row(3, "M", "done", "scored")
    failed = _row(3, "M", "failed", "old failure")
    other = _row(4, "M", "failed", "still failing")
    rows = [done, failed, other]
    for order in itertools.permutations(rows):
        merged = merge_rows(order)
        by_pair = {(r["image_id"], r["method"]): r for r in merged}
        assert len(merged) == 2
        assert by_pair[("3", "M")] is done
        assert by_pair[("4", "M")] is other


def test_same_status_keeps_the_last_and_pairs_keep_their_place():
    first = _row(1, "M", "failed", "first reason")
    second = _row(1, "M", "failed", "second reason")
    a, b = _row(0, "M", "done", "a"), _row(0, "M", "done", "b")
    # Rows from before the status column count as scored.
    legacy = {"image_id": "2", "method": "M"}
    assert merge_rows([a, first, legacy, b, second]) == [b, second, legacy]
    assert merge_rows([_row(2, "M", "failed"), legacy]) == [legacy]
    assert merge_rows([legacy, _row(2, "M", "failed")]) == [legacy]
    # The same method on another image, another method on the same image.
    assert len(merge_rows([_row(0, "M", "done"), _row(0, "N", "failed")])) == 2


# -- the sharded merge of compare, on known rows -----------------------------


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def _grad_map(model, x, y, seed):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(x).gather(1, y[:, None]).sum(), x)
    maps = g.abs().mean(dim=1)
    return maps / maps.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None]


GRAD = MethodSpec("Grad", "captum", None, _grad_map, probabilistic=False)
N_IMAGES = 6  # ids 0-1 validation, 2-5 test


def _data() -> EvalData:
    g = torch.Generator().manual_seed(1)
    return EvalData(
        torch.rand(N_IMAGES, 3, 16, 16, generator=g),
        torch.arange(N_IMAGES) % 3,
        torch.tensor([[2.0, 3.0, 10.0, 12.0]]).repeat(N_IMAGES, 1),
        list(range(N_IMAGES)),
        ["val" if i < 2 else "test" for i in range(N_IMAGES)],
    )


SETTINGS = ComparisonSettings(
    seed=3,
    fractions=(0.0, 0.5, 1.0),
    chunk_size=3,
    n_stability=0,
    n_sanity=0,
    preview=0,
    show_progress=False,
)


def _run(spec: MethodSpec, path: Path, retry_failed: bool = False) -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_comparison(
            _Net().eval(),
            _data(),
            [spec],
            {"mean": MeanInfiller([0.5] * 3)},
            path,
            SETTINGS,
            retry_failed=retry_failed,
        )


@pytest.fixture(scope="module")
def scored_rows(tmp_path_factory) -> list:
    return _run(GRAD, tmp_path_factory.mktemp("rows") / "per_image.csv")


def _failed(row: dict) -> dict:
    keep = ("image_id", "split", "method", "family", "label")
    return {k: row[k] for k in keep if k in row} | {
        "status": "failed",
        "stage": "method",
        "reason": "ValueError: broke then",
    }


class _Domain:
    def load_split(self, split: str, n: int):
        return torch.rand(n, 3, 16, 16), torch.zeros(n), torch.zeros(n, 4)


def _results(out: Path) -> dict:
    with open(out / "results.csv", newline="") as f:
        return {r["method"]: r for r in csv.DictReader(f)}


@pytest.mark.parametrize("failed_in", ["per_image.csv", "per_image.rank1.csv"])
@pytest.mark.parametrize("failed_last", [False, True])
def test_the_sharded_merge_keeps_the_scored_row(
    scored_rows, tmp_path, monkeypatch, failed_in, failed_last
):
    monkeypatch.setattr(compare, "plot_map_grid", lambda *args, **kwargs: None)
    grad = [r for r in scored_rows if r["method"] == "Grad"]
    retried = next(r for r in grad if r["image_id"] == "4")
    failed = _failed(retried)
    rest = [r for r in scored_rows if r is not retried]
    # An earlier run's row of a method this run does not ask for: kept.
    old = rest[0] | {"method": "Old method"}
    out = tmp_path / "cmp"
    out.mkdir()
    done_in = "per_image.rank0.csv" if failed_in == "per_image.csv" else "per_image.csv"
    write_rows(out / failed_in, [failed, old])
    write_rows(out / done_in, [retried])
    write_rows(out / "per_image.rank2.csv", rest)
    # What the processes gathered: the failed row before or after the other.
    pair = [failed, retried] if failed_last is False else [retried, failed]
    gathered = rest + pair
    a = Namespace(out=out, seed=0, domain="scenes", n_images=4, steps=2)
    compare._write_outputs(a, _Domain(), gathered, [GRAD])

    merged = read_rows(out / "per_image.csv")
    pairs = [(r["image_id"], r["method"]) for r in merged]
    assert len(pairs) == len(set(pairs)) == len(scored_rows) + 1
    by_pair = {(r["image_id"], r["method"]): r for r in merged}
    assert by_pair[("4", "Grad")]["status"] == "done"
    assert by_pair[("4", "Grad")]["deletion_mean"] == retried["deletion_mean"]
    assert ("0", "Old method") in by_pair
    # Each line of the file is one row: no superseded row is left in it.
    assert _lines(out / "per_image.csv") == 1 + len(merged)
    results = _results(out)
    assert results["Grad"]["n_failed"] == "0" and results["Grad"]["n_images"] == "4"
    assert set(results) == {*BASELINES, "Grad"}


def test_the_merge_counts_a_failure_no_retry_replaced(
    scored_rows, tmp_path, monkeypatch
):
    monkeypatch.setattr(compare, "plot_map_grid", lambda *args, **kwargs: None)
    grad = [r for r in scored_rows if r["method"] == "Grad"]
    failed = _failed(next(r for r in grad if r["image_id"] == "5"))
    rows = [r for r in scored_rows if (r["image_id"], r["method"]) != ("5", "Grad")]
    out = tmp_path / "cmp"
    out.mkdir()
    write_rows(out / "per_image.rank0.csv", rows)
    write_rows(out / "per_image.rank1.csv", [failed])
    a = Namespace(out=out, seed=0, domain="scenes", n_images=4, steps=2)
    compare._write_outputs(a, _Domain(), [*rows, failed], [GRAD])
    assert _results(out)["Grad"]["n_failed"] == "1"
    merged = {(r["image_id"], r["method"]): r for r in read_rows(out / "per_image.csv")}
    assert merged[("5", "Grad")]["status"] == "failed"


# -- the flag -------------------------------------------------------------------


class _Stop(Exception):
    pass


@pytest.mark.parametrize("flag", [False, True])
def test_retry_failed_reaches_run_comparison(tmp_path, monkeypatch, flag):
    seen = {}

    def fake_run(*args, **kwargs):
        seen.update(kwargs)
        raise _Stop

    monkeypatch.setattr(compare, "run_comparison", fake_run)
    monkeypatch.setattr(compare, "_estimate", lambda *args, **kwargs: None)
    argv = ["--n-images", "1", "--n-val", "0", "--methods", "saliency"]
    argv += ["--out", str(tmp_path / "cmp")] + ["--retry-failed"] * flag
    with pytest.raises(_Stop):
        compare.main(argv)
    assert seen["retry_failed"] is flag


def _broken(model, x, y, seed):
    # Fails on the last image: its retry's row is the file's last append
    # (an earlier append onto repeated rows rewrites the file anyway).
    if any(torch.equal(row, _data().images[N_IMAGES - 1]) for row in x):
        raise ValueError("broken for now")
    return _grad_map(model, x, y, seed)


def _lines(path: Path) -> int:
    with open(path, newline="") as f:
        return len(list(csv.reader(f)))


def test_a_retry_leaves_one_line_per_pair_in_the_file(tmp_path):
    path = tmp_path / "per_image.csv"
    rows = _run(MethodSpec("Grad", "captum", None, _broken, False), path)
    failed = [r["image_id"] for r in rows if r["status"] == "failed"]
    assert failed == [str(N_IMAGES - 1)]
    rows = _run(GRAD, path, retry_failed=True)
    assert all(r["status"] == "done" for r in rows)
    # The retried rows replaced the failed ones in the file itself.
    assert len(rows) == N_IMAGES * (1 + len(BASELINES)) and _lines(path) == 1 + len(
        rows
    )
