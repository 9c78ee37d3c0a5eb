"""Every public class and function documents itself: an r-string docstring
with Args (where it takes arguments), Returns (where it returns something)
and an Example, as Captum's methods do.

Public means: listed in the ``__all__`` of a module whose dotted path has no
part starting with an underscore.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any, Dict, List, Tuple

import pytest

import captum_fido


def _public_objects() -> Dict[str, Any]:
    found: Dict[str, Any] = {}
    seen = set()
    for info in pkgutil.walk_packages(captum_fido.__path__, "captum_fido."):
        parts = info.name.split(".")[1:]
        if any(p.startswith("_") for p in parts) or parts[-1] == "__main__":
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name, None)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def _parameters(obj: Any) -> List[str]:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    return [
        p.name
        for p in signature.parameters.values()
        if p.name not in ("self", "cls")
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _returns_something(fn: Any) -> bool:
    annotation = inspect.signature(fn).return_annotation
    return annotation not in (None, "None", inspect.Signature.empty)


def _problems(obj: Any) -> List[str]:
    doc = inspect.getdoc(obj) or ""
    if not doc:
        return ["no docstring"]
    problems = []
    if "Example" not in doc:
        problems.append("no Example")
    if _parameters(obj) and not any(k in doc for k in ("Args", "Attributes")):
        problems.append("no Args")
    if inspect.isfunction(obj) and _returns_something(obj):
        if not any(k in doc for k in ("Returns", "Yields")):
            problems.append("no Returns")
    return problems


PUBLIC = _public_objects()


def test_public_api_found():
    # The walk must see the package's main entry points.
    names = set(PUBLIC)
    assert "captum_fido.attr._fido.FIDO" in names
    assert len(PUBLIC) > 100


@pytest.mark.parametrize("qualname", sorted(PUBLIC))
def test_docstring_has_args_returns_example(qualname: str) -> None:
    problems: List[str] = _problems(PUBLIC[qualname])
    assert not problems, f"{qualname}: {', '.join(problems)}"


def test_rule_catches_a_bare_function():
    def bare(x: int) -> int:
        return x

    def documented(x: int) -> int:
        r"""Identity.

        Args:
            x (int): Anything.

        Returns:
            int, ``x``.

        Examples::

            >>> documented(1)
            1
        """
        return x

    expected: Tuple[str, ...] = ("no docstring",)
    assert tuple(_problems(bare)) == expected
    assert _problems(documented) == []
