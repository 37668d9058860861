"""The worked example's numbers: the forward pass, every factor, adjoint and gradient, and
the update, each evaluated exactly from the given values and kept to ``PRECISION`` digits,
so that rounding in displayed numbers never leaks into computed ones.

Inexact numbers are worked with adaptive precision: every value is worked out twice, at
``WORKING`` digits and at more, and again at twice as many until the two agree to ``AGREE``
digits and no sum cancelled more digits than were spare (1 - tanh^2 at a saturated tanh,
where the digits of tanh that matter are its 35th onwards), up to ``MAX_WORKING`` digits.
A function's arguments are worked out first, so that a cancelling sum inside one
(log(1 - sigmoid(150))) raises the precision as any other does.

Magnitudes: mpmath's numbers have exponents of any size, so a value far beyond float64's
range (e^(e^20), about 10^(2.1 x 10^8), or e^(-10^304)) is worked and kept like any other;
only a function (such as exp) of a number beyond 10^``MAX_ARGUMENT`` is refused with a
``LimitError`` (e^(10^1001) would not end), and exact fractions that would pass
``MAX_EXACT_BITS`` are worked in mpmath instead. A value that is not a real number (log of
a negative number) is refused with a ``ValuesError`` naming it and the values it is at.
"""

from __future__ import annotations

import functools
import operator
from fractions import Fraction
from typing import Callable, Mapping, Sequence, Union

import mpmath
import sympy as sp
from sympy.core.function import Application

from ..errors import LimitError, ValuesError
from ..model.graph import Definition
from .backward import Backward, Gradient
from .derivation import Worked

PRECISION = 30
WORKING = PRECISION + 20
"""The digits inexact numbers are first worked in: sums and products in mpmath with 20
guard digits."""

AGREE = 20
"""The significant digits two workings at different precisions must agree to (more than
float64's 17, so a JSON number is right to its last digit)."""

MAX_WORKING = 3200
"""The most digits a value is worked in (1 - tanh(z)^2 needs about 0.87 z of them): past
this a sum that cancels to nothing is taken to be 0."""

MAX_ARGUMENT = 1000
"""The largest decimal exponent of a number a function (exp, sin, ...) is evaluated at."""

def decimal_digits(bits: int) -> int:
    """The decimal digits (rounded down) of ``bits`` binary digits, in integers: a binary
    exponent (``mpmath.mag``) may be past a float's range (e^(-2 x 10^308))."""
    return bits * 30103 // 100000


MAX_EXACT_BITS = 10**5
"""The largest exact fraction (bits of its numerator and denominator) an integer power
builds; a larger one is worked in mpmath."""

Value = Union[Fraction, mpmath.mpf]
"""A number being worked out: exact while only exact numbers went into it (a weighted sum
of the given values, which may be exactly 0 at a kink), else in mpmath."""


class _Cancelled(Exception):
    """A sum lost more digits to cancellation than the working precision spared."""

    def __init__(self, lost: int | None):
        super().__init__(lost)
        self.lost = lost  # digits lost; None when the sum cancelled to exactly 0


class _Strict:
    """Whether a cancelling sum stops this working (False in the last one allowed)."""

    on = True


def _adaptive(work: Callable[[], list[dict]]) -> list[dict]:
    """``work()`` (dictionaries of values) at increasing precision until two workings agree
    to ``AGREE`` digits and no sum cancelled more than its guard digits."""
    dps, previous = WORKING, None
    while True:
        _Strict.on = dps < MAX_WORKING
        try:
            with mpmath.workdps(dps):
                result = work()
        except _Cancelled as cancelled:
            result, following = None, (4 * dps if cancelled.lost is None
                                       else max(2 * dps, cancelled.lost + WORKING))
        else:
            if dps >= MAX_WORKING or (previous is not None and _agree(previous, result)):
                return result
            following = dps + AGREE if previous is None else 2 * dps
        finally:
            _Strict.on = True
        previous, dps = result, min(MAX_WORKING, following)


def _agree(first: list[dict], second: list[dict]) -> bool:
    """Whether every value of two workings agrees to ``AGREE`` significant digits."""
    tolerance = mpmath.mpf(10) ** -AGREE
    for a, b in zip(first, second):
        for key, x in a.items():
            y = b[key]
            if isinstance(x, Fraction) and isinstance(y, Fraction):
                if x != y:
                    return False
            elif abs(_mpf(x) - _mpf(y)) > tolerance * max(abs(_mpf(x)), abs(_mpf(y))):
                return False
    return True


def number(expr: sp.Expr, what: str) -> sp.Float:
    """``expr`` (a number written as an expression) evaluated to PRECISION digits; raise
    ValuesError if it is not a finite number."""
    return _kept(_adaptive(lambda: [{0: _number(expr, {}, what)}])[0][0])


def _number(expr: sp.Expr, env: dict[sp.Expr, Value], what: str | Callable[[], str]) -> Value:
    """``expr`` at the values in ``env``; raise ValuesError if it is not a finite real
    number (saying ``what`` it is, or what calling it returns: a name printed only when
    needed), LimitError if it is beyond the range of worked numbers."""
    try:
        value = _value(expr, env)
    except ZeroDivisionError:
        value = mpmath.nan
    except _Range as beyond:
        what = what if isinstance(what, str) else what()
        raise LimitError(f"{what} {beyond.args[0]}") from None
    except _NotReal as complex_:
        what = what if isinstance(what, str) else what()
        part, at = complex_.args
        inside = "" if part == expr else f" (in {what})"
        raise ValuesError(f"{part} is not a real number at {at}{inside}" if at else
                          f"{what} is not a real number{inside}") from None
    if not (isinstance(value, Fraction) or mpmath.isfinite(value)):
        what = what if isinstance(what, str) else what()
        raise ValuesError(f"{what} is not a finite number at these values (got {sp.Float(value)})")
    return value


class _Range(Exception):
    """A function's argument beyond the magnitudes worked numbers evaluate functions at."""


class _NotReal(Exception):
    """A part of an expression that is not a real number (with the values it is at)."""


def _at(expr: sp.Expr, env: dict[sp.Expr, Value]) -> str:
    """``w = -0.5, v = 2``: the values of ``expr``'s symbols, for a message."""
    named = sorted((s for s in expr.free_symbols if s in env), key=sp.default_sort_key)
    return ", ".join(f"{s} = {mpmath.nstr(_mpf(env[s]), 6)}" for s in named)


def _mpf(value: Value) -> mpmath.mpf:
    return _rational(value) if isinstance(value, Fraction) else value


def _value(expr: sp.Expr, env: dict[sp.Expr, Value], argument: bool = False) -> Value:
    """Sums, products and integer powers by Python (a wide layer's weighted sums, which
    SymPy would rebuild product by product); a function or power of worked arguments by
    SymPy, and anything else (a Piecewise) by SymPy at the values of its symbols. A sum
    that is a function's ``argument`` must keep the digits of its smallest term too
    (log(1 + e^-120) is e^-120, not log(1.0) = 0)."""
    known = env.get(expr)  # one look-up, not two: most of a network's calls end here
    if known is not None:
        return known
    if isinstance(expr, (sp.Add, sp.Mul)):
        op = operator.add if isinstance(expr, sp.Add) else operator.mul
        terms = [_value(a, env) for a in expr.args]
        total = _arithmetic(op, terms)
        if argument and op is operator.add and _Strict.on and isinstance(total, mpmath.mpf):
            _check_cancellation(terms, total, smallest=True)
        return total
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer:
        return _power(_value(expr.base, env), int(expr.exp))
    if expr.is_Rational:
        return Fraction(int(expr.p), int(expr.q))
    if isinstance(expr, (Application, sp.Pow)) and all(isinstance(a, sp.Expr) for a in expr.args):
        arguments = [_value(a, env, argument=True) for a in expr.args]
        if any(isinstance(a, mpmath.mpf) and not mpmath.isfinite(a) for a in arguments):
            return mpmath.nan
        value = expr.func(*(_exact(_argument(a)) for a in arguments)).evalf(mpmath.mp.dps)
    else:
        numbers = {s: _exact(_argument(env[s])) for s in expr.free_symbols if s in env}
        value = expr.xreplace(numbers).evalf(mpmath.mp.dps)
    if value.is_Rational:
        return Fraction(int(value.p), int(value.q))
    if value.is_Number and value.is_real:
        return mpmath.mpf(value)
    if value.is_number and value.is_finite and value.is_extended_real is False:
        raise _NotReal(expr, _at(expr, env))
    return mpmath.nan


def _argument(value: Value) -> Value:
    """``value``, if a function may be evaluated at it (exp(10^10000) would not end)."""
    size = (value.numerator.bit_length() - value.denominator.bit_length()
            if isinstance(value, Fraction) else mpmath.mag(value) if value else 0)
    if decimal_digits(size) > MAX_ARGUMENT:
        raise _Range(f"is a function of a number beyond 10^{MAX_ARGUMENT}, which worked "
                     f"numbers do not evaluate")
    return value


def _power(base: Value, exponent: int) -> Value:
    """``base ** exponent``, in mpmath when an exact one would pass ``MAX_EXACT_BITS``."""
    if isinstance(base, Fraction):
        bits = base.numerator.bit_length() + base.denominator.bit_length()
        if bits * abs(exponent) <= MAX_EXACT_BITS:
            return base ** exponent
        if base == 0 and exponent < 0:
            raise ZeroDivisionError
        base = _rational(base)
    return base ** exponent


def _arithmetic(op: Callable[[Value, Value], Value], values: list[Value]) -> Value:
    """``op`` over ``values``: exact if they all are, else in mpmath, where a sum that
    cancels more digits than the working precision spares stops the working
    (``_Cancelled``)."""
    if all(isinstance(v, Fraction) for v in values):
        result = functools.reduce(op, values)
        if op is operator.mul and _bits(result) > MAX_EXACT_BITS:
            return _rational(result)
        return result
    values = [_rational(v) if isinstance(v, Fraction) else v for v in values]
    result = functools.reduce(op, values)
    if op in (operator.add, operator.sub) and _Strict.on:
        _check_cancellation(values, result)
    return result


def _bits(value: Fraction) -> int:
    return value.numerator.bit_length() + value.denominator.bit_length()


def _check_cancellation(terms: list[Value], total: mpmath.mpf, smallest: bool = False) -> None:
    """Raise ``_Cancelled`` if ``total`` kept fewer than PRECISION + AGREE of the digits
    of its largest term (a total of exactly 0 from terms that are not is all lost), or with
    ``smallest``, of its smallest term."""
    if not mpmath.isfinite(total):
        return
    sizes = [mpmath.mag(_mpf(t)) for t in terms if t]
    if not sizes:
        return
    if not total:
        raise _Cancelled(None)
    gap = mpmath.mag(total) - min(sizes) if smallest else max(sizes) - mpmath.mag(total)
    lost = decimal_digits(gap) + 1
    if mpmath.mp.dps - lost < PRECISION + AGREE // 2:
        raise _Cancelled(lost)


def _rational(value: Fraction) -> mpmath.mpf:
    return _rational_at(value, mpmath.mp.prec)


@functools.lru_cache(maxsize=1 << 16)  # a given weight is met forward and backward
def _rational_at(value: Fraction, prec: int) -> mpmath.mpf:
    return mpmath.mpf(value.numerator) / value.denominator


def _exact(value: Value) -> sp.Number:
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    return sp.Float(value, mpmath.mp.dps)


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
    def work() -> list[dict]:
        env: dict[sp.Expr, Value] = {s: _value(v, {}) for s, v in values.items()}
        for d in definitions:
            env[d.symbol] = _number(d.expr, env, d.symbol.name)
        return [{0: env[definitions[-1].symbol]}]
    return _kept(_adaptive(work)[0][0])


def evaluate(backward: Backward, gradients: Sequence[Gradient], values: tuple[dict, dict],
             rate: sp.Expr | None) -> Worked:
    """The worked numbers: forward pass, factors, adjoints, gradients and the update,
    worked at the precision that keeps every one of them right (``_adaptive``)."""
    given, literals = values
    worked = _adaptive(lambda: _work(backward, gradients, given, rate))
    kept = [{k: _kept(v) for k, v in numbers.items()} for numbers in worked]
    return Worked(given, literals, kept[0], kept[1], kept[2], kept[3], rate, kept[4])


def _work(backward: Backward, gradients: Sequence[Gradient], given: dict,
          rate: sp.Expr | None) -> list[dict]:
    """Forward, factors, adjoints, gradients and updated values at the current precision."""
    env: dict[sp.Expr, Value] = {s: _value(v, {}) for s, v in given.items()}
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
    return [forward, factors, adjoints, grads, updated]
