"""Numbers and user text as LaTeX: computed numbers rounded (``num``, ``number``), numbers
as the user wrote them (``literal_tex``), and text escaped for LaTeX or Markdown."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import sympy as sp

from .pieces import Math


DIGITS = 6
"""Significant digits of computed numbers."""


SMALL, LARGE = Decimal("1e-4"), Decimal("1e6")
"""Numbers outside [SMALL, LARGE) in magnitude are written in scientific notation."""


# --- pieces of math that can be broken across lines ------------------------------------


def number(value: Any) -> Math:
    """A computed number, rounded by ``num``, whose ``expr`` is the number unrounded."""
    exact = sp.sympify(value)
    return Math.atom(num(exact), exact)


def num(value: Any, digits: int = DIGITS) -> str:
    """``value`` rounded to ``digits`` significant digits, as LaTeX math.

    No trailing zeros; scientific notation (``1.5 \\times 10^{-5}``) only outside
    1e-4 <= |x| < 1e6. Exact zero is ``0``.
    """
    d = Decimal(str(sp.Float(sp.sympify(value), 30)))
    if d.is_zero():
        return "0"
    d = d.quantize(Decimal(1).scaleb(d.adjusted() - digits + 1), rounding=ROUND_HALF_EVEN).normalize()
    if SMALL <= abs(d) < LARGE:
        return format(d, "f")
    exponent = d.adjusted()
    mantissa = format(d.scaleb(-exponent).normalize(), "f")
    return rf"{mantissa} \times 10^{{{exponent}}}"


LITERAL = re.compile(r"^(-?\d+(?:\.\d*)?)[eE]([+-]?\d+)$")


def literal_tex(text: str) -> str:
    """A number as the user wrote it (``1.0`` stays ``1.0``); ``1e-05`` becomes
    ``1 \\times 10^{-5}``."""
    match = LITERAL.match(text.strip())
    if not match:
        return text.strip()
    mantissa, exponent = match.groups()
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&",
    "#": r"\#", "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}",
}


MARKDOWN_SPECIALS = set("\\`*_{}[]#|$~^!")
MARKDOWN_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
"""Written as entities, not ``\\<``: Python-Markdown (MkDocs) has no backslash escape for
them, and every Markdown reads an entity as its character, never as the start of HTML."""


def latex_escape(text: Any) -> str:
    """User text made safe for LaTeX text mode: the ten special characters escaped."""
    return "".join(LATEX_SPECIALS.get(c, c) for c in str(text))


def markdown_escape(text: Any) -> str:
    """User text made safe for Markdown: punctuation with a meaning escaped by ``\\``, and
    the characters of HTML as entities."""
    return "".join(MARKDOWN_ENTITIES.get(c) or ("\\" + c if c in MARKDOWN_SPECIALS else c)
                   for c in str(text))
