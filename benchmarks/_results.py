r"""Writing a benchmark's results: one JSON file with the run's settings, the
per-image values and the printed table, so a document can cite the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict


def write_run(out: Path, settings: Dict[str, Any], values: Any, table: str) -> None:
    r"""Print ``table`` and write ``{"settings", "values", "table"}`` to ``out``."""
    print(table)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"settings": settings, "values": values, "table": table}
    out.write_text(json.dumps(record, indent=1))
    print(f"wrote {out}")
