r"""Command line entry point: ``captum-fido <command>`` (or ``python -m
captum_fido <command>``).

The CLI sits at the edge of the package: every command is one module of
this package (``explain``, ``demo``, ``compare``, ``counterfactual``,
``domains``, ``train_explainer``, ``train_classifier``, ``train_inpainters``,
``train_digits``) with its argument parsing and a ``main(argv, prog) -> int``;
the work itself lives in the library and in :mod:`captum_fido.demo`.
:func:`command_main` imports a command's module only when it runs, and
nothing outside this package imports it.

Examples::

    captum-fido explain photos/ --method fido-ssr --out outputs/explain
    captum-fido demo --steps 100
    captum-fido --version
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, List, Optional

from captum_fido import __version__
from captum_fido.cli._common import DEFAULT_PROG, quiet_captum_warnings

__all__ = ["COMMANDS", "command_main", "main"]

#: command -> its one-line help. Each command is the module of its name
#: (``-`` read as ``_``) with a ``main(argv, prog) -> int``.
COMMANDS = {
    "explain": "explain your image files (PNG/JPEG) with FIDO, BBMP or a Captum method",
    "demo": "explain demo scenes with FIDO and Captum baselines; write a figure",
    "compare": "run and score every saliency method on a demo domain; write tables",
    "counterfactual": "latent-space criticisms and prototypes on handwritten digits",
    "domains": "object vs background reliance of each demo domain's classifier",
    "train-explainer": "train the amortised FIDO-SSR explainer of the scenes domain",
    "train-classifier": "train the demo's scene classifier",
    "train-inpainters": "train the demo's in-painter and completion VAE",
    "train-digits": "train the digit classifier and VAE of counterfactual",
}

Main = Callable[..., int]


def command_main(name: str) -> Main:
    r"""The ``main`` of command ``name``, imported only when it runs: a
    command's imports (the ``[demo]`` extra's packages among them) load only
    for that command, so ``--help`` and ``--version`` need none of them.

    Args:
        name (str): A key of :data:`COMMANDS`.

    Returns:
        The command module's ``main(argv, prog) -> int``.

    Examples::

        >>> command_main("explain").__module__
        'captum_fido.cli.explain'
    """
    if name not in COMMANDS:
        raise ValueError(f"unknown command {name!r}; known: {', '.join(COMMANDS)}")
    module = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
    return module.main


#: Import name -> distribution of the ``[demo]`` extra (setup.cfg), so a
#: command that needs one says how to install it instead of a traceback.
DEMO_EXTRA = {
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "cv2": "opencv-python-headless",
}


def _parser(prog: str) -> argparse.ArgumentParser:
    width = max(len(name) for name in COMMANDS)
    listing = "\n".join(f"  {name:<{width}}  {text}" for name, text in COMMANDS.items())
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
        command = command_main(args.command)
        with quiet_captum_warnings():
            return int(command(args.args, prog=prog) or 0)
    except ModuleNotFoundError as err:
        if err.name not in DEMO_EXTRA:
            raise
        parser.exit(
            2,
            f"{prog} {args.command}: error: needs {DEMO_EXTRA[err.name]} "
            f"(module {err.name!r}), part of the demo extra: "
            "pip install 'captum-fido[demo]'\n",
        )
