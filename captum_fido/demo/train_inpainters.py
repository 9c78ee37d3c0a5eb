r"""Train the demo's two learned in-fillers: the inpainter and the VAE.

``captum-fido train-inpainters`` (:mod:`captum_fido.cli.train_inpainters`)
runs :func:`train_inpainter` and :func:`train_vae`::

    captum-fido train-inpainters --model inpainter
    captum-fido train-inpainters --model vae
    captum-fido train-inpainters --model both --tiny   # smoke

Both models learn to complete a scene from its observed pixels under the
large, FIDO-shaped holes of :mod:`captum_fido.demo.masks`. The target is the
scene itself, except when only a small part of the object is observed (less
than 10% of its pixels for the inpainter, 50% for the VAE): then it is the
scene *without* the object (:func:`~captum_fido.demo.masks.infill_targets`),
so the models remove objects rather than re-draw them from fragments.

- ``inpainter``: :class:`~captum_fido.demo.inpainting.RefineUNet`, the
  learned refinement of an honest coarse fill
  (:func:`~captum_fido.demo.inpainting.coarse_fill`: the push-pull pyramid
  by default, ``--coarse ns`` for OpenCV's Navier-Stokes), trained with L1 plus
  image-gradient L1 on the holes (an optional hinge patch-GAN term,
  :class:`~captum_fido.demo.models.PatchDiscriminator`, is off by default);
  the shipped ``weights/inpainter.pt``. The masks are mostly random coarse grids
  dropping 5%-95% of the image (FIDO's and the evaluation's shape), plus
  blobs, boxes, strokes, dropped objects and kept objects.
- ``vae``: :class:`~captum_fido.demo.models.CompletionVAE` with L1
  reconstruction on the holes plus a KL term; the shipped ``weights/vae.pt``.

Seeded (scenes, masks, initialisation, latent noise) and shows tqdm
progress; each function writes its weights where ``out`` says (the command:
``outputs/`` or ``--out-dir``, never inside the installed package), with a
JSON summary of the losses beside them. Load them with
:func:`~captum_fido.demo.pretrained.load_inpainter_infiller` and
:func:`~captum_fido.demo.pretrained.load_vae_infiller` (``path=``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Protocol, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from captum_fido._utils import validation as V
from captum_fido.demo._training import (
    TrainingClock,
    finish_training,
    seed_everything,
)
from captum_fido.demo.inpainting import COARSE_FILLS, RefineUNet, coarse_fill
from captum_fido.demo.masks import infill_targets, sample_keep_masks
from captum_fido.demo.models import CompletionVAE, PatchDiscriminator
from captum_fido.demo.scenes import load_split

__all__ = [
    "train_inpainter",
    "train_vae",
    "INPAINTER_MASK_WEIGHTS",
    "INPAINTER_STEPS",
    "INPAINTER_WIDTH",
    "INPAINTER_FOLD",
    "VAE_STEPS",
    "VAE_WIDTH",
    "N_SCENES",
]

#: Frequency of each of ``MASK_KINDS`` ("grid", "blobs", "boxes", "strokes",
#: "object", "keep_object") for the inpainter: FIDO-like grids most often.
INPAINTER_MASK_WEIGHTS = (0.55, 0.1, 0.05, 0.05, 0.15, 0.1)

#: Default training steps of the inpainter (the shipped weights).
INPAINTER_STEPS = 2500
#: Default width and pixel-unshuffle factor of the inpainter's refinement
#: network (the shipped weights): 16 channels at a quarter of the resolution.
INPAINTER_WIDTH = 16
INPAINTER_FOLD = 4
#: Default training steps and width of the VAE (the shipped weights).
VAE_STEPS = 1000
VAE_WIDTH = 16
#: Training scenes generated up front, for either model.
N_SCENES = 6000


class SceneBank:
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
        self.n, self.seed = n, seed

    def settings(self) -> Dict[str, Any]:
        r"""What the bank was made from, for a training summary."""
        weights = self.mask_weights
        return {
            "n_scenes": self.n,
            "seed": self.seed,
            "min_kept_fraction": self.min_kept_fraction,
            "mask_weights": None if weights is None else list(weights),
        }

    def batch(self, size: int) -> Tuple[Tensor, Tensor, Tensor]:
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


def _weighted_l1(a: Tensor, b: Tensor, weight: Tensor, per_image: bool) -> Tensor:
    r"""``|a - b|`` averaged with ``weight`` over all pixels and channels: one
    number for the batch, or one per image (``per_image``)."""
    err = (a - b).abs() * weight
    if per_image:
        return err.sum(dim=(1, 2, 3)) / (3 * weight.sum(dim=(1, 2, 3))).clamp_min(1)
    return err.sum() / (3 * weight.sum()).clamp_min(1)


def _hole_l1(
    pred: Tensor, target: Tensor, keep: Tensor, per_image: bool = False
) -> Tensor:
    return _weighted_l1(pred, target, 1 - keep, per_image)


def _hole_grad_l1(
    pred: Tensor, target: Tensor, keep: Tensor, per_image: bool = False
) -> Tensor:
    r"""L1 between horizontal and vertical image gradients, where either
    neighbour is dropped: rewards sharp, correctly placed edges."""
    hole = 1 - keep
    terms = []
    for dim in (2, 3):
        n = pred.shape[dim] - 1
        dp = pred.narrow(dim, 1, n) - pred.narrow(dim, 0, n)
        dt = target.narrow(dim, 1, n) - target.narrow(dim, 0, n)
        w = torch.maximum(hole.narrow(dim, 1, n), hole.narrow(dim, 0, n))
        terms.append(_weighted_l1(dp, dt, w, per_image))
    return terms[0] + terms[1]


def hole_losses(pred: Tensor, target: Tensor, keep: Tensor) -> Tuple[Tensor, Tensor]:
    r"""Per image ``(N,)``: the hole L1 and the hole image-gradient L1 of a
    completion ``pred`` against ``target`` (``keep`` 1 = observed)."""
    return _hole_l1(pred, target, keep, True), _hole_grad_l1(pred, target, keep, True)


class SceneFit(Protocol):
    r"""One training update on a batch of scenes, and the loss history
    (the first two histories show on the progress bar)."""

    hist: Dict[str, List[float]]

    def step(self, masked: Tensor, keep: Tensor, target: Tensor) -> None: ...


def fit_on_scenes(
    fit: SceneFit,
    bank: SceneBank,
    steps: int,
    batch_size: int,
    desc: str,
    show_progress: bool,
) -> None:
    r"""``steps`` updates of ``fit`` on batches from ``bank``, with a tqdm bar
    showing the mean of the last 100 values of its first two histories."""
    bar = tqdm(range(steps), desc=desc, disable=not show_progress)
    shown = list(fit.hist)[:2]
    for _ in bar:
        fit.step(*bank.batch(batch_size))
        bar.set_postfix({k: f"{np.mean(fit.hist[k][-100:]):.4f}" for k in shown})


def train_inpainter(
    steps: int = INPAINTER_STEPS,
    batch_size: int = 16,
    n_scenes: int = N_SCENES,
    lr: float = 1e-3,
    adv_weight: float = 0.0,
    grad_weight: float = 1.0,
    width: int = INPAINTER_WIDTH,
    seed: int = 0,
    min_kept_fraction: float = 0.1,
    mask_weights: Optional[Sequence[float]] = INPAINTER_MASK_WEIGHTS,
    out: Optional[Path] = None,
    show_progress: bool = True,
    coarse: str = "pyramid",
    fold: int = INPAINTER_FOLD,
) -> Dict[str, Any]:
    r"""Train :class:`~captum_fido.demo.inpainting.RefineUNet` on its coarse fill.

    Each step draws scenes and FIDO-shaped keep-masks, computes the honest
    coarse fill (:func:`~captum_fido.demo.inpainting.coarse_fill`) and trains
    the refinement on hole L1 + ``grad_weight`` * hole
    image-gradient L1 (+ ``adv_weight`` * a hinge patch-GAN term when
    positive). The target removes the object when less than
    ``min_kept_fraction`` of it is observed.

    Args:
        steps (int): Generator updates (one discriminator update each when
            ``adv_weight > 0``).
        batch_size (int): Scenes per step.
        n_scenes (int): Training scenes generated up front.
        lr (float): Learning rate (Adam, cosine-decayed).
        adv_weight (float): Weight of the adversarial term (0 = no GAN).
        grad_weight (float): Weight of the image-gradient L1 term.
        width (int): Network width.
        seed (int): Seed of everything random.
        min_kept_fraction (float): Below this kept share of the object the
            target is the background plate (see
            :func:`~captum_fido.demo.masks.infill_targets`).
        mask_weights (sequence of float, optional): Relative frequency of
            each of :data:`~captum_fido.demo.masks.MASK_KINDS`.
        out (Path, optional): Where to write the state_dict (a ``.json``
            summary goes beside it). Default ``None``: nothing is written.
        show_progress (bool): Show a tqdm bar.
        coarse (str): The coarse stage, ``"pyramid"`` (default) or ``"ns"``.
        fold (int): The network's pixel-unshuffle factor, 2 or 4 (default:
            it runs at a quarter of the resolution).

    Returns:
        dict with the final ``l1``, ``grad`` and ``adv`` losses (mean of the
        last 100 steps), ``l1_first``, ``coarse_l1`` (the coarse fill's own
        hole L1 over the last 100 steps), ``seconds`` (wall), ``cpu_seconds``
        (this process), ``threads``, ``steps`` and ``settings``.

    Examples::

        >>> summary = train_inpainter(steps=3, batch_size=4, n_scenes=32,
        ...                           width=8, out=None, show_progress=False)
        >>> summary["settings"]["architecture"]
        'RefineUNet'
        >>> summary["coarse_l1"] > 0
        True
    """
    V.check_choice(coarse, "coarse", COARSE_FILLS)
    seed_everything(seed)
    clock = TrainingClock()
    bank = SceneBank(n_scenes, seed, min_kept_fraction, mask_weights)
    net = RefineUNet(width, coarse=coarse, fold=fold)
    fit = _InpainterFit(net, lr, steps, adv_weight, grad_weight, coarse)
    fit_on_scenes(fit, bank, steps, batch_size, "inpainter", show_progress)
    summary: Dict[str, Any] = {
        **fit.losses(),
        **clock.summary(steps),
        "settings": dict(
            **net.architecture(),
            **bank.settings(),
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            adv_weight=adv_weight,
            grad_weight=grad_weight,
        ),
    }
    return finish_training(
        net,
        summary,
        out,
        f"inpainter: hole L1 {summary['l1_first']:.4f} -> {summary['l1']:.4f} "
        f"(coarse fill {summary['coarse_l1']:.4f}), {summary['seconds']:.0f} s "
        f"on {summary['threads']} thread(s)",
    )


class _InpainterFit:
    r"""The in-painter's optimisers (and discriminator, with an adversarial
    term) and its loss history, one training step at a time."""

    def __init__(
        self,
        net: RefineUNet,
        lr: float,
        steps: int,
        adv_weight: float,
        grad_weight: float,
        coarse: str,
    ) -> None:
        self.net, self.coarse = net, coarse
        self.adv_weight, self.grad_weight = adv_weight, grad_weight
        self.opt_g = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.99))
        self.sched = torch.optim.lr_scheduler.OneCycleLR(
            self.opt_g, max_lr=lr, total_steps=max(steps, 1), pct_start=0.05
        )
        self.disc = PatchDiscriminator(32) if adv_weight > 0 else None
        self.opt_d = (
            torch.optim.Adam(self.disc.parameters(), lr=lr, betas=(0.5, 0.9))
            if self.disc is not None
            else None
        )
        # l1 and coarse first: the progress bar shows them.
        self.hist: Dict[str, List[float]] = {
            "l1": [],
            "coarse": [],
            "grad": [],
            "adv": [],
        }

    def step(self, masked: Tensor, keep: Tensor, target: Tensor) -> None:
        r"""One generator update (after one discriminator update with an
        adversarial term) on hole L1 + gradient L1 (+ hinge GAN)."""
        coarse_img = coarse_fill(masked, keep, self.coarse)
        out_img = self.net(masked, keep, coarse_img)
        adv = torch.zeros(())
        if self.disc is not None and self.opt_d is not None:
            d_real = self.disc(target, keep)
            d_fake = self.disc(out_img.detach(), keep)
            loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
            self.opt_d.zero_grad()
            loss_d.backward()
            self.opt_d.step()
            adv = -self.disc(out_img, keep).mean()
        l1 = _hole_l1(out_img, target, keep)
        grad = _hole_grad_l1(out_img, target, keep)
        loss = l1 + self.grad_weight * grad + self.adv_weight * adv
        self.opt_g.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
        self.opt_g.step()
        self.sched.step()
        self.hist["l1"].append(l1.item())
        self.hist["grad"].append(grad.item())
        self.hist["adv"].append(adv.item())
        self.hist["coarse"].append(float(_hole_l1(coarse_img, target, keep)))

    def losses(self) -> Dict[str, float]:
        r"""The last 100 steps' mean losses and the first 100 steps' L1."""
        hist = self.hist
        return {
            "l1": float(np.mean(hist["l1"][-100:])),
            "grad": float(np.mean(hist["grad"][-100:])),
            "adv": float(np.mean(hist["adv"][-100:])),
            "coarse_l1": float(np.mean(hist["coarse"][-100:])),
            "l1_first": float(np.mean(hist["l1"][:100])),
        }


def train_vae(
    steps: int = VAE_STEPS,
    batch_size: int = 16,
    n_scenes: int = N_SCENES,
    lr: float = 1e-3,
    kl_weight: float = 1e-3,
    width: int = VAE_WIDTH,
    latent_dim: int = 32,
    seed: int = 0,
    out: Optional[Path] = None,
    show_progress: bool = True,
) -> Dict[str, Any]:
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
        out (Path, optional): Where to write the state_dict (a ``.json``
            summary goes beside it). Default ``None``: nothing is written.
        show_progress (bool): Show a tqdm bar.

    Returns:
        dict with the final ``l1`` and ``kl`` (mean of the last 50 steps),
        ``seconds`` and ``steps``.

    Examples::

        >>> summary = train_vae(steps=3, batch_size=4, n_scenes=32, width=8,
        ...                     out=None, show_progress=False)
        >>> summary["steps"]
        3
    """
    g = seed_everything(seed + 1)
    clock = TrainingClock()
    bank = SceneBank(n_scenes, seed + 1)
    vae = CompletionVAE(width, latent_dim)
    opt = torch.optim.Adam(vae.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    l1s: List[float] = []
    kls: List[float] = []
    bar = tqdm(range(steps), desc="vae", disable=not show_progress)
    for _ in bar:
        masked, keep, target = bank.batch(batch_size)
        recon, kl = vae.elbo_terms(target, masked, keep, generator=g)
        l1 = _hole_l1(recon, target, keep)
        loss = l1 + kl_weight * kl.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        l1s.append(float(l1.detach()))
        kls.append(float(kl.mean().detach()))
        bar.set_postfix(l1=f"{np.mean(l1s[-50:]):.4f}", kl=f"{np.mean(kls[-50:]):.2f}")
    summary = {
        "l1": float(np.mean(l1s[-50:])),
        "kl": float(np.mean(kls[-50:])),
        "l1_first": float(np.mean(l1s[:50])),
        **clock.summary(steps),
        "settings": {
            **vae.architecture(),
            **bank.settings(),
            "seed": seed,  # the argument; the bank draws with seed + 1
            "steps": steps,
            "batch_size": batch_size,
            "lr": lr,
            "kl_weight": kl_weight,
        },
    }
    return finish_training(
        vae,
        summary,
        out,
        f"vae: hole L1 {summary['l1_first']:.4f} -> {summary['l1']:.4f}, "
        f"KL {summary['kl']:.2f}, {summary['seconds']:.0f} s",
    )


if __name__ == "__main__":  # the command moved to captum_fido.cli
    raise SystemExit("run `captum-fido train-inpainters`")
