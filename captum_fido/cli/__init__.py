r"""Command line entry point: ``captum-fido <command>`` (or ``python -m
captum_fido <command>``).

The CLI sits at the edge of the package: it imports each command's module
lazily, and nothing in the library imports it. Each command module exposes
``main(argv, prog) -> int``.

Examples::

    captum-fido explain photos/ --method fido-ssr --out outputs/explain
    captum-fido demo --steps 100
    captum-fido --version
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

from captum_fido import __version__
from captum_fido._utils.cli import DEFAULT_PROG, quiet_captum_warnings

__all__ = ["COMMANDS", "main"]

#: command -> (module, help).
COMMANDS = {
    "explain": (
        "captum_fido.cli.explain",
        "explain your image files (PNG/JPEG) with FIDO, BBMP or a Captum method",
    ),
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
    "train-explainer": (
        "captum_fido.demo.train_explainer",
        "train the amortised FIDO-SSR explainer on the scenes domain; write weights",
    ),
}


#: Import name -> distribution of the ``[demo]`` extra (setup.cfg), so a
#: command that needs one says how to install it instead of a traceback.
DEMO_EXTRA = {
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "cv2": "opencv-python-headless",
}


def _parser(prog: str) -> argparse.ArgumentParser:
    width = max(len(name) for name in COMMANDS)
    listing = "\n".join(
        f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()
    )
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Counterfactual in-fill saliency (FIDO, BBMP) for Captum.",
        epilog=f"commands:\n{listing}\n\n'{prog} COMMAND --help' shows a "
        "command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    parser.add_argument(
        "command", choices=list(COMMANDS), metavar="COMMAND", help="what to run"
    )
    parser.add_argument(
        "args", nargs=argparse.REMAINDER, metavar="...", help="the command's options"
    )
    return parser


def main(argv: Optional[List[str]] = None, prog: str = DEFAULT_PROG) -> int:
    r"""Run one command.

    Args:
        argv (list of str, optional): The arguments after the program name.
            Default ``sys.argv[1:]``.
        prog (str, optional): How the program was started, for ``usage:``
            lines. Default ``"captum-fido"`` (the console script);
            ``python -m captum_fido`` passes its own.

    Returns:
        int, the exit status.

    Examples::

        >>> main(["--version"])  # doctest: +SKIP
        captum-fido 0.1.0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser(prog)
    if not argv:
        parser.print_help()
        return 2
    args = parser.parse_args(argv)
    try:
        module = importlib.import_module(COMMANDS[args.command][0])
        with quiet_captum_warnings():
            return int(module.main(args.args, prog=prog) or 0)
    except ModuleNotFoundError as err:
        if err.name not in DEMO_EXTRA:
            raise
        parser.exit(
            2,
            f"{prog} {args.command}: error: needs {DEMO_EXTRA[err.name]} "
            f"(module {err.name!r}), part of the demo extra: "
            "pip install 'captum-fido[demo]'\n",
        )
