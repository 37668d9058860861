"""Reverse accumulation over a graph of named quantities: the backward pass and gradients.

Each local derivative is derived once (a ``Factor``); each intermediate quantity's
dL/dv is derived once (an ``Adjoint``) and later steps refer to it by name, so what is
derived grows like the network, not like the composed expression.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

import sympy as sp

from ..errors import DerivationError
from ..model.graph import Definition, Graph, Role
from ..model.symbols import Var
from .backward import Adjoint, Backward, Factor, Gradient, Term
from .rules import Rule, Step
from .together import cancelling, collecting

DELTA_ROLES = (Role.WEIGHTED_SUM, Role.ARGUMENT)


def backpropagate(graph: Graph, parameters: Sequence[sp.Symbol]) -> Backward:
    """Every factor and adjoint on the paths from L to the parameters, each derived once."""
    used = {d.symbol: d.expr.free_symbols for d in graph.definitions}  # found once: costly
    relevant = _dependents(graph, parameters, used)
    consumers: dict[sp.Symbol, list[sp.Symbol]] = {p: [] for p in parameters}
    for d in graph.definitions:
        if d.symbol in relevant:
            consumers[d.symbol] = []
            for v in used[d.symbol] & relevant:
                consumers[v].append(d.symbol)
    factors = _factors(graph, consumers)
    adjoints: dict[sp.Symbol, Adjoint] = {}
    for d in _backward_order(graph.definitions[:-1], used):
        if d.symbol in relevant:
            terms = tuple(Term(c, factors[(c, d.symbol)]) for c in consumers[d.symbol])
            uses = len(used[d.symbol] & relevant)
            adjoints[d.symbol] = _adjoint(graph, d.symbol, d.role, terms, adjoints, uses)
    return Backward(graph, factors, adjoints, {v: tuple(c) for v, c in consumers.items()})


def _backward_order(definitions: Sequence[Definition], used: Mapping[sp.Symbol, set]
                    ) -> list[Definition]:
    """Layers from the last to the first, units within a layer in their forward order.

    A block is a run of definitions of one kind and layer, none using another of the run
    (``used``: the symbols each definition's expression uses).
    """
    blocks: list[list[Definition]] = []
    members: set[sp.Symbol] = set()
    for d in definitions:
        block = blocks[-1] if blocks else []
        if block and _kind(block[0]) == _kind(d) and not members & used[d.symbol]:
            block.append(d)
        else:
            blocks.append([d])
            members = set()
        members.add(d.symbol)
    return [d for block in reversed(blocks) for d in block]


def _kind(definition: Definition) -> tuple:
    symbol = definition.symbol
    return definition.role, getattr(symbol, "base", symbol.name), getattr(symbol, "layer", None)


def _dependents(graph: Graph, parameters: Sequence[sp.Symbol],
                used: Mapping[sp.Symbol, set]) -> set[sp.Symbol]:
    """The parameters and every quantity computed from them; each parameter must reach L."""
    ancestors = {graph.loss}
    for d in reversed(graph.definitions):
        if d.symbol in ancestors:
            ancestors |= used[d.symbol]
    for p in parameters:
        if p not in ancestors:
            raise DerivationError(f"{graph.loss} does not depend on {p.name}")
    relevant = set(parameters)
    for d in graph.definitions:
        if used[d.symbol] & relevant:
            relevant.add(d.symbol)
    return relevant


def _factors(graph: Graph, consumers: Mapping[sp.Symbol, Sequence[sp.Symbol]]
             ) -> dict[tuple[sp.Symbol, sp.Symbol], Factor]:
    """Each local derivative d(consumer)/d(v): read off a weighted sum's terms where it
    can be (the steps are derived when shown), renamed from a unit's like it (``_renamed``),
    otherwise derived step by step now."""
    linear: dict[sp.Symbol, dict[sp.Symbol, sp.Expr]] = {}
    names = graph.activation_names
    factors, units = {}, {}
    for v, users in consumers.items():
        for c in users:
            expr = graph.definition(c).expr
            if c not in linear:
                linear[c] = coefficients(expr)
            coefficient = linear[c].get(v)
            factors[(c, v)] = Factor(c, v, expr, coefficient) if coefficient is not None \
                else _renamed(c, v, expr, units) or Factor.derived(c, v, expr, names)
            if expr.args == (v,):
                units.setdefault(expr.func, factors[(c, v)])
    return factors


def _renamed(of: sp.Symbol, wrt: sp.Symbol, expr: sp.Expr, units: Mapping[type, Factor]
             ) -> Factor | None:
    """For f(v), a unit's activation of its weighted sum, the factor of the first unit with
    the same f, renamed (sigma'(z_1) = a_1 (1 - a_1) gives a_2 (1 - a_2)), its steps derived
    when shown. Only a result in one symbol is renamed: with no two names to order, SymPy
    builds the renamed result exactly as it builds the derived one."""
    first = units.get(expr.func)
    if first is None or expr.args != (wrt,) or len(first.result.free_symbols) > 1:
        return None
    return Factor(of, wrt, expr, first.result.xreplace({first.of: of, first.wrt: wrt}))


def coefficients(expr: sp.Expr) -> dict[sp.Symbol, sp.Expr]:
    """For a sum of terms, each symbol that is a plain factor of exactly one term and
    appears nowhere else, with the rest of its term: d(expr)/d(symbol)."""
    if not isinstance(expr, sp.Add):
        return {}
    found: dict[sp.Symbol, sp.Expr] = {}
    seen: set[sp.Symbol] = set()
    for term in expr.args:
        factors = term.args if isinstance(term, sp.Mul) else (term,)
        for i, f in enumerate(factors):
            if isinstance(f, sp.Symbol) and f not in seen:
                found[f] = sp.Mul(*factors[:i], *factors[i + 1:])
        for s in term.free_symbols:
            if s in seen:
                found.pop(s, None)
            seen.add(s)
    return {s: c for s, c in found.items() if (c != s if c.is_Symbol else not c.has(s))}


def _chain_sum(adjoints: Mapping[sp.Symbol, Adjoint], terms: Sequence[Term]) -> sp.Expr:
    """Sum over consumers c of dL/dc (by name, or its value when inlined) * dc/dv."""
    return _sum([_product(_reference(adjoints, t.consumer), t.factor.result) for t in terms])


def _product(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """``a * b`` as SymPy builds it; two distinct symbols (delta_j a_k, the most of a wide
    network's products) put in SymPy's order without its general flattening."""
    if isinstance(a, sp.Symbol) and isinstance(b, sp.Symbol) and a != b:
        return sp.Mul._from_args((a, b) if a.compare(b) < 0 else (b, a))
    return a * b


def _sum(terms: list[sp.Expr]) -> sp.Expr:
    """The sum of ``terms`` as SymPy builds it. SymPy orders terms by comparing them; when
    each is a product of two symbols and the first factors are distinct symbols of one
    class and assumptions (W_jk delta_j over a layer's units j), that order is the order
    of the first factors' names, found without comparing the terms."""
    firsts = [t.args[0] for t in terms if isinstance(t, sp.Mul) and len(t.args) == 2
              and isinstance(t.args[0], sp.Symbol) and isinstance(t.args[1], sp.Symbol)]
    if len(terms) < 2 or len(firsts) < len(terms) or len(set(firsts)) < len(firsts) \
            or len({(type(f), f._hashable_content()[1:]) for f in firsts}) > 1:
        return sp.Add(*terms)
    return sp.Add._from_args(sorted(terms, key=lambda t: t.args[0].name))


def _reference(adjoints: Mapping[sp.Symbol, Adjoint], consumer: sp.Symbol) -> sp.Expr:
    adjoint = adjoints.get(consumer)
    return sp.S.One if adjoint is None else adjoint.reference


def _adjoint(graph: Graph, node: sp.Symbol, role: Role, terms: tuple[Term, ...],
             adjoints: Mapping[sp.Symbol, Adjoint], uses: int) -> Adjoint:
    value = _chain_sum(adjoints, terms)
    is_delta = role in DELTA_ROLES
    name = _delta(node) if is_delta else sp.Derivative(graph.loss, node)
    adjoint = Adjoint(node, name, terms, value, named=is_delta or uses > 1)
    return _textbook(graph, adjoint, adjoints) if is_delta else adjoint


def _textbook(graph: Graph, adjoint: Adjoint, adjoints: Mapping[sp.Symbol, Adjoint]) -> Adjoint:
    """An output delta in the form a textbook writes, where that is shorter.

    The chain-rule sum is written in forward quantities (dL/dyhat inlined, sigma(z) as
    yhat), each term cancelled (term by term: cancelling the whole sum over a wide layer
    costs minutes), and for categorical cross-entropy collected over the targets, whose
    sum is 1. Deltas that still refer to later deltas, or that neither divide by
    anything nor have targets summing to 1 (a product of local derivatives, which
    cancelling would only multiply out), are left as they are.
    """
    names = {a.name for a in adjoints.values() if isinstance(a.name, Var)}
    if names & adjoint.value.free_symbols:
        return adjoint
    inline = {a.name: a.value for a in adjoints.values() if not isinstance(a.name, Var)}
    written = adjoint.value.xreplace(inline)
    if names & written.free_symbols:
        return adjoint
    written = written.xreplace(graph.activation_names)
    given = next((e for e in _target_sums(graph) if e.lhs.free_symbols & written.free_symbols),
                 None)
    if given is None and not _has_fraction(written):  # nothing cancels; expanding costs 2^depth
        return adjoint
    cancelled = sp.Add(*(sp.cancel(term) for term in sp.Add.make_args(written)))
    candidate = sp.factor_terms(_collected(cancelled, written.free_symbols, given))
    if sp.count_ops(candidate) >= sp.count_ops(written):
        return adjoint
    step = Step(Rule.SIMPLIFY, written, adjoint.node, candidate, via=_lines(written, cancelled, given))
    return replace(adjoint, value=candidate, simplification=step,
                   given=given if candidate != _collected(written, set(), None) else None)


def _has_fraction(expr: sp.Expr) -> bool:
    """True when ``expr`` divides by something (1/yhat from a cross-entropy's logarithm):
    only then can the terms cancel to a shorter form."""
    return any(p.exp.is_negative for p in expr.atoms(sp.Pow))


def _lines(written: sp.Expr, cancelled: sp.Expr, given: sp.Eq | None) -> tuple[sp.Expr, ...]:
    """The forms between an output delta as written and its textbook form: the factors that
    cancel distributed and cancelled (sigmoid with binary cross-entropy), or the cancelled
    terms multiplied out, collected over the targets and their sum put in (softmax with
    categorical cross-entropy: yhat_1 (y_1 + y_2 + y_3) - y_1, then yhat_1 - y_1)."""
    if given is None:
        return cancelling(written)[:-1]
    forms = collecting(cancelled, given)
    return (cancelled,) + forms[:-1] if forms and cancelled != written else forms[:-1]


def _target_sums(graph: Graph) -> list[sp.Eq]:
    """y_1 + ... + y_n = 1 for each sample: what categorical cross-entropy assumes."""
    targets = graph.group("y")
    if graph.loss_name != "categorical_cross_entropy" or targets is None:
        return []
    columns = graph.batch or 1
    return [sp.Eq(sp.Add(*targets.symbols[n::columns]), 1) for n in range(columns)]


def _collected(expr: sp.Expr, symbols: set[sp.Symbol], given: sp.Eq | None) -> sp.Expr:
    """``expr`` with the targets' sum replaced by 1 where it appears as a coefficient."""
    if given is None:
        return expr
    expanded = sp.expand(expr)
    outputs = [s for s in symbols if s not in given.lhs.free_symbols]
    collected = sp.collect(expanded, outputs, func=sp.factor)
    return sp.factor_terms(collected.xreplace({given.lhs: given.rhs}))


def _delta(node: sp.Symbol) -> Var:
    if isinstance(node, Var):
        return Var(f"delta_{node.name}", "delta", node.layer, node.index, node.sample)
    return Var(f"delta_{node.name}", "delta")


def gradient(backward: Backward, parameter: sp.Symbol) -> Gradient:
    """dL/d(parameter): the sum over its consumers of dL/dc (by name) times dc/d(parameter)."""
    terms = tuple(Term(c, backward.factors[(c, parameter)]) for c in backward.consumers[parameter])
    result = _chain_sum(backward.adjoints, terms)
    return Gradient(parameter, terms, result, backward)
