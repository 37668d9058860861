"""Local derivatives grouped by kind: the factors that are one derivative up to the names
of their symbols (dz_j/dW_jk = a_k for every unit j and input k of a layer; da_j/dz_j =
a_j (1 - a_j) for every sigmoid unit), so that what is checked and printed once per kind
grows like the network's layers, not like its weights.

Two factors are of one kind when a renaming of symbols (one to one) takes the first's
expression, variable, quantity and result to the second's. The signature that finds them
reads a weighted sum (a sum whose terms share no symbol) by the term that holds the
variable and by the shapes of the others, counted once per sum, so a wide layer's
thousands of weight factors cost one look at each term, not one at each sum.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Hashable, Iterable

import sympy as sp

from .backward import Factor


@dataclass(frozen=True)
class Kind:
    """Factors equal up to renaming their symbols; ``factors[0]`` stands for them all."""

    factors: tuple[Factor, ...]

    @property
    def representative(self) -> Factor:
        """The factor derived, checked and printed for the kind."""
        return self.factors[0]


def factor_kinds(factors: Iterable[Factor]) -> tuple[Kind, ...]:
    """The kinds of ``factors``, each in the order its first factor comes."""
    sums: dict[sp.Expr, tuple | None] = {}
    found: dict[Hashable, list[Factor]] = {}
    for f in factors:
        found.setdefault(_signature(f, sums), []).append(f)
    return tuple(Kind(tuple(members)) for members in found.values())


VARIABLE, QUANTITY = "var", "of"
"""The places the variable and the defined quantity take in a signature."""


def _signature(factor: Factor, sums: dict[sp.Expr, tuple | None]) -> Hashable:
    """What two factors of one kind share: their expression, variable, quantity and result
    with the symbols numbered in order of appearance; for a weighted sum, the variable's
    term so numbered and the shapes of all the terms (``sums`` keeps them per sum)."""
    if factor.expr not in sums:
        sums[factor.expr] = _terms(factor.expr)
    terms = sums[factor.expr]
    numbered: dict[sp.Symbol, Hashable] = {factor.wrt: VARIABLE, factor.of: QUANTITY}
    term = None if terms is None else terms[1].get(factor.wrt)
    if term is not None:
        key = ("sum", terms[0], terms[2][term], _shape(term, numbered))
    else:
        key = ("whole", _shape(factor.expr, numbered))
    result = _shape(factor.result, numbered, grow=False)
    # a result naming a symbol its expression (or term) lacks is a kind of its own
    return key + (result,) if result is not None else ("own", factor.of, factor.wrt)


def _terms(expr: sp.Expr) -> tuple | None:
    """For a sum whose terms share no symbol: the multiset of the terms' shapes, the term
    each symbol is in and each term's shape; None for anything else."""
    if not isinstance(expr, sp.Add):
        return None
    holder: dict[sp.Symbol, sp.Expr] = {}
    for term in expr.args:
        for s in term.free_symbols:
            if s in holder:
                return None
            holder[s] = term
    shapes = {term: _shape(term, {}) for term in expr.args}
    return tuple(sorted(Counter(shapes.values()).items(), key=repr)), holder, shapes


def _shape(expr: sp.Expr, numbered: dict[sp.Symbol, Hashable], grow: bool = True
           ) -> tuple | None:
    """``expr`` as nested tuples, each symbol replaced by its place in ``numbered``, a new
    symbol numbered in order of appearance (and added); with ``grow`` False, None when a
    symbol is not in ``numbered`` (a result that names something its expression lacks)."""

    def walk(e: sp.Basic) -> tuple:
        if isinstance(e, sp.Symbol):
            if e not in numbered:
                if not grow:
                    raise KeyError(e)
                numbered[e] = len(numbered)
            return ("s", numbered[e], e.is_real)
        if not e.args:
            return (type(e), e)
        return (type(e),) + tuple(walk(a) for a in e.args)

    try:
        return walk(expr)
    except KeyError:
        return None
