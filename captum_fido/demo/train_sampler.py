r"""Train the demo's sampling in-painter: diverse completions, one per draw.

The shipped in-painter (:class:`~captum_fido.demo.inpainting.RefineUNet`) is
deterministic, so FIDO's expectation over in-fills (the paper's Eq. 1)
reduces to one fill per mask. The sampler is the same network with noise
added at two scales (``noise_channels > 0``), warm-started from the
deterministic weights and fine-tuned with *conditional implicit maximum
likelihood estimation* (cIMLE; Li & Malik 2018, Li et al. 2020): for each
training scene draw ``n_draws`` noises, keep the completion closest to the
target (hole L1 + image-gradient L1) and pull only that one towards it.
Every target then has a nearby sample, so the draws spread over the
completions the data allow instead of averaging them (which an L1 or L2
loss on a single draw would do, and which is what the deterministic network
learnt). The noise layers start at zero, so training starts from the
deterministic in-painter exactly.

``captum-fido train-inpainters --model sampler`` runs :func:`train_sampler`;
:func:`~captum_fido.demo.pretrained.load_sampler_infiller` loads the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from captum_fido.demo._training import (
    WEIGHTS_DIR,
    TrainingClock,
    finish_training,
    seed_everything,
)
from captum_fido.demo.inpainting import RefineUNet, coarse_fill
from captum_fido.demo.train_inpainters import (
    INPAINTER_MASK_WEIGHTS,
    N_SCENES,
    SceneBank,
    fit_on_scenes,
    hole_losses,
)

__all__ = ["train_sampler", "SAMPLER_STEPS", "SAMPLER_DRAWS", "SAMPLER_NOISE"]

#: Default fine-tuning steps of the sampler (the shipped weights).
SAMPLER_STEPS = 1500
#: Noises drawn per training scene, of which the closest completion learns.
SAMPLER_DRAWS = 4
#: Noise channels at each of the network's two noise scales.
SAMPLER_NOISE = 8


def train_sampler(
    steps: int = SAMPLER_STEPS,
    batch_size: int = 16,
    n_scenes: int = N_SCENES,
    lr: float = 1e-3,
    n_draws: int = SAMPLER_DRAWS,
    noise_channels: int = SAMPLER_NOISE,
    grad_weight: float = 1.0,
    start: Optional[Path] = WEIGHTS_DIR / "inpainter.pt",
    seed: int = 0,
    min_kept_fraction: float = 0.1,
    mask_weights: Optional[Sequence[float]] = INPAINTER_MASK_WEIGHTS,
    out: Optional[Path] = None,
    show_progress: bool = True,
    width: Optional[int] = None,
) -> Dict[str, Any]:
    r"""Fine-tune a sampling :class:`~captum_fido.demo.inpainting.RefineUNet`
    with conditional IMLE (best of ``n_draws`` completions per scene).

    Args:
        steps (int): Updates.
        batch_size (int): Scenes per update.
        n_scenes (int): Training scenes generated up front.
        lr (float): Learning rate (Adam, decayed linearly to 0).
        n_draws (int): Noises drawn per scene each update (at least 2).
        noise_channels (int): Noise channels at each of the two scales.
        grad_weight (float): Weight of the image-gradient L1 in the distance
            and the loss.
        start (Path, optional): Deterministic in-painter weights to start
            from (default: the shipped ``inpainter.pt``); ``None`` starts
            from a fresh network of ``width`` (a smoke test).
        seed (int): Seed of everything random.
        min_kept_fraction (float): Below this kept share of the object the
            target is the scene without it.
        mask_weights (sequence of float, optional): Frequency of each mask
            kind (:data:`~captum_fido.demo.masks.MASK_KINDS`).
        out (Path, optional): Where to write the state_dict (with a JSON
            summary beside it); ``None`` writes nothing.
        show_progress (bool): Show a tqdm bar.
        width (int, optional): Width of a fresh network (``start=None``
            only; default 8).

    Returns:
        dict: ``best_l1`` (hole L1 of the closest draw), ``draw_l1`` (of a
        random draw), ``spread`` (mean absolute difference between two draws
        in the holes), each the mean of the last 100 updates, ``best_l1_first``,
        ``seconds``, ``cpu_seconds``, ``threads``, ``steps`` and ``settings``.

    Examples::

        >>> summary = train_sampler(steps=2, batch_size=2, n_scenes=16,
        ...                         start=None, show_progress=False)
        >>> summary["settings"]["noise_channels"]
        8
    """
    if n_draws < 2:
        raise ValueError(f"n_draws must be at least 2 (IMLE picks one), got {n_draws}")
    generator = seed_everything(seed)
    clock = TrainingClock()
    net, base = _warm_start(start, noise_channels, width)
    bank = SceneBank(n_scenes, seed, min_kept_fraction, mask_weights)
    fit = _SamplerFit(net, lr, steps, n_draws, grad_weight, generator)
    fit_on_scenes(fit, bank, steps, batch_size, "sampler", show_progress)
    summary: Dict[str, Any] = {
        **{k: float(np.mean(v[-100:])) for k, v in fit.hist.items()},
        "best_l1_first": float(np.mean(fit.hist["best_l1"][:100])),
        **clock.summary(steps),
        "settings": dict(
            **net.architecture(),
            **bank.settings(),
            start=base,
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            n_draws=n_draws,
            grad_weight=grad_weight,
        ),
    }
    return finish_training(
        net,
        summary,
        out,
        f"sampler: best-of-{n_draws} hole L1 {summary['best_l1_first']:.4f} -> "
        f"{summary['best_l1']:.4f}, one draw {summary['draw_l1']:.4f}, spread "
        f"{summary['spread']:.4f}, {summary['seconds']:.0f} s",
    )


def _warm_start(
    start: Optional[Path], noise_channels: int, width: Optional[int]
) -> Tuple[RefineUNet, Optional[str]]:
    r"""A sampling network holding ``start``'s deterministic weights (its
    noise layers at zero), or a fresh one; and ``start``'s file name."""
    if start is None:
        return RefineUNet(width or 8, fold=4, noise_channels=noise_channels), None
    # Imported here: pretrained imports the attribution package, which the
    # training needs only for this load.
    from captum_fido.demo.pretrained import load_inpainter

    base = load_inpainter(start)
    if not isinstance(base, RefineUNet):
        raise ValueError(f"start must hold RefineUNet weights, got {start}")
    net = RefineUNet(
        base.width, coarse=base.coarse, fold=base.fold, noise_channels=noise_channels
    )
    missing, unexpected = net.load_state_dict(base.state_dict(), strict=False)
    if unexpected or any(not k.startswith("noise_") for k in missing):
        raise ValueError(f"start {start} does not fit: {missing}, {unexpected}")
    for p in net.parameters():
        p.requires_grad_(True)
    return net.train(), Path(start).name


class _SamplerFit:
    r"""The sampler's optimiser and loss history, one IMLE update at a time."""

    def __init__(
        self,
        net: RefineUNet,
        lr: float,
        steps: int,
        n_draws: int,
        grad_weight: float,
        generator: torch.Generator,
    ) -> None:
        self.net, self.n_draws, self.grad_weight = net, n_draws, grad_weight
        self.generator = generator
        self.opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.99))
        # Linear decay, no warm-up: training starts from trained weights.
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda t: max(0.0, 1.0 - t / max(steps, 1))
        )
        self.hist: Dict[str, List[float]] = {"best_l1": [], "spread": [], "draw_l1": []}

    def step(self, masked: Tensor, keep: Tensor, target: Tensor) -> None:
        r"""Draw ``n_draws`` completions per scene without gradients, then
        pull the closest one (hole L1 + gradient L1) towards the target."""
        coarse = coarse_fill(masked, keep, self.net.coarse)
        noises = [
            self.net.draw_noise(masked, self.generator) for _ in range(self.n_draws)
        ]
        with torch.no_grad():
            outs = [self.net(masked, keep, coarse, z) for z in noises]
            dist = torch.stack(
                [self._distance(o, target, keep) for o in outs]
            )  # (draws, N)
        best = dist.argmin(dim=0)
        chosen = tuple(
            torch.stack([z[i] for z in noises])[best, torch.arange(len(best))]
            for i in range(2)
        )
        pred = self.net(masked, keep, coarse, (chosen[0], chosen[1]))
        loss = self._distance(pred, target, keep).mean()
        self.opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
        self.opt.step()
        self.sched.step()
        hole = 1 - keep
        l1 = hole_losses(outs[0], target, keep)[0]
        spread = ((outs[0] - outs[1]).abs() * hole).sum() / (3 * hole.sum()).clamp(1)
        self.hist["best_l1"].append(
            float(hole_losses(pred.detach(), target, keep)[0].mean())
        )
        self.hist["draw_l1"].append(float(l1.mean()))
        self.hist["spread"].append(float(spread))

    def _distance(self, pred: Tensor, target: Tensor, keep: Tensor) -> Tensor:
        l1, grad = hole_losses(pred, target, keep)
        return l1 + self.grad_weight * grad
