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

from pathlib import Path
from typing import List, Optional

from captum_fido.cli._common import (
    add_float,
    add_int,
    add_path,
    add_seed,
    add_training_options,
    document_main,
    make_parser,
    weights_folder,
)
from captum_fido.demo.digits.train import train_digit_models

__all__ = ["main"]

#: How to use the trained files, said by ``--help`` and by a refused ``--out``.
USE = "load them with captum_fido.demo.digits.load_pretrained(folder)"


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
    parser = make_parser(
        "train-digits",
        "Train the digit classifier and VAE for latent counterfactuals.",
        prog,
    )
    add_path(
        parser,
        "--out",
        Path("outputs/digits"),
        "folder for digit_classifier.pt and digit_vae.pt, a .json summary "
        f"beside each (never inside the installed package); {USE}",
    )
    add_int(parser, "--classifier-epochs", 30, "classifier epochs")
    add_int(parser, "--vae-epochs", 300, "VAE epochs")
    add_float(parser, "--beta", 0.5, "weight of the VAE's KL term")
    add_seed(parser)
    add_training_options(
        parser,
        "one epoch each on 200 digits (a smoke test, not a usable model)",
        threads=False,
    )
    args = parser.parse_args(argv)
    weights_folder(parser, "--out", args.out, USE)
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
