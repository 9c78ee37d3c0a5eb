r"""Wall time of one FIDO call on a 224 px ResNet-18, default and fewer steps.

Writes ``docs/results/fido_cost_cpu.json``, quoted by ``docs/concepts.md``. The
network is randomly initialised (no weights can be downloaded offline): the
cost of a call depends on the architecture and the step count, not on the
weights. Run:  python docs/_scripts/time_fido_resnet18.py [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
import torchvision
from skimage.data import chelsea

from captum_fido import FIDO
from captum_fido.demo.photos import NormalizedClassifier, photo_to_tensor
from captum_fido.infillers import BlurInfiller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, nargs="+", default=[75, 300])
    parser.add_argument("--out", default="docs/results/fido_cost_cpu.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = NormalizedClassifier(torchvision.models.resnet18(weights=None)).eval()
    x = photo_to_tensor(chelsea())
    fido = FIDO(model, BlurInfiller(sigma=10.0), objective="ssr")
    rows = []
    for n_steps in args.steps:
        start, cpu_start = time.perf_counter(), time.process_time()
        fido.attribute(x, target=281, n_steps=n_steps, seed=0)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        rows.append(
            {
                "n_steps": n_steps,
                "n_samples": 8,
                "wall_seconds": round(wall, 1),
                "cpu_seconds": round(cpu, 1),
            }
        )
        print(rows[-1], flush=True)
        _write(args, rows)


def _write(args: argparse.Namespace, rows: list) -> None:
    info = {
        "model": "torchvision resnet18, 224 x 224, one image, BlurInfiller",
        "device": "cpu",
        "torch_threads": args.threads,
        "processor": platform.processor() or platform.machine(),
        "runs": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(info, indent=2) + "\n")  # after each run


if __name__ == "__main__":
    main()
