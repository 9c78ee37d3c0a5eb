"""Every public name is on the documentation site, read from the inventory
(``objects.inv``) that Sphinx writes for it.

The slow test builds the API reference pages (``docs/api/``) with the site's
own ``docs/conf.py`` into a temporary folder, tutorials not executed, and
checks that every module those pages document has each name of its
``__all__`` on the site, every public class each of its own public methods
and properties (``FIDO.attribute``, ``BBMP.attribute``, ...), that every name
``captum_fido`` itself exports is documented, and that no cross-reference
to a documented object is left unlinked. The fast tests check the checker on
an inventory with a method left out.
"""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Set, Tuple

import pytest

import captum_fido

DOCS = Path(__file__).resolve().parents[1] / "docs"


def documented_modules(api_dir: Path = DOCS / "api") -> List[str]:
    """The modules the API pages document (their ``automodule`` directives)."""
    found: List[str] = []
    for page in sorted(api_dir.glob("*.rst")):
        for name in re.findall(r"^\.\. automodule:: (\S+)", page.read_text(), re.M):
            if name not in found:
                found.append(name)
    return found


def _own_members(cls: type) -> Iterable[str]:
    """Public methods and properties defined by this package's classes in
    ``cls``'s ancestry (foreign ones, nn.Module's or Captum's, are
    documented by their projects)."""
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next((c for c in cls.__mro__ if name in vars(c)), None)
        if owner is None or not owner.__module__.startswith("captum_fido"):
            continue
        value = vars(owner)[name]
        if isinstance(value, (property, classmethod, staticmethod)) or (
            inspect.isfunction(value)
        ):
            yield name


def expected_names(modules: Iterable[str]) -> Dict[str, object]:
    """Dotted name on the site -> object, for every public name the site
    must document: each module's ``__all__`` and the methods and properties
    of each public class."""
    expected: Dict[str, object] = {}
    for module_name in modules:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            expected[f"{module_name}.{name}"] = obj
            if inspect.isclass(obj):
                for member in _own_members(obj):
                    expected[f"{module_name}.{name}.{member}"] = getattr(obj, member)
    return expected


def missing_from(inventory: Set[str], modules: Iterable[str]) -> List[str]:
    """The expected names not on the site. A name excluded on one page is
    fine when the same object is documented under another documented name
    (``captum_fido.evaluation.summarise`` is ``...report.summarise``)."""
    expected = expected_names(modules)
    by_object: Dict[int, Set[str]] = {}
    for name, obj in expected.items():
        if name in inventory:
            by_object.setdefault(id(obj), set()).add(name)
    missing = []
    for name, obj in expected.items():
        if name in inventory:
            continue
        parent, _, member = name.rpartition(".")
        parent_obj = expected.get(parent)
        if inspect.isclass(parent_obj):
            # A method: documented under any documented name of its class.
            ok = any(
                f"{alias}.{member}" in inventory
                for alias in by_object.get(id(parent_obj), ())
            )
        else:
            ok = bool(by_object.get(id(obj)))
        if not ok:
            missing.append(name)
    return missing


def test_the_checker_finds_a_missing_method():
    modules = ["captum_fido.attr"]
    complete = set(expected_names(modules))
    assert "captum_fido.attr.FIDO.attribute" in complete
    assert "captum_fido.attr.BBMP.attribute" in complete
    assert "captum_fido.attr.MaskExplainerNet.forward" in complete
    # nn.Module's and Captum's own methods are not this package's to document.
    assert "captum_fido.attr.MaskExplainerNet.parameters" not in complete
    assert "captum_fido.attr.FIDO.has_convergence_delta" not in complete
    assert missing_from(complete, modules) == []
    without = complete - {"captum_fido.attr.FIDO.attribute"}
    assert missing_from(without, modules) == ["captum_fido.attr.FIDO.attribute"]
    # FIDOSSR's attribute is FIDO's object, but its own entry is still needed.
    without = complete - {"captum_fido.attr.FIDOSSR.attribute"}
    assert missing_from(without, modules) == ["captum_fido.attr.FIDOSSR.attribute"]


def test_the_link_check_knows_roles_and_type_words():
    inventory = {
        "captum_fido.attr.FIDO": "py:class",
        "captum_fido.attr.FIDO.attribute": "py:method",
        "captum_fido.demo.pretrained.load_classifier": "py:function",
        "captum_fido.demo.photos.PhotoExplanation.image": "py:attribute",
    }
    refs = {
        ("meth", "FIDO.attribute"),  # should have been linked
        ("class", "captum_fido.FIDO"),  # a re-export: should have been linked
        ("class", "image id"),  # words of a type: nothing to link
        ("class", "image"),  # an attribute is not a class
        ("func", "torch.load"),  # foreign
    }
    assert linkable(refs, inventory) == [
        "class:captum_fido.FIDO",
        "meth:FIDO.attribute",
    ]


def test_the_api_pages_document_every_public_subpackage():
    modules = documented_modules()
    for package in ("attr", "infillers", "metrics", "evaluation", "counterfactual"):
        assert f"captum_fido.{package}" in modules
    assert "captum_fido.evaluation.verdict" in modules


def _load_inventory(path: Path) -> Dict[str, str]:
    """Name -> type (``py:method``, ...) of every Python object on the site."""
    from sphinx.util.inventory import InventoryFile

    data = path.read_bytes()
    if hasattr(InventoryFile, "loads"):  # Sphinx >= 8.2
        inventory = InventoryFile.loads(data, uri="").data
    else:  # pragma: no cover - older Sphinx
        import io
        import posixpath

        inventory = InventoryFile.load(io.BytesIO(data), "", posixpath.join)
    return {
        name: kind
        for kind, items in inventory.items()
        if kind.startswith("py:")
        for name in items
    }


#: The object types each cross-reference role may name.
ROLE_TYPES = {
    "class": {"py:class", "py:exception"},
    "exc": {"py:exception", "py:class"},
    "func": {"py:function"},
    "meth": {"py:method", "py:classmethod", "py:staticmethod"},
    "attr": {"py:attribute", "py:property"},
    "data": {"py:data"},
    "mod": {"py:module"},
}


def linkable(unresolved: Iterable[Tuple[str, str]], inventory: Dict[str, str]):
    """The ``(role, target)`` references left unlinked although a documented
    object of a type the role names ends with the target's name (a target in
    this package is matched without its leading module path)."""
    found = []
    for role, target in unresolved:
        if not re.fullmatch(r"[\w.]+", target):
            continue  # words of a type description, e.g. "image id"
        wanted = ROLE_TYPES.get(role, {k for v in ROLE_TYPES.values() for k in v})
        suffix = target.split("captum_fido.", 1)[-1]
        if any(
            kind in wanted and (name == target or name.endswith("." + suffix))
            for name, kind in inventory.items()
        ):
            found.append(f"{role}:{target}")
    return sorted(found)


@pytest.mark.slow
def test_every_public_name_is_on_the_site(tmp_path):
    pytest.importorskip(
        "myst_nb", reason='the docs build needs pip install -e ".[docs]"'
    )
    out, warnings = tmp_path / "html", tmp_path / "warnings.txt"
    # Only the API pages (the guides and tutorials are excluded, so links to
    # them are unknown here: those warnings are expected), nothing executed,
    # nitpicky so that every unresolved reference is reported.
    cmd = [
        sys.executable, "-m", "sphinx", "-b", "html", "-q", "-n", "-E",
        "-w", str(warnings),
        "-D", "nb_execution_mode=off",
        "-D", "root_doc=api/index",
        "-D", "exclude_patterns=_build,_scripts,results,*.md,tutorials",
        "-d", str(tmp_path / "doctrees"), str(DOCS), str(out),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    inventory = _load_inventory(out / "objects.inv")
    modules = documented_modules()
    assert missing_from(set(inventory), modules) == []
    # Everything captum_fido itself exports is documented somewhere (a
    # sub-package as its module).
    documented = expected_names(modules)
    on_site = {id(obj) for name, obj in documented.items() if name in inventory}
    exported = [n for n in captum_fido.__all__ if not n.startswith("__")]
    assert [
        n
        for n in exported
        if id(getattr(captum_fido, n)) not in on_site
        and getattr(getattr(captum_fido, n), "__name__", None) not in inventory
    ] == []
    # The class text's "listed in attribute()" is a link to the method.
    page = (out / "api" / "attr.html").read_text()
    assert 'href="#captum_fido.attr.FIDO.attribute"' in page
    assert 'id="captum_fido.attr.BBMP.attribute"' in page
    # No reference to a documented object stays unlinked (references to
    # foreign types such as torch.Tensor may: nothing is fetched).
    text = warnings.read_text()
    unresolved = set(
        re.findall(r"py:(\w+) reference target not found: (.+?) \[ref\.", text)
    )
    assert linkable(unresolved, inventory) == []
