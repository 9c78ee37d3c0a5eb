r"""``explain_dataset``: explain every input of a data set into an output folder.

Read top-down: :func:`explain_dataset` checks its arguments (before any
model work), joins ``torchrun``'s group when there is one, lets rank 0
check the settings and recover the folder (:mod:`._store`), and gives each
process every ``world``-th input still to do. Each process's
:class:`~._worker.Worker` then explains its share batch by batch, and rank
0 merges the index and counts the results.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import torch
from torch import Tensor

from captum_fido.explain._config import (
    RunConfig,
    TargetSpec,
    configure,
    model_device,
    move,
    settings,
)
from captum_fido.explain._inputs import FileSource, Source, make_source
from captum_fido.explain._shard import session
from captum_fido.explain._store import OutputStore
from captum_fido.explain._worker import Worker

__all__ = ["explain_dataset", "DatasetSummary"]


@dataclass(frozen=True)
class DatasetSummary:
    r"""What a data-set run did, counted over the inputs it was given.

    Attributes:
        out: The output folder.
        total: Inputs given.
        done: Inputs explained by this run.
        skipped: Inputs already explained by an earlier run into ``out``
            (not redone).
        failed: Inputs without a map, each with its reason in the index
            (this run's failures and earlier ones not retried).
        map_status: Maps per status of :func:`captum_fido.metrics.map_status`
            (``"ok"``, ``"empty"``, ``"flooded"``), over done and skipped.
        with_warnings: Inputs whose method call issued warnings (in their
            rows' ``warnings``).
        seconds: Wall-clock seconds of this run.
        rows: The index rows of the inputs given, in their order.

    Examples::

        >>> summary = explain_dataset(fido, "photos/", "out")  # doctest: +SKIP
        >>> print(summary)
        256 inputs: 250 explained, 0 already done, 6 failed; maps: 241 ok, ...
        >>> [r["reason"] for r in summary.failures][:1]
        ['truncated or corrupt PNG: image file is truncated']
    """

    out: Path
    total: int
    done: int
    skipped: int
    failed: int
    map_status: Dict[str, int]
    with_warnings: int
    seconds: float
    rows: List[dict] = field(repr=False)

    @property
    def failures(self) -> List[dict]:
        r"""The rows of the inputs that failed (``id``, ``stage``, ``reason``)."""
        return [r for r in self.rows if r.get("status") == "failed"]

    def __str__(self) -> str:
        maps = ", ".join(f"{n} {s}" for s, n in self.map_status.items())
        return (
            f"{self.total} inputs: {self.done} explained, {self.skipped} already "
            f"done, {self.failed} failed; maps: {maps or 'none'}; index "
            f"{self.out / 'index.jsonl'}"
        )


def explain_dataset(
    method: Any,
    data: Any,
    out: Union[str, os.PathLike[str]],
    *,
    target: TargetSpec = "predicted",
    model: Optional[Callable[..., Tensor]] = None,
    output_type: Optional[str] = None,
    transform: Optional[Callable[[Tensor], Tensor]] = None,
    batch_size: int = 8,
    seed: int = 0,
    attribute_kwargs: Optional[Mapping[str, Any]] = None,
    n_counterfactuals: int = 3,
    device: Union[None, str, torch.device] = None,
    class_names: Optional[Sequence[str]] = None,
    figures: bool = False,
    retry_failed: bool = False,
    name: Optional[str] = None,
    show_progress: bool = True,
) -> DatasetSummary:
    r"""Explain every input of a data set; resumable, crash-safe, sharded.

    Writes one map per input into ``out`` (``maps/<id>.npy``, ``(H, W)``
    float32 in ``[0, 1]``), optional figures, and an index with one row per
    input (``index.jsonl``, ``index.csv``): its target, the classifier's
    probability of it on the input and on counterfactual in-fills (FIDO and
    BBMP), the seconds spent, the map's status (``ok``, ``empty``,
    ``flooded``), how the file was decoded, or why it failed. See
    ``docs/explain_dataset.md``.

    - **Resumable**: a re-run with the same settings skips the inputs
      already explained and redoes the others; different settings are
      refused (:class:`SettingsMismatch`) unless the folder holds no map
      yet. An interruption at any moment
      (Ctrl-C, ``kill -9``) loses at most the batch in flight.
    - **Independent of batching**: every input is explained with the same
      ``seed`` from its own random stream (FIDO, BBMP), so its map does not
      depend on its batch, the batch size, the number of processes or an
      interruption (identical on a CPU; on GPUs up to float rounding).
    - **Sharded**: under ``torchrun --nproc_per_node K`` each process takes
      every ``K``-th input still to do, on ``cuda:LOCAL_RANK`` when the
      machine has GPUs, and rank 0 merges the index at the end.
    - **Never among its inputs**: ``out`` may not be, be inside, or hold an
      input folder, and nothing is written outside it.

    Args:
        method (FIDO, BBMP, Captum attribution or callable): What explains.
            FIDO/BBMP maps are stored as they are; a Captum object's map is
            its mean absolute attribution over channels divided by its
            maximum (layer attributions upsampled, Grad-CAM's positive part);
            a callable ``fn(inputs, target) -> (N, H, W) maps`` must return
            values in ``[0, 1]``.
        data (path, list of paths, Dataset or DataLoader): A folder (scanned
            recursively for image files), image files, or a data set
            yielding ``(C, H, W)`` float tensors or PIL images, optionally
            with a label: ``(image, label)``. Ids are paths relative to the
            common root, or positions (``"000042"``).
        out (str or Path): The output folder: new, empty, or of an earlier
            run with the same settings.
        target (str, int or mapping, optional): ``"predicted"`` (default):
            the model's top class on each input; ``"label"``: the data set's
            label; an int: that class for all; a mapping ``id -> class``.
        model (callable, optional): The classifier for predictions and
            probabilities. Default: the method's ``forward_func``.
        output_type (str, optional): ``"logits"``, ``"probs"`` or
            ``"log_probs"`` of the model. Default: the method's, else logits.
        transform (callable, optional): Applied to each decoded image
            (``(3, H, W)`` float in ``[0, 1]``) before batching, e.g. a
            resize and crop. Default: none.
        batch_size (int, optional): Inputs per method call (consecutive
            inputs of one shape). Default 8. Bound memory within a call with
            ``attribute_kwargs={"internal_batch_size": ...}``.
        seed (int, optional): Seed of every input's random stream. Default 0.
        attribute_kwargs (mapping, optional): Further arguments of the
            method's ``attribute`` (``n_steps``, ``l1_coeff``,
            ``internal_batch_size``; a Captum method's own). Default: none,
            the method's defaults.
        n_counterfactuals (int, optional): Counterfactual in-fills drawn per
            input for FIDO/BBMP, scored in the index (0: none). Default 3.
        device (str or torch.device, optional): Where to run; the model and
            a learned in-filler are moved there. Default: ``cuda:LOCAL_RANK``
            under ``torchrun`` on a GPU machine, else the model's device.
        class_names (sequence of str, optional): Names of the classes, for
            the index and figures.
        figures (bool, optional): Also write ``figures/<id>.png`` (image,
            map, counterfactuals). Default ``False``.
        retry_failed (bool, optional): Retry inputs an earlier run recorded
            as failed. Default ``False``.
        name (str, optional): The method's name in the progress bar, the
            figures and the settings. Default: from its class.
        show_progress (bool, optional): A progress bar over the inputs with
            rate and ETA, and FIDO/BBMP's bar over the steps of the batch in
            flight (rank 0 only). Default ``True``.

    Returns:
        :class:`DatasetSummary` (the same on every process).

    Raises:
        TypeError, ValueError: malformed arguments, an output folder among
            the inputs, a non-empty folder of something else; before any
            model work.
        SettingsMismatch: ``out`` holds a run made with other settings.
        RuntimeError: the run's first method calls all failed the same way
            (a problem with the method or model, not with the inputs).

    Examples::

        >>> from captum_fido import FIDO, explain_dataset
        >>> from captum_fido.infillers import BlurInfiller
        >>> fido = FIDO(model, BlurInfiller())
        >>> summary = explain_dataset(fido, "val/", "out/val_maps", batch_size=16)
        >>> print(summary)  # doctest: +SKIP
        5000 inputs: 4991 explained, 0 already done, 9 failed; maps: ...
    """
    started = time.perf_counter()
    config = configure(
        method,
        target,
        model,
        output_type,
        transform,
        batch_size,
        seed,
        attribute_kwargs,
        n_counterfactuals,
        class_names,
        figures,
        retry_failed,
        name,
        show_progress,
    )
    source = make_source(data)
    if isinstance(source, FileSource):
        source.images.check_output(out)
        if target == "label":
            raise ValueError("target='label' needs a data set with labels")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out {out} exists and is not a folder")
    return _run(config, source, out, device, started)


def _run(
    config: RunConfig,
    source: Source,
    out: Path,
    device: Union[None, str, torch.device],
    started: float,
) -> DatasetSummary:
    r"""The checked run: every process explains its share of the inputs still
    to do; rank 0 plans first and merges the index at the end."""
    with session(device) as sess:
        run_device = sess.device or model_device(config.classifier)
        if sess.device is not None:
            move(run_device, config)
        recorded = settings(config, source)
        store = OutputStore(out)
        with store.lock() if sess.is_main else contextlib.nullcontext():
            plan = sess.on_main(lambda: _plan(store, recorded, source.ids, config))
            worker = Worker(sess, store, config, run_device)
            try:
                worker.explain(source, plan["todo"][sess.rank :: sess.world])
            except KeyboardInterrupt:
                if sess.world == 1:  # alone: the index shows what is done
                    store.finish(source.ids)
                raise
            sess.barrier()
            return sess.on_main(
                lambda: _finish(store, source.ids, set(plan["earlier"]), started)
            )


def _plan(
    store: OutputStore, recorded: Dict[str, Any], ids: Sequence[str], config: RunConfig
) -> Dict[str, List[str]]:
    r"""Rank 0: check the settings, recover the folder; the inputs to do
    and those an earlier run already explained."""
    store.check_settings(recorded)
    rows = store.recover(config.figures)
    finished = {
        i
        for i, r in rows.items()
        if r.get("status") == "done"
        or (r.get("status") == "failed" and not config.retry_failed)
    }
    earlier = [i for i in ids if rows.get(i, {}).get("status") == "done"]
    return {"todo": [i for i in ids if i not in finished], "earlier": earlier}


def _finish(
    store: OutputStore, ids: Sequence[str], earlier: set, started: float
) -> DatasetSummary:
    r"""Rank 0: merge the index, write the table and the summary."""
    from captum_fido.metrics import MAP_STATUSES

    counts = {"done": 0, "skipped": 0, "failed": 0, "missing": 0}
    statuses = {s: 0 for s in MAP_STATUSES}
    rows = store.finish(ids)
    by_id = {r["id"]: r for r in rows}
    for i in ids:
        row = by_id.get(i, {})
        status = row.get("status")
        if status == "done":
            counts["skipped" if i in earlier else "done"] += 1
            status_of_map = str(row.get("map_status"))
            statuses[status_of_map] = statuses.get(status_of_map, 0) + 1
        else:
            counts["failed" if status == "failed" else "missing"] += 1
    if counts["missing"]:
        raise RuntimeError(
            f"{counts['missing']} input(s) have no row after the run; run again "
            "to explain them"
        )
    summary = DatasetSummary(
        store.out,
        len(ids),
        counts["done"],
        counts["skipped"],
        counts["failed"],
        {s: n for s, n in statuses.items() if n},
        sum(1 for r in rows if r.get("warnings")),
        round(time.perf_counter() - started, 3),
        rows,
    )
    store.write_summary(_summary_record(summary))
    return summary


def _summary_record(summary: DatasetSummary) -> Dict[str, Any]:
    return {
        "total": summary.total,
        "done": summary.done,
        "skipped": summary.skipped,
        "failed": summary.failed,
        "map_status": summary.map_status,
        "with_warnings": summary.with_warnings,
        "seconds": summary.seconds,
        "failures": [
            {"id": r["id"], "stage": r.get("stage"), "reason": r.get("reason")}
            for r in summary.failures
        ],
    }
