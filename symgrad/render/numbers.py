"""The worked numbers as the documents show them: the given, forward and backward
values, the given vectors and matrices, and the gradient descent update."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sympy as sp

from . import latex
from .chains import document_factors
from .chapter_tables import TABLE_HEAD, TABLE_UNITS
from .notation import upper
from .steps import derivative
from ..calculus.backward import Factor
from ..calculus.derivation import Derivation
from ..model.graph import Definition, Group, Role


def sign(value: Any) -> int:
    """-1, 0 or 1: the sign of a worked number. Worked numbers are right to every digit
    kept (``calculus.worked``), so only a true zero is 0: a gradient of 7.2e-35 at a
    saturated tanh is small, not flat, and one beyond float64's range still has a sign."""
    number = sp.sympify(value)
    return 0 if number.is_zero else (1 if number > 0 else -1)


FLOAT64_MAX, FLOAT64_TINY = sp.Float(1.7976931348623157e308), sp.Float(2.2250738585072014e-308)
"""float64's largest number and its smallest normal one."""


def beyond_float64(derivation: Derivation) -> list[tuple[sp.Expr, sp.Float]]:
    """The worked numbers float64 cannot hold, as (quantity, value): the forward values,
    then the gradients (as dL/dp), beyond float64's largest number (compiled code gives inf)
    or, not zero, below its smallest normal one (it loses digits or gives 0)."""
    worked = derivation.worked
    if worked is None:
        return []
    named = list(worked.forward.items())
    named += [(sp.Derivative(derivation.loss, p, evaluate=False), v)
              for p, v in worked.gradients.items()]
    return [(q, v) for q, v in named if abs(v) > FLOAT64_MAX or 0 < abs(v) < FLOAT64_TINY]


def given_values(derivation: Derivation) -> dict[sp.Basic, str]:
    """Each given quantity as the user wrote it."""
    return {s: latex.literal_tex(text) for s, text in derivation.worked.literals.items()}


def forward_values(derivation: Derivation) -> dict[sp.Basic, str]:
    """Given quantities as written and computed ones rounded: for the forward pass."""
    values = given_values(derivation)
    values.update({s: latex.num(v) for s, v in derivation.worked.forward.items()})
    return values


def backward_values(derivation: Derivation) -> dict[sp.Basic, str]:
    """The forward values, plus each activation call (sigma(z) is yhat's value) and each
    named adjoint, so derivatives evaluate in the numbers already computed."""
    worked = derivation.worked
    values = forward_values(derivation)
    for d in derivation.definitions:
        if d.role is Role.ACTIVATION and isinstance(d.expr, sp.Function):
            values[d.expr] = latex.num(worked.forward[d.symbol])
    for a in derivation.adjoints:
        if a.named:
            values[a.name] = latex.num(worked.adjoints[a.node])
    return values


def subs(expr: sp.Expr, values: dict[sp.Basic, str]) -> latex.Math:
    """``expr`` with numbers in place of quantities, keeping its shape."""
    return latex.tex(expr, values)


def forward_chain(derivation: Derivation, definition: Definition,
                  values: dict[sp.Basic, str]) -> list[Any]:
    """A forward-pass line: the quantity, its definition, the same in numbers, and its
    value; a constant times one bracket or power (``1/2 (0.8 - 1.0)^2``) shows the
    bracket's value before the product's (``1/2 \\cdot 0.04 = 0.02``), as one works it by
    hand."""
    worked = derivation.worked
    chain: list[Any] = [definition.symbol, definition.expr, subs(definition.expr, values)]
    coefficient, rest = definition.expr.as_coeff_Mul()
    if (coefficient.is_Rational and abs(coefficient) != 1 and rest.free_symbols
            and isinstance(rest, (sp.Pow, sp.Add, sp.Function))):
        value = (rest.xreplace(worked.given).xreplace(worked.forward)).evalf(30)
        if value.is_Number:  # the bracket as a stand-in printed as its value
            held = sp.Symbol("value")
            math = latex.tex(sp.Mul(coefficient, held, evaluate=False), {held: latex.num(value)})
            chain.append(replace(math, expr=sp.Mul(coefficient, value, evaluate=False)))
    return chain + [latex.num(worked.forward[definition.symbol])]


def group_tex(group: Group) -> str:
    """The name of a whole vector or matrix: W^{(1)} for the group W1, x for x."""
    first = group.symbols[0]
    if group.shape and hasattr(first, "base"):
        return str(latex.tex(type(first)(group.name, first.base, first.layer)))
    return str(latex.tex(first))


def group_value(derivation: Derivation, group: Group) -> str:
    """A given group's values as written: a number, a column vector or a matrix; of a
    wide one, as in a network's tables, the first ``TABLE_HEAD`` rows and columns and the
    last, with dots for the others (a 64 by 64 matrix would run to pages)."""
    literals = [latex.literal_tex(derivation.worked.literals[s]) for s in group.symbols]
    if not group.shape:
        return literals[0]
    columns = group.shape[1] if len(group.shape) > 1 else 1
    rows = [_shown(literals[i:i + columns], r"\cdots") for i in range(0, len(literals), columns)]
    dots = [r"\ddots" if cell == r"\cdots" else r"\vdots" for cell in rows[0]]
    return r"\begin{bmatrix} " + r" \\ ".join(" & ".join(row) for row in _shown(rows, dots)) + r" \end{bmatrix}"


def _shown(items: list[Any], dots: Any) -> list[Any]:
    """``items`` as a table shows them: all of them, or (more than ``TABLE_UNITS``) the
    first ``TABLE_HEAD``, ``dots`` and the last."""
    if len(items) <= TABLE_UNITS:
        return items
    return items[:TABLE_HEAD] + [dots, items[-1]]


def given_groups(derivation: Derivation) -> list[Group]:
    """The groups with given values, in the model's order (inputs, parameters, targets)."""
    literals = derivation.worked.literals
    return [g for g in derivation.graph.groups if all(s in literals for s in g.symbols)]


def given_display(derivation: Derivation, limit: float = latex.WIDTH) -> latex.Display:
    """The given values, ``name = value`` for each group, packed into rows no wider than
    ``limit`` (a batch's inputs and targets as the matrices X and Y)."""
    batch = derivation.graph.batch
    items = [f"{upper(group_tex(g)) if batch and g.name in ('x', 'y') else group_tex(g)} = "
             f"{group_value(derivation, g)}" for g in given_groups(derivation)]
    rows: list[str] = []
    for item in items:
        if rows and latex.width(rows[-1] + item) + 4 <= limit:
            rows[-1] += r", \qquad " + item
        else:
            rows.append(item)
    return latex.Display(tuple(("", row) for row in rows))


def worked_factors(derivation: Derivation) -> list[Factor]:
    """The local derivatives to evaluate on their own: all of them, unless every gradient
    is a single local derivative (then evaluating the gradients says it all)."""
    # a gradient is one local derivative when the loss alone uses its parameter
    if all(tuple(t.consumer for t in g.terms) == (derivation.loss,) for g in derivation.gradients):
        return []
    return document_factors(derivation)


def update_chain(derivation: Derivation, parameter: sp.Symbol) -> list[Any]:
    """p, p - eta dL/dp, the same in numbers, and the updated value (for ``rel=\\leftarrow``)."""
    worked = derivation.worked
    name = str(latex.tex(parameter))
    symbolic = rf"{name} - \eta {derivative(derivation.loss, parameter)}"
    given = latex.literal_tex(worked.literals[parameter])
    gradient = latex.number_factor(latex.num(worked.gradients[parameter]))
    numbers = rf"{given} - {latex.num(worked.learning_rate)} \cdot {gradient}"
    return [name, symbolic, numbers, latex.num(worked.updated[parameter])]
