"""The computational graph of a derivation as data: nodes laid out in layers, edges
labelled with their local derivatives.

Nodes are the leaves (inputs, targets, parameters) and the defined quantities; an edge
runs from a quantity to each quantity defined from it and carries the ``Factor`` of that
edge (its result is the label) and, given values, the factor's number. Each node carries,
given values, its forward value and dL/d(node). Layers go left to right by dependency
depth; a leaf sits one layer before its first consumer. Within a layer the nodes are
ordered and placed by ``symgrad.graph_layout`` (few crossings, each node near its
neighbours, a unit's weights and bias beside each other, a target beside its
prediction). Where each edge's label sits along it is the drawing's business, which knows
the sizes of the texts (``symgrad.render.drawn``). Drawing is the render layer's job
(``symgrad.pictures`` and the templates ``latex/figures.j2`` and ``svg/graph.svg.j2``).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from . import layout
from ..calculus.backward import Factor
from ..calculus.derivation import Derivation

MAX_DRAWN_NODES = 40
"""Graphs up to this many nodes are drawn; a larger one is summarised in a sentence."""
MAX_LABELLED_NODES = 12
"""Graphs up to this many nodes label each edge with its local derivative and its number
and each node with ``dL/d(node) = ...``; a larger (compact) one shows the numbers alone,
so that its labels stay legible when the picture is scaled to the page."""


def compact(worked: bool, nodes: int) -> bool:
    """Whether a graph of ``nodes`` nodes is labelled with numbers alone: more than
    ``MAX_LABELLED_NODES``, given values (``worked``)."""
    return worked and nodes > MAX_LABELLED_NODES


@dataclass(frozen=True)
class Node:
    """One quantity: ``kind`` is the leaf's role (input, target, parameter, variable) or
    the definition's role (weighted sum, activation, loss, ...); ``column`` and ``row``
    place it (row 0 at the top; a row may be a fraction, in quarters, as nodes of a short
    layer sit near their neighbours; nodes of a column are at least a row apart)."""

    symbol: sp.Symbol
    kind: str
    column: int
    row: float
    value: sp.Expr | None = None
    gradient: sp.Expr | None = None


@dataclass(frozen=True)
class Edge:
    """``source`` is used to compute ``target``; ``factor`` is d(target)/d(source) and
    ``value`` its number at the given values."""

    source: sp.Symbol
    target: sp.Symbol
    factor: Factor
    value: sp.Expr | None = None


@dataclass(frozen=True)
class GraphPicture:
    """The laid-out graph: ``columns`` layers, at most ``rows`` nodes in one."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    columns: int
    rows: int
    worked: bool

    @property
    def drawn(self) -> bool:
        """Whether the graph is small enough to draw (``MAX_DRAWN_NODES``)."""
        return len(self.nodes) <= MAX_DRAWN_NODES

    @property
    def compact(self) -> bool:
        """Whether the labels are numbers alone (more than ``MAX_LABELLED_NODES`` nodes,
        given values)."""
        return compact(self.worked, len(self.nodes))

    @property
    def unnumbered(self) -> int:
        """How many edges of a graph with values carry no number: their local derivative
        is not a finite real number at the values (see ``drawn_number``)."""
        return sum(1 for e in self.edges if e.value is None) if self.worked else 0

    def node(self, symbol: sp.Symbol) -> Node:
        """The node of ``symbol``."""
        return next(n for n in self.nodes if n.symbol == symbol)


def computational_graph(derivation: Derivation) -> GraphPicture:
    """The graph of ``derivation``'s loss, laid out, with its numbers if it has values."""
    graph = derivation.graph
    leaves = {s: g.role for g in graph.groups for s in g.symbols}
    defined = {d.symbol: d for d in graph.definitions}
    inputs = {d.symbol: [s for s in _ordered(d.expr) if s in leaves or s in defined]
              for d in graph.definitions}
    columns = _columns(inputs, leaves)
    kinds = {**leaves, **{s: d.role.value for s, d in defined.items()}}
    order = list(leaves) + list(defined)
    pairs = [(source, target) for target, sources in inputs.items() for source in sources]
    rows = layout.layout_rows(columns, order, pairs, _companions(derivation, columns, pairs))
    edges = tuple(_edge(derivation, source, target) for source, target in pairs)
    nodes = tuple(Node(s, kinds[s], columns[s], rows[s], *_numbers(derivation, s)) for s in order)
    height = max(sum(1 for c in columns.values() if c == k) for k in set(columns.values()))
    return GraphPicture(nodes, edges, max(columns.values()) + 1, height,
                        derivation.worked is not None)


def _ordered(expr: sp.Expr) -> list[sp.Symbol]:
    """The symbols of ``expr`` in a stable order (by name)."""
    return sorted(expr.free_symbols, key=sp.default_sort_key)


def _columns(inputs: dict[sp.Symbol, list[sp.Symbol]],
             leaves: dict[sp.Symbol, str]) -> dict[sp.Symbol, int]:
    """Each definition one column right of its deepest input; each leaf one column left
    of its first consumer (so a target sits next to the loss)."""
    depth: dict[sp.Symbol, int] = {}
    for symbol, sources in inputs.items():
        depth[symbol] = 1 + max((depth.get(s, 0) for s in sources), default=0)
    for leaf in leaves:
        consumers = [depth[c] for c, sources in inputs.items() if leaf in sources]
        depth[leaf] = min(consumers, default=1) - 1
    return depth


def _companions(derivation: Derivation, columns: dict[sp.Symbol, int],
                pairs: list[tuple[sp.Symbol, sp.Symbol]]) -> dict[sp.Symbol, sp.Symbol]:
    """Each leaf that is a companion of a quantity in its column: the two share a term
    of a definition, and every use of the quantity uses the leaf too (a target ``y_k``
    of its prediction ``yhat_k``, in the loss's term for it). Drawn beside each other."""
    graph = derivation.graph
    leaves = {s for g in graph.groups for s in g.symbols}
    uses = {s: {t for u, t in pairs if u == s} for s in columns}
    companions: dict[sp.Symbol, sp.Symbol] = {}
    for leaf in (s for s in columns if s in leaves):
        for target in sorted(uses[leaf], key=sp.default_sort_key):
            terms = sp.Add.make_args(graph.definition(target).expr)
            partners = [s for term in terms if leaf in term.free_symbols
                        for s in _ordered(term) if s not in leaves and s in columns
                        and columns[s] == columns[leaf] and uses[s] <= uses[leaf]]
            if partners and leaf not in companions:
                companions[leaf] = partners[0]
    return companions


def _edge(derivation: Derivation, source: sp.Symbol, target: sp.Symbol) -> Edge:
    """The edge with the derivation's factor, or one derived here for an edge no gradient
    uses (from an input or a target)."""
    factor = derivation.backward.factors.get((target, source))
    if factor is None:
        factor = Factor.derived(target, source, derivation.graph.definition(target).expr)
    worked = derivation.worked
    if worked is None:
        return Edge(source, target, factor)
    value = worked.factors.get((target, source))
    if value is None:
        value = factor.result.xreplace({**worked.given, **worked.forward})
    return Edge(source, target, factor, drawn_number(value))


def _numbers(derivation: Derivation, symbol: sp.Symbol) -> tuple[sp.Expr | None, sp.Expr | None]:
    """The forward (or given) value of ``symbol`` and dL/d(symbol), where known."""
    worked = derivation.worked
    if worked is None:
        return None, None
    value = drawn_number(worked.forward.get(symbol, worked.given.get(symbol)))
    if symbol == derivation.loss:
        return value, sp.Integer(1)
    return value, drawn_number(worked.adjoints.get(symbol, worked.gradients.get(symbol)))


def drawn_number(value: object) -> sp.Number | None:
    """``value`` as a real, finite number, as a picture writes it: a number as it is (an
    exact given value stays exact), anything else evaluated to 30 digits; None if it is
    unknown or does not evaluate to one (undefined, infinite, complex, or a function SymPy
    cannot evaluate): the picture then writes no number there."""
    if value is None:
        return None
    try:
        number = sp.sympify(value)
        if not number.is_Number:
            number = number.evalf(30)
    except (TypeError, ValueError, ArithmeticError, sp.SympifyError):
        return None
    if not (number.is_Number and number.is_finite and number.is_extended_real):
        return None
    return number
