r"""``captum-fido train-digits``: train the digit classifier and VAE of the
``counterfactual`` command
(:func:`~captum_fido.demo.digits.train.train_digit_models`).

It writes into ``outputs/digits`` or ``--out``, never inside the installed
package; load the models with
``captum_fido.demo.digits.load_pretrained(folder)``.

Examples::

    captum-fido train-digits --tiny --no-progress --out /tmp/digit_weights
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

from captum_fido.cli._common import add_float, add_int, document_main
from captum_fido.cli._training import TrainingCommand
from captum_fido.demo.digits.train import train_digit_models

__all__ = ["main"]


def _options(p: argparse.ArgumentParser) -> None:
    add_int(p, "--classifier-epochs", 30, "classifier epochs")
    add_int(p, "--vae-epochs", 300, "VAE epochs")
    add_float(p, "--beta", 0.5, "weight of the VAE's KL term")


#: The parser and checks the training commands share (--seed, --out, ...).
COMMAND = TrainingCommand(
    "train-digits",
    "Train the digit classifier and VAE for latent counterfactuals.",
    _options,
    out_default=Path("outputs/digits"),
    out_help="folder for digit_classifier.pt and digit_vae.pt, a .json summary "
    "beside each (never inside the installed package)",
    use="load them with captum_fido.demo.digits.load_pretrained(folder)",
    tiny="one epoch each on 200 digits (a smoke test, not a usable model)",
    folder=True,
    threads=False,
)


@document_main
def main(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> int:
    r"""Run the train-digits command (its ``--help`` lists the options).

    Writes ``digit_classifier.pt`` and ``digit_vae.pt`` (state dict and
    held-out metrics) and a ``.json`` summary beside each to ``--out``, and
    prints the held-out metrics.

    {main_args}

    Examples::

        >>> main(["--tiny", "--no-progress", "--out", "/tmp/digit_weights"])
        0
    """
    args = COMMAND.parse(argv, prog)
    classifier_info, vae_info = train_digit_models(
        args.out,
        classifier_epochs=args.classifier_epochs,
        vae_epochs=args.vae_epochs,
        beta=args.beta,
        seed=args.seed,
        tiny=args.tiny,
        show_progress=not args.no_progress,
    )
    print(
        f"classifier: held-out accuracy {classifier_info['test_accuracy']:.4f} "
        f"({int(classifier_info['n_test'])} digits), on VAE reconstructions "
        f"{classifier_info['test_accuracy_on_reconstructions']:.4f}"
    )
    print(
        f"vae: held-out reconstruction error per pixel L1 {vae_info['test_l1']:.4f}, "
        f"MSE {vae_info['test_mse']:.4f} (L1 per image "
        f"{vae_info['test_l1_per_image']:.2f} over 256 pixels)"
    )
    print(f"weights written to {args.out}")
    return 0
