r"""Goal 5: peak memory against the number of images, and no growth over calls.

Peak resident memory is measured in a fresh subprocess per configuration
(``ru_maxrss`` minus that of the same process before ``attribute``), for N
images x 8 samples on resnet18, with and without ``internal_batch_size``. Then
1,000 repeated calls on a small CNN check that neither the resident memory
nor the number of live tensors grows.

Run: python benchmarks/memory.py [--size 224] [--images 1 2 4 8]
[--internal-batch-size 8] [--calls 1000] [--out FILE.json] (``--quick``: 64 px,
N = 2, 100 calls).
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import warnings
from typing import Dict, List, Optional, Sequence

import torch
from _runner import benchmark_parser, parse, settings, write_run

CHILD = r"""
import json, sys, torch, torchvision
def peak_kb():
    # VmHWM belongs to this process image; ru_maxrss would carry over the
    # parent's peak across fork + exec.
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM"))
from captum_fido import FIDO
from captum_fido.infillers import BlurInfiller
n, size, mbs, threads = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
if threads > 0:
    torch.set_num_threads(threads)
torch.manual_seed(0)
model = torchvision.models.resnet18(weights=None).eval()
x = torch.rand(n, 3, size, size)
with torch.no_grad():
    model(x[:1])
before = peak_kb()
FIDO(model, BlurInfiller()).attribute(
    x, target=0, n_steps=2, n_samples=8, seed=0,
    internal_batch_size=None if mbs == "none" else int(mbs))
after = peak_kb()
print(json.dumps({"peak_mb": (after - before) / 1024}))
"""


def peak_mb(n: int, size: int, internal_batch_size: str, threads: int) -> float:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(n),
            str(size),
            internal_batch_size,
            str(threads),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["peak_mb"])


def repeated_calls(calls: int) -> Dict[str, float]:
    from captum_fido import FIDO
    from captum_fido.infillers import LocalInfiller

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 4),
    ).eval()
    x = torch.rand(2, 3, 32, 32)
    fido = FIDO(model, LocalInfiller(window=5))

    def live_tensors() -> int:
        gc.collect()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated torch attributes
            return sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor))

    def current_rss_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    marks: Dict[str, float] = {}
    for i in range(1, calls + 1):
        fido.attribute(
            x, target=1, n_steps=2, n_samples=2, seed=i, return_details=i % 2 == 0
        )
        if i in (100, calls // 2, calls):
            marks[f"rss_mb_{i}"] = current_rss_mb()
            marks[f"tensors_{i}"] = live_tensors()
    return marks


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = benchmark_parser(__doc__, threads=0, out_help="results JSON")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--images", type=int, nargs="+", default=[1, 2, 4, 8])
    # --max-batch-size: the option's name before it became internal_batch_size.
    parser.add_argument(
        "--internal-batch-size",
        "--max-batch-size",
        dest="internal_batch_size",
        default="8",
    )
    parser.add_argument("--calls", type=int, default=1000)
    args = parse(parser, argv, quick=dict(size=64, images=[2], calls=100, threads=1))

    res: Dict[str, float] = {}
    lines: List[str] = []

    def say(line: str) -> None:  # printed as measured, kept for the results
        lines.append(line)
        print(line, flush=True)

    say(
        f"peak memory above the loaded model, resnet18 {args.size}px, N images x 8 samples"
    )
    ibs = f"internal_batch_size={args.internal_batch_size} MB"
    say(f"  {'N':>3} {'unchunked MB':>14} {ibs:>22}")
    rows: List[tuple] = []
    for n in args.images:
        full = peak_mb(n, args.size, "none", args.threads)
        chunked = peak_mb(n, args.size, args.internal_batch_size, args.threads)
        rows.append((n, full, chunked))
        res[f"peak_mb_n{n}"] = full
        res[f"peak_mb_n{n}_chunked"] = chunked
        say(f"  {n:>3} {full:>14.0f} {chunked:>22.0f}")
    if len(rows) > 1:
        growth_full = rows[-1][1] / max(rows[0][1], 1.0)
        growth_chunked = rows[-1][2] / max(rows[0][2], 1.0)
        res["peak_growth_unchunked"] = growth_full
        res["peak_growth_chunked"] = growth_chunked
        say(
            f"  N={rows[-1][0]} vs N={rows[0][0]}: unchunked x{growth_full:.2f}, "
            f"chunked x{growth_chunked:.2f}"
        )
    marks = repeated_calls(args.calls)
    res.update(marks)
    say(
        f"  {args.calls} repeated calls: "
        + ", ".join(f"{k}={v:.0f}" for k, v in marks.items())
    )
    write_run(args.out, settings(args), res, "\n".join(lines), echo=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
