r"""Sphinx configuration for the captum_fido documentation site.

Build (warnings are errors; the tutorials in ``tutorials/`` are executed)::

    pip install -e ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build/html

Nothing is fetched from the network: no intersphinx mappings, a theme and
MathJax-free pages that work from the local files.
"""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, List

from sphinx.errors import PycodeError
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.nodes import make_refnode

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # the package, when not installed
sys.path.insert(0, str(DOCS / "_scripts"))
# The tutorials' kernels must draw with IPython's inline backend so that
# their figures end up in the pages; CI exports MPLBACKEND=Agg for the rest.
os.environ.pop("MPLBACKEND", None)

from check_code_blocks import check_docs_code_blocks  # noqa: E402

import captum_fido  # noqa: E402

project = "captum_fido"
author = "the captum_fido authors"
copyright = f"2026, {author}"
release = version = captum_fido.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build", "_scripts", "results", "Thumbs.db", ".DS_Store"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}

# autodoc + napoleon: the package's r""" docstrings are Google style
# (Args / Returns / Examples); types come from the signatures.
# Inherited members are documented too (FIDO's and BBMP's ``attribute`` is
# defined once, in their private base class), except those of the foreign
# bases named here: Captum's own ``Attribution`` machinery, ``nn.Module``'s
# hundred methods, ``ABC`` and ``object`` are documented by their projects.
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
    "inherited-members": "Module, PerturbationAttribution, Attribution, ABC, object",
    # An annotation of Captum's base class, not a method of this package.
    "exclude-members": "compute_convergence_delta",
}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# MyST: Markdown pages; myst-nb: tutorials are MyST notebooks executed at
# every build so that each figure and table in them is real.
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
nb_execution_mode = os.environ.get("CAPTUM_FIDO_DOCS_EXECUTE", "force")
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# Published pages show no stderr box (they would show the building machine's
# paths): each executed page silences the known noise in a hidden first cell,
# and any other stderr is removed with a build warning (an error under -W),
# so a new warning is dealt with in the page, not published.
nb_output_stderr = "remove-warn"

html_theme = "furo"
html_title = f"captum_fido {release}"
html_static_path: list[str] = []


def _public_bases(
    app: Any, name: str, obj: Any, options: Any, bases: List[type]
) -> None:
    r"""Show a class's public ancestry: a base defined in a private module of
    this package (``MaskAttribution`` in ``captum_fido.attr._base``) is
    replaced by its own bases, so "Bases:" never names an undocumented class."""

    def private(cls: type) -> bool:
        parts = cls.__module__.split(".")
        return parts[0] == "captum_fido" and (
            cls.__name__.startswith("_") or any(p.startswith("_") for p in parts)
        )

    def expand(cls: type) -> List[type]:
        if not private(cls):
            return [cls]
        return [b for base in cls.__bases__ for b in expand(base)]

    shown: List[type] = []
    for base in bases:
        for cls in expand(base):
            if cls not in shown and cls is not object:
                shown.append(cls)
    bases[:] = shown or [object]


def _link_by_suffix(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    r"""Resolve a Python reference that names a documented object by a
    shorter path: ``captum_fido.FIDO`` (re-exported at the top level) or
    ``FIDO.attribute`` written in another module's docstring. The reference
    links when exactly one documented object ends with the name."""
    if node.get("refdomain") != "py":
        return None
    target = str(node.get("reftarget", ""))
    domain = env.get_domain("py")
    objects = domain.objects
    # Only objects the role may name: :func: a function, :class: a class.
    kinds = set(domain.objtypes_for_role(str(node.get("reftype", "obj"))) or ())
    parts = target.split(".")
    # A full path into this package may be shortened from the left (it names
    # a re-export); any other name is matched as written.
    starts = range(1, len(parts)) if parts[0] == "captum_fido" else range(1)
    for start in starts:
        suffix = ".".join(parts[start:])
        found = [
            n
            for n, entry in objects.items()
            if (n == suffix or n.endswith("." + suffix))
            and not entry.aliased
            and entry.objtype in kinds
        ]
        if len(found) == 1:
            entry = objects[found[0]]
            return make_refnode(
                app.builder,
                node["refdoc"],
                entry.docname,
                entry.node_id,
                contnode,
                found[0],
            )
        if found:
            return None  # ambiguous: leave it unlinked rather than guess
    return None


def _keep_public_routines(
    app: Any, what: str, name: str, obj: Any, skip: bool, options: Any
) -> Any:
    r"""Document a class's public methods and properties even without a
    docstring of their own (``multiplies_by_inputs``, Captum's protocol), so
    that every public method's signature is on the site."""
    if what != "class" or name.startswith("_"):
        return None
    function = obj.fget if isinstance(obj, property) else obj
    if inspect.isroutine(function):
        # Only this package's own methods: the foreign ones (nn.Module's,
        # Captum's) stay filtered out by ``inherited-members`` above.
        module = getattr(inspect.unwrap(function), "__module__", None) or ""
        if module.split(".")[0] == "captum_fido":
            return False
    return None


def _attr_doc(module: ModuleType, name: str, value: Any) -> List[str]:
    r"""The ``#:`` comment of ``name`` in the package module that binds it to
    ``value`` (the module it was imported from), or no lines."""
    package = module.__name__.split(".")[0]
    for other in list(sys.modules.values()):
        other_name = getattr(other, "__name__", "")
        if other_name.split(".")[0] != package:
            continue
        if getattr(other, name, None) is not value:
            continue
        try:
            docs = ModuleAnalyzer.for_module(other_name).find_attr_docs()
        except PycodeError:
            continue
        if ("", name) in docs:
            return [line for line in docs[("", name)] if line.strip()]
    return []


def _document_module_data(
    app: Any, what: str, name: str, obj: Any, options: Any, lines: List[str]
) -> None:
    r"""Add the data of a module's ``__all__`` (``FIDO_DEFAULTS``,
    ``EMPTY_BELOW``) that autodoc leaves out because it was imported from
    another module, with the ``#:`` comment where it is defined."""
    if what != "module" or not inspect.ismodule(obj):
        return
    try:
        own = ModuleAnalyzer.for_module(name).find_attr_docs()
    except PycodeError:
        own = {}
    for member in getattr(obj, "__all__", ()):
        value = getattr(obj, member, None)
        if ("", member) in own or callable(value) or inspect.ismodule(value):
            continue
        shown = repr(value)
        lines += ["", f".. py:data:: {member}", f"   :module: {name}"]
        if len(shown) <= 80:
            lines.append(f"   :value: {shown}")
        lines.append("")
        lines += [f"   {line}" for line in _attr_doc(obj, member, value)]
    lines.append("")


def setup(app: Any) -> None:
    app.connect("autodoc-skip-member", _keep_public_routines)
    app.connect("autodoc-process-docstring", _document_module_data)
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("missing-reference", _link_by_suffix)
    # Code blocks in the guides are not executed; check at least that each
    # one defines every name it uses (or says which ones it takes from above).
    check_docs_code_blocks(DOCS)
