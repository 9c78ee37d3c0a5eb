r"""Every script in ``examples/`` runs, found automatically.

A new example runs with no arguments unless :data:`QUICK_ARGS` gives it a
quick mode (fewer steps, output in the test's folder). None is skipped
except ``readme_snippet.py``, which ``tests/test_readme.py`` runs with few
steps (the skip says so in pytest's summary). Each example is a fresh
process (imports, data, sometimes a small training run), so the runs are
marked slow: CI runs them with ``pytest -m slow``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: Quick-mode arguments per example; ``{tmp}`` is the test's folder.
QUICK_ARGS = {
    "quickstart.py": ["--steps", "5", "--out", "{tmp}/quickstart.png"],
    "slic_segments.py": ["--steps", "3", "--out", "{tmp}/slic.png"],
    "tabular_breast_cancer.py": ["--rows", "1", "--steps", "5"],
}
RUN_ELSEWHERE = {
    "readme_snippet.py": "tests/test_readme.py runs it with n_steps=3",
}


def all_examples() -> list:
    return sorted(p.name for p in EXAMPLES.glob("*.py"))


def test_examples_are_found() -> None:
    assert "quickstart.py" in all_examples()
    stale = (set(QUICK_ARGS) | set(RUN_ELSEWHERE)) - set(all_examples())
    assert not stale, f"the argument table names examples that are gone: {stale}"


@pytest.mark.slow
@pytest.mark.parametrize("name", all_examples())
def test_example_runs(name: str, tmp_path: Path) -> None:
    if name in RUN_ELSEWHERE:
        pytest.skip(RUN_ELSEWHERE[name])
    args = [a.format(tmp=tmp_path) for a in QUICK_ARGS.get(name, [])]
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
