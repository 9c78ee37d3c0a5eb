r"""Small helpers shared by the demo's training functions."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np
import torch

from captum_fido._utils.files import save_torch_atomic, write_json_atomic

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def seed_everything(seed: int) -> torch.Generator:
    r"""Seed Python, numpy and torch; return a torch generator seeded alike."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


class TrainingClock:
    r"""Wall and CPU time of a training run since it was made: every demo
    training summary records them the same way (:meth:`summary`)."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.time(), time.process_time()

    def summary(self, steps: int) -> Dict[str, Any]:
        r"""``seconds`` (wall), ``cpu_seconds`` (this process), ``threads``
        (torch's) and ``steps``."""
        return {
            "seconds": time.time() - self.wall,
            "cpu_seconds": time.process_time() - self.cpu,
            "threads": torch.get_num_threads(),
            "steps": steps,
        }


def save_state(model: torch.nn.Module, path: Path, summary: Dict[str, Any]) -> None:
    r"""Save ``model``'s state_dict to ``path`` and a JSON summary next to it
    (each written atomically: a killed training run leaves the old files)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    save_torch_atomic(state, path)
    write_json_atomic(path.with_suffix(".json"), summary)


def finish_training(
    model: torch.nn.Module,
    summary: Dict[str, Any],
    out: Optional[Path],
    message: str,
) -> Dict[str, Any]:
    r"""The end of every demo training function: print ``message``; with
    ``out``, save ``model`` (in eval mode) and ``summary`` there and say so.
    Returns ``summary``."""
    print(message)
    if out is not None:
        save_state(model.eval(), Path(out), summary)
        print(f"wrote {out}")
    return summary
