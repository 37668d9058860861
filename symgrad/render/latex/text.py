"""Numbers and user text as LaTeX: computed numbers rounded (``num``, ``number``), numbers
as the user wrote them (``literal_tex``), and text escaped for LaTeX or Markdown."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

import mpmath
import sympy as sp

from ...calculus.worked import decimal_digits
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
    1e-4 <= |x| < 1e6, at any exponent (a worked number may be far beyond float64's range);
    past 10^(+-``MAX_EXPONENT``), where the digits of the exponent outnumber those of the
    mantissa, a power of ten whose exponent is itself rounded (e^(-10^304) is
    ``10^{-4.40475 \\times 10^{303}}``). Exact zero is ``0``; an infinity is
    ``\\infty``, a nan ``\\text{NaN}``.
    """
    huge = _beyond_decimal(value)
    if huge is not None:
        return huge
    with localcontext() as context:
        context.prec, context.Emax, context.Emin = 50, 2 * MAX_EXPONENT, -2 * MAX_EXPONENT
        d = Decimal(str(sp.Float(sp.sympify(value), 30)).replace("oo", "Infinity"))
        if not d.is_finite():
            return r"\text{NaN}" if d.is_nan() else (r"-\infty" if d < 0 else r"\infty")
        if d.is_zero():
            return "0"
        d = d.quantize(Decimal(1).scaleb(d.adjusted() - digits + 1), rounding=ROUND_HALF_EVEN).normalize()
        if SMALL <= abs(d) < LARGE:
            return format(d, "f")
        exponent = d.adjusted()
        mantissa = format(d.scaleb(-exponent).normalize(), "f")
    return rf"{mantissa} \times 10^{{{exponent}}}"


MAX_EXPONENT = 10**9
"""The largest decimal exponent ``num`` writes out in full."""


def beyond_written(number: mpmath.mpf) -> bool:
    """Whether ``number``'s decimal exponent is past ``MAX_EXPONENT`` in magnitude (to
    within one: ``mpmath.mag`` is its binary exponent, give or take one)."""
    return decimal_digits(abs(mpmath.mag(number))) >= MAX_EXPONENT


def _beyond_decimal(value: Any) -> str | None:
    """``value`` as ``10^{exponent}`` (signed), if it is beyond 10^(+-``MAX_EXPONENT``)."""
    number = sp.sympify(value)
    if not (number.is_Number and number.is_finite and number):
        return None
    magnitude = mpmath.mpf(sp.Float(number, 30)._mpf_)
    if not beyond_written(magnitude):
        return None
    with mpmath.workdps(30):
        exponent = mpmath.log10(abs(magnitude))
    return f"{'-' if magnitude < 0 else ''}10^{{{num(sp.Float(exponent, 30))}}}"


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
