"""The worked example's numbers: the forward pass, every factor, adjoint and gradient, and
the update, each evaluated exactly from the given values to ``PRECISION`` digits, so that
rounding in displayed numbers never leaks into computed ones.
"""

from __future__ import annotations

import functools
import operator
from fractions import Fraction
from typing import Callable, Mapping, Sequence, Union

import mpmath
import sympy as sp

from ..errors import ValuesError
from ..model.graph import Definition
from .backward import Backward, Gradient
from .derivation import Worked

PRECISION = 30
WORKING = PRECISION + 20
"""The digits inexact numbers are worked in: sums and products in mpmath with 20 guard
digits, so that the PRECISION digits kept hold unless a sum cancels more than 20 of them."""

Value = Union[Fraction, mpmath.mpf]
"""A number being worked out: exact while only exact numbers went into it (a weighted sum
of the given values, which may be exactly 0 at a kink), else in mpmath."""


def number(expr: sp.Expr, what: str) -> sp.Float:
    """``expr`` (a number written as an expression) evaluated to PRECISION digits; raise
    ValuesError if it is not a finite number."""
    with mpmath.workdps(WORKING):
        return _kept(_number(expr, {}, what))


def _number(expr: sp.Expr, env: dict[sp.Expr, Value], what: str | Callable[[], str]) -> Value:
    """``expr`` at the values in ``env``; raise ValuesError if it is not a finite real
    number (saying ``what`` it is, or what calling it returns: a name printed only when
    needed)."""
    try:
        value = _value(expr, env)
    except ZeroDivisionError:
        value = mpmath.nan
    if not (isinstance(value, Fraction) or mpmath.isfinite(value)):
        what = what if isinstance(what, str) else what()
        raise ValuesError(f"{what} is not a finite number at these values (got {sp.Float(value)})")
    return value


def _value(expr: sp.Expr, env: dict[sp.Expr, Value]) -> Value:
    """Sums, products and integer powers by Python (a wide layer's weighted sums, which
    SymPy would rebuild product by product); anything else evaluated by SymPy."""
    known = env.get(expr)  # one look-up, not two: most of a network's calls end here
    if known is not None:
        return known
    if isinstance(expr, (sp.Add, sp.Mul)):
        op = operator.add if isinstance(expr, sp.Add) else operator.mul
        return _arithmetic(op, [_value(a, env) for a in expr.args])
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer:
        return _value(expr.base, env) ** int(expr.exp)
    if expr.is_Rational:
        return Fraction(int(expr.p), int(expr.q))
    numbers = {s: _exact(env[s]) for s in expr.free_symbols if s in env}
    value = expr.xreplace(numbers).evalf(WORKING)
    if value.is_Rational:
        return Fraction(int(value.p), int(value.q))
    return mpmath.mpf(value) if value.is_Number and value.is_real else mpmath.nan


def _arithmetic(op: Callable[[Value, Value], Value], values: list[Value]) -> Value:
    """``op`` over ``values``: exact if they all are, else in mpmath."""
    if not all(isinstance(v, Fraction) for v in values):
        values = [_rational(v) if isinstance(v, Fraction) else v for v in values]
    return functools.reduce(op, values)


@functools.lru_cache(maxsize=1 << 16)  # a given weight is met forward and backward
def _rational(value: Fraction) -> mpmath.mpf:
    return mpmath.mpf(value.numerator) / value.denominator


def _exact(value: Value) -> sp.Number:
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    return sp.Float(value, WORKING)


KEPT_BITS = mpmath.libmp.dps_to_prec(PRECISION)


def _kept(value: Value) -> sp.Float:
    """A worked value as the derivation keeps it: a Float of PRECISION digits, built as
    ``sp.Float(value, PRECISION)`` builds it (rounded to nearest; an mpf zero is 0) without
    its parsing of arguments, thousands of times for a wide network."""
    if isinstance(value, Fraction):
        bits = mpmath.libmp.from_rational(value.numerator, value.denominator, KEPT_BITS,
                                          mpmath.libmp.round_nearest)
        return sp.Float._new(bits, KEPT_BITS, zero=False)
    return sp.Float._new(value._mpf_, KEPT_BITS)


def loss_at(definitions: Sequence[Definition], values: Mapping[sp.Symbol, sp.Expr]) -> sp.Float:
    """The last definition's value (the loss) at ``values``, the forward pass worked as
    ``evaluate`` works it; ValuesError where a quantity is not a finite number."""
    with mpmath.workdps(WORKING):
        env: dict[sp.Expr, Value] = {s: _value(v, {}) for s, v in values.items()}
        for d in definitions:
            env[d.symbol] = _number(d.expr, env, d.symbol.name)
    return _kept(env[definitions[-1].symbol])


def evaluate(backward: Backward, gradients: Sequence[Gradient], values: tuple[dict, dict],
             rate: sp.Expr | None) -> Worked:
    """The worked numbers: forward pass, factors, adjoints, gradients and the update."""
    given, literals = values
    with mpmath.workdps(WORKING):
        env: dict[sp.Expr, mpmath.mpf] = {s: _value(v, {}) for s, v in given.items()}
        forward = {}
        for d in backward.graph.definitions:
            forward[d.symbol] = env[d.symbol] = _number(d.expr, env, d.symbol.name)
        factors = {key: _number(f.result, env, lambda: f"d{key[0]}/d{key[1]}")
                   for key, f in backward.factors.items()}
        adjoints = {}
        for node, adjoint in backward.adjoints.items():
            adjoints[node] = env[adjoint.name] = _number(adjoint.value, env, lambda: f"dL/d{node}")
        grads = {g.parameter: _number(g.result, env, lambda: f"dL/d{g.parameter}")
                 for g in gradients}
        # inputs and targets are data: differentiated (a saliency), never updated
        step = None if rate is None else _value(rate, {})
        updated = {} if rate is None else {
            p: _arithmetic(operator.sub, [env[p], _arithmetic(operator.mul, [step, g])])
            for p, g in grads.items() if backward.graph.is_parameter(p)}
    kept = [{k: _kept(v) for k, v in numbers.items()}
            for numbers in (forward, factors, adjoints, grads, updated)]
    return Worked(given, literals, kept[0], kept[1], kept[2], kept[3], rate, kept[4])
