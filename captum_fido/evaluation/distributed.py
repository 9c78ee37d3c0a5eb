r"""Runs that outgrow one process: shard images with ``torch.distributed``.

Under ``torchrun --nproc_per_node K`` each process explains every K-th
image (gloo on CPU, nccl on GPU), writes its own per-image file, and the
rows are gathered with ``all_gather_object`` so rank 0 writes the tables. A
row depends only on its image (see :mod:`captum_fido.evaluation.harness`),
so K processes give the table of one.
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
