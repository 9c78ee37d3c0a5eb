r"""Where a data-set run executes: one process, or a shard under ``torchrun``.

Under ``torchrun --nproc_per_node K`` (``WORLD_SIZE`` > 1) every process
joins the group (:func:`captum_fido.evaluation.distributed.init_shard`;
gloo for CPU devices, nccl for GPUs), runs on ``cuda:LOCAL_RANK`` when the
machine has GPUs and no device was given, and explains its share of the
inputs. Decisions that must be the same everywhere (the settings check, the
list of inputs still to do, the final summary) are taken by rank 0 and
broadcast, errors included, so every process stops with the same message.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, TypeVar, Union

import torch
import torch.distributed as dist

__all__ = ["Session", "session"]

T = TypeVar("T")

#: How long a process waits at a barrier for the others: shards finish at
#: different times (uneven images), and torch's default (30 min) is too short.
BARRIER_TIMEOUT = datetime.timedelta(hours=24)


@dataclass
class Session:
    r"""This process's place in the run and its device (``None``: the
    model's own device, decided by the caller)."""

    rank: int
    world: int
    device: Optional[torch.device]

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def on_main(self, fn: Callable[[], T]) -> T:
        r"""``fn()`` computed by rank 0 and given to every process; an
        exception it raises is raised by every process."""
        if self.world == 1:
            return fn()
        payload: list = [None]
        if self.rank == 0:
            try:
                payload = [("ok", fn())]
            except Exception as err:  # re-raised below, on every rank
                payload = [("error", err)]
        dist.broadcast_object_list(payload, src=0)
        status, value = payload[0]
        if status == "error":
            raise value
        return value

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


@contextlib.contextmanager
def session(device: Union[None, str, torch.device]) -> Iterator[Session]:
    r"""Join ``torchrun``'s group when there is one; leave it afterwards if
    this call created it."""
    from captum_fido.evaluation.distributed import init_shard

    world = int(os.environ.get("WORLD_SIZE", "1"))
    resolved = _device(device, world)
    created = False
    if world > 1 and not dist.is_initialized():
        if resolved is not None and resolved.type == "cuda":
            torch.cuda.set_device(resolved)
        backend = "nccl" if resolved is not None and resolved.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, timeout=BARRIER_TIMEOUT)
        created = True
    shard = init_shard()
    try:
        yield Session(shard.rank, shard.world, resolved)
    finally:
        if created and dist.is_initialized():
            dist.destroy_process_group()


def _device(
    device: Union[None, str, torch.device], world: int
) -> Optional[torch.device]:
    r"""The given device, or ``cuda:LOCAL_RANK`` for a shard on a GPU machine."""
    if device is not None:
        try:
            return torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(
                f"device: {device!r} is not a torch device ({err})"
            ) from None
    if world > 1 and torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        count = torch.cuda.device_count()
        if local >= count:
            raise ValueError(
                f"LOCAL_RANK {local} but this machine has {count} GPU(s): start "
                f"at most {count} processes per node, or give device='cpu'"
            )
        return torch.device("cuda", local)
    return None
