r"""One process's share of a data-set run: batches in; maps, figures and
index rows out.

Inputs are decoded and transformed one by one (a failure is a row), grouped
into batches of one shape, and each batch is explained with one method
call. When a call fails, its inputs are tried one by one, so one bad input
fails alone; when the run's first inputs all fail the same way, the run
stops instead (the method or model is wrong, not the inputs).
"""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
from torch import Tensor

from captum_fido.explain._config import RunConfig, TargetSpec
from captum_fido.explain._inputs import Item, Source
from captum_fido.explain._methods import BatchMaps
from captum_fido.explain._shard import Session
from captum_fido.explain._store import OutputStore

__all__ = ["Worker"]


@dataclass
class _Prepared:
    r"""An input ready for a batch: its model input and known target."""

    item: Item
    x: Tensor
    target: Optional[int]


class Worker:
    r"""One process's share: batches in, maps, figures and rows out."""

    def __init__(
        self, sess: Session, store: OutputStore, config: RunConfig, device: torch.device
    ) -> None:
        self.sess, self.store, self.config, self.device = sess, store, config, device
        self.adapter, self.label = config.adapter, config.label
        self.progress = config.show_progress and sess.is_main
        self.successes = 0
        self.first_failures: List[str] = []

    def explain(self, source: Source, mine: Sequence[str]) -> None:
        r"""Explain this process's inputs ``mine``, batch by batch."""
        from tqdm.auto import tqdm

        desc = self.label if self.sess.world == 1 else f"{self.label} [rank 0]"
        bar = tqdm(
            total=len(mine),
            desc=desc,
            unit="image",
            disable=not self.progress,
            smoothing=0.1,
            dynamic_ncols=True,
        )
        pending: List[_Prepared] = []
        with self.store.part(self.sess.rank) as part, contextlib.closing(bar):

            def flush() -> None:
                rows = self._batch(pending)
                part.append(rows)
                bar.update(len(rows))
                pending.clear()

            for item in source.items(set(mine)):
                prepared = self._prepare(item)
                if isinstance(prepared, dict):  # failed before the method
                    part.append([prepared])
                    bar.update(1)
                    continue
                if pending and (
                    len(pending) == self.config.batch_size
                    or pending[0].x.shape != prepared.x.shape
                ):
                    flush()
                pending.append(prepared)
            if pending:
                flush()

    def _prepare(self, item: Item) -> Union[_Prepared, dict]:
        r"""The input as the model takes it and its target, or a failure row."""
        if item.reason is not None or item.image is None:
            return self._failure(item, "decode", item.reason or "no image")
        try:
            transform = self.config.transform
            x = item.image if transform is None else transform(item.image)
        except Exception as err:  # the user's transform failed on this input
            return self._failure(item, "transform", _error(err))
        if not isinstance(x, Tensor) or x.dim() != 3 or not x.is_floating_point():
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            return self._failure(
                item, "transform", f"expected a float (C, H, W) tensor, got {got}"
            )
        target = _fixed_target(self.config.target, item)
        if isinstance(target, str):
            return self._failure(item, "target", target)
        return _Prepared(item, x, target)

    def _batch(self, batch: Sequence[_Prepared]) -> List[dict]:
        r"""Rows of one batch; when the call fails, each input is tried alone."""
        try:
            rows = self._explain(batch, time.perf_counter())
        except Exception as err:  # one input's failure must not stop the run
            if len(batch) == 1:
                rows = [self._failure(batch[0].item, "method", _error(err))]
            else:
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                rows = [self._alone(p) for p in batch]
            self._stop_if_broken(rows, err)
            return rows
        self.successes += len(rows)
        return rows

    def _alone(self, p: _Prepared) -> dict:
        try:
            (row,) = self._explain([p], time.perf_counter())
        except Exception as err:  # this input's own failure
            return self._failure(p.item, "method", _error(err))
        self.successes += 1
        return row

    def _stop_if_broken(self, rows: List[dict], err: Exception) -> None:
        r"""Stop when the run's first method calls all fail the same way: the
        method, its arguments or the model are at fault, not the inputs, and
        thousands of identical failure rows would help nobody."""
        if self.successes:
            return
        self.first_failures += [str(r.get("reason")) for r in rows]
        if len(self.first_failures) >= 2 and len(set(self.first_failures)) == 1:
            raise RuntimeError(
                f"the first {len(self.first_failures)} inputs all failed the "
                f"same way ({self.first_failures[0]}): a problem with the "
                "method, its arguments or the model rather than with the "
                "inputs, so the run stops. Fix it and run again (an output "
                "folder without maps takes the new settings)"
            ) from err

    def _explain(self, batch: Sequence[_Prepared], start: float) -> List[dict]:
        r"""One method call on the batch; maps and figures written, rows made."""
        x = torch.stack([p.x for p in batch]).to(self.device)
        scores = self._scores(x, batch)
        with warnings.catch_warnings(record=True) as caught:
            # Appended, so filters already set (a CLI's) still take precedence.
            warnings.simplefilter("always", append=True)
            result = self.adapter(x, scores["target"], self.config.seed, self.progress)
        from captum_fido.metrics import map_status

        statuses = map_status(result.maps)
        seconds = (time.perf_counter() - start) / len(batch)
        messages = sorted({str(w.message) for w in caught})
        return [
            self._done(
                p, i, x, result, scores, statuses[i], seconds, len(batch), messages
            )
            for i, p in enumerate(batch)
        ]

    def _scores(self, x: Tensor, batch: Sequence[_Prepared]) -> Dict[str, Any]:
        r"""Targets (given, or the prediction) and the model's probabilities."""
        from captum_fido.attr import log_odds

        fixed = [p.target for p in batch]
        classifier, output_type = self.config.classifier, self.config.output_type
        if classifier is None:
            return {
                "target": torch.tensor(fixed, device=x.device),
                "predicted": None,
                "pred_p": None,
                "p": None,
            }
        with torch.no_grad():
            output = classifier(x).float()
        single = output.dim() == 1 or (output.dim() == 2 and output.shape[1] == 1)
        ones = torch.ones(len(batch), dtype=torch.long, device=x.device)
        if single:
            predicted = (log_odds(output, ones, output_type) > 0).long()
        else:
            predicted = output.argmax(dim=1)
        target = torch.tensor(
            [int(predicted[i]) if t is None else t for i, t in enumerate(fixed)],
            device=x.device,
        )
        p = torch.sigmoid(log_odds(output, target, output_type))
        pred_p = torch.sigmoid(log_odds(output, predicted, output_type))
        return {
            "target": target,
            "predicted": predicted.tolist(),
            "pred_p": pred_p.tolist(),
            "p": p.tolist(),
        }

    def _done(
        self,
        p: _Prepared,
        i: int,
        x: Tensor,
        result: BatchMaps,
        scores: Dict[str, Any],
        status: str,
        seconds: float,
        n: int,
        messages: List[str],
    ) -> dict:
        r"""Write input ``i``'s map (and figure); its index row."""
        item, t = p.item, int(scores["target"][i])
        saliency = result.maps[i]
        cf_probs = (
            None
            if result.counterfactual_probs is None
            else [float(v) for v in result.counterfactual_probs[i]]
        )
        map_name = self.store.write_map(item.id, saliency.numpy())
        figure = None
        if self.config.figures:
            figure = self.store.figure_name(item.id)
            self._figure(figure, x[i], saliency, t, scores, i, result, cf_probs)
        return {
            "id": item.id,
            "status": "done",
            "map": map_name,
            "figure": figure,
            "map_status": status,
            "target": t,
            "target_name": self._class(t),
            "label": item.label,
            "predicted": None
            if scores["predicted"] is None
            else scores["predicted"][i],
            "predicted_probability": None
            if scores["pred_p"] is None
            else scores["pred_p"][i],
            "probability": None if scores["p"] is None else scores["p"][i],
            "counterfactual_probabilities": cf_probs,
            "counterfactual_probability_mean": (
                None if not cf_probs else sum(cf_probs) / len(cf_probs)
            ),
            "seconds": round(seconds, 4),
            "batch_size": n,
            "rank": self.sess.rank,
            "device": str(self.device),
            "input_shape": list(p.x.shape),
            "source": item.source,
            "warnings": messages,
        }

    def _figure(
        self,
        name: str,
        image: Tensor,
        saliency: Tensor,
        t: int,
        scores: Dict[str, Any],
        i: int,
        result: BatchMaps,
        cf_probs: Optional[List[float]],
    ) -> None:
        from captum_fido.explain._figures import write_figure

        prob = "" if scores["p"] is None else f" p={scores['p'][i]:.2f}"
        title = f"{self._class(t) or 'class'} ({t}){prob}"
        cfs = None if result.counterfactuals is None else result.counterfactuals[i]
        write_figure(
            self.store.out / name,
            image.cpu(),
            saliency,
            title,
            self.label,
            cfs,
            cf_probs or (),
        )

    def _class(self, t: int) -> Optional[str]:
        names = self.config.class_names
        return names[t] if names is not None and 0 <= t < len(names) else None

    def _failure(self, item: Item, stage: str, reason: str) -> dict:
        return {
            "id": item.id,
            "status": "failed",
            "stage": stage,
            "reason": reason,
            "label": item.label,
            "source": item.source,
            "rank": self.sess.rank,
        }


def _fixed_target(spec: TargetSpec, item: Item) -> Union[None, int, str]:
    r"""The input's target when known before the model runs (``None``:
    the prediction), or the reason there is none (a ``str``)."""
    if isinstance(spec, int):
        return spec
    if spec == "predicted":
        return None
    if spec == "label":
        return item.label if item.label is not None else "the data set gave no label"
    value = spec.get(item.id)  # type: ignore[union-attr]
    if value is None:
        return "no target for this input in the target mapping"
    return int(value)


def _error(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"
