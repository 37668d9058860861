"""Step-by-step differentiation: each step is a named rule applied to an expression.

Choosing a rule (the ``_*_rule`` functions, dispatched by expression type through
``_RULES``) is separate from the step data (``Step``). Anything no rule covers gets an
explicit ``FALLBACK`` step whose result comes from ``sympy.diff``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable

import sympy as sp

from .functions import Activation, softmax


class Rule(Enum):
    """The rules of differentiation; each member carries its name and its mathematics.

    - constant: d/dx c = 0
    - identity: d/dx x = 1
    - constant multiple: d/dx (c f) = c f'
    - sum: d/dx (f + g + ...) = f' + g' + ...
    - power: d/dx x^n = n x^(n-1)
    - product: d/dx (f g) = f' g + f g'
    - chain: d/dx f(u(x)) = f'(u) u'(x)
    - exponential: d/dx e^x = e^x, d/dx a^x = a^x ln a
    - logarithm: d/dx ln x = 1/x
    - trigonometric: sin' = cos, cos' = -sin, tan' = 1 + tan^2
    - hyperbolic: sinh' = cosh, cosh' = sinh, tanh' = 1 - tanh^2
    - activation: sigma' = sigma (1 - sigma), softplus' = sigma, ReLU' = [z > 0], ...
    - sympy: the derivative as ``sympy.diff`` gives it, where no rule above applies
    """

    CONSTANT = ("constant", "d/dx c = 0")
    IDENTITY = ("identity", "d/dx x = 1")
    CONSTANT_MULTIPLE = ("constant multiple", "d/dx (c f) = c f'")
    SUM = ("sum", "d/dx (f + g) = f' + g'")
    POWER = ("power", "d/dx x^n = n x^(n-1)")
    PRODUCT = ("product", "d/dx (f g) = f' g + f g'")
    CHAIN = ("chain", "d/dx f(u(x)) = f'(u) u'(x)")
    EXPONENTIAL = ("exponential", "d/dx e^x = e^x; d/dx a^x = a^x ln a")
    LOGARITHM = ("logarithm", "d/dx ln x = 1/x")
    TRIGONOMETRIC = ("trigonometric", "sin' = cos, cos' = -sin, tan' = 1 + tan^2")
    HYPERBOLIC = ("hyperbolic", "sinh' = cosh, cosh' = sinh, tanh' = 1 - tanh^2")
    ACTIVATION = ("activation", "sigma' = sigma (1 - sigma), softplus' = sigma, ReLU' = [z > 0]")
    FALLBACK = ("sympy", "the derivative computed by sympy.diff")

    def __init__(self, label: str, math: str):
        self.label = label
        self.math = math


@dataclass(frozen=True)
class Step:
    """d(expr)/d(var) = result, by ``rule``, from ``substeps``.

    For the chain rule, ``inner`` is u(x) and ``dummy`` the symbol u standing for it;
    for the constant multiple rule, ``inner`` is the constant c.
    """

    rule: Rule
    expr: sp.Expr
    var: sp.Symbol
    result: sp.Expr
    substeps: tuple["Step", ...] = ()
    inner: sp.Expr | None = None
    dummy: sp.Symbol | None = None

    def walk(self):
        """This step and all its sub-steps, depth first."""
        yield self
        for sub in self.substeps:
            yield from sub.walk()


_FUNCTION_RULES: dict[type, Rule] = {
    sp.exp: Rule.EXPONENTIAL,
    sp.log: Rule.LOGARITHM,
    sp.sin: Rule.TRIGONOMETRIC,
    sp.cos: Rule.TRIGONOMETRIC,
    sp.tan: Rule.TRIGONOMETRIC,
    sp.sinh: Rule.HYPERBOLIC,
    sp.cosh: Rule.HYPERBOLIC,
    sp.tanh: Rule.HYPERBOLIC,
    Activation: Rule.ACTIVATION,
}


def differentiate(expr: sp.Expr, var: sp.Symbol) -> Step:
    """The step-by-step derivative of ``expr`` with respect to ``var``."""
    if not expr.has(var):
        return Step(Rule.CONSTANT, expr, var, sp.S.Zero)
    if expr == var:
        return Step(Rule.IDENTITY, expr, var, sp.S.One)
    for cls in type(expr).__mro__:
        rule = _RULES.get(cls)
        if rule is not None:
            step = rule(expr, var)
            if step is not None:
                return step
            break
    return _fallback(expr, var)


def _fallback(expr: sp.Expr, var: sp.Symbol) -> Step:
    return Step(Rule.FALLBACK, expr, var, sp.diff(expr, var))


def _sum_rule(expr: sp.Add, var: sp.Symbol) -> Step:
    subs = tuple(differentiate(term, var) for term in expr.args)
    return Step(Rule.SUM, expr, var, sp.Add(*(s.result for s in subs)), subs)


def _mul_rule(expr: sp.Mul, var: sp.Symbol) -> Step:
    constant, rest = expr.as_independent(var, as_Add=False)
    if constant != 1:
        sub = differentiate(rest, var)
        return Step(Rule.CONSTANT_MULTIPLE, expr, var, constant * sub.result, (sub,), inner=constant)
    factors = rest.args
    subs = tuple(differentiate(f, var) for f in factors)
    terms = [sp.Mul(*factors[:i], s.result, *factors[i + 1:]) for i, s in enumerate(subs)]
    return Step(Rule.PRODUCT, expr, var, sp.Add(*terms), subs)


def _pow_rule(expr: sp.Pow, var: sp.Symbol) -> Step | None:
    base, exponent = expr.args
    if not exponent.has(var):
        if base == var:
            return Step(Rule.POWER, expr, var, exponent * base ** (exponent - 1))
        return _chain(expr, var, base, lambda u: u**exponent)
    if not base.has(var):
        if exponent == var:
            return Step(Rule.EXPONENTIAL, expr, var, expr * sp.log(base))
        return _chain(expr, var, exponent, lambda u: base**u)
    return None


def _function_rule(expr: sp.Function, var: sp.Symbol) -> Step | None:
    rule = next((r for cls, r in _FUNCTION_RULES.items() if isinstance(expr, cls)), None)
    if rule is None or isinstance(expr, softmax) or any(a.has(var) for a in expr.args[1:]):
        return _softmax_rule(expr, var) if isinstance(expr, softmax) else None
    argument = expr.args[0]
    if argument == var:
        return Step(rule, expr, var, expr.fdiff(1))
    return _chain(expr, var, argument, lambda u: expr.func(u, *expr.args[1:]))


def _softmax_rule(expr: softmax, var: sp.Symbol) -> Step | None:
    positions = [i for i, z in enumerate(expr.args) if z.has(var)]
    if len(positions) != 1 or expr.args[positions[0]] != var:
        return None
    return Step(Rule.ACTIVATION, expr, var, expr.fdiff(positions[0] + 1))


def _chain(expr: sp.Expr, var: sp.Symbol, inner: sp.Expr,
           outer: Callable[[sp.Expr], sp.Expr]) -> Step:
    u = sp.Dummy("u", real=True)
    outer_step = differentiate(outer(u), u)
    inner_step = differentiate(inner, var)
    result = outer_step.result.xreplace({u: inner}) * inner_step.result
    return Step(Rule.CHAIN, expr, var, result, (outer_step, inner_step), inner=inner, dummy=u)


_RULES: dict[type, Callable[[sp.Expr, sp.Symbol], Step | None]] = {
    sp.Add: _sum_rule,
    sp.Mul: _mul_rule,
    sp.Pow: _pow_rule,
    sp.Function: _function_rule,
}


def written(step: Step, depth: int) -> sp.Expr:
    """The derivative as written after ``depth`` rule applications, unsimplified.

    Depth 0 is d/dx(expr) itself; each level replaces the derivatives left by the level
    before with what their rule gives, keeping the shape a reader can follow.
    """
    if depth == 0:
        return sp.Derivative(step.expr, step.var)
    if not step.substeps or step.rule is Rule.FALLBACK:
        return step.result
    parts = [written(s, depth - 1) for s in step.substeps]
    with sp.evaluate(False):
        return _combine(step, parts)


def _combine(step: Step, parts: list[sp.Expr]) -> sp.Expr:
    if step.rule is Rule.CONSTANT_MULTIPLE:
        return sp.Mul(step.inner, parts[0])
    if step.rule is Rule.SUM:
        return sp.Add(*parts)
    if step.rule is Rule.PRODUCT:
        factors = [s.expr for s in step.substeps]
        return sp.Add(*(sp.Mul(*factors[:i], p, *factors[i + 1:]) for i, p in enumerate(parts)))
    if step.rule is Rule.CHAIN:
        outer = step.substeps[0].result.xreplace({step.dummy: step.inner})
        return sp.Mul(outer, parts[1])
    raise ValueError(f"no written form for rule {step.rule.label}")


def lines(step: Step) -> list[sp.Expr]:
    """The successive written forms of the derivative, from d/dx(expr) to the rules' result."""
    out: list[sp.Expr] = []
    depth = 0
    while True:
        line = written(step, depth)
        if not out or line != out[-1]:
            out.append(line)
        if not line.has(sp.Derivative):
            return out
        depth += 1
