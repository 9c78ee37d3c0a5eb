"""The comparison goes on when a method fails on some images: their rows say
``status`` failed, with the stage and the reason, and the summaries, tables
and verdict count them without scoring them (issue 20)."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path
from typing import Optional

import pytest
import torch
from torch import Tensor, nn

from captum_fido.attr import FIDO
from captum_fido.evaluation import ComparisonSettings, EvalData, run_comparison
from captum_fido.evaluation.harness import BASELINES, CHECK_COLUMN, read_rows
from captum_fido.evaluation.methods import MethodSpec
from captum_fido.evaluation.report import (
    is_failed,
    summarise,
    write_results,
    write_table,
)
from captum_fido.evaluation.verdict import compare_verdict, format_verdict
from captum_fido.infillers import MeanInfiller


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


def _data(n: int = 8) -> EvalData:
    g = torch.Generator().manual_seed(1)
    return EvalData(
        torch.rand(n, 3, 16, 16, generator=g),
        torch.arange(n) % 3,
        torch.tensor([[2.0, 3.0, 10.0, 12.0]]).repeat(n, 1),
        list(range(n)),
        ["val" if i < 2 else "test" for i in range(n)],
    )


DATA = _data()
SETTINGS = ComparisonSettings(
    seed=3,
    fractions=(0.0, 0.5, 1.0),
    chunk_size=4,
    n_stability=0,
    n_sanity=0,
    preview=0,
    show_progress=False,
)
FILLS = {"mean": MeanInfiller([0.5, 0.5, 0.5])}


def _ids_of(x: Tensor) -> list:
    r"""Which images of ``DATA`` the rows of ``x`` are."""
    return [
        next(i for i in range(len(DATA.images)) if torch.equal(row, DATA.images[i]))
        for row in x
    ]


def _grad_map(model, x, y, seed):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(x).gather(1, y[:, None]).sum(), x)
    maps = g.abs().mean(dim=1)
    return maps / maps.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None]


def _failing_on(bad: set, error: type = ValueError):
    r"""``_grad_map``, raising when the batch holds an image of ``bad``."""

    def explain(model, x, y, seed):
        hit = sorted(set(_ids_of(x)) & bad)
        if hit:
            raise error(f"cannot explain image {hit[0]}\nsecond line")
        return _grad_map(model, x, y, seed)

    return explain


GOOD = MethodSpec("Grad", "captum", None, _grad_map, probabilistic=False)


def _spec(name: str, explain, family: str = "captum") -> MethodSpec:
    return MethodSpec(name, family, None, explain, probabilistic=False)


def _run(
    specs, path: Path, settings=SETTINGS, retry_failed: bool = False, fills=FILLS
) -> list:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = run_comparison(
            _Net().eval(),
            DATA,
            specs,
            fills,
            path,
            settings,
            retry_failed=retry_failed,
        )
    _run.warnings = [str(w.message) for w in caught]  # type: ignore[attr-defined]
    return rows


def _scores(row: dict) -> dict:
    skip = ("seconds", "passes", CHECK_COLUMN, "method", "status")
    return {k: v for k, v in row.items() if k not in skip and v != ""}


def _pairs(rows: list, method: Optional[str] = None) -> dict:
    return {
        int(r["image_id"]): r for r in rows if method is None or r["method"] == method
    }


@pytest.fixture(scope="module")
def alone_rows(tmp_path_factory):
    r"""The rows of the good method with each image explained alone: what
    the images of a failed chunk get when retried one by one."""
    path = tmp_path_factory.mktemp("alone") / "per_image.csv"
    settings = ComparisonSettings(**{**SETTINGS.__dict__, "chunk_size": 1})
    return _pairs(_run([GOOD], path, settings), "Grad")


def test_one_bad_image_fails_alone_and_the_rest_are_scored(tmp_path, alone_rows):
    spec = _spec("Flaky", _failing_on({5}))
    rows = _run([spec, GOOD], tmp_path / "per_image.csv")
    flaky = _pairs(rows, "Flaky")
    assert sorted(flaky) == list(range(8))
    bad = flaky[5]
    assert bad["status"] == "failed" and bad["stage"] == "method"
    # One line, the error's type and message.
    assert bad["reason"] == "ValueError: cannot explain image 5 second line"
    assert not any(k in bad and bad[k] for k in ("pointing_hit", "map_status"))
    assert all(flaky[i]["status"] == "done" for i in flaky if i != 5)
    # Images 4, 6, 7 shared the failed chunk: explained alone, as with
    # chunk_size 1; images 0-3 kept their chunk.
    for i in (4, 6, 7):
        assert _scores(flaky[i]) == _scores(alone_rows[i])
    # The other method and the baselines ran on every image.
    assert all(r["status"] == "done" for r in rows if r["method"] != "Flaky")
    assert {r["method"] for r in rows} == {"Flaky", "Grad", *BASELINES}
    assert any(
        "Flaky failed (method) on image ids [5]" in w and "goes on" in w
        for w in _run.warnings  # type: ignore[attr-defined]
    )


def test_a_method_failing_everywhere_leaves_the_others_untouched(tmp_path):
    broken = _spec("Broken", _failing_on(set(range(8)), RuntimeError))
    rows = _run([broken, GOOD], tmp_path / "a.csv")
    reference = _run([GOOD], tmp_path / "b.csv")
    failed = [r for r in rows if r["method"] == "Broken"]
    assert len(failed) == 8 and all(r["status"] == "failed" for r in failed)
    assert all(r["reason"].startswith("RuntimeError: cannot explain") for r in failed)
    good, ref = _pairs(rows, "Grad"), _pairs(reference, "Grad")
    assert {i: _scores(r) for i, r in good.items()} == {
        i: _scores(r) for i, r in ref.items()
    }


def _fido_nan_on_infill(bad: int):
    r"""FIDO on a model that returns NaN for image ``bad`` wherever its input
    differs from the clean image (any in-fill): FIDO stops on it."""

    def explain(model, x, y, seed):
        ids = torch.tensor(_ids_of(x))

        def forward(inputs, row_ids):
            out = model(inputs)
            changed = (inputs != DATA.images[row_ids]).flatten(1).any(dim=1)
            broken = (changed & (row_ids == bad))[:, None]
            return torch.where(broken, torch.full_like(out, math.nan), out)

        maps = FIDO(forward, MeanInfiller([0.5, 0.5, 0.5])).attribute(
            x,
            target=y,
            additional_forward_args=(ids,),
            n_steps=3,
            n_samples=2,
            l1_coeff=1e-3,
            seed=seed,
        )
        return maps.mean(dim=1)

    return explain


def test_fido_on_a_model_that_breaks_on_in_fills_marks_that_image_failed(tmp_path):
    spec = MethodSpec("FIDO", "fido-ssr", "Mean", _fido_nan_on_infill(6), True)
    rows = _pairs(_run([spec], tmp_path / "per_image.csv"), "FIDO")
    assert [i for i, r in rows.items() if is_failed(r)] == [6]
    assert rows[6]["stage"] == "method"
    assert "ValueError: the model returned a non-finite score" in rows[6]["reason"]
    assert all(r["map_status"] for i, r in rows.items() if i != 6)


class _BadFill(MeanInfiller):
    r"""Fails on image 2 (scoring stage: the deletion curve's in-fill)."""

    def fill(self, x, keep_mask, generator):
        if 2 in _ids_of(x):
            raise RuntimeError("in-filler broke")
        return super().fill(x, keep_mask, generator)


def test_a_scoring_failure_is_marked_with_its_stage(tmp_path):
    fills = {"mean": _BadFill([0.5, 0.5, 0.5])}
    rows = _run([GOOD], tmp_path / "per_image.csv", fills=fills)
    grad = _pairs(rows, "Grad")
    assert grad[2]["status"] == "failed" and grad[2]["stage"] == "metrics"
    assert grad[2]["reason"] == "RuntimeError: in-filler broke"
    assert [i for i, r in grad.items() if is_failed(r)] == [2]


def test_failed_rows_are_kept_on_resume_and_retried_on_request(tmp_path):
    path = tmp_path / "per_image.csv"
    _run([_spec("M", _failing_on({6}))], path)
    calls = []

    def working(model, x, y, seed):
        calls.append(_ids_of(x))
        return _grad_map(model, x, y, seed)

    # Resumed with a method that works now: nothing to do by default.
    rows = _run([_spec("M", working)], path)
    assert calls == [] and is_failed(_pairs(rows, "M")[6])
    rows = _run([_spec("M", working)], path, retry_failed=True)
    # The failed image's chunk is recomputed whole; the row is replaced.
    assert calls == [[4, 5, 6, 7]]
    m = _pairs(rows, "M")
    assert m[6]["status"] == "done" and m[6]["reason"] == ""
    assert len(read_rows(path)) == len(rows) == 8 + 8 * len(BASELINES)


def _with_failures(rows: list, method: str, ids: set) -> list:
    out = []
    for r in rows:
        if r["method"] == method and int(r["image_id"]) in ids:
            keep = ("image_id", "split", "method", "family", "label", "infiller")
            r = {k: r[k] for k in keep if k in r}
            r |= {"status": "failed", "stage": "method", "reason": "X: y"}
        out.append(r)
    return out


@pytest.fixture(scope="module")
def two_methods(tmp_path_factory):
    path = tmp_path_factory.mktemp("two") / "per_image.csv"
    other = _spec("Other", lambda m, x, y, s: _grad_map(m, x, y, s) ** 2)
    return _run([GOOD, other], path)


def test_summaries_count_failed_rows_and_score_only_the_others(two_methods):
    failed = _with_failures(two_methods, "Grad", {3, 6, 1})  # 1 is a val image
    dropped = [r for r in failed if not is_failed(r)]
    with_failed = {s.method: s for s in summarise(failed)}
    without = {s.method: s for s in summarise(dropped)}
    grad = with_failed["Grad"]
    assert grad.n_failed == 2 and grad.n_images == 4  # 6 test images, 2 failed
    # Known answer: exactly the summary of the scored rows alone.
    assert grad.values == without["Grad"].values
    assert grad.threshold == without["Grad"].threshold
    assert with_failed["Other"].n_failed == 0
    assert with_failed["Other"].values == without["Other"].values
    for key, (mean, _, _, n) in grad.values.items():
        assert n <= 4, key
        assert math.isnan(mean) or n > 0


def test_results_table_and_verdict_say_how_many_failed(two_methods, tmp_path):
    failed = _with_failures(two_methods, "Grad", {3, 6})
    summaries = summarise(failed)
    write_results(summaries, tmp_path / "results.csv")
    with open(tmp_path / "results.csv", newline="") as f:
        results = {r["method"]: r for r in csv.DictReader(f)}
    assert results["Grad"]["n_failed"] == "2" and results["Grad"]["n_images"] == "4"
    assert results["Other"]["n_failed"] == "0"
    write_table(summaries, tmp_path / "table.md")
    table = (tmp_path / "table.md").read_text()
    assert "| Grad (2 failed) |" in table and "| Other |" in table
    verdict = compare_verdict(failed)
    assert verdict.failed == {"Grad": (2, 6, "X: y")}
    assert [m for m, *_ in verdict.ranking] == ["Other"]
    text = format_verdict(verdict)
    assert "- Grad: failed on 2 of 6 test images" in text
    assert text.splitlines()[2].startswith("2 methods on 6 test images")
    # Without failures: nothing said, both ranked.
    clean = compare_verdict(two_methods)
    assert clean.failed == {} and len(clean.ranking) == 2
    assert "No method failed on any test image." in format_verdict(clean)


def test_a_method_that_failed_everywhere_is_still_reported(two_methods):
    failed = _with_failures(two_methods, "Grad", set(range(8)))
    summary = {s.method: s for s in summarise(failed)}["Grad"]
    assert summary.n_failed == 6 and summary.n_images == 0
    assert all(math.isnan(v[0]) and v[3] == 0 for v in summary.values.values())
    verdict = compare_verdict(failed)
    assert verdict.failed["Grad"][:2] == (6, 6)
    assert "- Grad: failed on 6 of 6 test images" in format_verdict(verdict)


def test_retry_failed_is_checked():
    with pytest.raises(TypeError, match="retry_failed"):
        run_comparison(
            _Net().eval(), DATA, [GOOD], FILLS, Path("unused.csv"), retry_failed=1
        )
