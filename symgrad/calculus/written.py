"""The written forms of a step's derivative: its rule's formula with the sub-steps'
derivatives put in (``combine``), level by level from d/dx(expr) to the result (``lines``),
and the order their sums keep from line to line (``term_guides``), and the order of a sum
derived term by term from one the author wrote (``with_results``).
"""

from __future__ import annotations

import sympy as sp

from typing import Iterable

from ..model.authored import AsWritten
from .rules import Rule, Step, combine


def written(step: Step, depth: int) -> sp.Expr:
    """The derivative as written after ``depth`` rule applications, unsimplified.

    Depth 0 is d/dx(expr) itself; each level replaces the derivatives left by the level
    before with what their rule gives, keeping the shape a reader can follow.
    """
    if depth == 0:
        return sp.Derivative(step.expr, step.var)
    if not step.substeps:
        return step.raw
    parts = [written(s, depth - 1) for s in step.substeps]
    return combine(step, parts)


def lines(step: Step) -> list[sp.Expr]:
    """The successive written forms of the derivative, from d/dx(expr) through each level
    of rules to the simplified result."""
    out: list[sp.Expr] = []
    depth = 0
    while True:
        line = written(step, depth)
        if not out or line != out[-1]:
            out.append(line)
        if not line.has(sp.Derivative):
            break
        depth += 1
    for form in _simplification_forms(step):
        if form != out[-1]:
            out.append(form)
    return out


def _simplification_forms(step: Step) -> list[sp.Expr]:
    simplify = step.simplification
    if simplify is None:
        return [step.result]
    return simplify.forms[1:]


def term_guides(step: Step) -> dict[sp.Expr, sp.Expr]:
    """Each sum a rule writes in the forms of ``step``'s tree (sum, product and quotient
    rules, with the derivatives taken to any depth or their results put in), mapped to the
    same sum with the derivatives still to take: term i of a later line is the derivative
    of term i of that one, so a printer that orders both alike keeps each result under the
    term it comes from."""
    guides: dict[sp.Expr, sp.Expr] = {}
    for s in step.walk(expansions=True):
        if s.rule not in (Rule.SUM, Rule.PRODUCT, Rule.QUOTIENT) or not s.substeps:
            continue
        guide = _written_sum(s, written(s, 1))
        if guide is None:
            continue
        depth, form = 1, written(s, 1)
        while form.has(sp.Derivative):
            depth += 1
            form = written(s, depth)
            guides.setdefault(_written_sum(s, form), guide)
        guides.setdefault(_written_sum(s, s.raw), guide)
    guides.pop(None, None)
    return guides


def _written_sum(step: Step, form: sp.Expr) -> sp.Expr | None:
    """The sum in a form of the step's rule: the whole form, or a quotient's numerator."""
    if step.rule is Rule.QUOTIENT and isinstance(form, sp.Mul):
        form = form.args[0]
    return form if isinstance(form, sp.Add) else None


def with_results(written: AsWritten, steps: Iterable[Step]) -> AsWritten:
    """``written`` with an order for each sum a sum rule derives from a sum the author
    wrote: its terms where the terms they are the derivatives of were written (so
    ``d/dw (0.01 w^2 + 1/2 (w x - y)^2)`` is ``0.02 w + x (w x - y)``, as the lines before
    it), the simplified forms too; a sum whose terms merge across the rule's terms keeps
    none."""
    orders = dict(written.orders)
    sums = [s for root in steps for s in root.walk(expansions=True) if s.rule is Rule.SUM]
    for s in reversed(sums):  # inner sums first: a term's own sum is ordered before
        known = AsWritten(orders, written.numbers)
        source = known.terms(s.expr)
        if source is None or len(s.substeps) != len(source):
            continue
        positions = [sp.default_sort_key(t) for t in source]
        where = {sp.default_sort_key(sub.expr): sub for sub in s.substeps}
        if set(where) != set(positions):
            continue
        place: dict[tuple, tuple[int, int]] = {}
        for i, key in enumerate(positions):  # a result two terms share: the first's place
            form = where[key].result
            terms = (known.terms(form) or form.args) if isinstance(form, sp.Add) else (form,)
            for j, t in enumerate(terms):
                place.setdefault(sp.default_sort_key(t), (i, j))
        for form in s.simplification.forms[1:] if s.simplification else [s.result]:
            keys = [sp.default_sort_key(t) for t in form.args]
            if isinstance(form, sp.Add) and known.terms(form) is None and all(
                    k in place for k in keys):
                orders[form] = tuple(t for _, t in sorted(zip(keys, form.args),
                                                          key=lambda p: place[p[0]]))
    return AsWritten(orders, written.numbers)
