r"""Command line entry point: ``python -m captum_fido <command>``.

The CLI sits at the edge of the package: it imports the demo and the
counterfactual tutorial lazily, and nothing in the library imports it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

#: command -> (module, help). Each module exposes ``main(argv) -> int``.
COMMANDS = {
    "demo": (
        "captum_fido.demo.run_demo",
        "explain demo scenes with FIDO and Captum baselines; write a figure",
    ),
    "compare": (
        "captum_fido.demo.compare",
        "run and score every saliency method on a demo domain; write tables",
    ),
    "counterfactual": (
        "captum_fido.demo.digits.run_demo",
        "latent-space criticisms and prototypes on handwritten digits",
    ),
}


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m captum_fido",
        description="Counterfactual in-fill saliency (FIDO, BBMP) for Captum.",
    )
    parser.add_argument("command", choices=sorted(COMMANDS), help="what to run")
    for name, (_, text) in COMMANDS.items():
        parser.epilog = (parser.epilog or "") + f"{name}: {text}.  "
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0 if argv else 2
    args, rest = parser.parse_known_args(argv[:1])
    module = importlib.import_module(COMMANDS[args.command][0])
    return int(module.main(argv[1:]) or 0)
