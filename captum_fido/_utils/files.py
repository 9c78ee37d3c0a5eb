r"""Writing files so that a killed run never leaves a half-written one.

Every file the package writes goes through :func:`atomic_path`: the content
is written to a temporary file in the destination's folder, flushed to disk,
and renamed over the destination (``os.replace``, atomic on POSIX and
Windows). A reader sees the old file or the new one, never a mixture; a
crash leaves at most a stray temporary file (named ``.<name>.<random>.tmp``),
which the next write does not read.

The new file gets the old one's permissions, or (a new file) those a plain
``open(path, "w")`` would give (``0o666`` less the umask). A destination that
is a symbolic link is replaced by the new file: what the link points to (a
user's file, perhaps) is never written.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any, Iterator, Union

__all__ = [
    "atomic_path",
    "write_text_atomic",
    "write_json_atomic",
    "save_figure_atomic",
    "save_torch_atomic",
]

PathLike = Union[str, "os.PathLike[str]"]


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    r"""A temporary path to write; on success it replaces ``path`` atomically.

    Args:
        path (str or PathLike): The destination. Its folder must exist.

    Yields:
        Path: a fresh temporary file beside ``path``; write it completely
        (e.g. ``torch.save(obj, tmp)``, ``fig.savefig(tmp, format="png")``).
        It is flushed to disk and renamed over ``path`` when the block ends
        without an exception, and removed otherwise.

    Examples::

        >>> with atomic_path(folder / "map.pt") as tmp:  # doctest: +SKIP
        ...     torch.save(attribution, tmp)
    """
    dest = Path(path)
    tmp = _new_temporary(dest)
    try:
        _keep_mode(dest, tmp)
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _new_temporary(dest: Path) -> Path:
    r"""Create an empty ``.<name>.<random>.tmp`` beside ``dest``.

    Opened with mode ``0o666`` so that the umask applies as for any file the
    user's programs create (``tempfile.mkstemp`` would make it ``0o600``, and
    the rename would keep that); ``O_EXCL`` never opens an existing file or
    follows a link.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = dest.parent / f".{dest.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp


def _keep_mode(dest: Path, tmp: Path) -> None:
    r"""Give ``tmp`` the permissions of the file ``dest`` is (or links to);
    without one, ``tmp`` keeps those the umask gave it."""
    try:
        old = os.stat(dest)
    except OSError:
        return
    if stat.S_ISREG(old.st_mode):
        os.chmod(tmp, stat.S_IMODE(old.st_mode))


def write_text_atomic(path: PathLike, text: str) -> None:
    r"""Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`).

    Args:
        path (str or PathLike): The destination; its folder must exist.
        text (str): The whole content.

    Examples::

        >>> write_text_atomic(folder / "table.md", "| a |\n")  # doctest: +SKIP
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: PathLike, obj: Any) -> None:
    r"""Write ``obj`` as indented, key-sorted JSON to ``path`` atomically.

    Args:
        path (str or PathLike): The destination; its folder must exist.
        obj: Anything ``json.dumps`` takes.

    Examples::

        >>> write_json_atomic(folder / "settings.json", {"seed": 0})  # doctest: +SKIP
    """
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_figure_atomic(
    fig: Any, path: PathLike, *, close: bool = False, **savefig_kwargs: Any
) -> None:
    r"""Save a matplotlib figure to ``path`` atomically (see :func:`atomic_path`),
    creating its folder.

    The format comes from ``path``'s suffix (``png`` without one) unless
    ``format`` is given: the temporary file's own suffix must not decide it.

    Args:
        fig (matplotlib.figure.Figure): The figure.
        path (str or PathLike): The destination (its folder is created).
        close (bool, optional): Close the figure once saved (pyplot keeps
            every open figure in memory). Default ``False``.
        **savefig_kwargs: Passed to ``fig.savefig`` (``dpi``, ``bbox_inches``).

    Examples::

        >>> save_figure_atomic(fig, folder / "maps.png", dpi=100)  # doctest: +SKIP
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    savefig_kwargs.setdefault("format", dest.suffix.lstrip(".").lower() or "png")
    with atomic_path(dest) as tmp:
        fig.savefig(tmp, **savefig_kwargs)
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)


def save_torch_atomic(obj: Any, path: PathLike) -> None:
    r"""``torch.save(obj, path)`` atomically (see :func:`atomic_path`): a run
    killed while saving leaves the old weights file, never a truncated one.

    Args:
        obj: Anything ``torch.save`` takes (a state dict, a tensor).
        path (str or PathLike): The destination; its folder must exist.

    Examples::

        >>> save_torch_atomic(model.state_dict(), folder / "model.pt")  # doctest: +SKIP
    """
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
