r"""Train the demo's two in-filling models: the GAN inpainter and the VAE.

Usage::

    python -m captum_fido.demo.train_inpainters --model inpainter
    python -m captum_fido.demo.train_inpainters --model vae
    python -m captum_fido.demo.train_inpainters --model both --tiny   # smoke

Both models learn to complete a scene from its observed pixels under the
large, FIDO-shaped holes of :mod:`captum_fido.demo.masks`. The target is the
scene itself, except when only a small part of the object is observed (less
than 10% of its pixels for the inpainter, 50% for the VAE): then it is the
scene *without* the object (:func:`~captum_fido.demo.masks.infill_targets`),
so the models remove objects rather than re-draw them from fragments.

- ``inpainter``: :class:`~captum_fido.demo.models.InpaintingUNet` with L1
  reconstruction on the holes plus a hinge patch-GAN loss
  (:class:`~captum_fido.demo.models.PatchDiscriminator`); writes
  ``weights/inpainter.pt``.
- ``vae``: :class:`~captum_fido.demo.models.CompletionVAE` with L1
  reconstruction on the holes plus a KL term; writes ``weights/vae.pt``.

Seeded (scenes, masks, initialisation, latent noise) and shows tqdm
progress; a JSON summary with the losses sits next to each weight file.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from captum_fido.demo._training import (
    WEIGHTS_DIR,
    save_state,
    seed_everything,
    set_threads,
)
from captum_fido.demo.masks import infill_targets, sample_keep_masks
from captum_fido.demo.models import CompletionVAE, InpaintingUNet, PatchDiscriminator
from captum_fido.demo.scenes import load_split

__all__ = ["train_inpainter", "train_vae", "main", "INPAINTER_MASK_WEIGHTS"]

#: Frequency of each of ``MASK_KINDS`` ("grid", "blobs", "boxes", "strokes",
#: "object", "keep_object") for the inpainter: FIDO-like grids most often.
INPAINTER_MASK_WEIGHTS = (0.5, 0.12, 0.08, 0.1, 0.1, 0.1)


class _SceneBank:
    r"""Training scenes held as uint8 tensors; yields seeded training batches."""

    def __init__(
        self,
        n: int,
        seed: int,
        min_kept_fraction: float = 0.5,
        mask_weights: Optional[Sequence[float]] = None,
    ) -> None:
        images, _, backgrounds, masks, _ = load_split("train", n, with_details=True)
        self.images = (images * 255).round().to(torch.uint8)
        self.backgrounds = (backgrounds * 255).round().to(torch.uint8)
        self.masks = masks.to(torch.uint8)
        self.rng = np.random.default_rng(seed)
        self.g = torch.Generator().manual_seed(seed)
        self.min_kept_fraction = min_kept_fraction
        self.mask_weights = mask_weights

    def batch(self, size: int):
        idx = torch.from_numpy(self.rng.integers(0, len(self.images), size))
        x = self.images[idx].float() / 255
        bg = self.backgrounds[idx].float() / 255
        obj = self.masks[idx].float()
        flip = torch.from_numpy(self.rng.random(size) < 0.5)[:, None, None, None]
        x, bg, obj = (torch.where(flip, t.flip(3), t) for t in (x, bg, obj))
        keep = sample_keep_masks(
            size, x.shape[-1], self.rng, obj, weights=self.mask_weights
        )
        target = infill_targets(x, bg, obj, keep, self.min_kept_fraction)
        # Observed pixels always come from the real image.
        return x * keep, keep, target


def _hole_l1(pred: Tensor, target: Tensor, keep: Tensor) -> Tensor:
    hole = 1 - keep
    return ((pred - target).abs() * hole).sum() / (3 * hole.sum()).clamp_min(1)


def train_inpainter(
    steps: int = 1200,
    batch_size: int = 16,
    n_scenes: int = 6000,
    lr: float = 1e-3,
    adv_weight: float = 0.01,
    width: int = 16,
    seed: int = 0,
    min_kept_fraction: float = 0.1,
    mask_weights: Optional[Sequence[float]] = INPAINTER_MASK_WEIGHTS,
    out: Optional[Path] = WEIGHTS_DIR / "inpainter.pt",
    progress: bool = True,
) -> Dict[str, float]:
    r"""Train :class:`InpaintingUNet` with L1 + hinge patch-GAN losses.

    Args:
        steps (int): Generator updates (one discriminator update each).
        batch_size (int): Scenes per step.
        n_scenes (int): Training scenes generated up front.
        lr (float): Generator learning rate (cosine-decayed); the
            discriminator uses the same.
        adv_weight (float): Weight of the adversarial term.
        width (int): Network width.
        seed (int): Seed of everything random.
        min_kept_fraction (float): Below this kept share of the object the
            target is the background plate (see
            :func:`~captum_fido.demo.masks.infill_targets`).
        mask_weights (sequence of float, optional): Relative frequency of
            each of :data:`~captum_fido.demo.masks.MASK_KINDS`.
        out (Path, optional): Where to write the state_dict; ``None`` skips.
        progress (bool): Show a tqdm bar.

    Returns:
        dict with the final ``l1`` and ``adv`` losses (mean of the last 50
        steps), ``seconds`` and ``steps``.
    """
    seed_everything(seed)
    t0 = time.time()
    bank = _SceneBank(n_scenes, seed, min_kept_fraction, mask_weights)
    net, disc = InpaintingUNet(width), PatchDiscriminator(width)
    opt_g = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr, betas=(0.5, 0.9))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt_g, steps)
    l1s: List[float] = []
    advs: List[float] = []
    bar = tqdm(range(steps), desc="inpainter", disable=not progress)
    for _ in bar:
        masked, keep, target = bank.batch(batch_size)
        out_img = net(masked, keep)
        # Discriminator: real targets vs completions.
        d_real = disc(target, keep)
        d_fake = disc(out_img.detach(), keep)
        loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        # Generator.
        l1 = _hole_l1(out_img, target, keep)
        adv = -disc(out_img, keep).mean()
        loss = l1 + adv_weight * adv
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
        sched.step()
        l1s.append(float(l1))
        advs.append(float(adv))
        bar.set_postfix(
            l1=f"{np.mean(l1s[-50:]):.4f}", adv=f"{np.mean(advs[-50:]):.3f}"
        )
    summary = {
        "l1": float(np.mean(l1s[-50:])),
        "adv": float(np.mean(advs[-50:])),
        "l1_first": float(np.mean(l1s[:50])),
        "seconds": time.time() - t0,
        "steps": steps,
        "settings": dict(
            steps=steps,
            batch_size=batch_size,
            n_scenes=n_scenes,
            lr=lr,
            adv_weight=adv_weight,
            width=width,
            seed=seed,
            min_kept_fraction=min_kept_fraction,
            mask_weights=None if mask_weights is None else list(mask_weights),
        ),
    }
    print(
        f"inpainter: hole L1 {summary['l1_first']:.4f} -> {summary['l1']:.4f}, "
        f"{summary['seconds']:.0f} s"
    )
    if out is not None:
        save_state(net.eval(), Path(out), summary)
        print(f"wrote {out}")
    return summary


def train_vae(
    steps: int = 1000,
    batch_size: int = 16,
    n_scenes: int = 6000,
    lr: float = 1e-3,
    kl_weight: float = 1e-3,
    width: int = 16,
    latent_dim: int = 32,
    seed: int = 0,
    out: Optional[Path] = WEIGHTS_DIR / "vae.pt",
    progress: bool = True,
) -> Dict[str, float]:
    r"""Train :class:`CompletionVAE` (hole L1 + ``kl_weight`` * KL).

    Args:
        steps (int): Optimiser steps.
        batch_size (int): Scenes per step.
        n_scenes (int): Training scenes generated up front.
        lr (float): Learning rate (cosine-decayed).
        kl_weight (float): Weight of the per-image KL divergence.
        width (int): Network width.
        latent_dim (int): Size of the latent code.
        seed (int): Seed of everything random.
        out (Path, optional): Where to write the state_dict; ``None`` skips.
        progress (bool): Show a tqdm bar.

    Returns:
        dict with the final ``l1`` and ``kl`` (mean of the last 50 steps),
        ``seconds`` and ``steps``.
    """
    g = seed_everything(seed + 1)
    t0 = time.time()
    bank = _SceneBank(n_scenes, seed + 1)
    vae = CompletionVAE(width, latent_dim)
    opt = torch.optim.Adam(vae.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    l1s: List[float] = []
    kls: List[float] = []
    bar = tqdm(range(steps), desc="vae", disable=not progress)
    for _ in bar:
        masked, keep, target = bank.batch(batch_size)
        recon, kl = vae.elbo_terms(target, masked, keep, generator=g)
        l1 = _hole_l1(recon, target, keep)
        loss = l1 + kl_weight * kl.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        l1s.append(float(l1))
        kls.append(float(kl.mean()))
        bar.set_postfix(l1=f"{np.mean(l1s[-50:]):.4f}", kl=f"{np.mean(kls[-50:]):.2f}")
    summary = {
        "l1": float(np.mean(l1s[-50:])),
        "kl": float(np.mean(kls[-50:])),
        "l1_first": float(np.mean(l1s[:50])),
        "seconds": time.time() - t0,
        "steps": steps,
        "settings": dict(
            steps=steps,
            batch_size=batch_size,
            n_scenes=n_scenes,
            lr=lr,
            kl_weight=kl_weight,
            width=width,
            latent_dim=latent_dim,
            seed=seed,
            min_kept_fraction=0.5,
            mask_weights=None,
        ),
    }
    print(
        f"vae: hole L1 {summary['l1_first']:.4f} -> {summary['l1']:.4f}, "
        f"KL {summary['kl']:.2f}, {summary['seconds']:.0f} s"
    )
    if out is not None:
        save_state(vae.eval(), Path(out), summary)
        print(f"wrote {out}")
    return summary


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["inpainter", "vae", "both"], default="both")
    p.add_argument(
        "--steps", type=int, default=None, help="default: 1200 inpainter, 1000 vae"
    )
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--n-scenes", type=int, default=6000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out-dir", type=Path, default=WEIGHTS_DIR)
    p.add_argument(
        "--tiny", action="store_true", help="smoke test: 3 steps on 32 scenes"
    )
    a = p.parse_args(argv)
    set_threads(a.threads)
    common = dict(
        batch_size=4 if a.tiny else a.batch_size,
        n_scenes=32 if a.tiny else a.n_scenes,
        width=8 if a.tiny else 16,
        seed=a.seed,
    )
    steps = 3 if a.tiny else a.steps
    if a.model in ("inpainter", "both"):
        train_inpainter(steps=steps or 1200, out=a.out_dir / "inpainter.pt", **common)
    if a.model in ("vae", "both"):
        train_vae(steps=steps or 1000, out=a.out_dir / "vae.pt", **common)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
