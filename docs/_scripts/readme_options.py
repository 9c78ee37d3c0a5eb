r"""The README's table of FIDO's and BBMP's options, generated from
:class:`captum_fido.attr.MaskOptions` (every option's one declaration).

``tests/test_readme.py`` checks that the README holds exactly this table;
after adding or changing an option, rewrite it with::

    python docs/_scripts/readme_options.py --write
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

from captum_fido.attr import BBMP_DEFAULTS, FIDO_DEFAULTS, MaskOptions

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- options table start -->", "<!-- options table end -->"


def _summary(doc: str) -> str:
    r"""The doc's first sentence, and its sentence on the default if any."""
    doc = re.sub(r":\w+:`~?([\w.]+)`", r"`\1`", doc.replace("``", "`"))
    sentences = re.split(r"(?<=\.)\s+(?=[A-Z])", doc)
    kept = sentences[:1] + [s for s in sentences[1:] if s.startswith("Default")]
    return " ".join(kept)


def _default(options: MaskOptions, name: str, applies_to: str, method: str) -> str:
    if applies_to and applies_to != method:
        return "–"
    return f"`{getattr(options, name)!r}`"


def options_table() -> str:
    r"""The Markdown table: option, FIDO default, BBMP default, what it does."""
    lines = [
        "| option | FIDO | BBMP | what it does |",
        "|---|---|---|---|",
    ]
    for f in dataclasses.fields(MaskOptions):
        scope = f.metadata["applies_to"]
        fido = _default(FIDO_DEFAULTS, f.name, scope, "FIDO")
        bbmp = _default(BBMP_DEFAULTS, f.name, scope, "BBMP")
        what = _summary(f.metadata["doc"]).replace("|", "\\|")
        lines.append(f"| `{f.name}` | {fido} | {bbmp} | {what} |")
    return "\n".join(lines)


def readme_table(text: str) -> str:
    r"""The table between the README's markers (``ValueError`` if absent)."""
    if START not in text or END not in text:
        raise ValueError(f"README.md lacks the markers {START} / {END}")
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite README.md")
    args = parser.parse_args()
    if not args.write:
        print(options_table())
        return
    text = README.read_text(encoding="utf-8")
    old = readme_table(text)
    README.write_text(text.replace(old, options_table(), 1), encoding="utf-8")
    print(f"wrote the options table into {README}")


if __name__ == "__main__":
    main()
