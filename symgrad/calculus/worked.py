"""The worked example's numbers: the forward pass, every factor, adjoint and gradient, and
the update, each evaluated exactly from the given values to ``PRECISION`` digits, so that
rounding in displayed numbers never leaks into computed ones.
"""

from __future__ import annotations

from typing import Sequence

import sympy as sp

from ..errors import ValuesError
from .backward import Backward, Gradient
from .derivation import Worked

PRECISION = 30


def number(expr: sp.Expr, what: str) -> sp.Float:
    """``expr`` evaluated to PRECISION digits; raise ValuesError if it is not a finite number."""
    value = expr.evalf(PRECISION)
    if not (value.is_Number and value.is_finite):
        raise ValuesError(f"{what} is not a finite number at these values (got {value})")
    return sp.Float(value, PRECISION)


def evaluate(backward: Backward, gradients: Sequence[Gradient], values: tuple[dict, dict],
             rate: sp.Expr | None) -> Worked:
    """The worked numbers: forward pass, factors, adjoints, gradients and the update."""
    given, literals = values
    env: dict[sp.Expr, sp.Expr] = dict(given)
    forward = {}
    for d in backward.graph.definitions:
        forward[d.symbol] = env[d.symbol] = number(d.expr.xreplace(env), str(d.symbol))
    factors = {key: number(f.result.xreplace(env), f"d{key[0]}/d{key[1]}")
               for key, f in backward.factors.items()}
    adjoints = {}
    for node, adjoint in backward.adjoints.items():
        adjoints[node] = env[adjoint.name] = number(adjoint.value.xreplace(env), f"dL/d{node}")
    grads = {g.parameter: number(g.result.xreplace(env), f"dL/d{g.parameter}") for g in gradients}
    # inputs and targets are data: differentiated (a saliency), never updated
    updated = {} if rate is None else {
        p: number(given[p] - rate * g, f"updated {p}") for p, g in grads.items()
        if backward.graph.is_parameter(p)
    }
    return Worked(given, literals, forward, factors, adjoints, grads, rate, updated)
