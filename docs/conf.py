r"""Sphinx configuration for the captum_fido documentation site.

Build (warnings are errors; the tutorials in ``tutorials/`` are executed)::

    pip install -e ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build/html

Nothing is fetched from the network: no intersphinx mappings, a theme and
MathJax-free pages that work from the local files.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # the package, when not installed
sys.path.insert(0, str(DOCS / "_scripts"))
# The tutorials' kernels must draw with IPython's inline backend so that
# their figures end up in the pages; CI exports MPLBACKEND=Agg for the rest.
os.environ.pop("MPLBACKEND", None)

from check_code_blocks import check_docs_code_blocks  # noqa: E402

import captum_fido  # noqa: E402

project = "captum_fido"
author = "captum_fido contributors"
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
autodoc_default_options = {"members": True, "show-inheritance": True}
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

html_theme = "furo"
html_title = f"captum_fido {release}"
html_static_path: list[str] = []


def setup(app: Any) -> None:
    # Code blocks in the guides are not executed; check at least that each
    # one defines every name it uses (or says which ones it takes from above).
    check_docs_code_blocks(DOCS)
