r"""Argument types and checks shared by the ``captum-fido`` commands.

Every command (one module of :mod:`captum_fido.cli` each) builds its parser
with :func:`make_parser` (the training commands through
:class:`~captum_fido.cli._training.TrainingCommand`), so each shows the
program name it was started under (``captum-fido`` or ``python -m
captum_fido``), lists every option with its default, and reports a bad
value as a one-line argparse error before any work. Output paths are
checked (suffix, writability) with :func:`figure_path` and
:func:`output_folder` before the work starts, and the known chatty Captum
warnings are silenced at this edge only (:func:`quiet_captum_warnings`),
never in the library. Nothing outside :mod:`captum_fido.cli` uses these
helpers.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import textwrap
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, TypeVar

from captum_fido._utils.options import fill_doc_line

__all__ = [
    "DEFAULT_PROG",
    "make_parser",
    "int_at_least",
    "float_at_least",
    "add_int",
    "add_float",
    "add_flag",
    "add_seed",
    "add_path",
    "MAIN_ARGS",
    "document_main",
    "figure_path",
    "output_folder",
    "quiet_captum_warnings",
]

_F = TypeVar("_F", bound=Callable[..., int])

#: The console script's name; ``python -m captum_fido`` passes its own.
DEFAULT_PROG = "captum-fido"

#: Captum warnings that say nothing a CLI user can act on (they describe
#: Captum's own bookkeeping for gradient methods), matched by message start.
CAPTUM_NOISE = (
    r"Input Tensor \d+ did not already require gradients",
    r"Setting backward hooks on ReLU activations",
)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    r"""Show every option's default.

    An option whose help already explains its default (``"... (default:
    the method's)"``) is left as written, rather than followed by a second,
    literal ``(default: None)``.
    """

    def _get_help_string(self, action: argparse.Action) -> Optional[str]:
        if action.help and "(default" in action.help:
            return action.help
        return super()._get_help_string(action)


def make_parser(
    command: str, description: str, prog: Optional[str] = None
) -> argparse.ArgumentParser:
    r"""The parser of one command, named as the user started it.

    Args:
        command (str): The sub-command, e.g. ``"demo"``.
        description (str): The ``--help`` text above the options.
        prog (str, optional): The program as started (``captum-fido`` or
            ``python -m captum_fido``). Default :data:`DEFAULT_PROG`.

    Returns:
        ``argparse.ArgumentParser`` whose help lists each option's default.

    Examples::

        >>> p = make_parser("demo", "Explain demo scenes.")
        >>> p.prog
        'captum-fido demo'
    """
    return argparse.ArgumentParser(
        prog=f"{prog or DEFAULT_PROG} {command}",
        description=description,
        formatter_class=_Formatter,
    )


def int_at_least(low: int) -> Callable[[str], int]:
    r"""An argparse ``type`` for integers ``>= low``.

    Examples::

        >>> int_at_least(1)("3")
        3
    """
    return _at_least(int, "an integer", low, f"must be >= {low}, got {{}}")


def float_at_least(low: float) -> Callable[[str], float]:
    r"""An argparse ``type`` for finite floats ``>= low``.

    Examples::

        >>> float_at_least(0.0)("1e-4")
        0.0001
    """
    return _at_least(
        float, "a number", low, f"must be a finite number >= {low:g}, got {{}}"
    )


def _at_least(
    convert: Callable[[str], Any], kind: str, low: Any, refusal: str
) -> Callable[[str], Any]:
    r"""Parse with ``convert`` (``kind`` names what it expects); refuse a
    value below ``low`` or infinite with ``refusal`` (its ``{}`` is the
    text given)."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            msg = f"expected {kind}, got {text!r}"
            raise argparse.ArgumentTypeError(msg) from None
        if not (value >= low and value != float("inf")):
            raise argparse.ArgumentTypeError(refusal.format(text))
        return value

    parse.__name__ = f"{kind.split()[-1]} >= {low:g}"
    return parse


def add_int(
    parser: argparse.ArgumentParser,
    flag: str,
    default: Optional[int],
    help: str,
    low: int = 1,
    **kwargs: Any,
) -> None:
    r"""An integer option of at least ``low``, checked as it is parsed (so
    every count, size and seed of every command is range-checked alike).

    Args:
        parser (argparse.ArgumentParser): The command's parser.
        flag (str): The option, e.g. ``"--n-images"``.
        default (int, optional): Its default (``None``: decided later).
        help (str): Its ``--help`` text.
        low (int, optional): The smallest value accepted. Default 1.
        **kwargs: Further ``add_argument`` arguments (``metavar``, ...).

    Examples::

        >>> p = make_parser("demo", "Explain demo scenes.")
        >>> add_int(p, "--n-images", 4, "test scenes to explain")
        >>> p.parse_args(["--n-images", "2"]).n_images
        2
    """
    parser.add_argument(
        flag, type=int_at_least(low), default=default, help=help, **kwargs
    )


def add_float(
    parser: argparse.ArgumentParser,
    flag: str,
    default: Optional[float],
    help: str,
    low: float = 0.0,
) -> None:
    r"""As :func:`add_int`, for a finite number of at least ``low``
    (default 0).

    Examples::

        >>> p = make_parser("demo", "Explain demo scenes.")
        >>> add_float(p, "--l1-coeff", None, "a fixed sparsity weight")
        >>> p.parse_args(["--l1-coeff", "1e-4"]).l1_coeff
        0.0001
    """
    parser.add_argument(flag, type=float_at_least(low), default=default, help=help)


def add_flag(parser: argparse.ArgumentParser, flag: str, help: str) -> None:
    r"""An on/off option, off unless given.

    Args:
        parser (argparse.ArgumentParser): The command's parser.
        flag (str): The option, e.g. ``"--tiny"``.
        help (str): Its ``--help`` text.

    Examples::

        >>> p = make_parser("train-digits", "Train.")
        >>> add_flag(p, "--tiny", "a smoke test")
        >>> p.parse_args(["--tiny"]).tiny
        True
    """
    parser.add_argument(flag, action="store_true", help=help)


def add_seed(
    parser: argparse.ArgumentParser, default: int = 0, help: str = "random seed"
) -> None:
    r"""``--seed``: an integer ``>= 0``, as the methods' own ``seed`` takes.

    Args:
        parser (argparse.ArgumentParser): The command's parser.
        default (int, optional): Default 0.
        help (str, optional): Its ``--help`` text. Default ``"random seed"``.

    Examples::

        >>> p = make_parser("demo", "Explain demo scenes.")
        >>> add_seed(p)
        >>> p.parse_args([]).seed
        0
    """
    add_int(parser, "--seed", default, help, low=0)


def add_path(
    parser: argparse.ArgumentParser,
    flag: str,
    default: Optional[Path],
    help: str,
    metavar: Optional[str] = None,
) -> None:
    r"""A file or folder option (``--out``, ``--init``, ...), as a ``Path``;
    checked by the command (:func:`figure_path`, :func:`output_folder`,
    :class:`~captum_fido.cli._training.TrainingCommand`, ...) before any work.

    Args:
        parser (argparse.ArgumentParser): The command's parser.
        flag (str): The option, e.g. ``"--out"``.
        default (Path, optional): Its default (``None``: decided later).
        help (str): Its ``--help`` text.
        metavar (str, optional): Its name in ``usage:`` lines.

    Examples::

        >>> p = make_parser("demo", "Explain demo scenes.")
        >>> add_path(p, "--out", Path("outputs/demo.png"), "figure file")
        >>> p.parse_args([]).out
        PosixPath('outputs/demo.png')
    """
    parser.add_argument(flag, type=Path, default=default, metavar=metavar, help=help)


#: What every command's ``main`` takes and returns, written where its
#: docstring has a line ``{main_args}`` (:func:`document_main`).
MAIN_ARGS = """Args:
    argv (list of str, optional): The command's arguments. Default
        ``sys.argv[1:]``.
    prog (str, optional): The program name for ``usage:`` lines.

Returns:
    int, the exit status (0)."""


def document_main(main: _F) -> _F:
    r"""Write :data:`MAIN_ARGS` (the ``Args`` and ``Returns`` every
    command's ``main(argv, prog)`` shares) on its docstring's ``{main_args}``
    line, at that line's indentation.

    Args:
        main (callable): A command's ``main``.

    Returns:
        ``main``, its docstring filled.

    Examples::

        >>> @document_main
        ... def main(argv=None, prog=None):
        ...     '''Run a command.
        ...
        ...     {main_args}
        ...     '''
        ...     return 0
        >>> "prog (str, optional)" in main.__doc__
        True
    """
    return fill_doc_line(
        main, "{main_args}", lambda indent: textwrap.indent(MAIN_ARGS, " " * indent)
    )


def _check_writable(folder: Path) -> None:
    r"""Write and delete a probe file in ``folder``, or in its nearest
    existing ancestor when it does not exist yet (creating nothing: a
    rejected command leaves no trace). ``os.access`` is wrong for root and
    for read-only file systems, so the probe is a real write."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(20, f"{existing} is not a folder")
    with tempfile.NamedTemporaryFile(dir=existing, prefix=".write-probe-"):
        pass


def output_folder(parser: argparse.ArgumentParser, option: str, path: Path) -> Path:
    r"""Check that ``path`` is, or can be made, a writable folder; report a
    problem through ``parser.error`` (exit status 2) before any work.

    Returns:
        ``path`` (not created: the command creates it when it writes).
    """
    if path.exists() and not path.is_dir():
        parser.error(f"{option} {path} exists and is not a folder")
    try:
        _check_writable(path)
    except OSError as err:
        parser.error(f"{option} {path}: cannot write there ({err.strerror or err})")
    return path


def figure_path(parser: argparse.ArgumentParser, option: str, path: Path) -> Path:
    r"""The figure file matplotlib will write for ``path``.

    A path without a suffix gets ``.png`` (so the ``wrote`` message names
    the real file); a suffix matplotlib cannot write, or a folder that
    cannot be written, is reported through ``parser.error`` before any work.

    Returns:
        The path, with ``.png`` added when it had no suffix.
    """
    from matplotlib.figure import Figure

    formats = Figure().canvas.get_supported_filetypes()
    if not path.suffix:
        path = path.with_name(path.name + ".png")
    if path.suffix[1:].lower() not in formats:
        known = ", ".join(f".{s}" for s in sorted(formats))
        parser.error(
            f"{option} {path}: unsupported suffix {path.suffix!r}; use {known}"
        )
    if path.is_dir():
        parser.error(f"{option} {path} is a folder; give a file name")
    try:
        _check_writable(path.parent)
    except OSError as err:
        parser.error(
            f"{option} {path}: cannot write in {path.parent} ({err.strerror or err})"
        )
    return path


@contextlib.contextmanager
def quiet_captum_warnings() -> Iterator[None]:
    r"""Hide Captum's bookkeeping warnings (:data:`CAPTUM_NOISE`) while a
    command runs; every other warning still shows. Used by the CLI only."""
    with warnings.catch_warnings():
        for message in CAPTUM_NOISE:
            warnings.filterwarnings("ignore", message=message, module=r"captum\.")
        yield
