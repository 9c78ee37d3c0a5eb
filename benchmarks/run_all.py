r"""Run every benchmark, each in its own process, and print a summary.

Run::

    python benchmarks/run_all.py --quick          # every benchmark's smoke run (CI)
    python benchmarks/run_all.py --group perf     # the performance goals (~8 min)
    python benchmarks/run_all.py overhead memory  # some, at their full settings
    python benchmarks/run_all.py --list
    python benchmarks/run_all.py --quick --jobs 2  # two at a time, as CI does

``--quick`` runs each script's ``--quick`` mode: a few seconds to a minute
each on 2 CPU cores, to check that none has rotted; their numbers are not
the ones the documents cite. Without ``--quick`` every script runs at its
full settings (the studies take from minutes to hours). Either way every
output goes under ``--out-dir`` (``outputs/benchmarks/<quick|full>/<name>``),
never over the results in ``docs/``: the commands the documents cite write
those. A script that cannot run here (a GPU-only one without a GPU) says so
and counts as skipped; any other failure makes the exit status 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
#: The exit status of a benchmark that skipped itself (``_runner.SKIPPED``;
#: not imported, so that listing the plan needs no torch).
SKIPPED = 77


@dataclass(frozen=True)
class Benchmark:
    r"""One script of the plan.

    Attributes:
        name: The script, ``benchmarks/<name>.py``.
        group: ``perf`` (the performance goals of README.md's table, minutes
            at full settings) or ``study`` (the rest; minutes to hours).
        outputs: Arguments naming where it writes; ``{out}`` is its folder
            under ``--out-dir``. ``result.json`` there, when written by
            ``_runner.write_run``, is summarised.
    """

    name: str
    group: str
    outputs: Tuple[str, ...] = ("--out", "{out}")


_JSON = ("--out", "{out}/result.json")

#: Every benchmark script, in the order they run.
PLAN: Tuple[Benchmark, ...] = (
    Benchmark("overhead", "perf", _JSON),
    Benchmark("batching", "perf", _JSON),
    Benchmark("torchray_peer", "perf", _JSON),
    Benchmark("memory", "perf", _JSON),
    Benchmark("gpu_resnet50", "perf", _JSON),
    Benchmark("infillers", "perf", _JSON),
    Benchmark("infill_share", "study", ()),
    Benchmark("threads", "study", ()),
    Benchmark("explain_throughput", "study", _JSON),
    Benchmark("defaults", "study"),
    # Its --quick writes under outputs/bbmp_ca_sweep_quick/ whatever --out says.
    Benchmark("bbmp_ca_sweep", "study", ()),
    Benchmark("infiller_quality", "study", ("--write", "--out", "{out}/report.md")),
    Benchmark("hard_masks", "study"),
    Benchmark("segment_tv", "study", _JSON),
    Benchmark("tabular_attribution", "study", _JSON),
    Benchmark(
        "infill_baselines",
        "study",
        ("--out", "{out}", "--preview", "{out}/preview", "--figure", "{out}/maps.png"),
    ),
    Benchmark("infill_baseline_edges", "study", _JSON),
    Benchmark("amortised", "study"),
    Benchmark("amortised_refine_schedules", "study"),
    Benchmark(
        "counterfactual_digits",
        "study",
        ("--out", "{out}/results.md", "--figure", "{out}/paths.png"),
    ),
    Benchmark("reproduction_report", "study", ("--out", "{out}/reproduction.md")),
    # Its --quick writes under outputs/wsl_anomaly_quick/ whatever --out says.
    Benchmark("wsl_anomaly", "study", ()),
    Benchmark("marginalisation", "study"),
)


@dataclass
class Outcome:
    name: str
    status: str  # ok, failed (exit status), skipped, timed out
    seconds: float
    values: Dict[str, float]


def command(bench: Benchmark, quick: bool, out: Path) -> List[str]:
    r"""The command line that runs ``bench`` with its outputs in ``out``."""
    args = [a.replace("{out}", str(out)) for a in bench.outputs]
    if not quick and bench.name == "reproduction_report":
        # It reports on compare's output; the committed runs are its input.
        args = [
            str(HERE.parent / "docs/results" / d) for d in ("scenes", "context")
        ] + args
    return (
        [sys.executable, str(HERE / f"{bench.name}.py")]
        + (["--quick"] if quick else [])
        + args
    )


def _values(out: Path) -> Dict[str, float]:
    r"""The numbers of ``out/result.json``'s flat ``values``, if any."""
    try:
        values = json.loads((out / "result.json").read_text())["values"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not isinstance(values, dict):
        return {}
    return {
        k: float(v)
        for k, v in values.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


_PRINT = threading.Lock()


def run(
    bench: Benchmark,
    quick: bool,
    root: Path,
    timeout: Optional[float],
    capture: bool = False,
) -> Outcome:
    r"""Run one benchmark. ``capture``: its output goes to ``<out>/log.txt``
    and is printed, whole, when it ends (for benchmarks run side by side)."""
    out = root / bench.name
    if quick and out.exists():
        shutil.rmtree(out)  # a quick run starts afresh instead of resuming
    out.mkdir(parents=True, exist_ok=True)
    cmd = command(bench, quick, out)
    header = f"\n=== {bench.name} ===\n$ {' '.join(cmd)}"
    if not capture:
        print(header, flush=True)
    env = {**os.environ, "MPLBACKEND": os.environ.get("MPLBACKEND", "Agg")}
    log = out / "log.txt"
    start = time.perf_counter()
    try:
        if capture:
            with open(log, "w") as fh:
                rc: Optional[int] = subprocess.run(
                    cmd, env=env, timeout=timeout, stdout=fh, stderr=subprocess.STDOUT
                ).returncode
        else:
            rc = subprocess.run(cmd, env=env, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        rc = None
    seconds = time.perf_counter() - start
    if rc is None:
        status = f"timed out ({timeout:.0f} s)"
    elif rc == 0:
        status = "ok"
    elif rc == SKIPPED:
        status = "skipped"
    else:
        status = f"failed (exit {rc})"
    with _PRINT:
        if capture:
            print(header + "\n" + log.read_text(errors="replace").rstrip())
        print(f"--- {bench.name}: {status}, {seconds:.0f} s", flush=True)
    return Outcome(bench.name, status, seconds, _values(out))


def summary(outcomes: Sequence[Outcome], wall: float) -> str:
    width = max([len(o.name) for o in outcomes] + [len("benchmark")])
    lines = [f"{'benchmark':<{width}}  {'status':<18} {'seconds':>7}"]
    for o in outcomes:
        lines.append(f"{o.name:<{width}}  {o.status:<18} {o.seconds:7.0f}")
        for k, v in o.values.items():
            if math.isfinite(v):
                lines.append(f"{'':<{width}}    {k:<36} {v:.4g}")
    failed = [o.name for o in outcomes if o.status not in ("ok", "skipped")]
    skipped = [o.name for o in outcomes if o.status == "skipped"]
    lines.append(
        f"{len(outcomes)} benchmarks in {wall:.0f} s: "
        f"{len(outcomes) - len(failed) - len(skipped)} ok, "
        f"{len(skipped)} skipped{' (' + ', '.join(skipped) + ')' if skipped else ''}, "
        f"{len(failed)} failed{' (' + ', '.join(failed) + ')' if failed else ''}"
    )
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[1:]),
    )
    names = [b.name for b in PLAN]
    p.add_argument("names", nargs="*", metavar="NAME", help="benchmarks (default: all)")
    p.add_argument("--quick", action="store_true", help="every script's smoke run")
    p.add_argument("--group", choices=("perf", "study"), default=None)
    p.add_argument("--out-dir", type=Path, default=None)
    p.add_argument(
        "--timeout", type=float, default=None, help="seconds per benchmark (none)"
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="benchmarks run side by side (their timings then disturb each other)",
    )
    p.add_argument("--list", action="store_true", help="print the plan and exit")
    a = p.parse_args(argv)
    unknown = sorted(set(a.names) - set(names))
    if unknown:
        p.error(f"unknown benchmarks {unknown}; known: {', '.join(names)}")
    chosen = [
        b
        for b in PLAN
        if (not a.names or b.name in a.names) and (a.group in (None, b.group))
    ]
    root = a.out_dir or Path("outputs/benchmarks") / ("quick" if a.quick else "full")
    if a.list:
        for b in chosen:
            print(f"{b.group:<6} {' '.join(command(b, a.quick, root / b.name))}")
        return 0
    if a.jobs < 1:
        p.error("--jobs must be 1 or more")
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        outcomes = list(
            pool.map(lambda b: run(b, a.quick, root, a.timeout, a.jobs > 1), chosen)
        )
    print("\n=== summary ===\n" + summary(outcomes, time.perf_counter() - start))
    return 0 if all(o.status in ("ok", "skipped") for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
