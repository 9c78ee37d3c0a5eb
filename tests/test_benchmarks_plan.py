r"""benchmarks/: every script is in run_all's plan (so CI's quick run covers
it), takes ``--quick``, and the shared runner's conventions hold.

The quick runs themselves are CI's job (``benchmarks/run_all.py --quick`` in
``.ci/run``); these checks are static or use stand-in scripts, so they take
well under a second.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))  # the scripts import _runner so
    try:
        spec = importlib.util.spec_from_file_location(
            f"_bench_{name}", BENCHMARKS / f"{name}.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


def _scripts() -> set:
    return {
        p.stem
        for p in BENCHMARKS.glob("*.py")
        if not p.name.startswith("_") and p.stem != "run_all"
    }


def test_every_benchmark_is_in_run_all() -> None:
    planned = [b.name for b in _load("run_all").PLAN]
    assert len(planned) == len(set(planned)), "a benchmark is planned twice"
    missing = sorted(_scripts() - set(planned))
    assert not missing, (
        f"benchmarks/{missing[0]}.py is not in run_all.PLAN: add it (with a "
        "--quick mode) so that CI's quick run keeps it working"
    )
    gone = sorted(set(planned) - _scripts())
    assert not gone, f"run_all.PLAN names scripts that do not exist: {gone}"


def test_every_benchmark_takes_quick() -> None:
    for name in sorted(_scripts()):
        text = (BENCHMARKS / f"{name}.py").read_text()
        assert "benchmark_parser(" in text or '"--quick"' in text, name


def test_quick_values_replace_defaults_not_flags(tmp_path: Path) -> None:
    runner = _load("_runner")
    parser = runner.benchmark_parser("A benchmark.\n\nMore.", out=tmp_path / "full")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--n", type=int, default=32)
    quick = dict(steps=5, n=2, out=tmp_path / "quick")

    full = runner.parse(parser, ["--threads", "0"], quick=quick)
    assert (full.steps, full.n, full.out) == (300, 32, tmp_path / "full")
    fast = runner.parse(parser, ["--quick", "--n", "7", "--threads", "0"], quick)
    assert (fast.steps, fast.n, fast.out) == (5, 7, tmp_path / "quick")
    with pytest.raises(ValueError, match="stesp"):
        runner.parse(parser, ["--threads", "0"], quick=dict(stesp=5))


def test_write_run_writes_a_record(tmp_path: Path) -> None:
    runner = _load("_runner")
    out = tmp_path / "new" / "result.json"
    runner.write_run(out, {"steps": 5}, {"ratio": 1.5}, "| table |")
    record = json.loads(out.read_text())
    assert record == {
        "settings": {"steps": 5},
        "values": {"ratio": 1.5},
        "table": "| table |",
    }
    assert [p.name for p in out.parent.iterdir()] == ["result.json"]  # no temporary


def test_run_all_fails_on_a_failure_and_skips_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    run_all = _load("run_all")
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    bodies = {
        "good": "import json, sys; open(sys.argv[-1], 'w').write(json.dumps({'values': {'ratio': 1.25}}))",
        "gpu_only": "raise SystemExit(77)",
        "broken": "raise RuntimeError('rotted')",
    }
    for name, body in bodies.items():
        (scripts / f"{name}.py").write_text(body + "\n")
    monkeypatch.setattr(run_all, "HERE", scripts)
    plan = tuple(
        run_all.Benchmark(n, "perf", ("--out", "{out}/result.json")) for n in bodies
    )
    monkeypatch.setattr(run_all, "PLAN", plan)
    out = ["--quick", "--out-dir", str(tmp_path / "runs")]

    assert run_all.main(["good", "gpu_only", *out]) == 0
    text = capsys.readouterr().out
    assert "1 ok, 1 skipped (gpu_only), 0 failed" in text
    assert "ratio" in text and "1.25" in text
    assert run_all.main(out) == 1
    assert "1 failed (broken)" in capsys.readouterr().out
    # Side by side, each one's output is kept and printed whole.
    assert run_all.main(["--jobs", "2", *out]) == 1
    text = capsys.readouterr().out
    assert "1 failed (broken)" in text and "RuntimeError: rotted" in text
