r"""``captum-fido train-inpainters``: train the demo's learned in-fillers,
the in-painter (:func:`~captum_fido.demo.train_inpainters.train_inpainter`),
the VAE (:func:`~captum_fido.demo.train_inpainters.train_vae`) and the
sampling in-painter (:func:`~captum_fido.demo.train_sampler.train_sampler`,
fine-tuned from an in-painter's weights).

It writes ``inpainter.pt``, ``vae.pt`` and ``sampler.pt`` into ``outputs/``
or ``--out-dir``, never inside the installed package; load them with
``captum_fido.demo.pretrained.load_inpainter_infiller(path)``,
``load_vae_infiller(path)`` and ``load_sampler_infiller(path)``.

Examples::

    captum-fido train-inpainters --model inpainter
    captum-fido train-inpainters --model sampler
    captum-fido train-inpainters --model both --tiny --out-dir /tmp/fill
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

from captum_fido.cli._common import add_float, add_int, document_main
from captum_fido.cli._training import TrainingCommand
from captum_fido.demo.inpainting import COARSE_FILLS
from captum_fido.demo.pretrained import WEIGHTS_DIR
from captum_fido.demo.train_inpainters import (
    INPAINTER_FOLD,
    INPAINTER_STEPS,
    INPAINTER_WIDTH,
    N_SCENES,
    VAE_STEPS,
    VAE_WIDTH,
    train_inpainter,
    train_vae,
)
from captum_fido.demo.train_sampler import SAMPLER_DRAWS, SAMPLER_STEPS, train_sampler

__all__ = ["main"]


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        choices=["inpainter", "vae", "both", "sampler"],
        default="both",
        help="which network to train (both: the in-painter and the VAE; "
        "sampler: the sampling in-painter, fine-tuned from --start)",
    )
    add_int(
        p,
        "--steps",
        None,
        f"training steps (default: {INPAINTER_STEPS} inpainter, {VAE_STEPS} vae, "
        f"{SAMPLER_STEPS} sampler)",
    )
    add_int(p, "--batch-size", 16, "scenes a step")
    add_int(p, "--n-scenes", None, f"training scenes generated (default: {N_SCENES})")
    add_int(
        p,
        "--width",
        None,
        f"network width (default: {INPAINTER_WIDTH} inpainter, {VAE_WIDTH} vae)",
    )
    p.add_argument(
        "--fold",
        type=int,
        choices=(2, 4),
        default=INPAINTER_FOLD,
        help="inpainter: pixel-unshuffle factor of the refinement network",
    )
    p.add_argument(
        "--coarse",
        choices=COARSE_FILLS,
        default="pyramid",
        help="inpainter: the coarse stage it refines",
    )
    add_float(p, "--adv-weight", 0.0, "inpainter GAN weight")
    add_float(p, "--grad-weight", 1.0, "inpainter gradient-L1 weight")
    add_float(
        p,
        "--min-kept-fraction",
        0.1,
        "inpainter: below this kept share of the object, the target is the "
        "scene without it",
    )
    p.add_argument(
        "--start",
        type=Path,
        default=WEIGHTS_DIR / "inpainter.pt",
        help="sampler: the deterministic in-painter's weights it starts from "
        "(a .json summary beside them; default: the shipped ones)",
    )
    add_int(p, "--n-draws", SAMPLER_DRAWS, "sampler: noises drawn per scene a step")


#: The parser and checks the training commands share (--seed, --out-dir, ...).
COMMAND = TrainingCommand(
    "train-inpainters",
    "Train the demo's in-painter and completion VAE on FIDO-shaped holes; "
    "write their state_dicts and JSON summaries.",
    _options,
    out_default=Path("outputs"),
    out_help="folder DIR for inpainter.pt, vae.pt and sampler.pt, a .json "
    "summary beside each (never inside the installed package)",
    use="load them with captum_fido.demo.pretrained.load_inpainter_infiller("
    "DIR/inpainter.pt), load_vae_infiller(DIR/vae.pt) and "
    "load_sampler_infiller(DIR/sampler.pt)",
    tiny="smoke test: 3 steps on 32 scenes",
    out="--out-dir",
    folder=True,
    metavar="DIR",
)


@document_main
def main(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> int:
    r"""Run the train-inpainters command (its ``--help`` lists the options).

    ``--model`` chooses ``inpainter``, ``vae``, ``both`` (default: those
    two) or ``sampler``; the weights go to ``--out-dir`` as
    ``inpainter.pt``, ``vae.pt`` or ``sampler.pt``, each with a JSON summary
    beside it. ``--tiny`` runs 3 steps on 32 scenes with width 8 (a smoke
    test; the sampler then starts from a fresh network, not ``--start``).

    {main_args}

    Examples::

        >>> main(["--model", "both", "--tiny", "--no-progress",
        ...       "--out-dir", "/tmp/inpainters"])
        0
    """
    a = COMMAND.parse(argv, prog)
    steps = 3 if a.tiny else a.steps
    both = dict(  # what the two trainings share
        batch_size=4 if a.tiny else a.batch_size,
        n_scenes=32 if a.tiny else (a.n_scenes or N_SCENES),
        seed=a.seed,
        show_progress=not a.no_progress,
    )
    if a.model in ("inpainter", "both"):
        train_inpainter(
            steps=steps or INPAINTER_STEPS,
            width=8 if a.tiny else (a.width or INPAINTER_WIDTH),
            coarse=a.coarse,
            fold=a.fold,
            adv_weight=a.adv_weight,
            grad_weight=a.grad_weight,
            min_kept_fraction=a.min_kept_fraction,
            out=a.out_dir / "inpainter.pt",
            **both,
        )
    if a.model in ("vae", "both"):
        train_vae(
            steps=steps or VAE_STEPS,
            width=8 if a.tiny else (a.width or VAE_WIDTH),
            out=a.out_dir / "vae.pt",
            **both,
        )
    if a.model == "sampler":
        train_sampler(
            steps=steps or SAMPLER_STEPS,
            n_draws=a.n_draws,
            grad_weight=a.grad_weight,
            min_kept_fraction=a.min_kept_fraction,
            start=None if a.tiny else a.start,
            width=8 if a.tiny else None,
            out=a.out_dir / "sampler.pt",
            **both,
        )
    return 0
