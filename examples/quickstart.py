r"""FIDO-SSR, FIDO-SDR and BBMP next to Captum's Saliency on one image.

The classifier is built by hand so the right answer is known: it scores
"red square" by the strongest response of a 7x7 redness detector, so only the
red square matters for class 0; a small blue square is a distractor.

Each method runs its defaults (FIDO 72 steps x 4 samples, BBMP 144 x 1, a
sparsity weight set from the log-odds the full in-fill removes); ``--steps``
overrides the step count.

Run:  python examples/quickstart.py [--out outputs/quickstart.png] [--steps N]
"""

from __future__ import annotations

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from captum.attr import Saliency
from torch import nn

from captum_fido import BBMP, FIDO
from captum_fido.infillers import BlurInfiller


class SquareDetector(nn.Module):
    r"""Logits (red square, blue square, nothing) from colour detectors."""

    def __init__(self) -> None:
        super().__init__()
        self.detect = nn.Conv2d(3, 2, kernel_size=7, padding=3, bias=False)
        with torch.no_grad():
            self.detect.weight.zero_()
            # redness = R - (G + B) / 2, blueness = B - (R + G) / 2, averaged over 7x7
            self.detect.weight[0] = torch.tensor([1.0, -0.5, -0.5])[:, None, None] / 49
            self.detect.weight[1] = torch.tensor([-0.5, -0.5, 1.0])[:, None, None] / 49

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        evidence = torch.relu(self.detect(x)).amax(dim=(2, 3))  # (N, 2)
        logits = 40.0 * (evidence - 0.3)
        return torch.cat([logits, torch.zeros_like(logits[:, :1])], dim=1)


def make_image(size: int = 64, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    img = 0.35 + 0.15 * torch.rand(3, size, size, generator=g)  # grey texture
    img[:, 12:28, 36:52] = torch.tensor([0.9, 0.15, 0.1])[:, None, None]  # red
    img[:, 44:50, 12:18] = torch.tensor([0.1, 0.2, 0.9])[:, None, None]  # blue
    return img.unsqueeze(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="outputs/quickstart.png")
    parser.add_argument(
        "--steps", type=int, default=None, help="steps (default: each method's)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one thread per process, as the README's policy

    model = SquareDetector().eval()
    x = make_image()
    target = 0  # "red square"
    infiller = BlurInfiller(sigma=10.0)
    maps = {
        "FIDO-SSR (Blur)": FIDO(model, infiller, objective="ssr"),
        "FIDO-SDR (Blur)": FIDO(model, infiller, objective="sdr"),
        "BBMP (Blur)": BBMP(model, infiller),
    }
    results = {}
    for name, method in maps.items():
        results[name] = method.attribute(
            x, target=target, n_steps=args.steps, seed=args.seed, show_progress=True
        )[0, 0]
    saliency = Saliency(model).attribute(x.clone().requires_grad_(), target=target)
    results["Saliency (Captum)"] = saliency[0].abs().amax(0)

    fig, axes = plt.subplots(1, 1 + len(results), figsize=(3 * (1 + len(results)), 3.2))
    axes[0].imshow(x[0].permute(1, 2, 0).clamp(0, 1).numpy())
    axes[0].set_title("image (explain: red)")
    for ax, (name, m) in zip(axes[1:], results.items()):
        ax.imshow(m.detach().numpy(), cmap="inferno", vmin=0)
        ax.set_title(name, fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=100)
    t, l = 12, 36
    for name, m in results.items():
        inside = m[t : t + 16, l : l + 16].sum() / m.sum().clamp_min(1e-12)
        print(f"{name:>20}: share of the map on the red square = {inside:.2f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
