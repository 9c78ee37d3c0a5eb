"""explain_dataset in real processes: killed, interrupted, sharded.

- SIGKILL at random points, then resume: no input lost, none duplicated,
  maps equal to an uninterrupted run.
- SIGINT (Ctrl-C) on ``captum-fido explain``: a one-line message, no
  traceback, exit status 130, and the same command resumes.
- ``torchrun --nproc_per_node 2`` (gloo, CPU): the maps of one process.

Each test starts Python processes (several seconds each to import torch on
a shared machine), so all are marked slow. The in-process crash states are
tested in tests/test_explain_dataset.py.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow

#: Batched and single-image calls differ by float rounding only.
ATOL = 1e-5
N_IMAGES = 12
STEPS = 40

#: The tiny classifier, identical in every process (seeded).
MODEL = """
import torch
from torch import nn

def tiny_model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
        nn.Flatten(), nn.Linear(16, 3),
    ).eval()
"""

WORKER = (
    MODEL
    + """
import sys
torch.set_num_threads(1)
from captum_fido import FIDO, explain_dataset
from captum_fido.infillers import BlurInfiller

data, out, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
fido = FIDO(tiny_model(), BlurInfiller(sigma=2.0))
explain_dataset(fido, data, out, attribute_kwargs={"n_steps": steps},
                batch_size=2, show_progress=False)
"""
)


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    return env


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    r"""Twelve 16 px images in two folders, and one broken file."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for i in range(N_IMAGES):
        path = root / ("a" if i % 2 else "b") / f"img{i:02d}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(path)
    (root / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return root


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory) -> Path:
    r"""An uninterrupted one-process run, in this process."""
    namespace: dict = {}
    exec(MODEL, namespace)  # the same model the workers build
    from captum_fido import FIDO, explain_dataset
    from captum_fido.infillers import BlurInfiller

    out = tmp_path_factory.mktemp("reference") / "out"
    fido = FIDO(namespace["tiny_model"](), BlurInfiller(sigma=2.0))
    explain_dataset(
        fido, data, out, attribute_kwargs={"n_steps": STEPS}, show_progress=False
    )
    return out


def _rows(out: Path) -> list:
    return [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]


def _part_rows(out: Path) -> int:
    parts = out / ".parts"
    if not parts.is_dir():
        return 0
    return sum(p.read_text().count("\n") for p in parts.glob("*.jsonl"))


def _assert_like_reference(out: Path, reference: Path) -> None:
    rows, expected = _rows(out), _rows(reference)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "an input is duplicated"
    assert sorted(ids) == sorted(r["id"] for r in expected), "an input is lost"
    for row in expected:
        if row["status"] == "done":
            np.testing.assert_allclose(
                np.load(out / row["map"]),
                np.load(reference / row["map"]),
                rtol=0,
                atol=ATOL,
            )
    assert [r["status"] for r in rows] == [r["status"] for r in expected]
    assert not list(out.rglob("*.tmp")), "a temporary file was left"


def _wait_for_rows(proc: subprocess.Popen, out: Path, above: int) -> bool:
    r"""Wait until the run has written more than ``above`` rows; ``False``
    when the process ended first."""
    while proc.poll() is None:
        if _part_rows(out) > above:
            return True
        time.sleep(0.02)
    return False


def test_sigkill_at_random_points_then_resume(data, reference, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    argv = [sys.executable, str(script), str(data), str(tmp_path / "out"), str(STEPS)]
    out = tmp_path / "out"
    # How long the work itself takes, from the first row to the end.
    timing = tmp_path / "timing"
    proc = subprocess.Popen([*argv[:3], str(timing), argv[4]], env=_env())
    assert _wait_for_rows(proc, timing, 0)
    first = time.perf_counter()
    assert proc.wait(timeout=300) == 0
    work = time.perf_counter() - first
    rng = random.Random()
    delays, killed = [], 0
    for _ in range(3):
        proc = subprocess.Popen(argv, env=_env())
        if not _wait_for_rows(proc, out, 0):
            break  # nothing left to do
        delays.append(rng.uniform(0.0, 0.6 * work))
        time.sleep(delays[-1])
        proc.send_signal(signal.SIGKILL)
        killed += proc.wait(timeout=60) == -signal.SIGKILL
    assert killed >= 1  # at least one kill cut the run short
    final = subprocess.run(argv, env=_env(), timeout=300)
    assert final.returncode == 0
    message = f"SIGKILL {delays} s after the first row (work {work:.2f} s)"
    try:
        _assert_like_reference(out, reference)
    except AssertionError as err:
        raise AssertionError(f"{message}: {err}") from err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["total"] == N_IMAGES + 1 and summary["failed"] == 1, message


def test_sigint_on_the_command_is_clean_and_resumable(tmp_path):
    from captum_fido.demo.domains import load_domain

    scenes = tmp_path / "scenes"
    scenes.mkdir()
    images, _, _ = load_domain("scenes").load_split("test", 4)
    for i, x in enumerate(images):
        pixels = (x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(scenes / f"s{i}.png")
    out = tmp_path / "out"
    argv = [
        sys.executable,
        "-m",
        "captum_fido",
        "explain",
        str(scenes),
        "--infiller",
        "blur",
        "--steps",
        "60",
        "--batch-size",
        "1",
        "--threads",
        "1",
        "--no-figures",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(
        argv, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert _wait_for_rows(proc, out, 0), proc.communicate()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (stdout, stderr)
    assert "interrupted: the inputs finished so far are kept" in stderr
    assert "run the same command again to resume" in stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    done = _rows(out)
    assert 1 <= len(done) < 4 and all(r["status"] == "done" for r in done)
    again = subprocess.run(argv, env=_env(), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"4 inputs: {4 - len(done)} explained, {len(done)} already done" in (
        again.stdout
    )
    assert sorted(r["id"] for r in _rows(out)) == [f"s{i}.png" for i in range(4)]


def test_two_processes_under_torchrun_give_the_maps_of_one(data, reference, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / "out"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    result = subprocess.run(
        [
            *launcher,
            "--nproc_per_node",
            "2",
            str(script),
            str(data),
            str(out),
            str(STEPS),
        ],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    _assert_like_reference(out, reference)
    ranks = {r["rank"] for r in _rows(out)}
    assert ranks == {0, 1}
    assert not list((out / ".parts").glob("*.jsonl"))  # merged by rank 0
