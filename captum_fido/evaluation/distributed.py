r"""Runs that outgrow one process: shard images with ``torch.distributed``.

Under ``torchrun --nproc_per_node K`` each process explains every K-th
chunk of images (:meth:`Shard.take_chunks`; gloo on CPU, nccl on GPU),
writes its own per-image file, and the rows are gathered with
``all_gather_object`` so rank 0 writes the tables. A row depends only on its
image and its chunk (see :mod:`captum_fido.evaluation.harness`), and the
summaries aggregate rows in a fixed order with a seeded bootstrap
(:func:`~captum_fido.evaluation.report.summarise`), so K processes give
exactly the table of one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, List, Sequence

import torch
import torch.distributed as dist

__all__ = ["Shard", "init_shard", "gather_rows", "finish_shard"]


@dataclass(frozen=True)
class Shard:
    r"""This process's place: ``rank`` of ``world`` processes.

    Attributes:
        rank: This process's rank, from 0. Default 0.
        world: The number of processes. Default 1 (a plain run).

    Examples::

        >>> shard = Shard(rank=1, world=3)
        >>> shard.take(range(7))
        [1, 4]
        >>> shard.is_main
        False
    """

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        r"""Whether this is rank 0, the process that writes the tables."""
        return self.rank == 0

    def take(self, items: Sequence[Any]) -> List[Any]:
        r"""This process's share: every ``world``-th item from ``rank``."""
        return list(items[self.rank :: self.world])

    def take_chunks(self, n_items: int, chunk_size: int) -> List[int]:
        r"""This process's share of ``n_items`` positions by whole chunks:
        the positions are cut into chunks of ``chunk_size`` consecutive ones
        (the last may be shorter) and the process takes every ``world``-th
        chunk from ``rank``.

        Cut again into chunks of ``chunk_size``, the share gives exactly the
        chunks one process would explain, so every image is explained in the
        same batch however many processes share the run (a batch's
        composition changes the last float digits of a classifier's output).
        Give each process at least one chunk (``chunk_size <= n_items /
        world``) to keep all of them busy.

        Args:
            n_items (int): How many items are shared (>= 0).
            chunk_size (int): Items per chunk (>= 1).

        Returns:
            list of int: This process's positions, in increasing order.

        Examples::

            >>> Shard(rank=1, world=2).take_chunks(7, 2)
            [2, 3, 6]
        """
        for name, value, least in (
            ("n_items", n_items, 0),
            ("chunk_size", chunk_size, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if value < least:
                raise ValueError(f"{name} must be >= {least}, got {value}")
        starts = range(self.rank * chunk_size, n_items, self.world * chunk_size)
        return [i for s in starts for i in range(s, min(n_items, s + chunk_size))]


def init_shard() -> Shard:
    r"""Join the process group that ``torchrun`` describes in the environment
    (``WORLD_SIZE`` > 1); a plain run is the single shard ``Shard(0, 1)``.

    The backend is nccl when CUDA is available, else gloo; a process group
    that is already initialised is joined as it is.

    Returns:
        Shard: This process's rank and the number of processes.

    Examples::

        >>> shard = init_shard()  # plain ``python``: no WORLD_SIZE
        >>> shard
        Shard(rank=0, world=1)
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Shard()
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return Shard(dist.get_rank(), dist.get_world_size())


def gather_rows(shard: Shard, rows: List[Any]) -> List[Any]:
    r"""Every process's rows, on every process (its own rows when alone).

    With more than one process the rows travel by ``all_gather_object``, so
    every process of the group must call it.

    Args:
        shard (Shard): This process's place, from :func:`init_shard`.
        rows (list): This process's rows (any picklable objects).

    Returns:
        list: The rows of rank 0, then of rank 1, and so on; ``rows`` itself
        when ``shard.world == 1``.

    Examples::

        >>> shard = init_shard()
        >>> rows = [{"image_id": i} for i in shard.take(range(8))]
        >>> len(gather_rows(shard, rows))  # every rank's rows
        8
    """
    if shard.world == 1:
        return rows
    gathered: List[List[Any]] = [[] for _ in range(shard.world)]
    dist.all_gather_object(gathered, rows)
    return [row for part in gathered for row in part]


def finish_shard(shard: Shard) -> None:
    r"""Wait for every process, then leave the process group.

    Does nothing for a single process or when no process group is
    initialised.

    Args:
        shard (Shard): This process's place, from :func:`init_shard`.

    Examples::

        >>> shard = init_shard()
        >>> rows = gather_rows(shard, rows)
        >>> finish_shard(shard)
    """
    if shard.world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
