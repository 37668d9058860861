"""Kinks the worked values hit: a ReLU, leaky ReLU, |u|, max or min exactly at the point
where it has no derivative, the derivative symgrad takes there, and what float64 code makes
of the same values (and the kinks float64 puts on another side than the exact values do).

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
from .source import python_source
from .reading import Place, places

KINKED: dict[type, str] = {relu: "relu", leaky_relu: "leaky_relu", sp.Abs: "abs",
                           sp.Max: "max", sp.Min: "min"}
"""The functions with a kink, by the name the documents' sentences use."""

RTOL, ATOL = 1e-9, 1e-12
"""When a float64 gradient agrees with the exact one (the notebook's check uses the same)."""


@dataclass(frozen=True)
class Kink:
    """One call ``call`` (``relu(z)``, ``max(w x, b)``) with a kink where its ``sides`` are
    equal (for relu, leaky_relu and abs: its argument and 0), which the worked values hit
    (``exact``, their difference, is 0) or float64 code puts on another side than they do.
    ``slope`` is the derivative symgrad takes at the kink (through each argument, for max and
    min); ``computed`` is the sides' difference as float64 code computes the sides."""

    function: str
    call: sp.Expr
    sides: tuple[sp.Expr, sp.Expr]
    slope: sp.Expr
    exact: sp.Expr
    computed: sp.Rational

    @property
    def hit(self) -> bool:
        """True when the worked values put the sides exactly equal."""
        return self.exact == 0

    @property
    def hit_in_float(self) -> bool:
        """True when float64 arithmetic puts the sides exactly equal."""
        return self.computed == 0


@dataclass(frozen=True)
class Kinks:
    """The kinks hit exactly or put on another side by float64, the float64 gradients at
    the given values (as the compiled code computes them) and the parameters whose float64
    gradient differs from the exact one (beyond ``RTOL`` and ``ATOL``)."""

    kinks: tuple[Kink, ...]
    gradients: dict[sp.Symbol, float]
    differing: tuple[sp.Symbol, ...]

    @property
    def hit(self) -> tuple[Kink, ...]:
        """The kinks the worked values hit exactly."""
        return tuple(k for k in self.kinks if k.hit)

    @property
    def missed(self) -> tuple[Kink, ...]:
        """The kinks hit exactly that float64 arithmetic does not land on."""
        return tuple(k for k in self.hit if not k.hit_in_float)

    @property
    def moved(self) -> tuple[Kink, ...]:
        """The kinks not hit exactly that float64 puts on another side (or on the kink)."""
        return tuple(k for k in self.kinks if not k.hit)

    @staticmethod
    def places(kinks: list[Kink], derivation: Derivation) -> tuple[Place, ...] | None:
        """Where in a network ``kinks`` (of ReLUs or leaky ReLUs) are, by layers, units and
        samples (``reading.places``); None unless each is a network unit's weighted sum."""
        sums = [k.sides[0] for k in kinks]
        if derivation.graph.kind != "network" or not all(
                getattr(s, "layer", None) is not None and getattr(s, "base", None) == "z"
                for s in sums):
            return None
        return places(sums, derivation.graph)


def kinks(derivation: Derivation) -> Kinks | None:
    """The kinks the worked values hit exactly or float64 puts on another side, with
    float64's gradients; None without values or when there are none."""
    worked = derivation.worked
    if worked is None:
        return None
    env = {**worked.given, **worked.forward}
    calls = [c for d in derivation.graph.definitions for c in _calls(d.expr, env)]
    if not calls:
        return None
    graph = derivation.graph
    leaves = [s for g in graph.groups for s in g.symbols]
    floats = [float(worked.given[s]) for s in leaves]
    program = [(d.symbol, d.expr) for d in graph.definitions]
    sides = [side for _, _, pair, _, _ in calls for side in pair]
    computed = python_source(leaves, program, sides, "sides").load()(*floats)
    found = []
    for i, (function, call, pair, slope, exact) in enumerate(calls):
        difference = _difference(computed[2 * i], computed[2 * i + 1])
        if exact == 0 or sp.sign(exact) != sp.sign(difference):
            found.append(Kink(function, call, pair, slope, exact, difference))
    if not found:
        return None
    from .compile import compile  # deferred: code generation only where a kink is hit
    loss, *grads = compile(derivation, form="index").function(*floats)
    gradients = {p: float(np.asarray(v, dtype=float)) for p, v in zip(derivation.parameters, grads)}
    differing = tuple(p for p, v in gradients.items()
                      if not np.isclose(v, float(worked.gradients[p]), rtol=RTOL, atol=ATOL))
    return Kinks(tuple(found), gradients, differing)


def _calls(expr: sp.Expr, env: dict) -> list[tuple[str, sp.Expr, tuple, sp.Expr, sp.Expr]]:
    """The kinked calls in ``expr``: (name, call, sides, slope, the sides' difference under
    ``env``, exact up to PRECISION digits)."""
    out, seen = [], set()
    for call in sp.preorder_traversal(expr):
        function = KINKED.get(type(call))
        if function is None or call in seen:
            continue
        seen.add(call)
        if function in ("max", "min"):
            pair, slope = _leaders(call, env), sp.S.Zero
        else:
            pair = (call.args[0], sp.S.Zero)
            slope = call.args[1] if function == "leaky_relu" else sp.S.Zero
        if pair is not None:
            out.append((function, call, pair, slope, _exact((pair[0] - pair[1]).xreplace(env))))
    return out


def _leaders(call: sp.Max | sp.Min, env: dict) -> tuple[sp.Expr, sp.Expr] | None:
    """The two arguments of ``call`` nearest its value under ``env`` (tied at a kink), in
    the call's order."""
    if len(call.args) < 2:
        return None
    values = [a.xreplace(env).evalf(PRECISION) for a in call.args]
    ranked = sorted(range(len(values)), key=lambda i: values[i],
                    reverse=isinstance(call, sp.Max))
    first, second = sorted(ranked[:2])
    return call.args[first], call.args[second]


def _exact(value: sp.Expr) -> sp.Expr:
    """``value`` as a number: exact when it is one, else to PRECISION digits (0 when zero)."""
    if value.is_zero:
        return sp.S.Zero
    number = value if value.is_Rational else value.evalf(PRECISION)
    return sp.S.Zero if number == 0 else number


def _difference(first: object, second: object) -> sp.Rational:
    """The exact difference of two float64 numbers."""
    return sp.Rational(float(np.asarray(first))) - sp.Rational(float(np.asarray(second)))
