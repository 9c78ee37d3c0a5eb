r"""Run every performance benchmark and print the ratios in one table.

Run: python benchmarks/run_all.py [--quick]

``--quick`` shortens every run (fewer steps and repeats) for a smoke check;
the figures in benchmarks/README.md come from the full run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import batching  # noqa: E402
import gpu_resnet50  # noqa: E402
import infillers  # noqa: E402
import memory  # noqa: E402
import overhead  # noqa: E402
import torchray_peer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    q = args.quick
    plan = [
        (
            "1 overhead",
            overhead.main,
            ["--steps", "10" if q else "30", "--repeats", "2" if q else "3"],
        ),
        (
            "2 batching",
            batching.main,
            ["--steps", "2" if q else "4", "--repeats", "1" if q else "2"],
        ),
        (
            "3 TorchRay peer",
            torchray_peer.main,
            ["--short", "5" if q else "10", "--long", "20" if q else "60"],
        ),
        (
            "5 memory",
            memory.main,
            ["--images", "1", "4"] + (["--calls", "200"] if q else []),
        ),
        ("6 GPU ResNet-50", gpu_resnet50.main, ["--steps", "30" if q else "300"]),
        ("7 infillers", infillers.main, ["--repeats", "2" if q else "5"]),
    ]
    summary = {}
    for name, fn, argv in plan:
        print(f"\n=== goal {name} ===")
        t0 = time.time()
        summary[name] = fn(argv)
        print(f"({time.time() - t0:.0f} s)")
    print("\n=== summary ===")
    for name, res in summary.items():
        for k, v in (res or {}).items():
            print(f"  {name:<24} {k:<36} {v:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
