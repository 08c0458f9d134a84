"""Sphinx configuration of the sb3-sarsa documentation (``sphinx-build -W docs docs/_build/html``)."""

import datetime
import os
import re
import sys

sys.path.insert(0, os.path.abspath(".."))

with open(os.path.join(os.path.dirname(__file__), "..", "sb3_sarsa", "__init__.py"), encoding="utf-8") as file_handler:
    match = re.search(r'^__version__ = "(.+)"$', file_handler.read(), re.MULTILINE)
assert match is not None, "sb3_sarsa/__init__.py must set __version__"
__version__ = match.group(1)

project = "sb3-sarsa"
copyright = f"2026-{datetime.date.today().year}, sb3-sarsa contributors"
author = "sb3-sarsa contributors"
version = __version__
release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
]
autodoc_typehints = "description"
# Members inherited from SB3 whose docstrings are not written for Sphinx stay out of the pages.
autodoc_inherit_docstrings = False
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

templates_path: list[str] = []
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
master_doc = "index"
language = "en"
# The investigations are Markdown reports written by the benchmarks; they are read on the repository, not built.
exclude_patterns = ["_build", "research", "Thumbs.db", ".DS_Store"]
pygments_style = "sphinx"

html_theme = "sphinx_rtd_theme"
html_static_path: list[str] = []
htmlhelp_basename = "sb3sarsadoc"
