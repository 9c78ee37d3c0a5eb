r"""How many torch threads should one FIDO process use? (issue 18, item 7)

Times FIDO-SSR with its defaults per image, in one process, with 1 thread
and with torch's default (one per core), side by side (interleaved rounds,
median of per-round ratios), on:

- the demo scenes classifier with the shipped in-painter (64 px);
- a torchvision ResNet-18 at 224 px (random weights: the cost is what is
  measured) with Blur in-fill, on a few steps;

each on a quiet machine and with a competing job (another process running
torch matrix products with torch's default thread count, as a second
``captum-fido`` run or a training job would).

Run: ``python benchmarks/threads.py [--rounds 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time
import warnings
from typing import Callable, Dict, List, Optional, Sequence

import torch

from captum_fido import FIDO, CollapsedMapWarning


def _busy(stop: mp.synchronize.Event) -> None:  # pragma: no cover - subprocess
    a = torch.rand(512, 512)
    while not stop.is_set():
        a = (a @ a).clamp_(-1, 1)


def _demo(steps: Optional[int]) -> Callable[[], None]:
    from captum_fido.demo.domains import load_domain
    from captum_fido.demo.pretrained import load_inpainter_infiller

    domain = load_domain("scenes")
    model = domain.load_classifier()
    x, y, _ = domain.load_split("test", 1)
    fido = FIDO(model, load_inpainter_infiller())
    options = {} if steps is None else {"n_steps": steps}
    return lambda: fido.attribute(x, target=y, seed=0, **options)


def _resnet(steps: int) -> Callable[[], None]:
    from torchvision.models import resnet18

    from captum_fido.infillers import BlurInfiller

    model = resnet18(weights=None, num_classes=10).eval()
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    fido = FIDO(model, BlurInfiller(10.0))
    return lambda: fido.attribute(x, target=0, seed=0, n_steps=steps)


def _time(fn: Callable[[], None], threads: int) -> float:
    torch.set_num_threads(threads)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapsedMapWarning)
        fn()
    return time.perf_counter() - start


def measure(
    fn: Callable[[], None], counts: Sequence[int], rounds: int
) -> Dict[int, List[float]]:
    r"""Seconds per call for each thread count, interleaved over rounds."""
    _time(fn, counts[0])  # warm-up
    times: Dict[int, List[float]] = {c: [] for c in counts}
    for _ in range(rounds):
        for c in counts:
            times[c].append(_time(fn, c))
    return times


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="1 round, short runs")
    a = p.parse_args(argv)
    cores = os.cpu_count() or 1
    default = torch.get_num_threads()
    counts = sorted({1, default})
    rounds = 1 if a.quick else a.rounds
    cases = {
        "demo scenes, defaults": _demo(3 if a.quick else None),
        "ResNet-18 224 px, 6 steps": _resnet(1 if a.quick else 6),
    }
    print(f"{cores} cores; torch's default: {default} threads; rounds: {rounds}")
    for load in ("quiet", "one competing job"):
        stop = mp.get_context("spawn").Event()
        job = None
        if load != "quiet":
            job = mp.get_context("spawn").Process(target=_busy, args=(stop,))
            job.start()
            time.sleep(2)
        try:
            for name, fn in cases.items():
                times = measure(fn, counts, rounds)
                cells = ", ".join(
                    f"{c} thread(s) {statistics.median(times[c]):.2f} s" for c in counts
                )
                ratio = statistics.median(
                    a / b for a, b in zip(times[default], times[1])
                )
                print(f"{load:>18} | {name:<26} | {cells} | default / 1 = {ratio:.2f}")
        finally:
            stop.set()
            if job is not None:
                job.join()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
