r"""Side-by-side timing helpers for the benchmarks.

The machines are shared and noisy, so every benchmark reports *ratios* of
runs interleaved in one process (A, B, A, B, ...), summarised by the median of
the per-pair ratios, never absolute seconds alone.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable, Dict, List

import torch


def timed(fn: Callable[[], object]) -> float:
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


def median(values: List[float]) -> float:
    return statistics.median(values)
