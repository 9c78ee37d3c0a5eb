r"""The README's usage snippet and options table against the code.

(i) the snippet is ``examples/readme_snippet.py``'s code, (ii) that code runs
(with ``n_steps=3`` added: the full 300 steps take about a minute) and saves
its figure, and (iii) the options table is the one generated from
``MaskOptions``, whose fields are exactly ``attribute``'s keyword options.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from pathlib import Path

import pytest

from captum_fido import BBMP, FIDO
from captum_fido.attr import BBMP_DEFAULTS, FIDO_DEFAULTS, MaskOptions

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXAMPLE = ROOT / "examples" / "readme_snippet.py"
MARKER = "<!-- readme snippet: examples/readme_snippet.py -->"

sys.path.insert(0, str(ROOT / "docs" / "_scripts"))
from readme_options import options_table, readme_table  # noqa: E402


def readme_snippet() -> str:
    text = README.read_text(encoding="utf-8")
    assert MARKER in text, "README.md lost the marker before its usage snippet"
    match = re.match(r"\s*```python\n(.*?)```", text.split(MARKER, 1)[1], re.S)
    assert match is not None, "no ```python block right after the README marker"
    return match.group(1)


def example_snippet() -> str:
    code = EXAMPLE.read_text(encoding="utf-8")
    body = code.split("# --- README snippet start ---\n", 1)[1]
    return body.split("# --- README snippet end ---", 1)[0]


def test_readme_snippet_is_the_example() -> None:
    assert readme_snippet() == example_snippet()


def test_readme_snippet_runs_and_saves_its_figure(tmp_path, monkeypatch) -> None:
    code = example_snippet()
    call = "attr = fido.attribute(images, target=labels, seed=0)"
    assert call in code, "the test shortens this call; update it with the snippet"
    code = code.replace(call, call[:-1] + ", n_steps=3)")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    exec(compile(code, str(EXAMPLE), "exec"), namespace)
    assert (tmp_path / "fido_map.png").stat().st_size > 0
    attr = namespace["attr"]
    assert attr.shape == namespace["images"].shape
    assert float(attr.min()) >= 0.0 and float(attr.max()) <= 1.0


def test_readme_snippet_imports_only_what_it_uses() -> None:
    code = example_snippet()
    imported = re.findall(r"^(?:from \S+ )?import (.+)$", code, re.M)
    names = [n.strip().split(" as ")[-1] for line in imported for n in line.split(",")]
    for name in names:
        uses = len(re.findall(rf"\b{re.escape(name)}\b", code))
        assert uses > 1, f"the README snippet imports {name} without using it"


def test_readme_options_table_is_generated_from_mask_options() -> None:
    table = readme_table(README.read_text(encoding="utf-8"))
    assert table == options_table(), (
        "README.md's options table is out of date: run "
        "python docs/_scripts/readme_options.py --write"
    )


@pytest.mark.parametrize("method", [FIDO, BBMP])
def test_attribute_signature_matches_mask_options(method) -> None:
    params = inspect.signature(method.attribute).parameters
    keyword = {n: p for n, p in params.items() if p.kind is p.KEYWORD_ONLY}
    fields = {f.name for f in dataclasses.fields(MaskOptions)}
    assert set(keyword) == fields
    for name, param in keyword.items():
        # None in the signature means "the method's default" (FIDO_DEFAULTS or
        # BBMP_DEFAULTS, as the README table shows); anything else must agree.
        if param.default is not None:
            assert param.default == getattr(FIDO_DEFAULTS, name), name
            assert param.default == getattr(BBMP_DEFAULTS, name), name
