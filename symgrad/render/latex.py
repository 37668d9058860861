"""LaTeX for symgrad's mathematics: the printer, number formatting, escaping, line breaking.

``Printer`` is SymPy's ``LatexPrinter`` taught symgrad's notation (indexed quantities,
activations, partial derivatives, textbook term and factor order). With ``values`` it
prints an expression with numbers in place of quantities, keeping the expression's shape.
Sums and products print as ``Math``: pieces with the operators between them, so
``equation`` can break a long equation between terms or factors instead of running off
the page. Every macro used is accepted by both pdflatex (amsmath, amssymb) and KaTeX.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Iterable, Iterator, Mapping, Sequence

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.latex import LatexPrinter

from . import notation
from ..model.functions import leaky_relu, relu, sigmoid, softmax, softplus
from ..model.symbols import Var

WIDTH = 64.0
"""How wide a line of display math may be, in ``width`` units (about one glyph each)."""

DIGITS = 6
"""Significant digits of computed numbers."""

SMALL, LARGE = Decimal("1e-4"), Decimal("1e6")
"""Numbers outside [SMALL, LARGE) in magnitude are written in scientific notation."""


# --- pieces of math that can be broken across lines ------------------------------------


@dataclass(frozen=True)
class Piece:
    """One term or factor: ``op`` joins it to what precedes it (``+``, ``-``, ``\\cdot``,
    ``" "`` for juxtaposition, ``""`` at the start); ``paren`` wraps ``body`` in brackets."""

    op: str
    body: "str | Math"
    paren: bool = False

    def text(self) -> str:
        """The piece's own LaTeX, without its operator."""
        inner = str(self.body)
        return bracket(inner) if self.paren else inner


@dataclass(frozen=True)
class Math:
    """A LaTeX formula as a sequence of pieces; ``str()`` gives the one-line LaTeX.

    ``expr`` is the SymPy expression the formula shows, where it is known (None for text
    written by hand): what an equation's sides are checked with (see ``recording``).
    """

    pieces: tuple[Piece, ...]
    expr: Any = field(default=None, compare=False)

    @classmethod
    def atom(cls, text: str, expr: Any = None) -> "Math":
        """A formula that is never broken."""
        return cls((Piece("", text),), expr)

    def __str__(self) -> str:
        return "".join(_join(i, p.op) + p.text() for i, p in enumerate(self.pieces))


def _join(position: int, op: str) -> str:
    if op == " ":
        return " " if position else ""
    if not op:
        return ""
    return f"{op} " if position == 0 else f" {op} "


def as_math(side: Any) -> Math:
    """A ``Math`` for a formula given as Math, SymPy expression, or LaTeX string."""
    if isinstance(side, Math):
        return side
    if isinstance(side, sp.Basic):
        return tex(side)
    return Math.atom(str(side))


JOINED = {"+": lambda parts: sp.Add(*parts, evaluate=False),
          r"\cdot": lambda parts: sp.Mul(*parts, evaluate=False)}
"""How ``join_math`` builds the SymPy expression of a sum or product it writes."""


def join_math(parts: Sequence[Any], op: str) -> Math:
    """The formulas ``parts`` joined by ``op`` (``\\cdot``, ``+``): in a product, sums and
    negative factors after the first are bracketed; in a sum, ``+ -a`` is written ``- a``.
    The result's ``expr`` is the sum or product of the parts' expressions, when all are known."""
    maths = [as_math(part) for part in parts]
    exprs = [m.expr for m in maths]
    known = op in JOINED and bool(exprs) and all(e is not None for e in exprs)
    expr = (exprs[0] if len(exprs) == 1 else JOINED[op](exprs)) if known else None
    return Math(_joined_pieces(maths, op), expr)


def _joined_pieces(maths: Sequence[Math], op: str) -> tuple[Piece, ...]:
    pieces = []
    for i, math in enumerate(maths):
        if len(maths) > 1 and _negative_number(math):
            math = Math.atom(number_factor(str(math)), math.expr)
        negative, magnitude = _without_minus(math)
        if op == "+" and negative and i:
            pieces.append(Piece("-", magnitude))
            continue
        is_sum = any(p.op in ("+", "-") for p in math.pieces[1:])
        bracketed = len(maths) > 1 and op != "+" and (is_sum or (negative and i > 0))
        pieces.append(Piece(op if i else "", math, paren=bracketed))
    return tuple(pieces)


def _negative_number(math: Math) -> bool:
    """True for a number alone, written with a minus sign (``-0.4``)."""
    first = math.pieces[0]
    return len(math.pieces) == 1 and not first.op and isinstance(first.body, str) \
        and first.body.startswith("-")


def _without_minus(math: Math) -> tuple[bool, Math]:
    """Whether a formula starts with a minus sign (also inside its first term or
    factor), and the formula without it."""
    first = math.pieces[0]
    if first.op == "-":
        return True, Math((replace(first, op=""),) + math.pieces[1:], math.expr)
    if not first.op and not first.paren and isinstance(first.body, Math):
        negative, inner = _without_minus(first.body)
        if negative:
            return True, Math((replace(first, body=inner),) + math.pieces[1:], math.expr)
    return False, math


# --- the printer ----------------------------------------------------------------------


class Printer(LatexPrinter):
    """SymPy's LaTeX printer in symgrad's notation; ``values`` maps quantities to numbers
    (printed as numbers: bracketed when negative, products with ``\\cdot``), ``names``
    maps subexpressions to LaTeX printed as it is."""

    def __init__(self, values: Mapping[sp.Basic, str] | None = None,
                 names: Mapping[sp.Basic, str] | None = None):
        super().__init__()
        self.values = dict(values or {})
        self.names = dict(names or {})

    def math(self, expr: sp.Basic) -> Math:
        """``expr`` as breakable pieces (sums and products, of numbers or of matrices),
        else as one atom."""
        if expr in self.values or expr in self.names:
            return Math.atom(self._print(expr))
        if isinstance(expr, sp.Add):  # MatAdd too
            return self._add_math(expr)
        if isinstance(expr, sp.HadamardProduct):
            return self._hadamard_math(expr)
        if isinstance(expr, sp.Derivative) and isinstance(expr.expr, sp.Add):
            return self._derivative_math(expr)
        if isinstance(expr, sp.Mul):  # MatMul too
            matrix = isinstance(expr, sp.MatMul)
            negative, math = self._matmul_math(expr) if matrix else self._mul_math(expr)
            if negative:
                return Math((Piece("-", math),))
            return math
        return Math.atom(self._print(expr))

    def _print(self, expr: Any, **kwargs: Any) -> str:
        if self.names and isinstance(expr, sp.Basic) and expr in self.names:
            return self.names[expr]
        if self.values and isinstance(expr, sp.Basic) and expr in self.values:
            text = number_factor(self.values[expr])
            exp = kwargs.get("exp")
            return f"{text}^{{{exp}}}" if exp else text
        text = super()._print(expr, **kwargs)
        return _plain_call(text) if isinstance(expr, sp.Function) else text

    # quantities

    def _print_Var(self, expr: Var) -> str:
        written = notation.current()
        if expr.base in notation.QUANTITIES:
            base = written.quantity(expr.base, expr.layer)
        else:
            base = self._print_Symbol(sp.Symbol(expr.base))
            if expr.layer is not None:
                base += written.superscript(expr.layer)
        if expr.index:
            separator = "," if any(len(str(i)) > 1 for i in expr.index) else ""
            index = separator.join(map(str, expr.index))
            sample = "" if getattr(expr, "sample", None) is None else f",{expr.sample}"
            base += "_{" + index + sample + "}"
        elif getattr(expr, "sample", None) is not None:  # a whole column: one sample's vector
            base += "_{\\cdot," + str(expr.sample) + "}"
        return base

    def _print_IndexedBase(self, expr: sp.IndexedBase) -> str:
        """The outputs and targets of a loss's general formula in the notation's letters."""
        name = str(expr.label)
        if name in ("yhat", "y"):
            return notation.current().quantity(name)
        return super()._print_IndexedBase(expr)

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        gradient = _GRADIENT_NAME.fullmatch(expr.name)
        if gradient:
            of = self._print(sp.MatrixSymbol(gradient.group(2), *expr.shape))
            loss = gradient.group(1)
            loss = notation.current().letter("L") if loss == "L" else loss
            return rf"\frac{{\partial {loss}}}{{\partial {of}}}"
        name = _MATRIX_NAME.fullmatch(expr.name)
        if name is None or name.group(1) not in MATRIX_LETTERS:
            return super()._print_MatrixSymbol(expr)
        layer = int(name.group(2)) if name.group(2) else None
        return notation.current().matrix(MATRIX_LETTERS[name.group(1)], expr.shape[1] == 1, layer)

    def _print_Transpose(self, expr: sp.Transpose) -> str:
        inner = self._print(expr.arg)
        simple = isinstance(expr.arg, sp.MatrixSymbol) and "^" not in inner
        return f"{inner}^{{T}}" if simple else f"{bracket(inner)}^{{T}}"

    def _print_OneMatrix(self, expr: sp.OneMatrix) -> str:
        if expr.shape == (1, 1):
            return "1"
        return r"\mathbf{1}^{T}" if expr.shape[0] == 1 else r"\mathbf{1}"

    def _print_ElementwiseApplyFunction(self, expr: ElementwiseApplyFunction) -> str:
        """f(Z) for f applied to every entry of Z: the scalar formula with Z in place of
        its variable."""
        variable, body = expr.function.variables[0], expr.function.expr
        inner = Printer(self.values, {**self.names, variable: self._print(expr.expr)})
        negative, magnitude = _sign(body)
        factors = _flat(magnitude, sp.Mul) if isinstance(magnitude, sp.Mul) else [magnitude]
        if len(factors) == 1 or any(f.is_Number for f in factors):
            return str(inner.math(body))
        product = " \\odot ".join(inner._factor_tex(f, first=True) for f in sorted(factors, key=_factor_rank))
        return ("- " if negative else "") + product

    def _print_ColumnSoftmax(self, expr: sp.Function) -> str:
        return self._call(r"\operatorname{softmax}", expr.args, None)

    def _print_MatrixBase(self, expr: sp.MatrixBase) -> str:
        return bmatrix([[self._print(x) for x in expr.row(i)] for i in range(expr.rows)])

    def _print_MatAdd(self, expr: sp.MatAdd) -> str:
        return str(self.math(expr))

    def _print_MatMul(self, expr: sp.MatMul) -> str:
        return str(self.math(expr))

    def _print_HadamardProduct(self, expr: sp.HadamardProduct) -> str:
        return str(self.math(expr))

    def _print_Dummy(self, expr: sp.Dummy) -> str:
        return self._print_Symbol(sp.Symbol(expr.name))

    def _print_Float(self, expr: sp.Float) -> str:
        return num(expr)

    # activations

    def _raw(self, expr: sp.Basic) -> str:
        """``expr`` printed without the brackets a substituted number gets as a factor."""
        return self.values[expr] if expr in self.values else self._print(expr)

    def _call(self, name: str, args: Iterable[sp.Basic], exp: str | None) -> str:
        power = f"^{{{exp}}}" if exp else ""
        inner = ", ".join(self._raw(a) for a in args)
        return f"{name}{power}{bracket(inner)}"

    def _print_sigmoid(self, expr: sigmoid, exp: str | None = None) -> str:
        return self._call(r"\sigma", expr.args, exp)

    def _print_relu(self, expr: relu, exp: str | None = None) -> str:
        return self._call(r"\operatorname{ReLU}", expr.args, exp)

    def _print_leaky_relu(self, expr: leaky_relu, exp: str | None = None) -> str:
        return self._call(r"\operatorname{LeakyReLU}", expr.args[:1], exp)

    def _print_softplus(self, expr: softplus, exp: str | None = None) -> str:
        return self._call(r"\operatorname{softplus}", expr.args, exp)

    def _print_softmax(self, expr: softmax, exp: str | None = None) -> str:
        name = rf"\operatorname{{softmax}}_{{{expr.index}}}"
        vector = None if self.values else layer_vector(expr.inputs)
        if vector is not None:
            return self._call(name, (vector,), exp)
        return self._call(name, expr.inputs, exp)

    # elementary functions

    def _print_sign(self, expr: sp.sign, exp: str | None = None) -> str:
        return self._call(r"\operatorname{sign}", expr.args, exp)

    def _print_Max(self, expr: sp.Max, exp: str | None = None) -> str:
        return self._call(r"\max", expr.args, exp)

    def _print_Min(self, expr: sp.Min, exp: str | None = None) -> str:
        return self._call(r"\min", expr.args, exp)

    def _log_base(self, factors: list[sp.Expr]) -> str | None:
        """``log(u) / log(a)``, exactly, as ``\\log_{a}(u)``; else None."""
        if len(factors) != 2:
            return None
        logs = [f for f in factors if isinstance(f, sp.log) and len(f.args) == 1]
        bases = [f.base.args[0] for f in factors
                 if isinstance(f, sp.Pow) and f.exp == -1 and isinstance(f.base, sp.log)]
        if len(logs) != 1 or len(bases) != 1:
            return None
        return rf"\log_{{{self._raw(bases[0])}}}{bracket(self._raw(logs[0].args[0]))}"

    # calculus

    def _derivative_math(self, expr: sp.Derivative) -> Math:
        """The derivative of a sum, as ``_print_Derivative`` writes it, with the sum a
        bracketed piece that ``stack`` layouts may break between its terms."""
        text = self._print_Derivative(expr)
        if len(expr.variables) != 1:
            return Math.atom(text)
        var = expr.variables[0]
        d = "d" if isinstance(var, sp.Dummy) else r"\partial"
        operator = rf"\frac{{{d}}}{{{d} {self._print(var)}}}"
        math = Math((Piece("", operator), Piece(" ", self._add_math(expr.expr), paren=True)), expr)
        return math if str(math) == text else Math.atom(text)

    def _print_Derivative(self, expr: sp.Derivative) -> str:
        if len(expr.variables) != 1:
            return super()._print_Derivative(expr)
        var = expr.variables[0]
        d = "d" if isinstance(var, sp.Dummy) else r"\partial"
        of = expr.expr
        if isinstance(of, sp.Symbol):
            return rf"\frac{{{d} {self._print(of)}}}{{{d} {self._print(var)}}}"
        operand = self._print(of)
        if isinstance(of, (sp.Add, sp.Mul, sp.Number)):
            operand = bracket(operand)
        return rf"\frac{{{d}}}{{{d} {self._print(var)}}} {operand}"

    def _add_parens(self, s: str) -> str:
        return bracket(s)

    def _print_Relational(self, expr: sp.core.relational.Relational) -> str:
        relation = {"==": "=", ">=": r"\geq", "<=": r"\leq", "!=": r"\neq"}.get(expr.rel_op, expr.rel_op)
        return f"{self._raw(expr.lhs)} {relation} {self._raw(expr.rhs)}"

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        rows = []
        for value, condition in expr.args:
            when = (r"\text{otherwise}" if condition is sp.true
                    else rf"\text{{if }} {self._print(condition)}")
            rows.append(f"{self._print(value)} & {when}")
        return r"\begin{cases} " + r" \\ ".join(rows) + r" \end{cases}"

    def _print_Sum(self, expr: sp.Sum) -> str:
        if len(expr.limits) > 1:  # nested sums, the outermost (last) limit first
            inner = self._print_Sum(sp.Sum(expr.function, *expr.limits[:-1]))
            variable, low, high = expr.limits[-1]
            return rf"\sum_{{{self._print(variable)}={self._print(low)}}}^{{{self._print(high)}}} {inner}"
        negative, magnitude = _sign(expr.function)
        if not negative:
            return super()._print_Sum(expr)
        return "- " + super()._print_Sum(sp.Sum(magnitude, *expr.limits))

    # sums and products

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> str:
        return str(self._add_math(expr))

    def _print_Mul(self, expr: sp.Expr) -> str:
        if not isinstance(expr, sp.Mul):  # SymPy prints x**-n through _print_Mul
            negative, math = self._mul_math(expr)
            return ("- " if negative else "") + str(math)
        return str(self.math(expr))

    def _add_math(self, expr: sp.Add | sp.MatAdd) -> Math:
        terms = _ordered_matrix_terms(expr) if isinstance(expr, sp.MatAdd) else self.ordered_terms(expr)
        pieces = []
        for i, term in enumerate(terms):
            negative, magnitude = _sign(term)
            op = "-" if negative else ("+" if i else "")
            pieces.append(Piece(op, self.math(magnitude),
                                paren=isinstance(magnitude, sp.Add)))
        return Math(tuple(pieces))

    def _hadamard_math(self, expr: sp.HadamardProduct) -> Math:
        """Factors multiplied entry by entry, ``(a - b) \\odot \\sigma(Z)``: sums and
        matrix products in brackets, function values after the quantities they multiply."""
        factors = sorted(expr.args, key=_hadamard_rank)
        return Math(tuple(Piece(r"\odot" if i else "", self.math(f), paren=self._grouped(f))
                          for i, f in enumerate(factors)))

    def _grouped(self, factor: sp.MatrixExpr) -> bool:
        """True when a matrix factor needs brackets: a sum or product not shown as numbers."""
        compound = isinstance(factor, (sp.MatAdd, sp.MatMul, sp.HadamardProduct))
        return compound and factor not in self.values and factor not in self.names

    def _matmul_math(self, expr: sp.MatMul) -> tuple[bool, Math]:
        """A scalar coefficient, then the matrices juxtaposed (a 1 x 1 matrix of ones,
        a single sample's row of ones, left out)."""
        scalars = [a for a in expr.args if not getattr(a, "is_Matrix", False)]
        matrices = [a for a in expr.args if getattr(a, "is_Matrix", False)
                    and not (isinstance(a, sp.OneMatrix) and a.shape == (1, 1))]
        negative, coefficient = _sign(sp.Mul(*scalars))
        pieces = [] if coefficient == 1 else [Piece("", self.math(coefficient))]
        for m in matrices:
            pieces.append(Piece(" " if pieces else "", self.math(m),
                                paren=self._grouped(m) and not isinstance(m, sp.MatMul)))
        return negative, Math(tuple(pieces) or (Piece("", "1"),))

    def ordered_terms(self, expr: sp.Add) -> list[sp.Expr]:
        """Terms by degree and name (a derivative placed as the expression it
        differentiates, so a written line keeps the order of the line before), then
        positive terms before negative ones: ``yhat - y`` rather than ``-y + yhat``."""
        terms = _flat(expr, sp.Add)
        stand_ins = [t.replace(lambda e: isinstance(e, sp.Derivative), lambda e: e.expr) for t in terms]
        order = sorted(range(len(terms)), key=lambda i: _term_key(stand_ins[i]))
        return ([terms[i] for i in order if not _sign(stand_ins[i])[0]]
                + [terms[i] for i in order if _sign(stand_ins[i])[0]])

    def _mul_math(self, expr: sp.Expr) -> tuple[bool, Math]:
        negative, factors = _mul_factors(expr)
        log_base = self._log_base(factors)
        if log_base is not None:
            return negative, Math.atom(log_base)
        numerator = [f for f in factors if not _in_denominator(f)]
        denominator = [1 / f for f in factors if _in_denominator(f)]
        if denominator:
            numerator, denominator = _move_rational(numerator, denominator)
            top, bottom = self._fraction_part(numerator), self._fraction_part(denominator)
            return negative, Math.atom(rf"\frac{{{top}}}{{{bottom}}}")
        return negative, self._product(numerator)

    def _fraction_part(self, factors: list[sp.Expr]) -> Math:
        """A numerator or denominator: a lone sum needs no brackets inside a fraction."""
        if not factors:
            return Math.atom("1")
        return self.math(factors[0]) if len(factors) == 1 else self._product(factors)

    def _product(self, factors: list[sp.Expr]) -> Math:
        factors = sorted(factors, key=_factor_rank)
        pieces: list[Piece] = []
        for i, f in enumerate(factors):
            text = self._factor_tex(f, first=not pieces)
            op = self._separator(text, f, factors[i - 1], i) if pieces else ""
            pieces.append(Piece(op, self._add_math(f) if isinstance(f, sp.Add) else text,
                                paren=isinstance(f, sp.Add)))
        return Math(tuple(pieces))

    def _factor_tex(self, factor: sp.Expr, first: bool) -> str:
        if factor.is_Number and factor.is_negative and not first or isinstance(factor, sp.Add):
            return bracket(self._print(factor))
        return self._print(factor)

    def _separator(self, text: str, factor: sp.Expr, previous: sp.Expr, position: int) -> str:
        """Juxtapose factors unless that could read as one number (a number after the
        first factor, or before one), or a derivative operator follows; with numbers in
        place, ``\\cdot`` unless a bracket follows."""
        if isinstance(factor, sp.Derivative) and not isinstance(factor.expr, sp.Symbol):
            return r"\cdot"
        if previous.is_Number and position > 1 and not text.startswith(("(", r"\left(")):
            return r"\cdot"
        if self.values:
            is_number = factor.is_Number or factor in self.values
            return " " if text.startswith(("(", r"\left(")) and not is_number else r"\cdot"
        return r"\cdot" if text[:1].isdigit() or factor.is_Number else " "


MATRIX_LETTERS = {"W": "W", "b": "b", "Z": "z", "A": "a", "Delta": "delta", "Yhat": "yhat",
                  "X": "x", "Y": "y"}
"""The quantity (see ``notation.QUANTITIES``) each matrix of a network's matrix view holds,
by its name without the layer number: written in the notation's letter, in upper case as a
matrix with a column per sample, as it is as one sample's column vector."""
_MATRIX_NAME = re.compile(r"([A-Za-z]+?)(\d*)")
_GRADIENT_NAME = re.compile(r"d(\w+)/d(\w+)")
"""A matrix named ``dL/dW1`` is the gradient of L with respect to the matrix ``W1``."""


def bmatrix(rows: Sequence[Sequence[str]]) -> str:
    """A matrix (or a column vector) of LaTeX entries, in square brackets."""
    return r"\begin{bmatrix} " + r" \\ ".join(" & ".join(row) for row in rows) + r" \end{bmatrix}"


_SYMPY_CALL = re.compile(r"(\\[a-z]+(?:\^\{[^{}]*\})?)\{\\left\((.*) \\right\)\}")


def _plain_call(text: str) -> str:
    """SymPy's ``\\tanh{\\left(z \\right)}`` as ``\\tanh(z)``, like the activations
    (a substituted number's own brackets dropped: ``\\tanh(-0.4)``)."""
    match = _SYMPY_CALL.fullmatch(text)
    if not match:
        return text
    inner = match.group(2)
    number = re.fullmatch(r"\((-[^()]*)\)", inner)
    return match.group(1) + bracket(number.group(1) if number else inner)


def number_factor(text: str) -> str:
    """A printed number as a factor: negative numbers and powers of ten in brackets."""
    return bracket(text) if text.startswith("-") or r"\times" in text else text


TALL = (r"\frac", r"\sum", r"\begin")


def bracket(text: str) -> str:
    """``text`` in round brackets, sized with ``\\left( \\right)`` only around tall content."""
    if any(t in text for t in TALL):
        return rf"\left({text}\right)"
    return f"({text})"


def _flat(expr: sp.Expr, kind: type) -> list[sp.Expr]:
    """The arguments of nested (unevaluated) sums or products, flattened in order."""
    out: list[sp.Expr] = []
    for arg in expr.args:
        out.extend(_flat(arg, kind) if isinstance(arg, kind) else [arg])
    return out


def _degree(term: sp.Expr) -> int:
    """How many quantities multiply in a term: ``w x + b``, not ``b + w x``."""
    degree = 0
    for f in sp.Mul.make_args(_sign(term)[1]):
        if isinstance(f, sp.Pow) and f.exp.is_Integer and f.exp > 0:
            degree += int(f.exp)
        elif not f.is_Number:
            degree += 1
    return degree


def _term_key(term: sp.Expr) -> tuple:
    """Higher degree first, then by name with numbers in numeric order (x_2 before x_10)."""
    parts = re.split(r"(\d+)", str(_sign(term)[1]))
    return -_degree(term), [(1, int(p)) if p.isdigit() else (0, p) for p in parts]


def _sign(term: sp.Expr) -> tuple[bool, sp.Expr]:
    """Whether a term is written with a minus sign, and the term without it."""
    if term.is_Number and term.is_negative:
        return True, -term
    if isinstance(term, sp.MatMul):
        matrices = [a for a in term.args if getattr(a, "is_Matrix", False)]
        negative, coefficient = _sign(sp.Mul(*(a for a in term.args if a not in matrices)))
        if not negative:
            return False, term
        if coefficient == 1 and len(matrices) == 1:
            return True, matrices[0]
        return True, sp.MatMul(coefficient, *matrices, evaluate=False)
    if isinstance(term, ElementwiseApplyFunction):
        negative, body = _sign(term.function.expr)
        if negative:
            return True, ElementwiseApplyFunction(sp.Lambda(term.function.variables, body), term.expr)
        return False, term
    if isinstance(term, sp.Mul):
        negative, factors = _mul_factors(term)
        if negative:
            if not factors:
                return True, sp.S.One
            return True, factors[0] if len(factors) == 1 else sp.Mul(*factors, evaluate=False)
    return False, term


def _mul_factors(expr: sp.Mul) -> tuple[bool, list[sp.Expr]]:
    """A product's factors, each negative number turned into a sign in front (an
    unevaluated product may hold one anywhere: ``x \\cdot (-2)`` is ``- x \\cdot 2``)."""
    factors = _flat(expr, sp.Mul) if isinstance(expr, sp.Mul) else [expr]
    negative, out = False, []
    for f in factors:
        if f.is_Number and f.is_negative:
            negative, f = not negative, -f
            if f == 1 and len(factors) > 1:
                continue
        out.append(f)
    return negative, out or [sp.S.One]


def _ordered_matrix_terms(expr: sp.MatAdd) -> list[sp.MatrixExpr]:
    """A matrix sum's terms, those written with a plus sign first: ``\\hat{Y} - Y``."""
    terms = list(expr.args)
    return [t for t in terms if not _sign(t)[0]] + [t for t in terms if _sign(t)[0]]


def _hadamard_rank(factor: sp.MatrixExpr) -> int:
    """Differences of quantities (``\\hat{Y} - Y``), then quantities and function values,
    then sums with a constant or a function value (``1 - \\sigma(Z)``)."""
    if isinstance(factor, sp.MatAdd):
        return 2 if factor.has(ElementwiseApplyFunction, sp.OneMatrix) else 0
    return 1


def _in_denominator(factor: sp.Expr) -> bool:
    return isinstance(factor, sp.Pow) and bool(factor.exp.is_number and factor.exp.is_negative)


def _move_rational(numerator: list[sp.Expr], denominator: list[sp.Expr]) -> tuple[list, list]:
    """In a fraction, a coefficient p/q puts p on top and q below: 2x/(3y), not 2/3 x/y."""
    out_top, out_bottom = [], list(denominator)
    for f in numerator:
        if f.is_Rational and f.q != 1:
            out_bottom.insert(0, sp.Integer(f.q))
            f = sp.Integer(f.p)
        if f != 1:
            out_top.append(f)
    return out_top, out_bottom


def _factor_rank(factor: sp.Expr) -> float:
    """Numbers and quantities (in their given order, so a written ``x * 1`` stays so),
    then function values and powers, then bracketed sums, then logarithms (``(1 - y)
    log(1 - yhat)``), then derivative operators, last so their operand is never ambiguous."""
    if factor.is_Number or isinstance(factor, (sp.Symbol, sp.Indexed)):
        return 1
    if isinstance(factor, sp.Derivative):
        return 1 if isinstance(factor.expr, sp.Symbol) else 4
    if isinstance(factor, sp.Add):
        return 3
    if isinstance(factor, sp.log):
        return 3.5
    return 2


def layer_vector(inputs: Sequence[sp.Basic]) -> Var | None:
    """The vector z^{(l)} when ``inputs`` are exactly its elements z^{(l)}_1..z^{(l)}_n."""
    first = inputs[0] if inputs else None
    if not isinstance(first, Var) or len(inputs) < 2:
        return None
    sample = getattr(first, "sample", None)
    expected = [(first.base, first.layer, (i + 1,), sample) for i in range(len(inputs))]
    actual = [(getattr(v, "base", None), getattr(v, "layer", None), getattr(v, "index", None),
               getattr(v, "sample", None)) for v in inputs]
    if actual != expected:
        return None
    return Var(f"{first.base}{first.layer or ''}", first.base, first.layer, (), sample)


def tex(expr: Any, values: Mapping[sp.Basic, str] | None = None,
        names: Mapping[sp.Basic, str] | None = None) -> Math:
    """``expr`` (a SymPy expression) as LaTeX, with ``values`` substituted if given and
    the subexpressions in ``names`` printed as given. The result's ``expr`` is ``expr``."""
    expr = sp.sympify(expr)
    if values and expr in values:  # a number on its own needs no brackets
        return Math.atom(values[expr], expr)
    return replace(Printer(values, names).math(expr), expr=expr)


def number(value: Any) -> Math:
    """A computed number, rounded by ``num``, whose ``expr`` is the number unrounded."""
    exact = sp.sympify(value)
    return Math.atom(num(exact), exact)


# --- numbers and text -----------------------------------------------------------------


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
MARKDOWN_SPECIALS = set("\\`*_{}[]<>#|$~^!")


def latex_escape(text: Any) -> str:
    """User text made safe for LaTeX text mode: the ten special characters escaped."""
    return "".join(LATEX_SPECIALS.get(c, c) for c in str(text))


def markdown_escape(text: Any) -> str:
    """User text made safe for Markdown: punctuation with a meaning escaped by ``\\``."""
    return "".join("\\" + c if c in MARKDOWN_SPECIALS else c for c in str(text))


# --- the width of formulas and breaking them across lines -----------------------------

_TOKEN = re.compile(r"\\[a-zA-Z]+|\\.|[{}^_&]|\s+|.")
_INVISIBLE = {r"\left", r"\right", r"\Bigl", r"\Bigr", r"\bigl", r"\bigr", r"\displaystyle"}
_WIDE = {r"\cdot": 1.6, r"\times": 1.6, r"\quad": 2.0, r"\qquad": 4.0, r"\ldots": 2.0,
         r"\leftarrow": 2.5, r"\partial": 1.0, r"\,": 0.3, r"\;": 0.5, r"\:": 0.4}
_WORDS = {r"\log", r"\exp", r"\tanh", r"\sin", r"\cos", r"\tan", r"\sinh", r"\cosh", r"\ln"}
_GROUPED = {r"\operatorname": 0.9, r"\text": 0.8, r"\mathrm": 0.9}
_CHAR = {"+": 2.2, "-": 2.2, "=": 2.6, ">": 2.6, "<": 2.6, ",": 0.6, ".": 0.4, "(": 0.7,
         ")": 0.7, "&": 0.0, " ": 0.0}


def width(tex: str) -> float:
    """An estimate of how wide ``tex`` typesets, in units of about one letter."""
    tokens = [t for t in _TOKEN.findall(str(tex)) if not t.isspace()]
    total, _ = _width(tokens, 0, None)
    return total


def _width(tokens: list[str], i: int, stop: str | None) -> tuple[float, int]:
    total = 0.0
    while i < len(tokens) and tokens[i] != stop:
        w, i = _token_width(tokens, i)
        total += w
    return total, i + 1


def _group(tokens: list[str], i: int) -> tuple[float, int]:
    """The width of the group or single token at ``i``, and the position after it."""
    if i < len(tokens) and tokens[i] == "{":
        return _width(tokens, i + 1, "}")
    return _token_width(tokens, i)


def _token_width(tokens: list[str], i: int) -> tuple[float, int]:
    token = tokens[i]
    if token == r"\frac":
        top, i = _group(tokens, i + 1)
        bottom, i = _group(tokens, i)
        return max(top, bottom) + 0.4, i
    if token in ("^", "_"):
        w, i = _group(tokens, i + 1)
        return 0.7 * w, i
    if token == r"\begin":
        return _environment(tokens, i)
    if token in _GROUPED:
        content, end = _raw_group(tokens, i + 1)
        return _GROUPED[token] * len(content), end
    if token == "{":
        return _width(tokens, i + 1, "}")
    if token in _INVISIBLE:
        return 0.0, i + 1
    if token.startswith("\\"):
        return _WIDE.get(token, len(token) - 1 if token in _WORDS else 1.0), i + 1
    return _CHAR.get(token, 1.0), i + 1


def nested_fraction(tex: str) -> bool:
    """True when a fraction in ``tex`` holds another in its numerator or denominator."""
    tokens = [t for t in _TOKEN.findall(str(tex)) if not t.isspace()]
    for i, token in enumerate(tokens):
        if token == r"\frac":
            top, end = _raw_group(tokens, i + 1)
            bottom, _ = _raw_group(tokens, end)
            if r"\frac" in top + bottom:
                return True
    return False


def _raw_group(tokens: list[str], i: int) -> tuple[str, int]:
    depth, out = 0, []
    for j in range(i, len(tokens)):
        depth += {"{": 1, "}": -1}.get(tokens[j], 0)
        if depth == 0:
            return "".join(out[1:]), j + 1
        out.append(tokens[j])
    return "".join(out), len(tokens)


def _environment(tokens: list[str], i: int) -> tuple[float, int]:
    """An environment (cases, bmatrix) is as wide as its widest row plus its brackets."""
    _, i = _raw_group(tokens, i + 1)
    rows, cell, cells, depth = [], [], [], 0
    while i < len(tokens) and not (tokens[i] == r"\end" and depth == 0):
        t = tokens[i]
        depth += {r"\begin": 1, r"\end": -1}.get(t, 0)
        if depth == 0 and t in ("&", r"\\"):
            cells.append(cell)
            cell = []
            if t == r"\\":
                rows.append(cells)
                cells = []
        else:
            cell.append(t)
        i += 1
    rows.append(cells + [cell])
    _, i = _raw_group(tokens, i + 1)
    widest = max(sum(_width(c, 0, None)[0] + 1.5 for c in row) for row in rows)
    return widest + 2.0, i


@dataclass(frozen=True)
class Shown:
    """An equation chain as it was laid out: the relation after its first side (``=``,
    or ``\\leftarrow`` for an assignment), the LaTeX of each side, and each side's SymPy
    expression (None for a side written as text)."""

    rel: str
    texts: tuple[str, ...]
    exprs: tuple[Any, ...]


_SHOWN: ContextVar[list[Shown] | None] = ContextVar("symgrad_shown", default=None)


@contextmanager
def recording() -> Iterator[list[Shown]]:
    """Collect every equation chain that ``equations``, ``equation`` and
    ``inline_equation`` lay out inside the ``with`` block, in order."""
    shown: list[Shown] = []
    token = _SHOWN.set(shown)
    try:
        yield shown
    finally:
        _SHOWN.reset(token)


def _record(rel: str, maths: Sequence[Math]) -> None:
    shown = _SHOWN.get()
    if shown is not None:
        shown.append(Shown(rel, tuple(str(m) for m in maths), tuple(m.expr for m in maths)))


@dataclass(frozen=True)
class Display:
    """Display math as aligned rows ``(left, right)``: ``left & right``."""

    rows: tuple[tuple[str, str], ...]

    @property
    def single(self) -> bool:
        """True when the display is one line (no alignment needed)."""
        return len(self.rows) == 1

    def lines(self) -> list[str]:
        """The rows joined at their alignment point, ``\\\\`` after all but the last."""
        if self.single:
            left, right = self.rows[0]
            return [f"{left} {right}".strip()]
        out = [f"{left} &{right}".strip() for left, right in self.rows]
        return [line + r" \\" for line in out[:-1]] + out[-1:]


def equation(*sides: Any, rel: str = "=", limit: float = WIDTH, stack: bool = False) -> Display:
    """``sides[0] rel sides[1] = sides[2] = ...`` laid out to fit ``limit``.

    Repeated sides are dropped. On one line if it fits; otherwise one side per row,
    aligned at the relation, and a side too wide for a row broken between its terms
    or factors (a bracket too wide opened with ``\\Bigl( ... \\Bigr)``). With ``stack``,
    a first side too wide to leave room beside it gets a row of its own, and the rows
    below start at the alignment point with their relation (for narrow slides).
    """
    return equations([sides], rel=rel, limit=limit, stack=stack)


def inline_equation(*sides: Any) -> str:
    """``sides`` joined by ``=`` on one line, repeated sides dropped (for inline math)."""
    maths = [as_math(side) for side in sides]
    _record("=", maths)
    texts: list[str] = []
    for math in maths:
        text = str(math)
        if not texts or not same(text, texts[-1]):
            texts.append(text)
    return " = ".join(texts)


def same(a: str, b: str) -> bool:
    """True when two formulas print the same, or are the same number (``1.0`` and ``1``)."""
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def equations(chains: Iterable[Sequence[Any]], rel: str = "=", limit: float = WIDTH,
              stack: bool = False) -> Display:
    """Several equation chains in one aligned display."""
    rows: list[tuple[str, str]] = []
    for chain in chains:
        maths = [as_math(side) for side in chain]
        _record(rel, maths)
        rows.extend(_chain_rows(maths, rel, limit, stack))
    return Display(tuple(rows))


def _chain_rows(sides: list[Math], rel: str, limit: float, stack: bool) -> list[tuple[str, str]]:
    left = str(sides[0])
    rights: list[Math] = []
    for math in sides[1:]:
        if not same(str(math), left) and (not rights or not same(str(math), str(rights[-1]))):
            rights.append(math)
    relations = [rel] + ["="] * (len(rights) - 1)
    room = max(limit - width(left) - 3, limit / 2)
    one_line = " ".join(f"{r} {m}" for r, m in zip(relations, rights))
    if width(one_line) <= room:
        return [(left, one_line)]
    rows = _side_rows(left, rights, relations, room, stack)
    widest = width(left) + 3 + max(width(right) for _, right in rows)
    if stack and rights and widest > limit and width(left) > limit / 4:
        # The left side leaves too little room beside it: given a row of its own, it
        # lets the right sides start at the alignment point, below it.
        below = _side_rows("", rights, relations, limit - 3, stack)
        if max(width(left), *(width(right) for _, right in below)) < widest:
            return [("", left)] + below
    return rows


def _side_rows(left: str, rights: list[Math], relations: list[str],
               room: float, stack: bool) -> list[tuple[str, str]]:
    """``left`` then each right side after its relation, a row each, broken to ``room``."""
    rows: list[tuple[str, str]] = []
    for relation, math in zip(relations, rights):
        text = f"{relation} {math}"
        if width(text) <= room:
            rows.append(("" if rows else left, text))
        else:
            broken = _break(math, room - 2, stack)
            rows.append(("" if rows else left, f"{relation} {broken[0]}"))
            rows.extend(("", rf"\quad {line}") for line in broken[1:])
    return rows or [(left, "")]


def _break(math: Math, room: float, stack: bool = False) -> list[str]:
    """The pieces of ``math`` packed into lines no wider than ``room``; a line after
    the first starts with its operator (``{}+``, ``{}\\cdot``) so spacing stays binary."""
    lines: list[str] = []
    current = ""
    atoms = [("", str(math))] if _derivative(math) and not stack else _atoms(math.pieces, room, stack)
    for op, text in atoms:
        joined = current + _join(1 if current else 0, op) + text
        if current and width(joined) > room:
            lines.append(current)
            current = "{}" + _join(1, _continued(op, text)).rstrip() + " " + text
        else:
            current = joined
    return lines + [current]


def _continued(op: str, text: str) -> str:
    """The operator that starts a continued line: a product written by juxtaposition gets
    a ``\\cdot``, except a matrix, whose brackets show it is a factor."""
    if op != " ":
        return op
    return "" if text.startswith(r"\begin{bmatrix}") else r"\cdot"


def _derivative(math: Math) -> bool:
    """True for a derivative of a sum (``Printer._derivative_math``), which only ``stack``
    layouts break between its terms: the others keep it whole."""
    return isinstance(math.expr, sp.Derivative)


def _atoms(pieces: Sequence[Piece], room: float, stack: bool = False) -> list[tuple[str, str]]:
    """Pieces as (op, text) atoms; a piece wider than ``room`` is opened into its own."""
    atoms: list[tuple[str, str]] = []
    for piece in pieces:
        inner = piece.body if isinstance(piece.body, Math) else None
        if inner is None or len(inner.pieces) < 2 or width(piece.text()) <= room \
                or (_derivative(inner) and not stack):
            atoms.append((piece.op, piece.text()))
            continue
        opened = _atoms(inner.pieces, room, stack)
        first_op, first = opened[0]
        lead = (first_op + " ") if first_op else ""
        opened[0] = (piece.op, (r"\Bigl(" if piece.paren else "") + lead + first)
        if piece.paren:
            opened[-1] = (opened[-1][0], opened[-1][1] + r"\Bigr)")
        atoms.extend(opened)
    return atoms
