r"""In-filling's share of a FIDO step, shipped in-painter v3 against v2 (issue 18).

FIDO-SSR with its defaults on demo test scenes, the profiler's labelled time
of ``fido.infill`` against the whole call, for the in-painter v2 (OpenCV
Navier-Stokes coarse fill on the CPU, image by image, + RefineUNet width 24)
and v3 (the push-pull pyramid fill in torch + RefineUNet width 16 at a
quarter resolution), one image per call and a batch of 8, in the same
process (interleaved). The goal: in-filling under a quarter of a step.

Run: ``python benchmarks/infill_share.py [--steps 20] [--rounds 2] [--threads 1]``
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch.profiler import ProfilerActivity, profile

from captum_fido import FIDO, CollapsedMapWarning
from captum_fido.demo.pretrained import (
    WEIGHTS_DIR,
    load_classifier,
    load_inpainter_infiller,
)
from captum_fido.demo.scenes import load_split


def share(
    fido: FIDO, x: torch.Tensor, y: torch.Tensor, steps: int
) -> Tuple[float, float]:
    r"""``(infill share, seconds)`` of one call of ``steps`` steps."""
    with warnings.catch_warnings(), profile(activities=[ProfilerActivity.CPU]) as prof:
        warnings.simplefilter("ignore", CollapsedMapWarning)
        start = time.perf_counter()
        fido.attribute(x, target=y, seed=0, n_steps=steps)
        seconds = time.perf_counter() - start
    infill = sum(
        e.cpu_time_total for e in prof.key_averages() if e.key == "fido.infill"
    )
    return infill / 1e6 / seconds, seconds


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="4 steps, 1 round")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    steps, rounds = (4, 1) if a.quick else (a.steps, a.rounds)
    model = load_classifier()
    x, y = load_split("test", 8)
    fills = {
        "v2 (Navier-Stokes)": load_inpainter_infiller(WEIGHTS_DIR / "inpainter_ns.pt"),
        "v3 (pyramid, shipped)": load_inpainter_infiller(),
    }
    results: Dict[Tuple[str, int], List[Tuple[float, float]]] = {}
    for _ in range(rounds):
        for n in (1, 8):
            for name, fill in fills.items():
                fido = FIDO(model, fill)
                fido.attribute(x[:n], target=y[:n], seed=0, n_steps=2)  # warm-up
                results.setdefault((name, n), []).append(
                    share(fido, x[:n], y[:n], steps)
                )
    print(
        f"FIDO-SSR defaults, {steps} steps, {a.threads} thread(s), median of {rounds}"
    )
    for n in (1, 8):
        times = {}
        for name in fills:
            runs = results[(name, n)]
            frac = statistics.median(r[0] for r in runs)
            times[name] = statistics.median(r[1] for r in runs)
            print(
                f"  {n} image(s) | {name:<22} | in-fill {frac:5.1%} of the call | "
                f"{times[name] / (n * steps) * 1000:6.1f} ms per image-step"
            )
        v2, v3 = times.values()
        print(f"  {n} image(s) | v3 / v2 time per step: {v3 / v2:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
