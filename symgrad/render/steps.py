"""The steps of a local derivative as the documents show them: the outline of its
sub-steps, each step's equation, kinks, and what a derivative of the loss holds fixed."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from . import latex
from ..calculus.backward import Factor
from ..calculus.derivation import Derivation
from ..calculus.rules import Rule, Step
from ..calculus.written import lines, term_guides, written


INLINE_WIDTH = 32.0
"""At full detail, a step's equation up to this ``latex.width`` goes inline, after its
sentence; a wider one is displayed."""
STEP_INDENT, STEP_MARGIN = 3.2, 6.0
"""How much narrower (in ``latex.width`` units) a displayed step equation is per level of
nesting, and at the first level, so that it fits beside the list's indentation."""


def explained_steps(step: Step) -> list[Step]:
    """The steps of a derivation worth a sentence, depth first: all but the constant and
    identity steps inside a larger rule (the rule's own sentence covers those), a sum's
    in the order its terms are printed."""
    out = [step]
    for sub in _in_printed_order(step):
        if sub.rule not in (Rule.CONSTANT, Rule.IDENTITY):
            out.extend(explained_steps(sub))
    return out


@dataclass(frozen=True)
class Outlined:
    """A step in the full-detail outline: numbered by position (``2.1`` is the first
    sub-step of the second), at a depth of nesting; ``expands`` is the activation step
    whose derivative this step works out again from the activation's definition."""

    step: Step
    label: str
    depth: int
    expands: Step | None = None


def outline(step: Step) -> list[Outlined]:
    """Every step below ``step`` in reading order: each step's sub-steps, then (for an
    activation shortcut) its derivation from the definition, then its simplification."""
    out: list[Outlined] = []
    _outline(step, "", 0, out)
    return out


def _outline(step: Step, prefix: str, depth: int, out: list[Outlined]) -> None:
    for i, (child, expands) in enumerate(step_children(step), start=1):
        out.append(Outlined(child, f"{prefix}{i}", depth, expands))
        _outline(child, f"{prefix}{i}.", depth + 1, out)


def step_children(step: Step, expansions: bool = True) -> list[tuple[Step, Step | None]]:
    """The steps a step is made of, each with the activation step it expands (or None):
    sub-steps, the derivation from the definition, and a simplification that changes
    how the result is written."""
    children: list[tuple[Step, Step | None]] = [(s, None) for s in _in_printed_order(step)]
    if expansions and step.expansion is not None:
        children.append((step.expansion, step))
    if step.simplification is not None and rewrites(step.simplification):
        children.append((step.simplification, None))
    return children


def _in_printed_order(step: Step) -> list[Step]:
    """A sum's sub-steps in the order its terms are printed (``w x + b``), others as they are."""
    if step.rule is not Rule.SUM:
        return list(step.substeps)
    order = {t: i for i, t in enumerate(latex.Printer().ordered_terms(step.expr))}
    return sorted(step.substeps, key=lambda s: order.get(s.expr, len(order)))


def rewrites(simplification: Step) -> bool:
    """True when a simplification step's forms print differently (an equal form SymPy
    merely built differently is no step for a reader)."""
    printed = {re.sub(r"\s+", "", str(latex.tex(f))) for f in step_sides(simplification)}
    return len(printed) > 1


def step_sides(step: Step) -> list[sp.Expr]:
    """A step's equation as a reader follows it: d/dx(expr), the rule's formula with the
    sub-derivatives still to take (when it has sub-steps), and the raw result; for a
    simplification, the forms it passes through. (``Step.equation`` without the middle.)"""
    if step.rule is Rule.SIMPLIFY:
        return step.forms
    sides: list[sp.Expr] = [sp.Derivative(step.expr, step.var, evaluate=False)]
    if step.substeps:
        sides.append(written(step, 1))
    return sides + [step.raw]


def step_equation(step: Step, depth: int = 0, names: dict[sp.Basic, str] | None = None,
                  width: float = latex.WIDTH, stack: bool = False,
                  guides: dict[sp.Basic, sp.Basic] | None = None) -> latex.Display:
    """A step's equation laid out for a list nested ``depth`` levels deep in a text
    ``width`` wide (``latex.width`` units); ``stack`` as for ``latex.equation``. Its sums
    keep the order of the sums they derive from (``guides``: by default the step's own
    ``term_guides``; a simplification needs those of the step it simplifies)."""
    limit = width - (STEP_MARGIN + STEP_INDENT * depth if depth else 0)
    return latex.equation(*step_maths(step, names, guides), limit=limit, stack=stack)


def step_maths(step: Step, names: dict[sp.Basic, str] | None = None,
               guides: dict[sp.Basic, sp.Basic] | None = None) -> list[latex.Math]:
    """``step_sides`` printed, each sum in the order of the sum it derives from."""
    guides = term_guides(step) if guides is None else guides
    return [latex.tex(side, names=names, guides=guides) for side in step_sides(step)]


def is_inline(display: latex.Display, limit: float | None = INLINE_WIDTH) -> bool:
    """True when an equation is short and flat enough to go inline, after a sentence:
    one line, no wider than ``limit`` (None: any width), no cases, no fraction inside
    a fraction."""
    text = display.lines()[0]
    flat = r"\begin" not in text and not latex.nested_fraction(text)
    return display.single and flat and (limit is None or latex.width(text) <= limit)


@dataclass(frozen=True)
class Kink:
    """Where the two pieces of a piecewise derivative meet (``at``, such as z = 0): the
    first piece's ``condition``, whether it ``holds`` there, and the derivative taken there."""

    at: sp.Expr
    condition: sp.Expr
    holds: bool
    value: sp.Expr


def kink(step: Step) -> Kink | None:
    """The kink of a two-piece derivative whose first condition is an inequality, else None."""
    pieces = step.result if isinstance(step.result, sp.Piecewise) else step.raw
    if not isinstance(pieces, sp.Piecewise) or len(pieces.args) != 2:
        return None
    (first, condition), (second, _) = pieces.args
    if getattr(condition, "rel_op", None) not in (">", "<", ">=", "<="):
        return None
    holds = condition.rel_op in (">=", "<=")
    value = first if holds else second
    if condition.lhs == step.var and not condition.rhs.has(step.var):
        value = value.subs(step.var, condition.rhs)
    return Kink(sp.Eq(condition.lhs, condition.rhs, evaluate=False), condition, holds, value)


def constant_terms(step: Step) -> list[sp.Expr]:
    """The terms of a sum step that do not contain the variable, in printed order."""
    constants = {s.expr for s in step.substeps if s.rule is Rule.CONSTANT}
    return [t for t in latex.Printer().ordered_terms(step.expr) if t in constants]


def derivative(of: sp.Expr, wrt: sp.Symbol) -> latex.Math:
    """The unevaluated derivative d(of)/d(wrt)."""
    return latex.tex(sp.Derivative(of, wrt, evaluate=False))


def operator(wrt: sp.Symbol) -> str:
    """The derivative operator in ``wrt``, as the steps write it: d/du for the chain
    rule's inner variable, the partial derivative for a quantity (a rule is stated in
    the variable it differentiates by)."""
    d = "d" if isinstance(wrt, sp.Dummy) else r"\partial"
    return rf"\frac{{{d}}}{{{d} {latex.tex(wrt)}}}"


def held_fixed(derivation: Derivation, factor: Factor) -> list[sp.Symbol]:
    """The quantities a local derivative of the loss holds fixed although they change with
    its variable: when L = f(a, w) and a depends on w, dL/dw differs from its local factor."""
    if factor.of != derivation.loss:
        return []
    after = _descendants(derivation, factor.wrt)
    used = derivation.graph.definition(factor.of).expr.free_symbols
    return [d.symbol for d in derivation.definitions if d.symbol in used and d.symbol in after]


def _descendants(derivation: Derivation, node: sp.Symbol) -> set[sp.Symbol]:
    consumers = derivation.backward.consumers
    found, todo = set(), list(consumers.get(node, ()))
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(consumers.get(current, ()))
    return found


def factor_symbol(derivation: Derivation, factor: Factor) -> latex.Math:
    """d(of)/d(wrt) in Leibniz notation, marked ``|_{a}`` with what it holds fixed."""
    held = held_names(derivation, factor)
    if factor.symbol in held:
        return latex.Math.atom(held[factor.symbol])
    return latex.tex(factor.symbol)


def held_names(derivation: Derivation, factor: Factor) -> dict[sp.Basic, str]:
    """How a held-fixed local derivative writes d(of)/d(wrt) and d(a)/d(wrt) (zero) for
    each quantity a it holds fixed."""
    held = held_fixed(derivation, factor)
    if not held:
        return {}
    fixed = ", ".join(str(latex.tex(h)) for h in held)
    return {d: rf"\left.{latex.tex(d)}\right|_{{{fixed}}}"
            for d in [factor.symbol] + [sp.Derivative(h, factor.wrt) for h in held]}


def factor_sides(derivation: Derivation, factor: Factor) -> list[latex.Math]:
    """d(of)/d(wrt), each written form of its derivation, and the simplified result."""
    names = held_names(derivation, factor)
    guides = term_guides(factor.step)
    written_forms = [latex.tex(line, names=names, guides=guides) for line in lines(factor.step)]
    return [factor_symbol(derivation, factor), *written_forms, latex.tex(factor.result)]


def factor_chain(derivation: Derivation, factor: Factor, limit: float = latex.WIDTH,
                 stack: bool = False) -> latex.Display:
    """The derivation of a local derivative as one chain of equalities, laid out as
    ``latex.equation`` does."""
    return latex.equation(*factor_sides(derivation, factor), limit=limit, stack=stack)
