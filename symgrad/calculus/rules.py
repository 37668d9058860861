"""Step-by-step differentiation: each step is a named rule applied to an expression.

Choosing a rule (the ``_*_rule`` functions, dispatched by expression type through
``_RULES``) is separate from the step data (``Step``). Anything no rule covers gets an
explicit ``FALLBACK`` step whose result comes from ``sympy.diff``.

A step keeps the shape of what was differentiated: its ``raw`` form is the rule's formula
with the sub-steps' results put in, built without letting SymPy reorder, distribute or
merge anything. Where a shorter form exists, a separate ``SIMPLIFY`` step leads from the
raw form to the ``result``, so a reader sees every change that is made.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from functools import cached_property
from typing import Callable, Iterator

import sympy as sp

from ..model.functions import (Activation, Unspecified, expand_activations, leaky_relu, relu,
                               sigmoid, softmax, softplus)
from .forms import minus, over, plus, simplified, substitute, times


class Rule(Enum):
    """The rules of differentiation, one documented set. Each member's docstring
    (``Rule.POWER.__doc__``) is its mathematics; ``label`` is its name in documents."""

    CONSTANT = ("constant", "d/dx c = 0 when c does not depend on x")
    IDENTITY = ("identity", "d/dx x = 1")
    CONSTANT_MULTIPLE = ("constant multiple", "d/dx (c f) = c f' when c does not depend on x")
    SUM = ("sum", "d/dx (f + g - h) = f' + g' - h' (the sum and difference rule)")
    POWER = ("power", "d/dx x^n = n x^(n-1) for any constant n: integer, negative or "
             "rational, so d/dx sqrt(x) = 1 / (2 sqrt(x)) and d/dx 1/x = -1/x^2")
    PRODUCT = ("product", "d/dx (f g) = f' g + f g', and for more factors one term per factor")
    QUOTIENT = ("quotient", "d/dx (f / g) = (f' g - f g') / g^2")
    CHAIN = ("chain", "d/dx f(u(x)) = f'(u) u'(x), with the inner function named u")
    EXPONENTIAL = ("exponential", "d/dx e^x = e^x and d/dx a^x = a^x ln a for a constant a > 0")
    LOGARITHM = ("logarithm", "d/dx ln x = 1/x and d/dx log_a x = 1 / (x ln a)")
    TRIGONOMETRIC = ("trigonometric", "sin' = cos, cos' = -sin, tan' = 1 + tan^2")
    HYPERBOLIC = ("hyperbolic", "sinh' = cosh, cosh' = sinh, tanh' = 1 - tanh^2")
    ABSOLUTE_VALUE = ("absolute value", "d/dx |x| = sign(x) for x != 0; |x| has no "
                      "derivative at x = 0")
    PIECEWISE = ("piecewise", "differentiate each piece on its own condition; max(f, g)' = f' "
                 "where f > g and g' otherwise; at a kink, where there is no derivative, the "
                 "piece whose condition holds there is taken (ReLU'(0) = 0, LeakyReLU'(0) = alpha, "
                 "and a tied max or min takes its first argument's derivative)")
    ACTIVATION = ("activation", "sigma' = sigma (1 - sigma), softplus' = sigma, "
                  "softmax_k' = softmax_k (delta_kj - softmax_j), ReLU' = [z > 0], "
                  "LeakyReLU' = 1 or alpha: a shortcut that expands from the definition")
    UNSPECIFIED = ("unspecified function", "d/dx f(x) = f'(x): the derivative of a function "
                   "left unspecified (the seed's activation f) is written f', that of f' f''")
    SIMPLIFY = ("simplify", "rewrite an expression in an equal, shorter or textbook form")
    FALLBACK = ("sympy", "the derivative as sympy.diff computes it, where no rule above applies")

    def __init__(self, label: str, math: str):
        self.label = label
        self.math = math
        self.__doc__ = math


@dataclass(frozen=True)
class Step:
    """d(expr)/d(var) = raw = result, by ``rule``, from ``substeps``.

    ``raw`` is the rule's formula with the sub-steps' results put in, as the rule writes it;
    ``simplification`` (a ``SIMPLIFY`` step from ``raw`` to ``result``) is present when the
    result is shorter. For the chain rule ``inner`` is u(x) and ``dummy`` the symbol u, the
    sub-steps being (d/du f(u), du/dx); for the constant multiple rule ``inner`` is the
    constant c; for a logarithm to base a it is a; for a ``SIMPLIFY`` step, an intermediate
    form (SymPy's evaluation) when the result is a rewriting of it, ``via`` the forms after
    it and ``uses`` the equations (chains of equal forms) the rewriting relies on.
    """

    rule: Rule
    expr: sp.Expr
    var: sp.Symbol
    result: sp.Expr
    substeps: tuple["Step", ...] = ()
    inner: sp.Expr | None = None
    dummy: sp.Symbol | None = None
    simplification: "Step | None" = None
    via: tuple[sp.Expr, ...] = ()
    uses: tuple[tuple[sp.Expr, ...], ...] = ()

    @property
    def forms(self) -> list[sp.Expr]:
        """A ``SIMPLIFY`` step's forms in order: before, inner, via, after."""
        return [f for f in (self.expr, self.inner, *self.via, self.result) if f is not None]

    @property
    def raw(self) -> sp.Expr:
        """The rule's formula before simplification."""
        return self.result if self.simplification is None else self.simplification.expr

    @property
    def equation(self) -> tuple[sp.Expr, sp.Expr]:
        """The step's claim as (lhs, rhs): d(expr)/d(var) = raw, or before = after."""
        if self.rule is Rule.SIMPLIFY:
            return self.expr, self.result
        return sp.Derivative(self.expr, self.var), self.raw

    @cached_property
    def expansion(self) -> "Step | None":
        """For an activation's shortcut step, the same derivative worked from the
        activation's definition and rewritten to the shortcut's form; else None."""
        definition = _definition(self)
        if definition is None:
            return None
        expanded = differentiate(definition, self.var)
        if expanded.raw == self.result:  # ReLU's: nothing to rewrite, so no simplify step
            return replace(expanded, simplification=None)
        inner = None if expanded.result in (expanded.raw, self.result) else expanded.result
        via, uses = _sigmoid_rewriting(self.expr) if inner is not None else ((), ())
        rewrite = Step(Rule.SIMPLIFY, expanded.raw, self.var, self.result, inner=inner,
                       via=via, uses=uses)
        return replace(expanded, result=self.result, simplification=rewrite)

    def walk(self, expansions: bool = False) -> Iterator["Step"]:
        """This step and all its sub-steps, depth first, simplifications last; with
        ``expansions``, also each activation shortcut's derivation from its definition."""
        yield self
        for sub in self.substeps:
            yield from sub.walk(expansions)
        if expansions and self.expansion is not None:
            yield from self.expansion.walk(expansions)
        if self.simplification is not None:
            yield self.simplification


def _step(rule: Rule, expr: sp.Expr, var: sp.Symbol, raw: sp.Expr,
          substeps: tuple[Step, ...] = (), **fields: sp.Expr | None) -> Step:
    """A step whose result is its raw form simplified, with the SIMPLIFY step when they differ."""
    result = simplified(raw)
    simplify = None if result == raw else Step(Rule.SIMPLIFY, raw, var, result)
    return Step(rule, expr, var, result, substeps, simplification=simplify, **fields)


# --- choosing a rule --------------------------------------------------------------------


NAMES = ("u", "v", "w", "p", "q", "r", "s", "t")
"""Names for the inner functions of nested chain rules, outermost first."""


def differentiate(expr: sp.Expr, var: sp.Symbol) -> Step:
    """The step-by-step derivative of ``expr`` with respect to ``var``."""
    taken = {str(s) for s in expr.free_symbols}
    names = tuple(n for n in NAMES if n not in taken) or ("u",)
    return _derive(expr, var, names)


def _derive(expr: sp.Expr, var: sp.Symbol, names: tuple[str, ...]) -> Step:
    if not expr.has(var):
        return Step(Rule.CONSTANT, expr, var, sp.S.Zero)
    if expr == var:
        return Step(Rule.IDENTITY, expr, var, sp.S.One)
    for cls in type(expr).__mro__:
        rule = _RULES.get(cls)
        if rule is not None:
            step = rule(expr, var, names)
            if step is not None:
                return step
            break
    return fallback(expr, var)


def fallback(expr: sp.Expr, var: sp.Symbol) -> Step:
    """The explicit step for what no rule covers: SymPy's derivative, marked as such."""
    result = sp.diff(expr, var)
    if result.has(sp.Derivative):  # an activation's slope depends on var: leaky_relu(x, x)
        result = sp.diff(expand_activations(expr), var)
    return Step(Rule.FALLBACK, expr, var, result)


Names = tuple[str, ...]


def _sum_rule(expr: sp.Add, var: sp.Symbol, names: Names) -> Step:
    subs = tuple(_derive(term, var, names) for term in expr.args)
    return _step(Rule.SUM, expr, var, _combine_sum(expr, [s.result for s in subs]), subs)


def _mul_rule(expr: sp.Mul, var: sp.Symbol, names: Names) -> Step | None:
    constant, rest = expr.as_independent(var, as_Add=False)
    if isinstance(rest, sp.log) and constant.is_Pow and isinstance(constant.base, sp.log) \
            and constant.exp == -1 and len(rest.args) == 1:
        return _log_base_rule(expr, var, names, rest.args[0], constant.base.args[0])
    if constant != 1:
        sub = _derive(rest, var, names)
        return _step(Rule.CONSTANT_MULTIPLE, expr, var, times(constant, sub.result), (sub,),
                     inner=constant)
    numerator, denominator = _fraction(rest)
    if denominator != 1 and numerator.has(var):
        subs = (_derive(numerator, var, names), _derive(denominator, var, names))
        raw = _combine_quotient(numerator, denominator, [s.result for s in subs])
        return _step(Rule.QUOTIENT, expr, var, raw, subs)
    factors = rest.args
    subs = tuple(_derive(f, var, names) for f in factors)
    return _step(Rule.PRODUCT, expr, var, _combine_product(factors, [s.result for s in subs]), subs)


def _fraction(expr: sp.Mul) -> tuple[sp.Expr, sp.Expr]:
    """(numerator, denominator) of a product: the factors with a negative constant exponent
    go below the line."""
    above, below = [], []
    for f in expr.args:
        if f.is_Pow and f.exp.is_number and f.exp.is_negative:
            below.append(f.base if f.exp == -1 else sp.Pow(f.base, -f.exp))
        else:
            above.append(f)
    return sp.Mul(*above), sp.Mul(*below)


def _log_base_rule(expr: sp.Expr, var: sp.Symbol, names: Names, argument: sp.Expr,
                   base: sp.Expr) -> Step:
    if argument != var:
        return _chain(expr, var, names, argument, lambda u: sp.log(u) / sp.log(base))
    return _step(Rule.LOGARITHM, expr, var, over(sp.S.One, times(var, sp.log(base))),
                 inner=base)


def _pow_rule(expr: sp.Pow, var: sp.Symbol, names: Names) -> Step | None:
    base, exponent = expr.args
    if not exponent.has(var):
        if base != var:
            return _chain(expr, var, names, base, lambda u: u**exponent)
        return _step(Rule.POWER, expr, var, times(exponent, _power(var, exponent - 1)))
    if not base.has(var):
        if exponent != var:
            return _chain(expr, var, names, exponent, lambda u: base**u)
        return _step(Rule.EXPONENTIAL, expr, var, times(expr, sp.log(base)))
    return None


def _power(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    if exponent == 1:
        return base
    return sp.S.One if exponent == 0 else sp.Pow(base, exponent, evaluate=False)


_FUNCTION_RULES: dict[type, Rule] = {
    sp.exp: Rule.EXPONENTIAL,
    sp.log: Rule.LOGARITHM,
    sp.sin: Rule.TRIGONOMETRIC,
    sp.cos: Rule.TRIGONOMETRIC,
    sp.tan: Rule.TRIGONOMETRIC,
    sp.cot: Rule.TRIGONOMETRIC,
    sp.sec: Rule.TRIGONOMETRIC,
    sp.csc: Rule.TRIGONOMETRIC,
    sp.sinh: Rule.HYPERBOLIC,
    sp.cosh: Rule.HYPERBOLIC,
    sp.tanh: Rule.HYPERBOLIC,
    sp.Abs: Rule.ABSOLUTE_VALUE,
    Activation: Rule.ACTIVATION,
    Unspecified: Rule.UNSPECIFIED,
}


def _function_rule(expr: sp.Function, var: sp.Symbol, names: Names) -> Step | None:
    if isinstance(expr, softmax):
        return _softmax_rule(expr, var, names)
    rule = next((r for cls, r in _FUNCTION_RULES.items() if isinstance(expr, cls)), None)
    if rule is None or len(expr.args) != 1 and any(a.has(var) for a in expr.args[1:]):
        return None
    argument = expr.args[0]
    if argument != var:
        return _chain(expr, var, names, argument, lambda u: expr.func(u, *expr.args[1:]))
    return _step(rule, expr, var, _known_derivative(expr))


def _known_derivative(expr: sp.Function) -> sp.Expr:
    """f'(x) for a function applied to x itself, in its textbook form."""
    if isinstance(expr, sp.Abs):
        return sp.sign(expr.args[0])
    if isinstance(expr, sp.log):
        return over(sp.S.One, expr.args[0])
    return expr.fdiff(1)


def _softmax_rule(expr: softmax, var: sp.Symbol, names: Names) -> Step | None:
    positions = [i for i, z in enumerate(expr.args) if z.has(var)]
    if len(positions) != 1 or positions[0] == 0:
        return None
    i = positions[0]
    if expr.args[i] != var:
        return _chain(expr, var, names, expr.args[i],
                      lambda u: expr.func(*expr.args[:i], u, *expr.args[i + 1:]))
    return _step(Rule.ACTIVATION, expr, var, expr.fdiff(i + 1))


def _chain(expr: sp.Expr, var: sp.Symbol, names: Names, inner: sp.Expr,
           outer: Callable[[sp.Expr], sp.Expr]) -> Step:
    u = sp.Dummy(names[0], real=True)
    rest = names[1:] or names
    outer_step = _derive(outer(u), u, rest)
    inner_step = _derive(inner, var, rest)
    raw = times(substitute(outer_step.result, u, inner), inner_step.result)
    return _step(Rule.CHAIN, expr, var, raw, (outer_step, inner_step), inner=inner, dummy=u)


def _piecewise_rule(expr: sp.Piecewise, var: sp.Symbol, names: Names) -> Step:
    subs = tuple(_derive(e, var, names) for e, _ in expr.args)
    return _step(Rule.PIECEWISE, expr, var, _combine_piecewise(expr, [s.result for s in subs]),
                 subs)


def _extremum_rule(expr: sp.Max | sp.Min, var: sp.Symbol, names: Names) -> Step:
    first, second = _extremum_parts(expr, var)
    subs = (_derive(first, var, names), _derive(second, var, names))
    return _step(Rule.PIECEWISE, expr, var, _combine_extremum(expr, var, [s.result for s in subs]),
                 subs)


def _extremum_parts(expr: sp.Max | sp.Min, var: sp.Symbol) -> tuple[sp.Expr, sp.Expr]:
    """max(f, g) as (f, g) with f the first argument depending on ``var`` (ReLU's max(0, z)
    as (z, 0)), three or more arguments as max(f, max(...)) with the others in order."""
    f = next((a for a in expr.args if a.has(var)), expr.args[0])
    rest = [a for a in expr.args if a is not f]
    return f, (rest[0] if len(rest) == 1 else expr.func(*rest))


_RULES: dict[type, Callable[[sp.Expr, sp.Symbol, Names], Step | None]] = {
    sp.Add: _sum_rule,
    sp.Mul: _mul_rule,
    sp.Pow: _pow_rule,
    sp.Piecewise: _piecewise_rule,
    sp.Max: _extremum_rule,
    sp.Min: _extremum_rule,
    sp.Function: _function_rule,
}


# --- each rule's formula, with the sub-derivatives as given --------------------------------


def _combine_sum(expr: sp.Add, parts: list[sp.Expr]) -> sp.Expr:
    return plus(*parts)


def _combine_product(factors: tuple[sp.Expr, ...], parts: list[sp.Expr]) -> sp.Expr:
    return plus(*(times(*factors[:i], p, *factors[i + 1:]) for i, p in enumerate(parts)))


def _combine_quotient(f: sp.Expr, g: sp.Expr, parts: list[sp.Expr]) -> sp.Expr:
    numerator = plus(times(parts[0], g), minus(times(f, parts[1])))
    return over(numerator, sp.Pow(g, 2, evaluate=False))


def _combine_piecewise(expr: sp.Piecewise, parts: list[sp.Expr]) -> sp.Expr:
    return sp.Piecewise(*((p, cond) for p, (_, cond) in zip(parts, expr.args)), evaluate=False)


def _combine_extremum(expr: sp.Max | sp.Min, var: sp.Symbol, parts: list[sp.Expr]) -> sp.Expr:
    """max(f, g)' = f' where f wins, else g'. At a tie the argument first in the call's
    order (SymPy's, which the documents print) wins, as ReLU'(0) = 0 takes a side: f wins
    where f > each argument before it and f >= each after it, so the partials at a tie are
    those of one argument, a subgradient (d max(a, b)/da = 1, d/db = 0 where a = b)."""
    first, _ = _extremum_parts(expr, var)
    at = expr.args.index(first)
    before, after = expr.args[:at], expr.args[at + 1:]
    top = sp.Max if isinstance(expr, sp.Max) else sp.Min
    strict, tied = (sp.StrictGreaterThan, sp.GreaterThan) if top is sp.Max else \
        (sp.StrictLessThan, sp.LessThan)
    wins = [strict(first, top(*before))] if before else []
    wins += [tied(first, top(*after))] if after else []
    return sp.Piecewise((parts[0], sp.And(*wins)), (parts[1], True), evaluate=False)


def combine(step: Step, parts: list[sp.Expr]) -> sp.Expr:
    """The step's rule formula with ``parts`` in place of its sub-steps' derivatives."""
    if step.rule is Rule.CONSTANT_MULTIPLE:
        return times(step.inner, parts[0])
    if step.rule is Rule.SUM:
        return _combine_sum(step.expr, parts)
    if step.rule is Rule.PRODUCT:
        return _combine_product(tuple(s.expr for s in step.substeps), parts)
    if step.rule is Rule.QUOTIENT:
        return _combine_quotient(step.substeps[0].expr, step.substeps[1].expr, parts)
    if step.rule is Rule.CHAIN:
        return times(substitute(step.substeps[0].result, step.dummy, step.inner), parts[1])
    if isinstance(step.expr, sp.Piecewise):
        return _combine_piecewise(step.expr, parts)
    if step.rule is Rule.PIECEWISE:
        return _combine_extremum(step.expr, step.var, parts)
    raise ValueError(f"the {step.rule.label} rule has no sub-steps to combine")


# --- activations from their definitions ---------------------------------------------------


def _definition(step: Step) -> sp.Expr | None:
    """The definition behind an activation shortcut step (with its argument the variable)."""
    expr = step.expr
    if step.rule not in (Rule.ACTIVATION, Rule.HYPERBOLIC) or step.substeps:
        return None
    if isinstance(expr, sp.tanh):
        z = expr.args[0]
        return (sp.exp(z) - sp.exp(-z)) / (sp.exp(z) + sp.exp(-z))
    if isinstance(expr, (sigmoid, softplus, relu, leaky_relu, softmax)):
        return expr.definition()
    return None


def _sigmoid_rewriting(expr: sp.Expr) -> tuple[tuple[sp.Expr, ...], tuple[tuple[sp.Expr, ...], ...]]:
    """For the sigmoid, e^-z / (e^-z + 1)^2 split as 1/(e^-z + 1) * e^-z/(e^-z + 1), with
    the identity e^-z/(e^-z + 1) = 1 - 1/(e^-z + 1) = 1 - sigma(z) it uses; else nothing."""
    if not isinstance(expr, sigmoid):
        return (), ()
    e, z = sp.exp(-expr.args[0]), expr.args[0]
    below = plus(e, sp.S.One)
    split = times(over(sp.S.One, below), over(e, below))
    return (split,), ((over(e, below), plus(sp.S.One, minus(over(sp.S.One, below))),
                       plus(sp.S.One, minus(sigmoid(z)))),)
