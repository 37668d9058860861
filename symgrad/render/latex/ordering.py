"""The textbook order in which the printer writes terms (``w x + b``) and factors (numbers
and quantities, then functions, sums, logarithms, derivatives), and a layer's elements
read as one vector."""

from __future__ import annotations

import re
from typing import Callable, Sequence

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ...model.symbols import Var


def flat(expr: sp.Expr, kind: type) -> list[sp.Expr]:
    """The arguments of nested (unevaluated) sums or products, flattened in order."""
    out: list[sp.Expr] = []
    for arg in expr.args:
        out.extend(flat(arg, kind) if isinstance(arg, kind) else [arg])
    return out


def _degree(term: sp.Expr) -> int:
    """How many quantities multiply in a term: ``w x + b``, not ``b + w x``."""
    degree = 0
    for f in sp.Mul.make_args(split_sign(term)[1]):
        if isinstance(f, sp.Pow) and f.exp.is_Integer and f.exp > 0:
            degree += int(f.exp)
        elif not f.is_Number:
            degree += 1
    return degree


def term_key(term: sp.Expr) -> tuple:
    """Higher degree first, then by name with numbers in numeric order (x_2 before x_10);
    an exponential before its reciprocal (``e^{z} + e^{-z}``)."""
    magnitude, reciprocal = split_sign(term)[1], False
    if isinstance(magnitude, sp.exp):
        reciprocal, exponent = split_sign(magnitude.exp)
        magnitude = sp.exp(exponent, evaluate=False)
    parts = re.split(r"(\d+)", str(magnitude))
    return -_degree(term), [(1, int(p)) if p.isdigit() else (0, p) for p in parts], reciprocal


def split_sign(term: sp.Expr) -> tuple[bool, sp.Expr]:
    """Whether a term is written with a minus sign, and the term without it."""
    if term.is_Number and term.is_negative:
        return True, -term
    if isinstance(term, sp.MatMul):
        matrices = [a for a in term.args if getattr(a, "is_Matrix", False)]
        negative, coefficient = split_sign(sp.Mul(*(a for a in term.args if a not in matrices)))
        if not negative:
            return False, term
        if coefficient == 1 and len(matrices) == 1:
            return True, matrices[0]
        return True, sp.MatMul(coefficient, *matrices, evaluate=False)
    if isinstance(term, ElementwiseApplyFunction):
        negative, body = split_sign(term.function.expr)
        if negative:
            return True, ElementwiseApplyFunction(sp.Lambda(term.function.variables, body), term.expr)
        return False, term
    if isinstance(term, sp.Mul):
        negative, factors = mul_factors(term)
        if negative:
            if not factors:
                return True, sp.S.One
            return True, factors[0] if len(factors) == 1 else sp.Mul(*factors, evaluate=False)
    return False, term


def mul_factors(expr: sp.Mul) -> tuple[bool, list[sp.Expr]]:
    """A product's factors, each negative number turned into a sign in front (an
    unevaluated product may hold one anywhere: ``x \\cdot (-2)`` is ``- x \\cdot 2``)."""
    factors = flat(expr, sp.Mul) if isinstance(expr, sp.Mul) else [expr]
    negative, out = False, []
    for f in factors:
        if f.is_Number and f.is_negative:
            negative, f = not negative, -f
            if f == 1 and len(factors) > 1:
                continue
        out.append(f)
    return negative, out or [sp.S.One]


def ordered_matrix_terms(expr: sp.MatAdd) -> list[sp.MatrixExpr]:
    """A matrix sum's terms, those written with a plus sign first: ``\\hat{Y} - Y``."""
    terms = list(expr.args)
    return [t for t in terms if not split_sign(t)[0]] + [t for t in terms if split_sign(t)[0]]


def hadamard_rank(factor: sp.MatrixExpr) -> int:
    """Differences of quantities (``\\hat{Y} - Y``), then quantities and function values,
    then sums with a constant or a function value (``1 - \\sigma(Z)``)."""
    if isinstance(factor, sp.MatAdd):
        return 2 if factor.has(ElementwiseApplyFunction, sp.OneMatrix) else 0
    return 1


def in_denominator(factor: sp.Expr) -> bool:
    return isinstance(factor, sp.Pow) and bool(factor.exp.is_number and factor.exp.is_negative)


def move_rational(numerator: list[sp.Expr], denominator: list[sp.Expr],
                  decimal: Callable[[sp.Expr], str | None] = lambda f: None) -> tuple[list, list]:
    """In a fraction, a coefficient p/q puts p on top and q below: 2x/(3y), not 2/3 x/y;
    one written as a decimal (``decimal`` gives its text) stays on top: 0.5x/y."""
    out_top, out_bottom = [], list(denominator)
    for f in numerator:
        if f.is_Rational and f.q != 1 and decimal(f) is None:
            out_bottom.insert(0, sp.Integer(f.q))
            f = sp.Integer(f.p)
        if f != 1:
            out_top.append(f)
    return out_top, out_bottom


def factor_rank(factor: sp.Expr) -> float:
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
