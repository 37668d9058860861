"""Reading the numbers of a worked derivation as a teacher would: which parameter moves most,
and the warnings the values call for (a saturated sigmoid or tanh, a ReLU that is off, a
chain of factors that multiplies up). Everything here is derived from ``Derivation.worked``;
the sentences are in templates/common/prose.j2.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..calculus.backward import Factor
from ..calculus.derivation import Derivation
from ..calculus.worked import number
from ..errors import ValuesError

SATURATED = sp.Rational(1, 10)
"""An activation whose slope is below this fraction of its largest slope is saturated."""

LARGEST_SLOPE = {"sigmoid": sp.Rational(1, 4), "tanh": sp.S.One}
"""The largest slope of each saturating activation (at z = 0)."""

EXPLODING = 10
"""A path whose factors (past the parameter's own) multiply to more than this in size."""


@dataclass(frozen=True)
class Caution:
    """One thing a teacher would point out: ``kind`` is ``saturated``, ``off`` (a ReLU
    with no gradient flowing) or ``exploding``; ``factor`` is the local derivative concerned,
    ``value`` its number (for ``exploding``, the product of the factors along ``path``, from
    the loss down to the quantity the parameters feed, reported once per path)."""

    kind: str
    factor: Factor
    value: sp.Expr
    argument: sp.Expr | None = None
    path: tuple[sp.Symbol, ...] = ()


@dataclass(frozen=True)
class Reading:
    """The parameters' gradients by size, largest first (inputs and targets left out: they
    do not move), the warnings, and with a learning rate the loss after the step
    (``after_step``; None if it is not a finite number there)."""

    ranking: tuple[tuple[sp.Symbol, sp.Expr], ...]
    warnings: tuple[Caution, ...]
    after_step: sp.Expr | None = None

    @property
    def tied(self) -> bool:
        """Whether every gradient has the same size (so the step moves each as much)."""
        return abs(self.ranking[0][1]) == abs(self.ranking[-1][1])


def read(derivation: Derivation) -> Reading | None:
    """The reading of a worked derivation; None without values."""
    worked = derivation.worked
    if worked is None:
        return None
    # only parameters move: an input's or a target's gradient is no step
    trained = derivation.trained
    ranking = sorted(((p, worked.gradients[p]) for p in trained), key=lambda item: -abs(item[1]))
    warnings = [w for f in derivation.factors if (w := _activation_warning(derivation, f))]
    warnings += _exploding(derivation)
    return Reading(tuple(ranking), tuple(warnings), loss_after_step(derivation))


def loss_after_step(derivation: Derivation) -> sp.Expr | None:
    """The loss at the updated values (exact, to 30 digits), with a learning rate; None
    without one, or where the loss is not a finite number after the step."""
    worked = derivation.worked
    if worked is None or worked.learning_rate is None:
        return None
    env: dict[sp.Expr, sp.Expr] = {**worked.given, **worked.updated}
    try:
        for d in derivation.graph.definitions:
            env[d.symbol] = number(d.expr.xreplace(env), str(d.symbol))
    except ValuesError:
        return None
    return env[derivation.loss]


def _activation_warning(derivation: Derivation, factor: Factor) -> Caution | None:
    definition = derivation.graph.definition(factor.of)
    name = None if definition is None else definition.activation
    if name is None or factor.wrt not in definition.expr.free_symbols:
        return None
    value = derivation.worked.factors[(factor.of, factor.wrt)]
    argument = derivation.worked.forward.get(factor.wrt)
    if name in LARGEST_SLOPE and abs(value) < SATURATED * LARGEST_SLOPE[name]:
        return Caution("saturated", factor, value, argument)
    if name == "relu" and float(value) == 0.0:
        return Caution("off", factor, value, argument)
    return None


def _exploding(derivation: Derivation) -> list[Caution]:
    """Paths (written out only for small models) whose factors multiply up past EXPLODING."""
    out, seen = [], set()
    for gradient in derivation.gradients:
        paths = gradient.paths
        if len(paths) > 16:
            continue
        for path in paths:
            # between the loss's own derivative and the parameter's factor (its input): the
            # chain of gains a backward pass multiplies through
            factors = path.factors[1:-1]
            if len(factors) < 2:
                continue
            product = sp.Mul(*(derivation.worked.factors[(f.of, f.wrt)] for f in factors))
            if abs(product) > EXPLODING and path.nodes[:-1] not in seen:
                seen.add(path.nodes[:-1])
                out.append(Caution("exploding", factors[-1], product, path=path.nodes[:-1]))
    return out
