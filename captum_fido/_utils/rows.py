r"""Rows: chunked evaluation and per-row selection of extra arguments."""

from __future__ import annotations

from typing import Any, Iterator, Optional, Tuple

from torch import Tensor

__all__ = ["row_chunks", "select_rows"]


def row_chunks(n_rows: int, max_rows: Optional[int]) -> Iterator[slice]:
    r"""Consecutive slices covering ``range(n_rows)``, each at most ``max_rows``
    long (one slice when ``max_rows`` is ``None``)."""
    step = n_rows if max_rows is None else max_rows
    for start in range(0, n_rows, max(step, 1)):
        yield slice(start, min(start + step, n_rows))


def select_rows(args: Optional[Tuple[Any, ...]], rows: Tensor) -> Tuple[Any, ...]:
    r"""``additional_forward_args`` for the given image rows.

    Tensors with a batch dimension are indexed by ``rows`` (one entry per row,
    so a row index may repeat); 0-d tensors and non-tensors are shared.
    """
    if args is None:
        return ()
    return tuple(
        a.index_select(0, rows.to(a.device))
        if isinstance(a, Tensor) and a.dim() > 0
        else a
        for a in args
    )
