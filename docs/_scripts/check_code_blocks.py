r"""Check that every ``python`` code block in the docs defines the names it uses.

The guides' code blocks are read, not executed (the tutorials are executed).
A block must be complete, or say on its first line which names it takes from
the blocks above it::

    # fragment: needs model, x, target

Each block is written to its own file (with those names bound first) and
checked with ruff's undefined-name rule (F821). Used by ``docs/conf.py`` at
every build and by ``tests/test_readme.py``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import List, Tuple

FRAGMENT = re.compile(r"^#\s*fragment:\s*needs\s+([\w\s,]+?)\s*(\(.*\))?$")
FENCE = re.compile(r"^```python\s*$")


def python_blocks(path: Path) -> List[Tuple[int, str]]:
    r"""``(first line number, code)`` of every ```` ```python ```` block in ``path``."""
    blocks: List[Tuple[int, str]] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    start = None
    for i, line in enumerate(lines):
        if start is None and FENCE.match(line.strip()):
            start = i + 1
        elif start is not None and line.strip() == "```":
            code = textwrap.dedent("\n".join(lines[start:i]))
            blocks.append((start + 1, code + "\n"))
            start = None
    return blocks


def _prelude(code: str) -> str:
    first = code.lstrip().splitlines()[0] if code.strip() else ""
    match = FRAGMENT.match(first.strip())
    if match is None:
        return ""
    names = [n.strip() for n in match.group(1).split(",") if n.strip()]
    return "".join(f"{name} = None\n" for name in names)


def undefined_names(paths: List[Path]) -> List[str]:
    r"""``"file:line: message"`` for every undefined name in the blocks."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        raise RuntimeError(
            "checking the docs' code blocks needs ruff (pip install ruff)"
        )
    problems: List[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        where = {}
        for path in paths:
            for line, code in python_blocks(path):
                prelude = _prelude(code)
                name = f"block_{len(where)}.py"
                (Path(tmp) / name).write_text(prelude + code, encoding="utf-8")
                where[name] = (path, line - prelude.count("\n"))
        if not where:
            return problems
        out = subprocess.run(
            [
                ruff,
                "check",
                "--isolated",
                "--select",
                "F821",
                "--output-format",
                "json",
                "--exit-zero",
                tmp,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for item in json.loads(out):
            path, offset = where[Path(item["filename"]).name]
            row = offset + item["location"]["row"] - 1
            problems.append(f"{path}:{row}: {item['message']}")
    return sorted(problems)


def check_docs_code_blocks(docs: Path) -> None:
    r"""Raise ``RuntimeError`` listing undefined names in ``docs`` and the README."""
    paths = sorted(p for p in docs.rglob("*.md") if "_build" not in p.parts)
    paths.append(docs.parent / "README.md")
    problems = undefined_names(paths)
    if problems:
        raise RuntimeError(
            "docs code blocks use undefined names (define them, or start the "
            "block with '# fragment: needs NAME, ...'):\n" + "\n".join(problems)
        )


if __name__ == "__main__":
    docs_dir = Path(__file__).resolve().parents[1]
    check_docs_code_blocks(docs_dir)
    print("docs code blocks: every name defined")
