"""The loss after the gradient-descent step of a worked derivation: the forward pass again
at the updated values, in mpmath to PRECISION digits and a guard, for the reading's
sentence on whether the step lowered the loss.
"""

from __future__ import annotations

import mpmath
import sympy as sp

from ..calculus.derivation import Derivation
from ..calculus.worked import PRECISION, number
from ..errors import ValuesError

def loss_after_step(derivation: Derivation) -> sp.Expr | None:
    """The loss at the updated values (to PRECISION digits), with a learning rate; None
    without one, or where the loss is not a finite number after the step."""
    worked = derivation.worked
    if worked is None or worked.learning_rate is None:
        return None
    with mpmath.workdps(PRECISION + GUARD):
        env = {s: _mpf(v) for s, v in {**worked.given, **worked.updated}.items()}
        try:
            for d in derivation.graph.definitions:
                env[d.symbol] = value = _at(d.expr, env)
                if not (isinstance(value, mpmath.mpf) and mpmath.isfinite(value)):
                    return None
        except (ValuesError, ZeroDivisionError):
            return None
    return sp.Float(env[derivation.loss], PRECISION)


GUARD = 10
"""Digits beyond PRECISION that the forward pass after the step carries."""


def _mpf(value: sp.Expr) -> mpmath.mpf:
    return mpmath.mpf(sp.Float(value, PRECISION + GUARD)._mpf_)


def _at(expr: sp.Expr, env: dict[sp.Expr, mpmath.mpf]) -> mpmath.mpf:
    """``expr``'s value with the numbers of ``env`` for its quantities: sums, products and
    powers in mpmath (a weighted sum of many terms is never built as a SymPy sum of
    numbers, which costs most of a wide network's forward pass), anything else by SymPy
    at the numbers of its quantities."""
    if expr in env:
        return env[expr]
    if expr.is_Number:
        return _mpf(expr)
    if isinstance(expr, (sp.Add, sp.Mul, sp.Pow)):
        args = [_at(a, env) for a in expr.args]
        if isinstance(expr, sp.Add):
            return mpmath.fsum(args)
        return mpmath.fprod(args) if isinstance(expr, sp.Mul) else args[0] ** args[1]
    numbers = {s: sp.Float(env[s], PRECISION + GUARD) for s in expr.free_symbols}
    return _mpf(number(expr.xreplace(numbers), str(expr)))
