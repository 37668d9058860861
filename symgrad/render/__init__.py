"""Documents: a ``Derivation`` written as Markdown, LaTeX, HTML, beamer, JSON or a notebook.

The one Jinja environment and ``render`` (``document``), the LaTeX printer and line
breaking (``latex``), plain Unicode text for pictures (``plain``), the letters of each
notation (``notation``), Markdown flavours (``flavours``), the network chapter
(``chapter``), notebooks (``notebook``) and the picture files beside a document
(``pictures``). Rendering only reads the derivation: it never derives.
"""

from ..calculus.derivation import DISPLAYS
from .document import (DETAILS, EXTENSIONS, FORMATS, KATEX_DIR, TEMPLATE_DIR, VIEWS,
                       displayed_equations, environment, render, written_in)

DISPLAYS["markdown"] = lambda derivation: render(derivation, "markdown")
"""Jupyter shows a ``Derivation`` as its Markdown document (``Derivation._repr_markdown_``)."""

__all__ = ["DETAILS", "EXTENSIONS", "FORMATS", "KATEX_DIR", "TEMPLATE_DIR", "VIEWS",
           "displayed_equations", "environment", "render", "written_in"]
