"""A table's columns, fitted to the line: a column too wide for it becomes a paragraph
column (``p{...}``) that wraps between its terms, sharing the room the others leave."""

from __future__ import annotations

from . import latex
from .frames import TABLE_CHARS


class Columns(str):
    """A table's column alignment: as a string, one letter a column (``r`` right, ``l``
    left), which Markdown and HTML read; printed (``str()``), the LaTeX column spec, in
    which a column of ``widths`` is a paragraph of that fraction of the text width, so that
    a long formula in it wraps between its terms instead of running off the page."""

    def __new__(cls, letters: str, widths: dict[int, float] | None = None) -> "Columns":
        obj = super().__new__(cls, letters)
        obj.spec = "".join(f"p{{{widths[i]:.2f}\\textwidth}}" if i in (widths or {}) else c
                           for i, c in enumerate(letters))
        return obj

    def __str__(self) -> str:
        return self.spec


TABLE_WIDTH = {False: 88.0, True: TABLE_CHARS}
"""How wide a table may be, in ``latex.width`` units (measured: a page's line in the 11pt
article holds about 88 of them in a table's cells, a 4:3 slide's small table about 66)."""
PADDING = 3.0
"""The room between two columns of a table, in the same units."""
HEADER_LETTER = 1.1
"""How wide a letter of a header's text is, in those units."""


def fitted(letters: str, header: list[str], rows: list[list[str]], slides: bool = False) -> Columns:
    """Columns for ``rows``: as ``letters`` where the table fits the line; otherwise its
    widest columns, as few as will do, wrap as paragraphs sharing the room the others leave."""
    budget = TABLE_WIDTH[slides]
    widths = [max([latex.width(row[i]) for row in rows] + [HEADER_LETTER * len(header[i])])
              for i in range(len(letters))]
    room = budget - PADDING * len(letters)
    wrapped: list[int] = []
    order = sorted(range(len(letters)), key=lambda i: -widths[i])
    while len(wrapped) < len(order):  # wrap the widest until the others leave them room
        left = room - sum(w for i, w in enumerate(widths) if i not in wrapped)
        if left >= 12 * len(wrapped):
            break
        wrapped.append(order[len(wrapped)])
    if not wrapped:
        return Columns(letters)
    left = max(room - sum(w for i, w in enumerate(widths) if i not in wrapped), 12.0 * len(wrapped))
    share = sum(widths[i] for i in wrapped)
    return Columns(letters, {i: left * widths[i] / share / budget for i in wrapped})
