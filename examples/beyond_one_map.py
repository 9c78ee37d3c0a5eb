r"""Beyond one soft map: a hard-edged mask, two alternative explanations, and
the map's uncertainty.

1. A demo scene, FIDO-SSR with ``hard=True`` and the temperature annealed
   from 0.1 to 0.01: the soft map, the binary map, and the target's
   probability under each (shipped demo classifier, Local in-filler).
2. A hand-built classifier that fires on either of two bright patches
   (``logit = max`` of two patch detectors): two SSR explanations, found one
   after the other with an overlap penalty, each a different patch.
3. The same scene's map with its spread over seeds and over samples from
   the learned distribution.

FIDO runs its defaults (72 steps x 4 samples, a sparsity weight set per
image) except in part 2: there the first explanation keeps both patches
after 72 steps (both together are already worth their area), so the
two-patch runs take 300 steps (they cost next to nothing).

Writes three figures; well under a minute on one CPU core (``--quick``: a
few seconds, shorter runs).

Run:  python examples/beyond_one_map.py [--quick] [--out outputs/beyond_one_map]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import List, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from captum_fido import FIDO
from captum_fido.attr import (
    alternative_explanations,
    map_uncertainty,
    plot_explanations,
    plot_uncertainty,
)
from captum_fido.demo.domains import load_domain
from captum_fido.infillers import LocalInfiller, MeanInfiller

PATCH_A, PATCH_B = (8, 8, 14, 14), (40, 38, 14, 14)


class TwoPatches(nn.Module):
    r"""``logit_1 = 30 (max(mean(A), mean(B)) - 0.5)``: either patch suffices."""

    def forward(self, x: Tensor) -> Tensor:
        a, b = (
            x[:, :, t : t + h, l : l + w].mean(dim=(1, 2, 3))
            for t, l, h, w in (PATCH_A, PATCH_B)
        )
        s = 30.0 * (torch.maximum(a, b) - 0.5)
        return torch.stack([-s, s], dim=1)


def two_patch_image() -> Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 64, 64, generator=g) * 0.3
    for t, l, h, w in (PATCH_A, PATCH_B):
        x[:, :, t : t + h, l : l + w] = 0.9 + 0.1 * torch.rand(1, 3, h, w, generator=g)
    return x


def hard_mask(steps: Optional[int], out: Path) -> None:
    r"""Part 1: soft versus binary map on a demo scene."""
    domain = load_domain("scenes")
    x, labels, _ = domain.load_split("test", 1)
    model, fill = domain.load_classifier(), LocalInfiller(window=5)
    binary, details = FIDO(model, fill).attribute(
        x,
        target=labels,
        n_steps=steps,
        temperature_final=0.01,
        hard=True,
        n_counterfactuals=8,
        seed=0,
        return_details=True,
    )
    soft = F.interpolate(details.keep_prob[0], size=x.shape[-2:], mode="bilinear")
    p_soft = float(details.counterfactual_probs.mean())
    p_hard, t = float(details.hard_probs[0]), round(float(details.hard_threshold[0]), 3)
    print(
        f"1. hard mask: p clean {float(details.clean_log_odds.sigmoid()[0]):.3f}, "
        f"soft draws {p_soft:.3f}, binary map {p_hard:.3f} "
        f"(cut at {t}, kept {float(binary[0, 0].mean()):.1%} of the pixels)"
    )
    fig, axes = plt.subplots(1, 3, figsize=(8.5, 3.0))
    panels = [
        (x[0].permute(1, 2, 0), f"scene ({domain.classes[int(labels[0])]})"),
        (soft[0, 0], f"keep probability; draws p = {p_soft:.2f}"),
        (binary[0, 0], f"binary (> {t}); p = {p_hard:.2f}"),
    ]
    for ax, (image, title) in zip(axes, panels):
        ax.imshow(image.clamp(0, 1).numpy(), vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(out / "hard.png", dpi=90)
    plt.close(fig)


def alternatives(steps: int, out: Path) -> None:
    r"""Part 2: two explanations of a model that fires on either patch."""
    x = two_patch_image()
    fido = FIDO(TwoPatches(), MeanInfiller([0.15, 0.15, 0.15]))
    found = alternative_explanations(
        fido, x, target=1, k=2, n_steps=steps, hard=True, seed=0
    )
    for i, e in enumerate(found, start=1):
        print(f"2. explanation {i}: p = {float(e.class_probs[0]):.4f}")
    plt.close(plot_explanations(x, found, path=out / "alternatives.png"))


def uncertainty(steps: Optional[int], seeds: List[int], out: Path) -> None:
    r"""Part 3: a demo scene's map with its spread."""
    domain = load_domain("scenes")
    x, labels, _ = domain.load_split("test", 1)
    fido = FIDO(domain.load_classifier(), LocalInfiller(window=5))
    u = map_uncertainty(fido, x, target=labels, seeds=seeds, n_steps=steps)
    print(
        f"3. uncertainty over {len(seeds)} seeds: mean std over seeds "
        f"{float(u.seed_std.mean()):.3f}, over samples {float(u.sample_std.mean()):.3f}"
    )
    plt.close(plot_uncertainty(x, u, path=out / "uncertainty.png"))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/beyond_one_map"))
    parser.add_argument("--quick", action="store_true", help="short runs, 2 seeds")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    # None: FIDO's default step count.
    steps, seeds = (15, [0, 1]) if args.quick else (None, [0, 1, 2, 3])
    hard_mask(steps, args.out)
    alternatives(40 if args.quick else 300, args.out)
    uncertainty(steps, seeds, args.out)
    print(f"saved {args.out}/hard.png, alternatives.png, uncertainty.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
