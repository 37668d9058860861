"""The exploding-gradient search of a worked network: the products of the local
derivatives along the paths from each quantity up to the loss, found by dynamic
programming over the graph's edges (``Gains``), so that the largest is known and the
paths past the limit are counted without listing the exponentially many paths of a deep
network; ``reading`` says what they mean.
"""

from __future__ import annotations

import sympy as sp

from ..calculus.derivation import Derivation

EXPLODING = 10
"""A path whose factors (past the parameter's own) multiply to more than this in size."""

LONG = 3
"""Paths of this many steps from a quantity up to the loss, or more, have the two factors
an exploding product needs (the loss's own derivative left out)."""


class Gains:
    """The products of factors along the paths from a quantity up to the loss (the loss's
    own derivative left out), by dynamic programming over the graph in backward order:
    for each quantity the smallest product in size and, by the path's length (one, two,
    three or more steps), the largest and the consumer it goes through (the first, where
    two are as large, as a listing of the paths meets them)."""

    def __init__(self, derivation: Derivation):
        self.backward, self.values = derivation.backward, derivation.worked.factors
        self.loss = derivation.loss
        self.high: dict[sp.Symbol, dict[int, tuple[sp.Expr, sp.Symbol, int]]] = {
            self.loss: {0: (sp.S.One, None, 0)}}
        self.low: dict[sp.Symbol, sp.Expr] = {self.loss: sp.S.One}
        self.steps: dict[sp.Symbol, int] = {}
        for d in reversed(derivation.graph.definitions[:-1]):
            if d.symbol in self.backward.consumers:
                self._visit(d.symbol)

    def gain(self, consumer: sp.Symbol, v: sp.Symbol) -> sp.Expr:
        """The factor d(consumer)/dv at the values in size, 1 into the loss (left out)."""
        return sp.S.One if consumer == self.loss else abs(self.values[(consumer, v)])

    def _visit(self, v: sp.Symbol) -> None:
        users = self.backward.consumers[v]
        high: dict[int, tuple[sp.Expr, sp.Symbol, int]] = {}
        for c in users:
            g = self.gain(c, v)
            for length, (h, _, _) in self.high[c].items():
                step = min(length + 1, LONG)
                if step not in high or g * h > high[step][0]:
                    high[step] = (g * h, c, length)
        self.high[v] = high
        self.low[v] = min(self.gain(c, v) * self.low[c] for c in users)
        self.steps[v] = min(0 if c == self.loss else self.steps[c] + 1 for c in users)

    def largest(self, v: sp.Symbol) -> tuple[tuple[sp.Symbol, ...], sp.Expr] | None:
        """The path from the loss down to ``v`` of at least two factors with the largest
        product in size, and the product (signed), when it passes EXPLODING; else None."""
        if LONG not in self.high.get(v, {}) or self.high[v][LONG][0] <= EXPLODING:
            return None
        route, length = [v], LONG
        while route[-1] != self.loss:
            _, consumer, length = self.high[route[-1]][length]
            route.append(consumer)
        route.reverse()
        product = sp.Mul(*(self.values[(route[i], route[i + 1])] for i in range(1, len(route) - 1)))
        return tuple(route), product

    def count(self, v: sp.Symbol) -> int:
        """How many paths from the loss down to ``v`` multiply past EXPLODING."""
        return self._count(v, sp.S.One, 0)

    def _count(self, u: sp.Symbol, product: sp.Expr, factors: int) -> int:
        """The paths up from ``u`` past EXPLODING, ``product`` (in size) of ``factors``
        factors already multiplied: none where even the largest stays below, all of them
        (``Backward.path_count``) where even the smallest passes and every path is long
        enough, else the consumers' counts."""
        if u == self.loss:
            return int(bool(product > EXPLODING) and factors >= 3)
        if product * max(h for h, _, _ in self.high[u].values()) <= EXPLODING:
            return 0
        if product * self.low[u] > EXPLODING and factors + self.steps[u] >= 2:
            return self.backward.path_count(u)
        return sum(self._count(c, product * self.gain(c, u), factors + 1)
                   for c in self.backward.consumers[u])
