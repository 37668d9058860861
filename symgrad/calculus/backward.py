"""The backward pass as data: one ``Factor`` per local derivative (derived step by step),
one ``Adjoint`` per intermediate quantity (dL/dv, the backprop delta, derived once and
reused by name) and one ``Gradient`` per requested parameter, with its paths from L.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterator, Mapping, Sequence

import sympy as sp

from ..model.graph import Graph
from .rules import Step, differentiate
from .together import cancelling


@dataclass(frozen=True)
class Factor:
    """The local derivative d(of)/d(wrt) of one edge of the graph, where ``of`` is defined
    as ``expr``: its ``result``, derived step by step in ``step``.

    The steps are worked out when first asked for, so that a wide network, whose weighted
    sums give thousands of factors read off their terms, does not derive sum rules that
    no document shows.
    """

    of: sp.Symbol
    wrt: sp.Symbol
    expr: sp.Expr
    result: sp.Expr

    @classmethod
    def derived(cls, of: sp.Symbol, wrt: sp.Symbol, expr: sp.Expr,
                names: Mapping[sp.Expr, sp.Symbol] | None = None) -> "Factor":
        """The factor with its steps derived now and its result taken from them, written
        with the ``names`` of quantities the forward pass computes (sigma(z) as a, so
        that sigma'(z) = a (1 - a) as textbooks write it)."""
        step = differentiate(expr, wrt)
        factor = cls(of, wrt, expr, step.result.xreplace(names or {}))
        factor.__dict__["step"] = step
        return factor

    @cached_property
    def step(self) -> Step:
        """The step-by-step derivation of d(expr)/d(wrt)."""
        return differentiate(self.expr, self.wrt)

    @property
    def symbol(self) -> sp.Expr:
        """The factor as an unevaluated derivative, d(of)/d(wrt)."""
        return sp.Derivative(self.of, self.wrt)


@dataclass(frozen=True)
class Term:
    """One consumer's share of a chain rule sum: dL/d(consumer) * d(consumer)/d(node)."""

    consumer: sp.Symbol
    factor: Factor


@dataclass(frozen=True)
class Adjoint:
    """dL/d(node), the sum over the node's consumers, derived once.

    ``name`` is how later steps refer to it (delta for a weighted sum, else dL/dv);
    ``named`` says whether they do (True) or use ``value`` inline (False). For an output
    layer's delta, ``simplification`` is the SIMPLIFY step from the chain-rule sum written
    in forward quantities to the textbook form (yhat - y for softmax with categorical
    cross-entropy, and for sigmoid with binary cross-entropy); ``given`` is what that
    form assumes, if anything (the targets sum to 1).
    """

    node: sp.Symbol
    name: sp.Expr
    terms: tuple[Term, ...]
    value: sp.Expr
    named: bool
    simplification: Step | None = None
    given: sp.Eq | None = None

    @property
    def reference(self) -> sp.Expr:
        """What an expression that uses this adjoint contains: its name or its value."""
        return self.name if self.named else self.value


@dataclass(frozen=True)
class Path:
    """One route from L down to a parameter (L <- yhat <- z <- w) and its chain of factors."""

    nodes: tuple[sp.Symbol, ...]
    factors: tuple[Factor, ...]

    @property
    def product(self) -> sp.Expr:
        """The chain-rule product of the factors' results, as written (unevaluated)."""
        results = [f.result for f in self.factors]
        return results[0] if len(results) == 1 else sp.Mul(*results, evaluate=False)


@dataclass(frozen=True)
class Gradient:
    """dL/d(parameter): the sum over the parameter's consumers, with lazy expanded views."""

    parameter: sp.Symbol
    terms: tuple[Term, ...]
    result: sp.Expr
    backward: "Backward" = field(repr=False, compare=False)

    @cached_property
    def paths(self) -> tuple[Path, ...]:
        """Every route from L to the parameter: their sum of products is the gradient."""
        return tuple(self.backward.paths(self.parameter))

    @property
    def path_count(self) -> int:
        """How many routes lead from L to the parameter, counted without listing them (a
        first-layer weight of a deep network has exponentially many)."""
        return self.backward.path_count(self.parameter)

    @property
    def product(self) -> sp.Expr:
        """The sum over paths of the chain-rule products, as written."""
        products = [p.product for p in self.paths]
        return products[0] if len(products) == 1 else sp.Add(*products, evaluate=False)

    @cached_property
    def together(self) -> tuple[sp.Expr, ...]:
        """For one path whose factors cancel (a sigmoid with binary cross-entropy), the
        forms from the chain-rule ``product`` to ``intermediate``: the other factors
        distributed over the bracket of fractions, each term cancelled, the terms
        collected; () otherwise."""
        return cancelling(self.product) if len(self.paths) == 1 else ()

    @cached_property
    def intermediate(self) -> sp.Expr:
        """The gradient simplified, in intermediate quantities (yhat, z, a, ...)."""
        if self.together:
            return self.together[-1]
        return tidy(sp.Add(*(sp.Mul(*(f.result for f in p.factors)) for p in self.paths)))

    @cached_property
    def expanded(self) -> sp.Expr:
        """The gradient fully in terms of inputs, targets and parameters."""
        return self.backward.graph_expand(self.intermediate)


@dataclass(frozen=True)
class Backward:
    """The backward pass: every local factor and adjoint, shared by all gradients."""

    graph: Graph
    factors: Mapping[tuple[sp.Symbol, sp.Symbol], Factor]
    adjoints: Mapping[sp.Symbol, Adjoint]
    consumers: Mapping[sp.Symbol, tuple[sp.Symbol, ...]]

    def paths(self, start: sp.Symbol) -> Iterator[Path]:
        """The routes from L down to ``start``, through the relevant quantities."""
        if start == self.graph.loss:
            yield Path((start,), ())
            return
        for consumer in self.consumers.get(start, ()):
            factor = self.factors[(consumer, start)]
            for rest in self.paths(consumer):
                yield Path(rest.nodes + (start,), rest.factors + (factor,))

    def factors_met(self, starts: Sequence[sp.Symbol]) -> list[Factor]:
        """The distinct factors on the paths from L to each of ``starts``, in the order that
        listing those paths (``paths``) first meets them, found without listing them: each
        quantity is visited once, and a consumer's first path walked up on the way.

        The paths to v through a consumer c are c's paths each followed by d(c)/d(v), so
        they meet c's first path, then d(c)/d(v), then whatever c's other paths add.
        """
        seen: dict[Factor, None] = {}
        done: set[sp.Symbol] = set()

        def visit(v: sp.Symbol) -> None:
            for c in self.consumers.get(v, ()):
                if c not in done:
                    seen.update(dict.fromkeys(self._first_path(c)))
                seen.setdefault(self.factors[(c, v)])
                if c not in done:
                    visit(c)
            done.add(v)

        for start in starts:
            visit(start)
        return list(seen)

    def _first_path(self, v: sp.Symbol) -> list[Factor]:
        """The factors of the first path from L to ``v``, L's end first."""
        chain = []
        while v in self.consumers and self.consumers[v]:
            c = self.consumers[v][0]
            chain.append(self.factors[(c, v)])
            v = c
        return chain[::-1]

    def path_count(self, start: sp.Symbol) -> int:
        """The number of routes ``paths(start)`` yields, by one pass over the consumers."""
        return self._path_counts.get(start, 0)

    @cached_property
    def _path_counts(self) -> dict[sp.Symbol, int]:
        counts = {self.graph.loss: 1}
        for d in reversed(self.graph.definitions[:-1]):
            counts[d.symbol] = sum(counts.get(c, 0) for c in self.consumers.get(d.symbol, ()))
        for v, users in self.consumers.items():
            if v not in counts:
                counts[v] = sum(counts.get(c, 0) for c in users)
        return counts

    def graph_expand(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with every intermediate quantity replaced by its definition."""
        for d in reversed(self.graph.definitions):
            expr = expr.xreplace({d.symbol: d.expr})
        return expr


def tidy(expr: sp.Expr) -> sp.Expr:
    """The shortest of a few cheap equivalent forms (never a slow full ``simplify``)."""
    candidates = [expr, sp.factor_terms(expr)]
    return min(candidates, key=sp.count_ops)
