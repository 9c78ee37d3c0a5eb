r"""What every benchmark shares: its arguments, its timing and its result files.

Arguments. :func:`benchmark_parser` gives a script the common flags

- ``--quick``: a smoke run of a few seconds to a minute on 2 CPU cores
  (``run_all.py --quick`` runs every benchmark so, in CI); it checks that
  the script still runs, its numbers are not the ones the documents cite;
- ``--threads N``: torch threads (``0``: torch's default, one per core);
- ``--out PATH``: where the results go (a file or a folder, per script);

and :func:`parse` reads them: with ``--quick`` the script's quick values
replace its defaults (flags given on the command line still win), so a quick
run never writes over the results a document cites.

Timing. The machines are shared and noisy, so benchmarks report *ratios* of
runs interleaved in one process (A, B, A, B, ...), summarised by the median
of the per-round ratios (:func:`interleaved`, :func:`median_ratio`), never
absolute seconds alone.

Results. Every file is written atomically
(:mod:`captum_fido._utils.files`): a killed run leaves the old file or the
new one, never half of one. :func:`write_run` writes one JSON record of a
run's settings, values and printed table, which ``run_all.py`` summarises.

A script that cannot run here (no GPU) calls :func:`skip`: it exits with
:data:`SKIPPED`, which ``run_all.py`` reports as skipped, not failed.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import torch

from captum_fido._utils.files import atomic_path, write_text_atomic

#: Exit status of a benchmark that skipped itself (the autotools convention).
SKIPPED = 77


# -- arguments ---------------------------------------------------------------


def benchmark_parser(
    doc: Optional[str],
    out: Any = None,
    threads: int = 1,
    out_help: str = "results",
) -> argparse.ArgumentParser:
    r"""An argument parser with ``--quick``, ``--threads`` and ``--out``.

    ``doc``'s first paragraph is the description. ``out`` is ``--out``'s
    default (``None``: the results are printed, not written); ``threads`` is
    ``--threads``'s (``0``: torch's default).
    """
    first = (doc or "").strip().split("\n\n")[0]
    parser = argparse.ArgumentParser(
        description=" ".join(first.split()),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: short settings; outputs under outputs/quick/ unless --out",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=threads,
        help="torch threads (0: torch's default, one per core)",
    )
    parser.add_argument(
        "--out", type=Path, default=None if out is None else Path(out), help=out_help
    )
    return parser


def parse(
    parser: argparse.ArgumentParser,
    argv: Optional[Sequence[str]] = None,
    quick: Optional[Mapping[str, Any]] = None,
) -> argparse.Namespace:
    r"""Parse ``argv``; with ``--quick`` ``quick``'s values replace the defaults.

    Flags given on the command line keep their values in a quick run. Sets
    torch's thread count from ``--threads``.
    """
    args = parser.parse_args(argv)
    unknown = sorted(set(quick or {}) - set(vars(args)))
    if unknown:  # a typo would silently leave the full setting in place
        raise ValueError(f"quick values for unknown arguments: {unknown}")
    if args.quick and quick:
        parser.set_defaults(**quick)
        args = parser.parse_args(argv)
    if args.threads < 0:
        parser.error("--threads must be 0 (torch's default) or more")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    return args


def settings(args: argparse.Namespace) -> Dict[str, Any]:
    r"""``args`` as JSON values (paths as strings)."""
    return {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in vars(args).items()
        if v is None or isinstance(v, (bool, int, float, str, list, tuple, Path))
    }


def skip(reason: str) -> None:
    r"""Say why the benchmark cannot run here and exit with :data:`SKIPPED`."""
    print(f"skipped: {reason}", flush=True)
    raise SystemExit(SKIPPED)


# -- timing ------------------------------------------------------------------


def timed(fn: Callable[[], object]) -> float:
    r"""Wall seconds of ``fn()`` (CUDA work included: synchronised around)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def interleaved(
    runs: Dict[str, Callable[[], object]], repeats: int = 3, warmup: int = 1
) -> Dict[str, List[float]]:
    r"""Time each callable ``repeats`` times, interleaved, after ``warmup`` rounds."""
    for _ in range(warmup):
        for fn in runs.values():
            fn()
    times: Dict[str, List[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            times[name].append(timed(fn))
    return times


def median_ratio(times: Dict[str, List[float]], num: str, den: str) -> float:
    r"""Median over rounds of ``time[num] / time[den]`` (pairs from the same round)."""
    return statistics.median(a / b for a, b in zip(times[num], times[den]))


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def bare_passes(model: torch.nn.Module, x: torch.Tensor, rows: int, steps: int) -> None:
    r"""The classifier's own work: ``steps`` forward passes of ``rows`` copies
    of ``x`` and backward passes to the input (no parameter gradients)."""
    for _ in range(steps):
        xb = x.expand(rows, *x.shape[1:]).clone().requires_grad_(True)
        out = model(xb)
        torch.autograd.grad(out[:, 0].sum(), xb)


# -- results -----------------------------------------------------------------


def write_text(path: Path, text: str, quiet: bool = False) -> None:
    r"""Write ``text`` to ``path`` atomically (its folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
    if not quiet:
        print(f"wrote {path}")


def write_json(path: Path, obj: Any, quiet: bool = False) -> None:
    r"""Write ``obj`` as JSON (keys in their order) to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=1) + "\n", quiet=quiet)


def copy_file(source: Path, dest: Path) -> None:
    r"""Copy ``source`` to ``dest`` atomically (its folders are created)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        shutil.copyfile(source, tmp)
    print(f"wrote {dest}")


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    r"""Write ``rows`` (dicts with the first row's keys) as CSV, atomically."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def write_run(
    out: Optional[Path],
    settings: Dict[str, Any],
    values: Any,
    table: str,
    echo: bool = True,
) -> None:
    r"""Print ``table`` (unless ``echo`` is false); write ``{"settings",
    "values", "table"}`` to ``out`` (nothing when ``out`` is ``None``).

    ``run_all.py`` prints the numbers of a flat ``values`` dict in its summary.
    """
    if echo:
        print(table)
    if out is not None:
        write_json(Path(out), {"settings": settings, "values": values, "table": table})
