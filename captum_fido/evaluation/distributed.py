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
    r"""This process's place: ``rank`` of ``world`` processes."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def take(self, items: Sequence[Any]) -> List[Any]:
        r"""This process's share: every ``world``-th item from ``rank``."""
        return list(items[self.rank :: self.world])


def init_shard() -> Shard:
    r"""Join the process group that ``torchrun`` describes in the environment
    (``WORLD_SIZE`` > 1); a plain run is the single shard ``Shard(0, 1)``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Shard()
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return Shard(dist.get_rank(), dist.get_world_size())


def gather_rows(shard: Shard, rows: List[Any]) -> List[Any]:
    r"""Every process's rows, on every process (its own rows when alone)."""
    if shard.world == 1:
        return rows
    gathered: List[List[Any]] = [[] for _ in range(shard.world)]
    dist.all_gather_object(gathered, rows)
    return [row for part in gathered for row in part]


def finish_shard(shard: Shard) -> None:
    r"""Wait for every process, then leave the process group."""
    if shard.world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
