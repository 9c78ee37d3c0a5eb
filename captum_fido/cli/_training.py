r"""What the training commands (``train-classifier``, ``train-digits``,
``train-explainer``, ``train-inpainters``) share, declared once.

Each describes itself with a :class:`TrainingCommand`: its own options,
where its weights go and how to load them, and what ``--tiny`` runs. The
class adds the options every training command takes (``--seed``, the
weights' path, ``--threads``, ``--no-progress``, ``--tiny``, listed after the
command's own), and :meth:`TrainingCommand.parse` checks the weights' path
(never inside the installed package) and sets torch's threads before any
work. Nothing outside :mod:`captum_fido.cli` uses it.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from captum_fido.cli._common import (
    add_flag,
    add_int,
    add_path,
    add_seed,
    make_parser,
    output_folder,
)

__all__ = ["TrainingCommand"]


@dataclass(frozen=True)
class TrainingCommand:
    r"""A training command's parser: its own options, then those every
    training command takes.

    Attributes:
        name (str): The sub-command, e.g. ``"train-explainer"``.
        description (str): The ``--help`` text above the options.
        options (callable): Adds the command's own options to its parser.
        out_default (Path, optional): The default of the option naming where
            the weights go (``out``); ``None`` where ``default_out`` decides.
        out_help (str): Its ``--help`` text; ``"; "`` and ``use`` follow.
        use (str): How to load the trained files, said by ``--help`` and by
            a refused path.
        tiny (str): What ``--tiny`` runs (a smoke test), for its ``--help``.
        out (str, optional): That option. Default ``"--out"``.
        folder (bool, optional): ``out`` is a folder for several files, not
            one weights file. Default ``False``.
        seed (int, optional): ``--seed``'s default. Default 0.
        threads (bool, optional): Take ``--threads`` and set torch's threads
            (default ``$OMP_NUM_THREADS`` or 1). Default ``True``.
        metavar (str, optional): ``out``'s name in ``usage:`` lines.
        default_out (callable, optional): ``out`` from the other parsed
            options, where it is not given and ``out_default`` is ``None``.

    Examples::

        >>> command = TrainingCommand(
        ...     "train-toy", "Train a toy.", lambda p: None, Path("/tmp/toy.pt"),
        ...     "weights file", "load it with torch.load", "one step")
        >>> args = command.parse(["--tiny", "--threads", "1"])
        >>> args.out, args.seed, args.tiny
        (PosixPath('/tmp/toy.pt'), 0, True)
    """

    name: str
    description: str
    options: Callable[[argparse.ArgumentParser], None]
    out_default: Optional[Path]
    out_help: str
    use: str
    tiny: str
    out: str = "--out"
    folder: bool = False
    seed: int = 0
    threads: bool = True
    metavar: Optional[str] = None
    default_out: Optional[Callable[[argparse.Namespace], Path]] = None

    def parser(self, prog: Optional[str] = None) -> argparse.ArgumentParser:
        r"""The command's parser, named as the user started it.

        Args:
            prog (str, optional): The program as started. Default
                ``captum-fido``.

        Returns:
            ``argparse.ArgumentParser``.
        """
        parser = make_parser(self.name, self.description, prog)
        self.options(parser)
        add_seed(parser, self.seed)
        help = f"{self.out_help}; {self.use}"
        add_path(parser, self.out, self.out_default, help, self.metavar)
        if self.threads:
            help = "torch threads (default: $OMP_NUM_THREADS or 1)"
            add_int(parser, "--threads", None, help)
        add_flag(parser, "--no-progress", "hide the progress bars")
        add_flag(parser, "--tiny", self.tiny)
        return parser

    def parse(
        self, argv: Optional[Sequence[str]] = None, prog: Optional[str] = None
    ) -> argparse.Namespace:
        r"""Parse ``argv``, check where the weights go (filling
        ``default_out``) and set torch's threads, all before any work; a
        problem is a one-line error (exit status 2).

        Args:
            argv (list of str, optional): The command's arguments. Default
                ``sys.argv[1:]``.
            prog (str, optional): The program as started.

        Returns:
            ``argparse.Namespace``, the weights' path under ``out``'s name.
        """
        parser = self.parser(prog)
        args = parser.parse_args(argv)
        dest = self.out.lstrip("-").replace("-", "_")
        if getattr(args, dest) is None and self.default_out is not None:
            setattr(args, dest, self.default_out(args))
        check = _weights_folder if self.folder else _weights_file
        check(parser, self.out, getattr(args, dest), self.use)
        if self.threads:
            _set_threads(args.threads)
        return args


def _outside_package(
    parser: argparse.ArgumentParser, option: str, path: Path, use: str
) -> None:
    r"""Refuse a ``path`` inside the installed package: a command never
    writes package files, the shipped weights above all (to replace those,
    copy a trained file there by hand). ``use`` says how to load the file
    from anywhere else."""
    package = Path(__file__).resolve().parents[1]
    target = path.resolve()
    if target == package or package in target.parents:
        parser.error(
            f"{option} {path} is inside the installed package ({package}); "
            f"write it elsewhere (the default is under outputs/) and {use}"
        )


def _weights_file(
    parser: argparse.ArgumentParser, option: str, path: Path, use: str
) -> Path:
    r"""Check, before any work, the weights file a training command writes:
    outside the installed package, a file name (not a folder, not the
    ``.json`` summary that goes beside it) in a folder that can be written.

    Args:
        parser (argparse.ArgumentParser): Reports a problem (exit status 2).
        option (str): The option's name, for the message.
        path (Path): The weights file.
        use (str): How to load the file, said when it is refused.

    Returns:
        ``path`` (not created).
    """
    _outside_package(parser, option, path, use)
    if path.suffix.lower() == ".json":
        parser.error(
            f"{option} {path}: the JSON summary goes beside the weights; name a .pt"
        )
    if path.is_dir():
        parser.error(f"{option} {path} is a folder; give a file name")
    output_folder(parser, option, path.parent)
    return path


def _weights_folder(
    parser: argparse.ArgumentParser, option: str, path: Path, use: str
) -> Path:
    r"""Check, before any work, the folder a training command writes its
    weights into: outside the installed package, and writable.

    Args:
        parser (argparse.ArgumentParser): Reports a problem (exit status 2).
        option (str): The option's name, for the message.
        path (Path): The folder.
        use (str): How to load the files, said when it is refused.

    Returns:
        ``path`` (not created).
    """
    _outside_package(parser, option, path, use)
    return output_folder(parser, option, path)


def _set_threads(threads: Optional[int]) -> None:
    r"""Limit torch's intra-op threads for a training command (default:
    ``$OMP_NUM_THREADS`` or 1: the demo's models are small, and on a shared
    machine more threads are slower)."""
    import torch

    if threads is None:
        threads = int(os.environ.get("OMP_NUM_THREADS", "1") or 1)
    torch.set_num_threads(max(1, int(threads)))
