"""Teaching material made from many derivations: exercise sheets and their answer keys.

``exercises`` draws well-conditioned variants of a spec and derives each; ``sheets``
writes them as a problem sheet and its key.
"""

SHEET_FORMATS = ("markdown", "latex", "notebook")
"""The formats a sheet and its key are written in (``sheets.render_sheet``)."""
SHEET_EXTENSIONS = {"markdown": ".md", "latex": ".tex", "notebook": ".ipynb"}
"""Each sheet format's file suffix."""
