r"""``captum-fido counterfactual``: criticisms and prototypes of
held-out handwritten digits with the shipped classifier and VAE.

For each of a few held-out digits (one per class, in order) it finds the
*criticism* towards the class the classifier ranks second (the nearest
decision boundary) and the *prototype* of the digit's own class (confidence
with the class's log-odds raised by 2, a hinge on the log-odds as the
classification term: the cross-entropy stops pulling once the classifier is
nearly sure), and draws both optimisation paths.

Examples::

    captum-fido counterfactual --n-digits 4 --out outputs/counterfactual.png
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional

import torch

from captum_fido.cli._common import (
    add_flag,
    add_int,
    add_path,
    document_main,
    figure_path,
    make_parser,
)
from captum_fido.counterfactual import (
    CounterfactualResult,
    LatentCounterfactual,
    prototype_confidence,
)
from captum_fido.demo.digits.data import load_digit_data
from captum_fido.demo.digits.plotting import plot_paths
from captum_fido.demo.digits.pretrained import load_pretrained

__all__ = ["main"]

#: Prototypes must raise their class's log-odds by this much (odds x 7.4).
PROTOTYPE_GAIN = 2.0


def _one_per_class(labels: torch.Tensor, n: int) -> List[int]:
    r"""Index of the first held-out digit of class 0, 1, ... (n of them)."""
    picked = []
    for c in range(10):
        hits = (labels == c).nonzero().flatten()
        if len(hits):
            picked.append(int(hits[0]))
        if len(picked) == n:
            break
    return picked


@document_main
def main(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> int:
    r"""Run the counterfactual command (its ``--help`` lists the options).

    Draws the criticism and the prototype path of ``--n-digits`` held-out
    digits (one per class) to ``--out`` and prints, for each, whether the
    target confidence was reached, the L1 change and the chosen lambda.

    {main_args}

    Examples::

        >>> main(["--n-digits", "2", "--n-steps", "50", "--out", "/tmp/cf.png"])
        0
    """
    parser = make_parser(
        "counterfactual",
        "Latent-space criticisms and prototypes of handwritten digits "
        "(generative counterfactual introspection).",
        prog,
    )
    add_path(
        parser,
        "--out",
        Path("outputs/counterfactual.png"),
        "figure file (.png when the name has no suffix)",
    )
    add_int(parser, "--n-digits", 4, "held-out digits to explain (1-10)")
    add_int(parser, "--n-steps", 200, "Adam steps per solve")
    add_int(
        parser,
        "--n-bisection",
        6,
        "solves that bisect the trade-off weight lambda per image",
        low=0,
    )
    add_flag(parser, "--progress", "show progress bars")
    add_int(
        parser,
        "--threads",
        1,
        "torch threads while it runs (1: these batches are small, and extra "
        "threads mostly wait on each other on a busy machine)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.n_digits <= 10:
        parser.error(f"--n-digits must lie in 1..10, got {args.n_digits}")
    args.out = figure_path(parser, "--out", args.out)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)


def _run(args: argparse.Namespace) -> int:
    models = load_pretrained()
    data = load_digit_data()
    rows = _one_per_class(data.test_labels, args.n_digits)
    images, labels = data.test_images[rows], data.test_labels[rows]
    with torch.no_grad():
        ranked = models.classifier(images).argsort(dim=1, descending=True)
    runner_up = ranked[:, 1]

    method = LatentCounterfactual(
        models.classifier, models.vae.decoder, models.vae.encoder
    )
    search = dict(
        n_steps=args.n_steps,
        lr=0.2,
        n_bisection=args.n_bisection,
        path_length=7,
        show_progress=args.progress,
    )
    criticisms = method.explain(images, target=runner_up, **search)
    # The classifier is already nearly sure of its own class, where the
    # cross-entropy stops pulling: prototypes use the hinge on the log-odds.
    prototypes = method.explain(
        images,
        target=labels,
        min_confidence=prototype_confidence(
            models.classifier, images, labels, PROTOTYPE_GAIN
        ),
        loss="hinge",
        **search,
    )
    result = CounterfactualResult.concat([criticisms, prototypes])
    both = torch.cat([images, images])
    order, titles = [], []
    for i in range(len(rows)):
        c = int(labels[i])
        order += [i, len(rows) + i]
        titles += [f"{c} -> {int(runner_up[i])}", f"{c} -> {c}\n(proto)"]
    plot_paths(
        result,
        both,
        rows=order,
        row_titles=titles,
        out=args.out,
        title="Latent criticisms (c -> runner-up class) and prototypes (c -> c)",
    )
    for i, t in zip(order, titles):
        status = "reached" if bool(result.success[i]) else "NOT reached"
        print(
            f"{t.splitlines()[0]:>7} {'prototype' if '(proto)' in t else 'criticism'}:"
            f" {status}, p(target)={float(result.target_confidence[i]):.6f}, "
            f"L1 change={float(result.l1_change[i]):.1f}, "
            f"lambda={float(result.lambdas[i]):.3g}"
        )
    print(f"wrote {args.out}")
    return 0
