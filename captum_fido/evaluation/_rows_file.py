r"""The per-image rows file of a comparison (``per_image.csv``): every row
checksummed (:data:`CHECK_COLUMN`), read back leaving out torn or malformed
records with a warning (:func:`read_rows`), appended to with a flush to disk
(:func:`append_rows`), or written anew and renamed over the old file
(:func:`write_rows`). :func:`~captum_fido.evaluation.harness.run_comparison`
writes through these; they are importable from the harness too."""

from __future__ import annotations

import csv
import io
import os
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from captum_fido._utils.files import atomic_path

__all__ = [
    "Row",
    "FAILED",
    "DONE",
    "CHECK_COLUMN",
    "row_check",
    "read_rows",
    "merge_rows",
    "append_rows",
    "write_rows",
    "scan_rows",
]

Row = Dict[str, object]

#: ``status`` of a row whose image a method (or its scoring) failed on.
FAILED = "failed"
#: ``status`` of a scored row.
DONE = "done"

#: The column holding each row's checksum (CRC-32 of its other values): a row
#: that does not match it was torn by a crash and is recomputed.
CHECK_COLUMN = "row_check"
#: Columns every per-image row has; a row without them is malformed.
_REQUIRED = ("image_id", "split", "method")


def row_check(row: Mapping[str, object]) -> str:
    r"""The checksum of a row: CRC-32 (8 hex digits) of its non-empty values
    with their column names, in column-name order, so a column added to the
    file later (empty in old rows) does not change it.

    Args:
        row (mapping): Column -> value (values are compared as ``str``).

    Returns:
        str: 8 lowercase hex digits.

    Examples::

        >>> row_check({"image_id": 0, "method": "Saliency"})
        '...'
        >>> row_check({"image_id": "0", "method": "Saliency", "extra": ""}) == (
        ...     row_check({"image_id": 0, "method": "Saliency"}))
        True
    """
    parts = [
        f"{k}\x1e{v}"
        for k, v in sorted((str(k), str(v)) for k, v in row.items())
        if k != CHECK_COLUMN and v != ""
    ]
    return f"{zlib.crc32(chr(0x1F).join(parts).encode('utf-8')):08x}"


@dataclass
class _Scan:
    r"""What a per-image CSV holds: its header, its valid rows (the last of
    any repeated (image, method) pair) and the line numbers of the records
    left out (torn, malformed or failing their checksum)."""

    columns: List[str]
    rows: List[Row]
    bad_lines: List[int]
    repeated: int = 0

    @property
    def clean(self) -> bool:
        r"""Whether appending to the file keeps it valid as it is."""
        return not self.bad_lines and not self.repeated


def scan_rows(path: Path) -> _Scan:
    r"""Read and validate a per-image CSV (an absent or empty file holds no
    rows). Raises ``ValueError`` when the header itself is unusable."""
    if not path.is_file():
        return _Scan([], [], [])
    text = path.read_bytes().decode("utf-8", errors="replace")
    bad: List[int] = []
    # A record is complete only with its line end: a run killed mid-write
    # leaves the last one without it.
    end = text.rfind("\n") + 1
    if end < len(text):
        bad.append(text.count("\n", 0, end) + 1)
        text = text[:end]
    records = list(csv.reader(io.StringIO(text, newline="")))
    if not records:
        return _Scan([], [], bad)
    columns = records[0]
    if (
        len(set(columns)) != len(columns)
        or any(c == "" or "\x00" in c for c in columns)
        or any(c not in columns for c in _REQUIRED)
    ):
        raise ValueError(
            f"{path} does not start with a per-image header (it needs the columns "
            f"{', '.join(_REQUIRED)}, each named once); it is not a per_image.csv "
            "of this harness, or its first line is damaged: move it away and run "
            "again to start afresh"
        )
    by_pair: Dict[Tuple[int, str], Row] = {}
    repeated = 0
    for line, values in enumerate(records[1:], start=2):
        if not values:
            continue  # a blank line holds nothing
        row = _valid_row(columns, values)
        if row is None:
            bad.append(line)
            continue
        pair = (int(str(row["image_id"])), str(row["method"]))
        repeated += pair in by_pair
        by_pair.pop(pair, None)
        by_pair[pair] = row
    return _Scan(columns, list(by_pair.values()), sorted(bad), repeated)


def _valid_row(columns: List[str], values: List[str]) -> Optional[Row]:
    r"""The row of a record, or ``None`` when it is malformed: another number
    of fields than the header, a NUL byte or undecodable text (a torn write),
    no image id, method or split, or a checksum that does not match."""
    if len(values) != len(columns) or any("\x00" in v or "\ufffd" in v for v in values):
        return None
    row: Row = dict(zip(columns, values))
    try:
        int(str(row["image_id"]))
    except ValueError:
        return None
    if not row["method"] or row["split"] not in ("val", "test"):
        return None
    if CHECK_COLUMN in row and row[CHECK_COLUMN] != row_check(row):
        return None
    return row


def read_rows(path: Path) -> List[Row]:
    r"""The valid rows of a per-image CSV (none if it does not exist).

    Records that a killed run left incomplete (no line end), malformed ones
    (another number of fields than the header, no image id, method or split)
    and rows whose :data:`CHECK_COLUMN` checksum does not match are left out
    with a warning, so a resumed run recomputes them; of a repeated
    (image, method) pair the last row is kept.

    Args:
        path (Path): The CSV file.

    Returns:
        list of dict: One dict per valid row, column -> value (strings).

    Raises:
        ValueError: the file does not start with a per-image header.

    Examples::

        >>> rows = read_rows(Path("out/per_image.csv"))
        >>> sorted({r["method"] for r in rows})
    """
    path = Path(path)
    scan = scan_rows(path)
    _warn_bad(path, scan, "left out; a resumed run recomputes them")
    return scan.rows


def merge_rows(rows: Iterable[Row]) -> List[Row]:
    r"""One row per (image, method) of rows put together from several
    per-image files (the processes' files of a sharded run, an earlier run's
    merged file).

    A scored row wins over a ``failed`` one whatever their order: a failed row
    an earlier run recorded and the scored row of its retry
    (``retry_failed``) sit in different files, and the files come in no
    particular order. Of rows with the same status the last is kept, as
    :func:`read_rows` keeps the last of a file's repeated rows. Each pair
    keeps the place of its first row.

    Args:
        rows (iterable of dict): Per-image rows (``image_id``, ``method``,
            ``status``; a row without ``status`` counts as scored).

    Returns:
        list of dict: One row per (image, method).

    Examples::

        >>> failed = {"image_id": "3", "method": "M", "status": "failed"}
        >>> done = {"image_id": "3", "method": "M", "status": "done"}
        >>> merge_rows([done, failed]) == merge_rows([failed, done]) == [done]
        True
    """
    merged: Dict[Tuple[int, str], Row] = {}
    for row in rows:
        pair = (int(str(row["image_id"])), str(row["method"]))
        kept = merged.get(pair)
        if kept is None or row.get("status") != FAILED or kept.get("status") == FAILED:
            merged[pair] = row
    return list(merged.values())


def _warn_bad(path: Path, scan: _Scan, what: str) -> None:
    if scan.bad_lines:
        shown = ", ".join(str(n) for n in scan.bad_lines[:10])
        more = "" if len(scan.bad_lines) <= 10 else ", ..."
        warnings.warn(
            f"{path}: {len(scan.bad_lines)} incomplete or malformed row(s) "
            f"(line {shown}{more}) {what}",
            stacklevel=3,
        )


def append_rows(path: Path, rows: Sequence[Row]) -> None:
    r"""Add rows to a per-image CSV without ever putting earlier rows at risk.

    Each row gets its :data:`CHECK_COLUMN` checksum. When the file is sound
    and already has every column, the rows are appended and flushed to disk
    (a crash leaves at most one incomplete last record, which
    :func:`read_rows` leaves out). Otherwise (new columns, a damaged or
    repeated record, an older file without checksums) the whole file is
    written anew to a temporary file and renamed over it, so a crash leaves
    the old file or the new one, never a mixture. Columns whose names start
    with ``_`` are not written.

    Args:
        path (Path): The CSV file (created with its folder if absent).
        rows (sequence of dict): The rows to add.

    Examples::

        >>> append_rows(Path("out/per_image.csv"),
        ...             [{"image_id": 0, "split": "test", "method": "Saliency"}])
    """
    if not rows:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scan = scan_rows(path)
    columns = [c for c in scan.columns if c != CHECK_COLUMN]
    new = [
        {str(k): v for k, v in r.items() if not str(k).startswith("_")} for r in rows
    ]
    for row in new:
        columns += [k for k in row if k not in columns and k != CHECK_COLUMN]
    columns.append(CHECK_COLUMN)
    new = [r | {CHECK_COLUMN: row_check(r)} for r in new]
    if scan.clean and scan.columns == columns:
        with open(path, "a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, fieldnames=columns, restval="").writerows(new)
            f.flush()
            os.fsync(f.fileno())
        return
    _warn_bad(path, scan, "dropped from the file; a resumed run recomputes them")
    write_rows(path, [*scan.rows, *new], columns)


def write_rows(
    path: Path, rows: Sequence[Row], columns: Optional[Sequence[str]] = None
) -> None:
    r"""Write a per-image CSV atomically (a temporary file renamed over
    ``path``): a crash leaves the old file or the new one, never a part.

    Args:
        path (Path): The CSV file (its folder is created).
        rows (sequence of dict): All its rows; each gets its
            :data:`CHECK_COLUMN` checksum.
        columns (sequence of str, optional): The header; default the
            rows' columns in order of appearance (checksum last).

    Examples::

        >>> write_rows(Path("out/per_image.csv"), merged_rows)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = [
        {str(k): v for k, v in r.items() if not str(k).startswith("_")} for r in rows
    ]
    if columns is None:
        columns = []
        for row in clean:
            columns += [k for k in row if k not in columns and k != CHECK_COLUMN]
        columns.append(CHECK_COLUMN)
    checked = [r | {CHECK_COLUMN: row_check(r)} for r in clean]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(columns), restval="")
            writer.writeheader()
            writer.writerows(checked)
