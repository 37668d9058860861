"""Plain-text printing with Unicode (ŷ, σ, ∂, W⁽²⁾₁₂), for pictures where LaTeX is not
typeset (SVG labels): short, one line, in the order the LaTeX printer uses for sums."""

from __future__ import annotations

import unicodedata
from typing import Any

import sympy as sp
from sympy.printing.str import StrPrinter

from . import latex

from . import notation
from ..model.symbols import Var

SUPERSCRIPTS = str.maketrans("0123456789()-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁻")
SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
NAMES = {"yhat": "ŷ", "sigmoid": "σ", "relu": "ReLU", "leaky_relu": "LeakyReLU"}


def name(symbol: sp.Symbol) -> str:
    """A quantity's name in the notation in use: ``yhat`` as ŷ, ``W2[0][1]`` as W⁽²⁾₁₂,
    greek names as letters."""
    if not isinstance(symbol, Var):
        return _letter(symbol.name)
    written = notation.current()
    layer = symbol.layer
    if symbol.base in notation.QUANTITIES:
        quantity, layer = written.written_as(symbol.base, layer)
        text = notation.plain(written.letter(quantity))
    else:
        text = _letter(symbol.base if symbol.index else symbol.name)
    if isinstance(layer, int):
        text += _superscript(written.layer.format(written.number(layer)))
    index = "".join(str(i) for i in symbol.index) + ("" if symbol.sample is None else f",{symbol.sample}")
    return text + index.translate(SUBSCRIPTS)


def _superscript(text: str) -> str:
    """``text`` in superscript characters where Unicode has them all, else after a ``^``."""
    raised = text.translate(SUPERSCRIPTS)
    return "^" + text if any(c in raised for c in "[]") else raised


def loss_name() -> str:
    """The loss's letter in the notation in use (L, or C in Nielsen's)."""
    return notation.plain(notation.current().letter("L"))


def _letter(text: str) -> str:
    if text in NAMES:
        return NAMES[text]
    try:
        return unicodedata.lookup(f"GREEK SMALL LETTER {text.upper()}")
    except KeyError:
        return text


class _Printer(StrPrinter):
    """SymPy's string printer with Unicode names, superscript powers and juxtaposed
    products; sums in the LaTeX printer's order (as the author wrote them, else positive
    terms first), numbers in the author's decimals."""

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return name(expr)

    def _print_Function(self, expr: sp.Function) -> str:
        head = type(expr).__name__
        args = expr.args[:1] if head == "leaky_relu" else expr.args
        if head == "softmax":
            head, args = f"softmax{str(expr.args[0]).translate(SUBSCRIPTS)}", expr.args[1:]
        return f"{NAMES.get(head, head)}({', '.join(self._print(a) for a in args)})"

    def _print_Rational(self, expr: sp.Rational) -> str:
        decimal = notation.current().written.decimal(expr)
        if decimal is None:
            return super()._print_Rational(expr)
        return ("-" if expr.is_negative else "") + decimal

    def _print_Mul(self, expr: sp.Mul) -> str:
        coefficient, rest = expr.as_coeff_Mul()
        decimal = notation.current().written.decimal(coefficient) if coefficient.is_Rational else None
        if decimal is None or rest == 1:
            return super()._print_Mul(expr)
        sign = "-" if coefficient.is_negative else ""
        return f"{sign}{decimal}*{self.parenthesize(rest, sp.printing.precedence.PRECEDENCE['Mul'], strict=True)}"

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> str:
        terms = latex.Printer().ordered_terms(expr)
        text = ""
        for i, term in enumerate(terms):
            negative = term.could_extract_minus_sign()
            body = self._print(-term if negative else term)
            if isinstance(-term if negative else term, sp.Add):
                body = f"({body})"
            text += ("−" if not i else " − ") + body if negative else (" + " if i else "") + body
        return text

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exponent = expr.as_base_exp()
        if exponent.is_Integer and exponent > 1:
            printed = self.parenthesize(base, sp.printing.precedence.PRECEDENCE["Pow"])
            return printed + str(exponent).translate(SUPERSCRIPTS)
        return super()._print_Pow(expr, rational)


def text(expr: sp.Expr) -> str:
    """``expr`` on one line: ``2 (ŷ − y)``, ``ŷ (1 − ŷ)``, ``W⁽²⁾₁₁``."""
    printer = _Printer({"order": "none"})
    if isinstance(expr, sp.Mul):
        negative = expr.could_extract_minus_sign()
        factors = sp.Mul.make_args(-expr if negative else expr)
        ordered = sorted(factors, key=lambda f: (not f.is_Number, isinstance(f, sp.Add)))
        pieces = [f"({printer.doprint(f)})" if isinstance(f, sp.Add) else printer.doprint(f)
                  for f in ordered]
        printed = ("-" if negative else "") + " ".join(pieces)
    else:
        printed = printer.doprint(expr)
    return printed.replace("*", "·").replace("-", "−")


def number(value: Any) -> str:
    """``value`` rounded as the documents round it, with a true minus sign."""
    return latex.num(value).replace(r"\times", "×").replace("-", "−").replace("{", "").replace("}", "")


def derivative(of: sp.Symbol, wrt: sp.Symbol) -> str:
    """∂of/∂wrt."""
    return f"∂{name(of)}/∂{name(wrt)}"

