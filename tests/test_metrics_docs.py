"""The runnable example of docs/metrics.md runs."""

from __future__ import annotations

import re
from pathlib import Path

import captum_fido.infillers  # noqa: F401  (imported at collection, not timed)
import captum_fido.metrics  # noqa: F401

DOC = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


def test_metrics_doc_example_runs(capsys):
    text = DOC.read_text()
    section = text.split("## A runnable example", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})
    out = capsys.readouterr().out
    assert "NoisyLinearInfiller" in out and "MeanInfiller" in out
