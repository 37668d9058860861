"""``Printer``: SymPy's ``LatexPrinter`` taught symgrad's notation (indexed quantities,
activations, partial derivatives, matrices, textbook order), and ``tex``, which prints with it."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Iterable, Mapping

import sympy as sp
from sympy.printing.latex import LatexPrinter

from .. import notation
from ...model.functions import Unspecified, leaky_relu, relu, sigmoid, softmax, softplus
from ...model.symbols import Var
from .matrices import MATRIX_LETTERS, MatrixPrinting  # noqa: F401 (MATRIX_LETTERS: latex's API)
from .ordering import (factor_rank, flat, in_denominator, layer_vector, move_rational,
                       mul_factors, ordered_matrix_terms, split_sign, term_key)
from .pieces import Math, Piece, bracket, number_factor
from .text import literal_tex, num


class Printer(MatrixPrinting, LatexPrinter):
    """SymPy's LaTeX printer in symgrad's notation; ``values`` maps quantities to numbers
    (printed as numbers: bracketed when negative, products with ``\\cdot``), ``names``
    maps subexpressions to LaTeX printed as it is, ``guides`` maps a sum written by a rule
    to the sum its terms are the derivatives of (``calculus.written.term_guides``), whose
    order it keeps."""

    def __init__(self, values: Mapping[sp.Basic, str] | None = None,
                 names: Mapping[sp.Basic, str] | None = None,
                 guides: Mapping[sp.Basic, sp.Basic] | None = None):
        super().__init__()
        # read, never changed: not copied (a wide network's values are thousands)
        self.values = values or {}
        self.names = names or {}
        self.guides = guides or {}

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
        if isinstance(expr, Unspecified):  # SymPy skips a renamed subclass's printer
            return self._print_Unspecified(expr, **kwargs)
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

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        """An output or target of a general formula with its index, the subscript after
        the layer's superscript (``a^{3}_{k}``, not SymPy's ``{a^{3}}_{k}``)."""
        name = str(expr.base.label)
        if name in ("yhat", "y"):
            index = ",".join(self._print(i) for i in expr.indices)
            return notation.current().quantity(name, index=index)
        return super()._print_Indexed(expr)

    def _print_Dummy(self, expr: sp.Dummy) -> str:
        return self._print_Symbol(sp.Symbol(expr.name))

    def _print_Float(self, expr: sp.Float) -> str:
        return num(expr)

    def _decimal(self, expr: sp.Expr) -> str | None:
        """A rational's magnitude as the author's decimal (``0.01``), or None."""
        if not (expr.is_Rational and expr.q != 1):
            return None
        text = notation.current().written.decimal(expr)
        return None if text is None else literal_tex(text)

    def _print_Rational(self, expr: sp.Rational) -> str:
        text = self._decimal(expr)
        if text is None:
            return super()._print_Rational(expr)
        return f"- {text}" if expr.is_negative else text

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

    def _print_Unspecified(self, expr: Unspecified, exp: str | None = None) -> str:
        """An unspecified function and its derivatives with primes, f(z), f'(z) up to
        three, then f^{(4)}(z); a name longer than a letter upright."""
        call = self._call(function_tex(expr.base, expr.order), expr.args, None)
        return rf"\left({call}\right)^{{{exp}}}" if exp else call

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
        negative, magnitude = split_sign(expr.function)
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
        terms = ordered_matrix_terms(expr) if isinstance(expr, sp.MatAdd) else self.ordered_terms(expr)
        pieces = []
        for i, term in enumerate(terms):
            negative, magnitude = split_sign(term)
            op = "-" if negative else ("+" if i else "")
            # ones added entry by entry (1 - A) are the number 1, applied to every entry:
            # bold 1 is kept for the column of ones that a product sums or repeats with
            body = Math.atom("1") if isinstance(magnitude, sp.OneMatrix) else self.math(magnitude)
            pieces.append(Piece(op, body, paren=isinstance(magnitude, sp.Add)))
        return Math(tuple(pieces))

    def ordered_terms(self, expr: sp.Add) -> list[sp.Expr]:
        """Terms by degree and name (a derivative placed as the expression it
        differentiates, so a written line keeps the order of the line before), then
        positive terms before negative ones: ``yhat - y`` rather than ``-y + yhat``. The
        terms of a sum with a guide are placed as the guide's terms they derive from. A
        sum the author wrote (``notation.current().written``) keeps the written order, and
        so does a sum of its terms' derivatives or one guided to it."""
        guide = self.guides.get(expr)
        if guide is not None and len(guide.args) == len(expr.args):
            groups = [self.ordered_terms(a) if isinstance(a, sp.Add) and a not in self.names
                      and a not in self.values else [a] for a in expr.args]
            stand_ins = [_stand_in(g) for g in guide.args]
        else:
            groups = [[t] for t in flat(expr, sp.Add)]
            stand_ins = [_stand_in(t) for g in groups for t in g]
        written = notation.current().written.order(stand_ins)
        if written is not None:  # a sum the author wrote, or one derived term by term from it
            return [t for i in sorted(range(len(groups)), key=written.__getitem__) for t in groups[i]]
        order = sorted(range(len(groups)), key=lambda i: term_key(stand_ins[i]))
        if _one_plus_exponentials(stand_ins):  # 1 + e^{-z}, as the sigmoid is defined
            order.sort(key=lambda i: not stand_ins[i].is_Number)
        return ([t for i in order if not split_sign(stand_ins[i])[0] for t in groups[i]]
                + [t for i in order if split_sign(stand_ins[i])[0] for t in groups[i]])

    def _mul_math(self, expr: sp.Expr) -> tuple[bool, Math]:
        if _fractions_as_written(expr):  # 1/(1 + e) * e/(1 + e), not e/((1 + e) (1 + e))
            return False, Math(tuple(Piece(r"\cdot" if i else "", self.math(a), paren=isinstance(a, sp.Add))
                                     for i, a in enumerate(expr.args)))
        negative, factors = mul_factors(expr)
        log_base = self._log_base(factors)
        if log_base is not None:
            return negative, Math.atom(log_base)
        numerator = [f for f in factors if not in_denominator(f)]
        denominator = [1 / f for f in factors if in_denominator(f)]
        if denominator:
            numerator, denominator = move_rational(numerator, denominator, self._decimal)
            top, bottom = self._fraction_part(numerator), self._fraction_part(denominator)
            return negative, Math.atom(rf"\frac{{{top}}}{{{bottom}}}")
        return negative, self._product(numerator)

    def _fraction_part(self, factors: list[sp.Expr]) -> Math:
        """A numerator or denominator: a lone sum needs no brackets inside a fraction."""
        if not factors:
            return Math.atom("1")
        return self.math(factors[0]) if len(factors) == 1 else self._product(factors)

    def _product(self, factors: list[sp.Expr]) -> Math:
        factors = sorted(factors, key=factor_rank)
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


_SYMPY_CALL = re.compile(r"(\\[a-z]+(?:\^\{[^{}]*\})?)\{\\left\((.*) \\right\)\}")


def function_tex(name: str, order: int = 0) -> str:
    """The name of an unspecified function, or of its ``order``-th derivative, in LaTeX:
    ``f``, ``f'`` up to three primes, then ``f^{(4)}``; a name longer than a letter upright."""
    text = name if len(name) == 1 else rf"\operatorname{{{name}}}"
    return text + ("'" * order if order <= 3 else f"^{{({order})}}")


def _plain_call(text: str) -> str:
    """SymPy's ``\\tanh{\\left(z \\right)}`` as ``\\tanh(z)``, like the activations
    (a substituted number's own brackets dropped: ``\\tanh(-0.4)``)."""
    match = _SYMPY_CALL.fullmatch(text)
    if not match:
        return text
    inner = match.group(2)
    number = re.fullmatch(r"\((-[^()]*)\)", inner)
    return match.group(1) + bracket(number.group(1) if number else inner)


def _fractions_as_written(expr: sp.Expr) -> bool:
    """True for an unevaluated product of fractions, one of them with a numerator."""
    if not isinstance(expr, sp.Mul):
        return False
    fractions = [a for a in expr.args if isinstance(a, (sp.Mul, sp.Pow))
                 and any(in_denominator(f) for f in sp.Mul.make_args(a))]
    return len(fractions) > 1 and any(isinstance(a, sp.Mul) for a in fractions)


def _one_plus_exponentials(terms: list[sp.Expr]) -> bool:
    """A positive number plus exponentials (the sigmoid's ``1 + e^{-z}``, softplus's
    ``1 + e^{z}``): textbooks write the number first."""
    numbers = [t for t in terms if t.is_Number]
    return (len(numbers) == 1 and numbers[0].is_positive and len(terms) > 1
            and all(isinstance(split_sign(t)[1], sp.exp) for t in terms if not t.is_Number))


def _stand_in(term: sp.Expr) -> sp.Expr:
    """A term with each derivative replaced by the expression it differentiates."""
    return term.replace(lambda e: isinstance(e, sp.Derivative), lambda e: e.expr)


def tex(expr: Any, values: Mapping[sp.Basic, str] | None = None,
        names: Mapping[sp.Basic, str] | None = None,
        guides: Mapping[sp.Basic, sp.Basic] | None = None) -> Math:
    """``expr`` (a SymPy expression) as LaTeX, with ``values`` substituted if given, the
    subexpressions in ``names`` printed as given and the sums in ``guides`` in the order
    of their guides (see ``Printer``). The result's ``expr`` is ``expr``."""
    expr = sp.sympify(expr)
    if values and expr in values:  # a number on its own needs no brackets
        return Math.atom(values[expr], expr)
    if values or names or guides:
        return replace(Printer(values, names, guides).math(expr), expr=expr)
    return _printed(expr)


PRINTED_KEPT = 20000
"""How many expressions ``tex`` keeps printed for the notation in use, at most."""
_kept: dict[int, tuple[notation.Notation, dict[sp.Basic, Math]]] = {}


def _printed(expr: sp.Basic) -> Math:
    """``expr`` printed on its own, once per notation in use (a document prints the same
    quantity in many places): kept by the notation's identity (a notation's letters are
    a dict, so it has no hash) with the notation, so that its id is not reused while kept."""
    written = notation.current()
    kept = _kept.get(id(written))
    if kept is None or kept[0] is not written:
        if len(_kept) >= 4:
            _kept.clear()
        kept = _kept[id(written)] = (written, {})
    printed = kept[1]
    try:
        math = printed.get(expr)
    except TypeError:  # an unhashable expression (a mutable matrix)
        return replace(Printer().math(expr), expr=expr)
    if math is None:
        if len(printed) >= PRINTED_KEPT:
            printed.clear()
        math = printed[expr] = replace(Printer().math(expr), expr=expr)
    return math
