"""The lines of a cancellation, as a textbook writes them: a product whose one factor is a
sum of fractions, the other factors distributed over that sum, each term cancelled, the
sum multiplied out and collected (``cancelling``), as for a sigmoid with binary
cross-entropy: -((y - 1)/(1 - yhat) + y/yhat) yhat (1 - yhat) x = (yhat - y) x.
"""

from __future__ import annotations

import sympy as sp

from .forms import minus, plus, times


def cancelling(product: sp.Expr) -> tuple[sp.Expr, ...]:
    """The forms after ``product`` (a product as written), each equal to the one before,
    down to the cancelled form; () when no factor's fractions cancel against the others."""
    return _cancellation(product)[0]


def cancelling_guides(product: sp.Expr) -> dict[sp.Expr, sp.Expr]:
    """The sums of ``cancelling``'s forms written term for term from the bracket of
    fractions, each mapped to that bracket (the order a printer keeps, as
    ``written.term_guides``)."""
    return _cancellation(product)[1]


def _cancellation(product: sp.Expr) -> tuple[tuple[sp.Expr, ...], dict[sp.Expr, sp.Expr]]:
    factors = list(sp.Mul.make_args(product)) if isinstance(product, sp.Mul) else [product]
    negative, found = False, None
    for i, f in enumerate(factors):
        bracket = f.args[1] if _negated(f) else f
        if isinstance(bracket, sp.Add) and any(sp.denom(t) != 1 for t in bracket.args):
            negative, found = _negated(f), i
            break
    if found is None:
        return (), {}
    bracket = factors[found].args[1] if negative else factors[found]
    below = set().union(*(sp.denom(t).free_symbols for t in bracket.args))
    cancelling_factors = [f for j, f in enumerate(factors) if j != found and f.free_symbols & below]
    rest = [f for j, f in enumerate(factors) if j != found and f not in cancelling_factors and f != 1]
    if not cancelling_factors:
        return (), {}
    terms = [sp.Mul(*sp.Mul.make_args(t), *cancelling_factors) for t in bracket.args]
    if any(sp.denom(t).free_symbols & below for t in terms):
        return (), {}
    multiplied = sp.expand(sp.Add(*terms))

    def outside(inner: sp.Expr) -> sp.Expr:
        form = times(*rest, inner) if rest else inner
        return minus(form) if negative else form

    sums = [plus(*(times(t, *cancelling_factors) for t in bracket.args)), plus(*terms)]
    forms = [outside(sums[0]), outside(sums[1]), outside(multiplied)]
    final = sp.Mul(*rest, -multiplied if negative else multiplied)
    return tuple(forms + [final]), {s: bracket for s in sums}


def _negated(factor: sp.Expr) -> bool:
    """True for -(sum), written as a product of -1 and the sum."""
    return isinstance(factor, sp.Mul) and len(factor.args) == 2 and factor.args[0] == -1 \
        and isinstance(factor.args[1], sp.Add)


def collecting(expr: sp.Expr, given: sp.Eq) -> tuple[sp.Expr, ...]:
    """A sum multiplied out, collected over the symbols of ``given``'s left side (a sum
    equal to a constant, such as y_1 + y_2 + y_3 = 1) and that sum replaced: the forms
    after ``expr``; the last holds only where ``given`` does. () when the sum is not there."""
    multiplied = sp.expand(expr)
    targets = given.lhs.free_symbols
    outputs = sorted(multiplied.free_symbols - targets, key=sp.default_sort_key)
    collected = sp.collect(multiplied, outputs, evaluate=False)
    parts = []
    for key, coefficient in collected.items():
        if sp.expand(coefficient - given.lhs) == 0:
            parts.append(times(key, given.lhs))
        else:
            parts.append(coefficient if key == 1 else times(coefficient, key))
    written = plus(*parts)
    if not any(isinstance(p, sp.Mul) and given.lhs in p.args for p in parts):
        return ()
    used = sp.Add(*(p.xreplace({given.lhs: given.rhs}) for p in parts))
    return multiplied, written, used
