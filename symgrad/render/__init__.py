"""Documents: a ``Derivation`` written as Markdown, LaTeX, HTML, beamer, JSON or a notebook.

``render`` (``document``), the one Jinja environment with its filters and globals
(``environment``), the views the templates call on the steps (``steps``), the chain rule
(``chains``), the worked numbers (``numbers``) and the model (``describe``), JSON
(``json_output``), the LaTeX printer and line breaking (``latex``), plain Unicode text
for pictures (``plain``), the letters of each notation (``notation``), Markdown flavours
(``flavours``), the network chapter (``chapter``), notebooks (``notebook``) and the
picture files beside a document (``pictures``). Rendering only reads the derivation: it
never derives.
"""

from ..calculus.derivation import DISPLAYS
from .chapter import VIEWS
from .document import DETAILS, EXTENSIONS, FORMATS, displayed_equations, render, written_in
from .environment import KATEX_DIR, TEMPLATE_DIR, environment

DISPLAYS["markdown"] = lambda derivation: render(derivation, "markdown")
"""Jupyter shows a ``Derivation`` as its Markdown document (``Derivation._repr_markdown_``)."""

__all__ = ["DETAILS", "EXTENSIONS", "FORMATS", "KATEX_DIR", "TEMPLATE_DIR", "VIEWS",
           "displayed_equations", "environment", "render", "written_in"]
