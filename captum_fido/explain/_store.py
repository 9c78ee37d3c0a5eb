r"""The output folder of a data-set run: maps, figures, index, settings.

Layout (``out/``)::

    settings.json          the run's settings (written once; a re-run with
                           other settings is refused)
    maps/<id>.npy          one map per input, the input's path plus .npy
    figures/<id>.png       optional figures, the input's path plus .png
    index.jsonl            one JSON row per input (merged, input order)
    index.csv              the same rows as a table
    summary.json           counts of done, skipped and failed inputs
    .parts/index-<r>.jsonl rows appended by process r while it runs

Crash safety rests on three rules. Every file is written to a temporary
file in its own folder, flushed to disk and renamed over its name
(``os.replace``), so a file is either complete or absent. A row is
appended to the process's part, flushed and synced, only after its map
(and figure) is in place, so a row always points at complete files. On
start, the rows of the merged index and of every part are read back; a
half-written last line (the process died while writing it) is dropped and
its input explained again, as is a row whose files are gone; temporary
files left by a killed run are removed.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Sequence

from captum_fido._utils.files import atomic_path

__all__ = ["OutputStore", "SettingsMismatch", "atomic_write", "STORE_FORMAT"]

#: Version of the layout and rows (part of the settings).
STORE_FORMAT = 1
#: Suffix of :func:`~captum_fido._utils.files.atomic_path`'s temporary files
#: (removed on start when a killed run left them).
TMP_SUFFIX = ".tmp"
#: Columns of ``index.csv`` (lists joined by ``;``).
CSV_FIELDS = (
    "id",
    "status",
    "map_status",
    "target",
    "target_name",
    "label",
    "predicted",
    "predicted_probability",
    "probability",
    "counterfactual_probability_mean",
    "counterfactual_probabilities",
    "seconds",
    "map",
    "figure",
    "converted",
    "reason",
    "warnings",
)


class SettingsMismatch(ValueError):
    r"""The output folder holds a run made with other settings.

    Examples::

        >>> try:
        ...     explain_dataset(fido, "photos/", "out", seed=1)  # doctest: +SKIP
        ... except SettingsMismatch as err:
        ...     print(err)
        out holds a run made with other settings (seed: 0 there, 1 now) ...
    """


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    r"""Write ``path`` all at once (:func:`captum_fido._utils.files.atomic_path`:
    a temporary file in the same folder, synced and renamed over ``path``);
    ``write`` fills it. The folder is created.

    Args:
        path (Path): The file to (re)write.
        write (callable): ``write(binary_file)``.

    Examples::

        >>> atomic_write(Path("out/a.txt"), lambda fh: fh.write(b"hi"))
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        write(fh)


def _write_text(path: Path, text: str) -> None:
    # surrogateescape: file names that are not UTF-8 keep their own bytes.
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8", "surrogateescape")))


class OutputStore:
    r"""Reads and writes one run's output folder (see the module's layout)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.settings_path = out / "settings.json"
        self.index_path = out / "index.jsonl"
        self.csv_path = out / "index.csv"
        self.summary_path = out / "summary.json"
        self.parts = out / ".parts"

    # -- names ------------------------------------------------------------

    def map_name(self, id_: str) -> str:
        r"""The map's path relative to ``out``: ``maps/<id>.npy``."""
        return f"maps/{_safe(id_)}.npy"

    def figure_name(self, id_: str) -> str:
        r"""The figure's path relative to ``out``: ``figures/<id>.png``."""
        return f"figures/{_safe(id_)}.png"

    # -- start ------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        r"""Hold ``out/.lock`` while the run writes (released by the system
        when the process dies, so a killed run never blocks its resume)."""
        self.out.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # no advisory locks on this platform
            yield
            return
        with (self.out / ".lock").open("a") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise RuntimeError(
                    f"another run is writing to {self.out} (it holds "
                    f"{self.out / '.lock'}); wait for it to finish or choose "
                    "another output folder"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def check_settings(self, settings: Dict[str, Any]) -> None:
        r"""Record ``settings`` in a new folder; in a folder of an earlier
        run, raise :class:`SettingsMismatch` when they differ, unless that
        run made no map (it failed from the start): then start over."""
        # Compared as JSON reads them back (tuples become lists).
        settings = json.loads(json.dumps(settings))
        if not self.settings_path.exists():
            stray = [
                p.name for p in self.out.iterdir() if p.name not in (".lock", ".parts")
            ]
            if stray:
                raise ValueError(
                    f"out {self.out} is not empty ({', '.join(sorted(stray)[:3])}"
                    f"{', ...' if len(stray) > 3 else ''}) and holds no "
                    "settings.json of an earlier run: choose a new or empty "
                    "folder, so that nothing of yours is overwritten"
                )
            _write_text(self.settings_path, json.dumps(settings, indent=1) + "\n")
            return
        try:
            before = json.loads(self.settings_path.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(
                f"{self.settings_path} cannot be read ({err}); it was not "
                "written by this package, or was edited"
            ) from None
        differences = _differences(before, settings)
        if differences and not any(
            r.get("status") == "done" for r in self._read_rows().values()
        ):
            # No map was made with the old settings: nothing to keep.
            self._start_over(settings)
            return
        if differences:
            shown = "; ".join(differences[:5])
            more = f"; and {len(differences) - 5} more" if len(differences) > 5 else ""
            raise SettingsMismatch(
                f"{self.out} holds a run made with other settings ({shown}"
                f"{more}). Re-run with the same settings to resume it, or "
                "choose another output folder (or delete this one to start "
                "over)"
            )

    def _start_over(self, settings: Dict[str, Any]) -> None:
        r"""Record new ``settings`` in a folder that holds no map: drop its
        rows (failures of the old settings) and any stray map or figure."""
        for folder in (self.out / "maps", self.out / "figures"):
            if folder.is_dir():
                shutil.rmtree(folder)
        self._write_index([])
        self._remove_parts()
        _write_text(self.settings_path, json.dumps(settings, indent=1) + "\n")

    def recover(self, figures: bool) -> Dict[str, dict]:
        r"""The rows of earlier runs, by id, after a crash-safe clean-up.

        Drops half-written rows and rows of done inputs whose files are
        gone, removes temporary files, merges the parts into the index.
        """
        self._remove_temporaries()
        rows = self._read_rows()
        for id_, row in list(rows.items()):
            if row.get("status") == "done" and not self._files_present(row, figures):
                del rows[id_]
        self._write_index(list(rows.values()))
        self._remove_parts()
        return rows

    # -- during the run ---------------------------------------------------

    @contextlib.contextmanager
    def part(self, rank: int) -> Iterator[PartWriter]:
        r"""Process ``rank``'s append-only part of the index."""
        self.parts.mkdir(parents=True, exist_ok=True)
        with (self.parts / f"index-{rank}.jsonl").open("a", encoding="utf-8") as fh:
            yield PartWriter(fh)

    def write_map(self, id_: str, array: Any) -> str:
        r"""Write one map (a NumPy array) atomically; its name in ``out``."""
        import numpy as np

        name = self.map_name(id_)
        atomic_write(self.out / name, lambda fh: np.save(fh, array))
        return name

    # -- end --------------------------------------------------------------

    def finish(self, order: Sequence[str]) -> List[dict]:
        r"""Merge the parts into the index in ``order`` (then any rows of
        inputs not in ``order``), write the table, and return the rows of
        ``order``'s inputs."""
        rows = self._read_rows()
        ordered = [rows[i] for i in order if i in rows]
        listed = set(order)
        rest = [rows[i] for i in sorted(rows) if i not in listed]
        self._write_index(ordered + rest)
        self._write_csv(ordered + rest)
        self._remove_parts()
        return ordered

    def write_summary(self, summary: Dict[str, Any]) -> None:
        r"""Write ``summary.json``."""
        _write_text(self.summary_path, json.dumps(summary, indent=1) + "\n")

    # -- helpers ----------------------------------------------------------

    def _read_rows(self) -> Dict[str, dict]:
        rows: Dict[str, dict] = {}
        sources = [self.index_path]
        if self.parts.is_dir():
            sources += sorted(self.parts.glob("index-*.jsonl"))
        for path in sources:
            if path.is_file():
                for row in _parse_rows(path):
                    rows[row["id"]] = row
        return rows

    def _files_present(self, row: dict, figures: bool) -> bool:
        names = [row.get("map")] + ([row.get("figure")] if figures else [])
        return all(isinstance(n, str) and (self.out / n).is_file() for n in names)

    def _write_index(self, rows: List[dict]) -> None:
        text = "".join(json.dumps(r) + "\n" for r in rows)
        _write_text(self.index_path, text)

    def _write_csv(self, rows: List[dict]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k), k, row) for k in CSV_FIELDS})
        _write_text(self.csv_path, buffer.getvalue())

    def _remove_parts(self) -> None:
        if self.parts.is_dir():
            for path in self.parts.glob("index-*.jsonl"):
                path.unlink()

    def _remove_temporaries(self) -> None:
        r"""Remove temporary files a killed run left (ours only: the
        ``.<name>.<random>.tmp`` pattern of :func:`atomic_write`)."""
        for folder, _, files in os.walk(self.out):
            for name in files:
                if name.startswith(".") and name.endswith(TMP_SUFFIX):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(folder, name))


class PartWriter:
    r"""Appends rows to one part, each flushed; synced once per call."""

    def __init__(self, fh: IO[str]) -> None:
        self.fh = fh

    def append(self, rows: Sequence[dict]) -> None:
        for row in rows:
            self.fh.write(json.dumps(_finite(row)) + "\n")
            self.fh.flush()
        os.fsync(self.fh.fileno())


def _parse_rows(path: Path) -> Iterator[dict]:
    r"""The complete rows of a JSON-lines file; a half-written (unparsable)
    line, which only the last line can be, is skipped."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and isinstance(row.get("id"), str):
                yield row


def _safe(id_: str) -> str:
    r"""``id_`` as a relative path that stays inside its folder."""
    parts = id_.split("/")
    if id_.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"input id {id_!r} is not a plain relative path")
    return id_


def _finite(value: Any) -> Any:
    r"""``value`` with non-finite floats as ``None`` (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _cell(value: Any, key: str, row: dict) -> Any:
    if key == "converted":
        value = (row.get("source") or {}).get("converted")
    if isinstance(value, list):
        return ";".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in value)
    return "" if value is None else value


def _differences(before: Any, now: Any, path: str = "") -> List[str]:
    r"""Where two settings trees differ, as ``"key: old there, new now"``."""
    if isinstance(before, dict) and isinstance(now, dict):
        found = []
        for key in sorted(set(before) | set(now), key=str):
            where = f"{path}.{key}" if path else str(key)
            found += _differences(before.get(key), now.get(key), where)
        return found
    if before != now:
        return [f"{path}: {_short(before)} there, {_short(now)} now"]
    return []


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_rows(out: Path) -> Optional[List[dict]]:
    r"""The merged index of ``out`` (``None`` when there is none)."""
    path = out / "index.jsonl"
    return list(_parse_rows(path)) if path.is_file() else None
