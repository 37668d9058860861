"""Forms as written: products, sums and quotients built without letting SymPy reorder,
distribute or merge them, and the cheap simplification that leads from a raw form to a result.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp


def times(*factors: sp.Expr) -> sp.Expr:
    """The product as written: no reordering, merging or distributing."""
    return factors[0] if len(factors) == 1 else sp.Mul(*factors, evaluate=False)


def plus(*terms: sp.Expr) -> sp.Expr:
    """The sum as written."""
    return terms[0] if len(terms) == 1 else sp.Add(*terms, evaluate=False)


def minus(term: sp.Expr) -> sp.Expr:
    """-term as written."""
    return sp.Mul(sp.S.NegativeOne, term, evaluate=False)


def over(numerator: sp.Expr, denominator: sp.Expr) -> sp.Expr:
    """numerator / denominator as written (1 / x without a factor 1, which is not shown)."""
    reciprocal = sp.Pow(denominator, -1, evaluate=False)
    return reciprocal if numerator == 1 else sp.Mul(numerator, reciprocal, evaluate=False)


def substitute(expr: sp.Expr, old: sp.Symbol, new: sp.Expr) -> sp.Expr:
    """``expr`` with ``old`` replaced by ``new`` and nothing re-evaluated."""
    with sp.evaluate(False):
        return expr.xreplace({old: new})


@lru_cache(maxsize=8192)  # a raw form holds its sub-steps' results, evaluated before
def evaluated(expr: sp.Expr) -> sp.Expr:
    """``expr`` as SymPy evaluates it (every unevaluated node rebuilt)."""
    if not expr.args or isinstance(expr, (sp.Symbol, sp.Number)):
        return expr
    return expr.func(*(evaluated(a) for a in expr.args))


def simplified(raw: sp.Expr) -> sp.Expr:
    """The shortest of the raw form, SymPy's evaluation of it and that with common factors
    pulled out (2 (yhat - y) rather than 2 yhat - 2 y). Ties go to the form with fewer
    terms 0 and factors 1 (x + 0 becomes x), then to the raw form, then the factored one."""
    value = evaluated(raw)
    candidates = list(dict.fromkeys([raw, sp.factor_terms(value), value]))
    if len(candidates) == 1:  # often: nothing to evaluate, so nothing to count
        return raw
    return min(candidates, key=lambda e: (sp.count_ops(e), _trivial(e)))


def _trivial(expr: sp.Expr) -> int:
    """How many terms 0 and factors 1 an unevaluated form carries (x + 0, x * 1)."""
    own = isinstance(expr, sp.Add) and sp.S.Zero in expr.args or \
        isinstance(expr, sp.Mul) and sp.S.One in expr.args
    return int(own) + sum(_trivial(a) for a in expr.args)
