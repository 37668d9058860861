"""The written forms of a step's derivative: its rule's formula with the sub-steps'
derivatives put in (``combine``), level by level from d/dx(expr) to the result (``lines``).
"""

from __future__ import annotations

import sympy as sp

from .rules import Step, combine


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
    return [f for f in (simplify.inner, simplify.result) if f is not None]
