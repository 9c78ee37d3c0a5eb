r"""Images per hour: ``explain_dataset`` with its defaults against the old
per-image ``explain``, side by side on one folder of demo scenes.

The folder holds ``--images`` (at least 256 for the goal) 64 px demo test
scenes written as PNG files. Each round explains the next slice of the
folder with :func:`captum_fido.explain_dataset` (the API's defaults: the
method's budget and sparsity, its batch size; one output folder, resumed
round after round) and ``--old-per-round`` other images the way
``captum-fido explain`` did before it (one image per call, 300 steps x 8
samples, ``l1_coeff=1e-4``, the in-painter it shipped with (v2, on OpenCV's
Navier-Stokes fill; ``weights/inpainter_ns.pt``), three counterfactuals,
the classifier pass for the probabilities). Neither side draws figures.
Rounds alternate which side goes first (A B, B A, ...); the ratio is the
median of the per-round ratios of images per hour.

Run:
    python benchmarks/explain_throughput.py                 # full (CPU: hours)
    python benchmarks/explain_throughput.py --device cuda   # where a GPU exists
    python benchmarks/explain_throughput.py --quick         # a smoke run

``--quick`` explains 4 images in 2 rounds with the old side cut to 10
steps: it checks that the script runs, and its ratio is not the goal's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np
import torch
from PIL import Image
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _results import write_run  # noqa: E402

from captum_fido import FIDO, explain_dataset  # noqa: E402
from captum_fido.demo import DEMO_L1_COEFF  # noqa: E402
from captum_fido.explain import find_images, read_image  # noqa: E402

#: The old ``explain``'s per-image settings on the demo model.
OLD = {
    "n_steps": 300,
    "n_samples": 8,
    "l1_coeff": DEMO_L1_COEFF,
    "n_counterfactuals": 3,
}
#: The throughput goal: new over old images per hour.
GOAL = 8.0


def _parse(argv: Any) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=256, help="scenes in the folder")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--old-per-round", type=int, default=2)
    p.add_argument("--old-steps", type=int, default=OLD["n_steps"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=None, help="results JSON")
    a = p.parse_args(argv)
    if a.quick:
        a.images, a.rounds, a.old_per_round, a.old_steps = 4, 2, 1, 10
    if a.images < a.rounds:
        p.error("--images must be at least --rounds")
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        p.error(f"--device {a.device}: no GPU here")
    return a


def _write_scenes(folder: Path, n: int) -> List[Path]:
    from captum_fido.demo.domains import load_domain

    images, _, _ = load_domain("scenes").load_split("test", n)
    folder.mkdir(parents=True)
    paths = []
    for i, x in enumerate(images):
        pixels = (x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        paths.append(folder / f"scene{i:04d}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


def _to(device: torch.device, *objects: Any) -> None:
    r"""Move models and an in-filler's networks to ``device``."""
    for obj in objects:
        modules = [obj] if isinstance(obj, nn.Module) else list(vars(obj).values())
        for m in modules:
            if isinstance(m, nn.Module):
                m.to(device)


def _old_explain(fido: FIDO, device: torch.device, steps: int) -> Callable:
    r"""The old command's work for one file: decode, one classifier pass for
    the probabilities and target, one ``attribute`` call with details."""
    options = {**OLD, "n_steps": steps}

    def explain(path: Path) -> None:
        x = read_image(path).image[None].to(device)
        with torch.no_grad():
            target = int(fido.forward_func(x).softmax(1).argmax())
        attr, details = fido.attribute(
            x, target=target, seed=0, return_details=True, **options
        )
        attr.cpu(), details.counterfactual_probs.cpu()

    return explain


def _timed(fn: Callable[[], Any], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main(argv: Any = None) -> Dict[str, float]:
    from captum_fido.demo import pretrained
    from captum_fido.demo.domains import load_domain

    a = _parse(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    model = load_domain("scenes").load_classifier()
    infiller = pretrained.load_inpainter_infiller()
    # The old explain ran with the in-painter of its day (v2).
    old_infiller = pretrained.load_inpainter_infiller(
        pretrained.WEIGHTS_DIR / "inpainter_ns.pt"
    )
    _to(device, model, infiller, old_infiller)
    fido = FIDO(model, infiller)
    old = _old_explain(FIDO(model, old_infiller), device, a.old_steps)
    work = Path(tempfile.mkdtemp(prefix="explain_throughput-"))
    paths = _write_scenes(work / "scenes", a.images)
    out = work / "out"
    slices = np.array_split(np.arange(a.images), a.rounds)
    rng = np.random.default_rng(0)
    old_pool = list(rng.permutation(a.images))
    rounds = []
    for r, chunk in enumerate(slices):
        images = find_images([paths[i] for i in chunk])
        old_paths = [paths[old_pool.pop()] for _ in range(a.old_per_round)]
        sides = {
            "new": lambda i=images: explain_dataset(
                fido, i, out, device=device, show_progress=False
            ),
            "old": lambda p=old_paths: [old(path) for path in p],
        }
        order = ["new", "old"] if r % 2 == 0 else ["old", "new"]
        seconds = {name: _timed(sides[name], device) for name in order}
        rounds.append(_round(r, a, len(chunk), len(old_paths), seconds))
    return _report(a, device, rounds, work)


def _round(
    r: int, a: argparse.Namespace, n_new: int, n_old: int, seconds: Dict[str, float]
) -> dict:
    per_hour = {
        "new": 3600 * n_new / seconds["new"],
        "old": 3600 * n_old / seconds["old"],
    }
    print(
        f"round {r + 1}/{a.rounds}: new {per_hour['new']:.0f} images/h "
        f"({n_new} in {seconds['new']:.1f} s), old {per_hour['old']:.0f} "
        f"images/h ({n_old} in {seconds['old']:.1f} s)",
        flush=True,
    )
    return {"images": n_new, "seconds": seconds, "per_hour": per_hour}


def _report(
    a: argparse.Namespace, device: torch.device, rounds: List[dict], work: Path
) -> Dict[str, float]:
    ratios = [r["per_hour"]["new"] / r["per_hour"]["old"] for r in rounds]
    new = statistics.median(r["per_hour"]["new"] for r in rounds)
    old = statistics.median(r["per_hour"]["old"] for r in rounds)
    ratio = statistics.median(ratios)
    note = " (--quick: old side at 10 steps; not the goal's measure)" if a.quick else ""
    table = "\n".join(
        [
            f"explain throughput, {a.images} demo scenes (64 px), {device}, "
            f"threads {a.threads or torch.get_num_threads()}{note}",
            "| side | images per hour (median of rounds) |",
            "|---|---|",
            f"| explain_dataset, defaults | {new:.0f} |",
            f"| old explain, one image per call, {a.old_steps} x 8 | {old:.0f} |",
            f"| ratio (median of per-round ratios) | {ratio:.2f}x "
            f"(goal >= {GOAL:.0f}x) |",
        ]
    )
    settings = {
        "images": a.images,
        "rounds": a.rounds,
        "old_per_round": a.old_per_round,
        "old": {**OLD, "n_steps": a.old_steps},
        "device": str(device),
        "threads": a.threads,
        "quick": a.quick,
        "torch": torch.__version__,
    }
    default = Path(__file__).resolve().parents[1] / "docs" / "results"
    name = f"explain_throughput_{device.type}.json"
    out = a.out or (work / name if a.quick else default / name)
    write_run(out, settings, rounds, table)
    return {"new_per_hour": new, "old_per_hour": old, "ratio": ratio}


if __name__ == "__main__":
    main()
