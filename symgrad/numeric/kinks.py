"""Kinks the worked values hit: a ReLU, leaky ReLU, |u|, max or min exactly at the point
where it has no derivative, the derivative symgrad takes there, and what float64 code makes
of the same values.

The worked numbers are exact, so ``w x + b`` with w = 0.1, x = 3, b = -0.3 is 0 and the
document takes ReLU'(0) = 0. Float64 code computes the same sum as 5.55e-17, lands past the
kink and takes ReLU' = 1 (as PyTorch does with these inputs). Neither is wrong; the compiled
code is not snapped to the kink, since a tiny non-zero value is a legitimate input. Instead
the document, its JSON and its notebook say which kink is hit, which convention is taken,
and which gradients float64 computes differently (``Kinks.differing``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..calculus.derivation import Derivation
from ..calculus.worked import PRECISION
from ..model.functions import leaky_relu, relu
from .compile import compile, python_source

KINKED: dict[type, str] = {relu: "relu", leaky_relu: "leaky_relu", sp.Abs: "abs",
                           sp.Max: "max", sp.Min: "min"}
"""The functions with a kink, by the name the documents' sentences use."""

RTOL, ATOL = 1e-9, 1e-12
"""When a float64 gradient agrees with the exact one (the notebook's check uses the same)."""


@dataclass(frozen=True)
class Kink:
    """One call ``call`` (``relu(z)``, ``max(w x, b)``) whose ``sides`` are equal at the
    worked values (for relu, leaky_relu and abs: its argument and 0): the point where it has
    no derivative. ``slope`` is the derivative symgrad takes there (through each argument,
    for max and min); ``computed`` is ``sides[0] - sides[1]`` as float64 code computes the
    sides (0.0 when float64 hits the kink too)."""

    function: str
    call: sp.Expr
    sides: tuple[sp.Expr, sp.Expr]
    slope: sp.Expr
    computed: sp.Rational

    @property
    def hit_in_float(self) -> bool:
        """True when float64 arithmetic puts the sides exactly equal too."""
        return self.computed == 0


@dataclass(frozen=True)
class Kinks:
    """The kinks hit exactly, the float64 gradients at the given values (as the compiled
    code computes them) and the parameters whose float64 gradient differs from the exact
    one (beyond ``RTOL`` and ``ATOL``)."""

    kinks: tuple[Kink, ...]
    gradients: dict[sp.Symbol, float]
    differing: tuple[sp.Symbol, ...]

    @property
    def missed(self) -> tuple[Kink, ...]:
        """The kinks float64 arithmetic does not land on."""
        return tuple(k for k in self.kinks if not k.hit_in_float)


def kinks(derivation: Derivation) -> Kinks | None:
    """The kinks the worked values hit exactly, with float64's view of them; None without
    values or when no kink is hit."""
    worked = derivation.worked
    if worked is None:
        return None
    env = {**worked.given, **worked.forward}
    found = [k for d in derivation.graph.definitions for k in _hit(d.expr, env)]
    if not found:
        return None
    graph = derivation.graph
    leaves = [s for g in graph.groups for s in g.symbols]
    floats = [float(worked.given[s]) for s in leaves]
    program = [(d.symbol, d.expr) for d in graph.definitions]
    sides = [side for function, call, pair, slope in found for side in pair]
    computed = python_source(leaves, program, sides, "sides").load()(*floats)
    found = [Kink(function, call, pair, slope, _difference(computed[2 * i], computed[2 * i + 1]))
             for i, (function, call, pair, slope) in enumerate(found)]
    loss, *grads = compile(derivation).function(*floats)
    gradients = {p: float(np.asarray(v, dtype=float)) for p, v in zip(derivation.parameters, grads)}
    differing = tuple(p for p, v in gradients.items()
                      if not np.isclose(v, float(worked.gradients[p]), rtol=RTOL, atol=ATOL))
    return Kinks(tuple(found), gradients, differing)


def _hit(expr: sp.Expr, env: dict) -> list[tuple[str, sp.Expr, tuple[sp.Expr, sp.Expr], sp.Expr]]:
    """The kinked calls in ``expr`` at their kink under ``env``: (name, call, sides, slope)."""
    out, seen = [], set()
    for call in sp.preorder_traversal(expr):
        function = KINKED.get(type(call))
        if function is None or call in seen:
            continue
        seen.add(call)
        if function in ("max", "min"):
            pair = _tie(call, env)
            slope = sp.S.Zero
        else:
            pair = (call.args[0], sp.S.Zero)
            slope = call.args[1] if function == "leaky_relu" else sp.S.Zero
        if pair is not None and _zero((pair[0] - pair[1]).xreplace(env)):
            out.append((function, call, pair, slope))
    return out


def _tie(call: sp.Max | sp.Min, env: dict) -> tuple[sp.Expr, sp.Expr] | None:
    """The first two arguments of ``call`` that both take its value under ``env``."""
    values = [a.xreplace(env).evalf(PRECISION) for a in call.args]
    best = max(values) if isinstance(call, sp.Max) else min(values)
    tied = [a for a, v in zip(call.args, values) if _zero(v - best)]
    return (tied[0], tied[1]) if len(tied) > 1 else None


def _zero(value: sp.Expr) -> bool:
    return bool(value.is_zero) or value.evalf(PRECISION) == 0


def _difference(first: object, second: object) -> sp.Rational:
    """The exact difference of two float64 numbers."""
    return sp.Rational(float(np.asarray(first))) - sp.Rational(float(np.asarray(second)))
