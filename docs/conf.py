"""Sphinx configuration of ezalloc's documentation (`make docs`).

The pages are MyST markdown (docs/*.md). The Python API pages document the
installed package through autodoc: `make docs` builds with the interpreter of
the development venv, where `make py-build` installed ezalloc."""

import ezalloc

project = "ezalloc"
author = "the ezalloc authors"
copyright = "the ezalloc authors; MIT OR Apache-2.0"
release = ezalloc.__version__
version = ".".join(release.split(".")[:2])

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown"}
master_doc = "index"
exclude_patterns = ["_build"]

# Links to headings inside a page ([text](page.md#a-heading)) need anchors.
myst_heading_anchors = 3
# ```swig blocks: Pygments has no SWIG lexer; C's fits closely enough.
highlight_language = "c"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"

html_theme = "alabaster"
