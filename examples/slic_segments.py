r"""Superpixels as features: FIDO on SLIC segments, and Captum's FeatureAblation
with a zero baseline versus an in-fill baseline on the same segments.

Top row: a demo scene and the shipped demo classifier (trained; the map should
sit on the object). Bottom row: scikit-image's ``chelsea`` photo at 80 px and
a torchvision ``resnet18(weights=None)`` (random weights, no download: the
row shows the mechanics on a real photo, not a meaningful explanation).
Runs offline on a CPU in well under 30 s.

Run:  python examples/slic_segments.py [--out outputs/slic_segments.png]
"""

from __future__ import annotations

import argparse
import os
from typing import List, Optional, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from captum.attr import FeatureAblation
from skimage.segmentation import find_boundaries, slic
from torch import Tensor, nn

from captum_fido import FIDO, InfillBaseline
from captum_fido.infillers import LocalInfiller


def slic_segments(image: Tensor, n_segments: int = 40) -> Tensor:
    r"""SLIC superpixels of one ``(3, H, W)`` image as a ``(1, 1, H, W)``
    long tensor of segment ids (Captum's ``feature_mask`` form)."""
    hwc = image.permute(1, 2, 0).double().numpy()
    ids = slic(hwc, n_segments=n_segments, compactness=10.0, start_label=0)
    return torch.from_numpy(ids).long()[None, None]


def ablation_maps(
    model: nn.Module, x: Tensor, target: int, segments: Tensor
) -> Tuple[Tensor, Tensor]:
    r"""FeatureAblation on the segments: zero baseline, then in-fill baseline."""
    kwargs = dict(target=target, feature_mask=segments, perturbations_per_eval=16)
    zero = FeatureAblation(model).attribute(x, baselines=0.0, **kwargs)
    infill = InfillBaseline(model, LocalInfiller()).attribute(
        FeatureAblation, x, **kwargs
    )
    return zero, infill


def scene_row(
    steps: Optional[int],
) -> Tuple[Tensor, Tensor, List[Tensor], List[str]]:
    r"""A demo scene: FIDO-SSR on its superpixels (``steps``: ``None`` for
    FIDO's default) and both ablation maps."""
    from captum_fido.demo.domains import load_domain

    domain = load_domain("scenes")
    x, labels, _ = domain.load_split("test", 1)
    model = domain.load_classifier()
    target = int(labels[0])
    segments = slic_segments(x[0])
    fido = FIDO(model, LocalInfiller(), objective="ssr").attribute(
        x, target=target, feature_mask=segments, n_steps=steps, seed=0
    )
    zero, infill = ablation_maps(model, x, target, segments)
    titles = ["FIDO-SSR on segments", "FA, zero baseline", "FA, Local in-fill"]
    return x, segments, [fido, zero, infill], titles


def photo_row() -> Tuple[Tensor, Tensor, List[Tensor], List[str]]:
    r"""``chelsea`` at 80 px, an untrained resnet18: ablation maps only."""
    from skimage import data
    from torchvision.models import resnet18

    photo = torch.from_numpy(data.chelsea()).permute(2, 0, 1).float() / 255
    x = nn.functional.interpolate(
        photo[None], size=(60, 80), mode="bilinear", antialias=True
    )
    torch.manual_seed(0)
    model = resnet18(weights=None).eval()
    segments = slic_segments(x[0])
    target = int(model(x).argmax())
    zero, infill = ablation_maps(model, x, target, segments)
    titles = ["", "FA, zero (resnet18 untrained)", "FA, Local in-fill"]
    return x, segments, [torch.zeros_like(x), zero, infill], titles


def draw(rows: list, out: str) -> None:
    fig, axes = plt.subplots(len(rows), 4, figsize=(12, 3.2 * len(rows)))
    for row_axes, (x, segments, maps, titles) in zip(axes, rows):
        image = x[0].permute(1, 2, 0).clamp(0, 1).numpy()
        edges = find_boundaries(segments[0, 0].numpy())
        shown = image.copy()
        shown[edges] = (1.0, 1.0, 0.0)
        row_axes[0].imshow(shown)
        row_axes[0].set_title(f"SLIC, {int(segments.max()) + 1} segments")
        for ax, attr, title in zip(row_axes[1:], maps, titles):
            if not title:
                ax.axis("off")
                continue
            a = attr[0, 0].numpy()
            bound = float(np.abs(a).max()) or 1.0
            cmap, vmin = ("viridis", 0.0) if "FIDO" in title else ("bwr", -bound)
            ax.imshow(a, cmap=cmap, vmin=vmin, vmax=bound)
            ax.set_title(title)
        for ax in row_axes:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="outputs/slic_segments.png")
    parser.add_argument(
        "--steps", type=int, default=None, help="FIDO steps (default: FIDO's)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one thread per process, as the README's policy
    rows = [scene_row(args.steps), photo_row()]
    draw(rows, args.out)
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
