r"""``captum-fido domains``: how much each demo domain's classifier relies on
the object and on the background (the table of ``docs/domains.md``).

Examples::

    captum-fido domains --n 300
"""

from __future__ import annotations

from typing import List, Optional

import torch

from captum_fido.cli._common import add_int, make_parser
from captum_fido.demo.domains import DOMAINS, reliance_accuracies

__all__ = ["main"]


def main(argv: Optional[List[str]] = None, prog: Optional[str] = None) -> int:
    r"""Print the reliance table of every domain (markdown).

    Args:
        argv (list of str, optional): ``[--n N] [--threads T]``.
        prog (str, optional): The program name for ``usage:`` lines.

    Returns:
        int, the exit status (0).

    Examples::

        >>> main(["--n", "30"])  # doctest: +SKIP
        0
    """
    p = make_parser(
        "domains",
        "Print each demo domain's accuracy on clean scenes, on the object "
        "alone (grey background) and on the background alone (markdown).",
        prog,
    )
    add_int(p, "--n", 300, "test scenes per domain")
    add_int(p, "--threads", 1, "torch intra-op threads")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    print(f"| domain | clean | object only | background only | (n={a.n} test) |")
    print("|---|---|---|---|---|")
    for name in DOMAINS:
        r = reliance_accuracies(name, n=a.n)
        print(
            f"| {name} | {r['clean']:.3f} | {r['object_only']:.3f} | "
            f"{r['background_only']:.3f} | |"
        )
    return 0
