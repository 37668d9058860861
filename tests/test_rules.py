"""The rules of differentiation: a hand-checked table per rule, and random expressions checked
step by step against sympy.diff."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, settings, strategies as st

from symgrad import Rule, Step, differentiate, parse_expression, verify_step
from symgrad.model.functions import (LEAKY_RELU_SLOPE, leaky_relu, relu, sigmoid, softmax, softplus,
                                     unspecified)
from symgrad.calculus.written import lines
from references import F, elementary, with_test_function

x, y, u, yhat, a = sp.symbols("x y u yhat a", real=True)


def expression(text: str | sp.Expr) -> sp.Expr:
    return parse_expression(text) if isinstance(text, str) else text


def labels(step: Step, expansions: bool = False) -> list[str]:
    return [s.rule.label for s in step.walk(expansions)]


XS = np.array([-1.7, -1.1, -0.6, -0.25, 0.35, 0.9, 1.3, 1.6, 2.3])
YS = np.array([0.7, -0.4, 1.2, 0.3, -1.5, 0.9, 0.5, -0.8, 1.1])


def values(expr: sp.Expr) -> np.ndarray:
    """``expr`` at the points (XS, YS), activations written out by hand; nan where undefined."""
    plain = with_test_function(elementary(expr))
    out = []
    for px, py in zip(XS, YS):
        v = complex(plain.xreplace({x: sp.Float(px, 30), y: sp.Float(py, 30)}).evalf(30))
        out.append(v if abs(v.imag) < 1e-12 else complex("nan"))
    return np.array(out)


def assert_same_function(result: sp.Expr, expected: sp.Expr) -> None:
    got, want = values(result), values(expected)
    defined = np.isfinite(want)
    assert defined.sum() >= 3, expected
    assert np.allclose(got[defined], want[defined], rtol=1e-12, atol=1e-12), (result, expected)


# (expression, variable, the rules in walk() order, the derivative written by hand)
TABLE = [
    # constant
    ("7", x, ["constant"], "0"),
    ("y**2 + sin(y)", x, ["constant"], "0"),
    # identity
    ("x", x, ["identity"], "1"),
    ("yhat", yhat, ["identity"], "1"),
    # constant multiple
    ("3*x", x, ["constant multiple", "identity", "simplify"], "3"),
    ("y*sin(x)", x, ["constant multiple", "trigonometric"], "y*cos(x)"),
    ("-x**2", x, ["constant multiple", "power"], "-2*x"),
    # sum and difference
    ("x + sin(x)", x, ["sum", "identity", "trigonometric"], "1 + cos(x)"),
    ("x**2 - 3*x + 5", x, ["sum", "constant", "power", "constant multiple", "identity",
                           "simplify", "simplify"], "2*x - 3"),
    # power: integer, negative, rational exponents and the square root
    ("x**3", x, ["power"], "3*x**2"),
    ("x**-2", x, ["power"], "-2/x**3"),
    ("1/x", x, ["power"], "-1/x**2"),
    ("x**(2/3)", x, ["power"], "2/3*x**(-1/3)"),
    ("sqrt(x)", x, ["power"], "1/(2*sqrt(x))"),
    ("x**y", x, ["power"], "y*x**(y - 1)"),
    # product
    ("x*sin(x)", x, ["product", "identity", "trigonometric", "simplify"], "sin(x) + x*cos(x)"),
    ("x*exp(x)*cos(x)", x, ["product", "identity", "trigonometric", "exponential", "simplify"],
     "exp(x)*cos(x) + x*exp(x)*cos(x) - x*exp(x)*sin(x)"),
    # quotient
    ("sin(x)/x", x, ["quotient", "trigonometric", "identity", "simplify"],
     "(x*cos(x) - sin(x))/x**2"),
    ("x/(1 + x**2)", x, ["quotient", "identity", "sum", "constant", "power", "simplify",
                         "simplify"], "(1 - x**2)/(1 + x**2)**2"),
    # chain
    ("sin(x**2)", x, ["chain", "trigonometric", "power"], "2*x*cos(x**2)"),
    ("exp(sin(x**2))", x, ["chain", "exponential", "chain", "trigonometric", "power"],
     "exp(sin(x**2))*cos(x**2)*2*x"),
    ("(x - y)**2", x, ["chain", "power", "sum", "identity", "constant", "simplify",
                       "simplify"], "2*(x - y)"),
    # exponential: e^u and a^u
    ("exp(x)", x, ["exponential"], "exp(x)"),
    ("2**x", x, ["exponential"], "2**x*log(2)"),
    ("y**x", x, ["exponential"], "y**x*log(y)"),
    ("e**(3*x)", x, ["chain", "exponential", "constant multiple", "identity", "simplify"],
     "3*exp(3*x)"),
    # logarithm: ln u and log_a u
    ("log(x)", x, ["logarithm"], "1/x"),
    ("ln(3*x)", x, ["chain", "logarithm", "constant multiple", "identity", "simplify",
                    "simplify"], "1/x"),
    ("log(x, 2)", x, ["logarithm"], "1/(x*log(2))"),
    ("log(x**2 + 1, 10)", x, ["chain", "logarithm", "sum", "constant", "power", "simplify"],
     "2*x/((x**2 + 1)*log(10))"),
    # trigonometric
    ("sin(x)", x, ["trigonometric"], "cos(x)"),
    ("cos(x)", x, ["trigonometric"], "-sin(x)"),
    ("tan(x)", x, ["trigonometric"], "1/cos(x)**2"),
    ("cot(x)", x, ["trigonometric", "simplify"], "-1/sin(x)**2"),
    ("sec(x)", x, ["trigonometric"], "sin(x)/cos(x)**2"),
    ("csc(x)", x, ["trigonometric"], "-cos(x)/sin(x)**2"),
    # hyperbolic
    ("sinh(x)", x, ["hyperbolic"], "cosh(x)"),
    ("cosh(x)", x, ["hyperbolic"], "sinh(x)"),
    ("tanh(x)", x, ["hyperbolic"], "1/cosh(x)**2"),
    ("tanh(2*x)", x, ["chain", "hyperbolic", "constant multiple", "identity", "simplify"],
     "2/cosh(2*x)**2"),
    # absolute value
    ("abs(x)", x, ["absolute value"], "x/abs(x)"),
    ("abs(x**2 - 1)", x, ["chain", "absolute value", "sum", "constant", "power", "simplify"],
     "2*x*(x**2 - 1)/abs(x**2 - 1)"),
    # piecewise and max
    ("max(0, x)", x, ["piecewise", "identity", "constant"], sp.Piecewise((1, x > 0), (0, True))),
    ("min(x, 1)", x, ["piecewise", "identity", "constant"], sp.Piecewise((0, x > 1), (1, True))),
    (sp.Piecewise((x**2, x < 0), (sp.sin(x), True)), x, ["piecewise", "power", "trigonometric"],
     sp.Piecewise((2 * x, x < 0), (sp.cos(x), True))),
    (sp.Max(sp.sin(x), sp.cos(x), 0), x, ["piecewise", "trigonometric", "piecewise",
                                          "trigonometric", "constant"],
     sp.Piecewise((sp.cos(x), (sp.sin(x) > sp.cos(x)) & (sp.sin(x) > 0)),
                  (-sp.sin(x), sp.cos(x) > 0), (0, True))),
    # activations: the shortcut
    ("sigmoid(x)", x, ["activation"], "exp(-x)/(1 + exp(-x))**2"),
    ("softplus(x)", x, ["activation"], "1/(1 + exp(-x))"),
    ("relu(x)", x, ["activation"], sp.Piecewise((0, x < 0), (1, True))),
    ("leaky_relu(x)", x, ["activation"], sp.Piecewise((sp.Rational(1, 100), x < 0), (1, True))),
    (softmax(1, x, y), x, ["activation"], "exp(x)*exp(y)/(exp(x) + exp(y))**2"),
    (softmax(1, y, x), x, ["activation"], "-exp(x)*exp(y)/(exp(x) + exp(y))**2"),
    ("relu(x**2 - 1)", x, ["chain", "activation", "sum", "constant", "power", "simplify",
                           "simplify"], sp.Piecewise((2 * x, abs(x) > 1), (0, True))),
    # simplify
    ("3/x**2", x, ["constant multiple", "power", "simplify"], "-6/x**3"),
    ("x**2*y/(x + y)", x, ["constant multiple", "quotient", "power", "sum", "identity",
                           "constant", "simplify", "simplify"], "y*(x**2 + 2*x*y)/(x + y)**2"),
    # an unspecified function: its derivative written f', by hand in SymPy's own undefined f
    ("f(x)", x, ["unspecified function"], sp.diff(F(x), x)),
    ("y*f(x)", x, ["constant multiple", "unspecified function"], y * sp.diff(F(x), x)),
    ("f(x**2)", x, ["chain", "unspecified function", "power"], sp.diff(F(x**2), x)),
    # what no rule covers: SymPy's derivative, marked as such
    (sp.erf(x), x, ["sympy"], "2*exp(-x**2)/sqrt(pi)"),
    ("x**x", x, ["sympy"], "x**x*(log(x) + 1)"),
    (sp.atan(x), x, ["sympy"], "1/(1 + x**2)"),
]


@pytest.mark.parametrize("text,var,expected_rules,derivative", TABLE,
                         ids=[str(row[0]) for row in TABLE])
def test_rule_table(text, var, expected_rules, derivative):
    step = differentiate(expression(text), var)
    assert labels(step) == expected_rules
    assert_same_function(step.result, expression(derivative))


def test_every_rule_has_table_cases():
    counts = collections.Counter(label for row in TABLE for label in row[2])
    assert {r.label: counts[r.label] >= 2 for r in Rule} == {r.label: True for r in Rule}


def test_every_rule_has_its_mathematics_as_docstring():
    assert len({r.label for r in Rule}) == len({r.__doc__ for r in Rule}) == len(Rule)
    for r in Rule:
        assert r.__doc__ and r.__doc__ == r.math, r
    for r in set(Rule) - {Rule.SIMPLIFY, Rule.FALLBACK}:
        assert "=" in r.__doc__, r  # a formula, not a description
    assert "sympy.diff" in Rule.FALLBACK.__doc__
    assert "x = 0" in Rule.ABSOLUTE_VALUE.__doc__ and "ReLU'(0) = 0" in Rule.PIECEWISE.__doc__


def test_chain_names_the_inner_function_and_nested_chains_get_distinct_names():
    step = differentiate(sp.exp(sp.sin(x**2)), x)
    outer, inner = step.substeps
    assert step.rule is Rule.CHAIN and step.inner == sp.sin(x**2) and step.dummy.name == "u"
    assert outer.expr == sp.exp(step.dummy) and outer.var == step.dummy
    assert inner.rule is Rule.CHAIN and inner.inner == x**2 and inner.dummy.name == "v"
    assert inner.substeps[0].expr == sp.sin(inner.dummy)


def test_chain_skips_names_the_expression_already_uses():
    step = differentiate(sp.sin(u * x + 1), x)
    assert step.rule is Rule.CHAIN and step.dummy.name == "v" and step.inner == u * x + 1
    assert_same_function(step.result.subs(u, 2), sp.cos(2 * x + 1) * 2)


def test_absolute_value_is_the_sign_and_has_no_derivative_at_zero():
    step = differentiate(sp.Abs(x), x)
    assert step.rule is Rule.ABSOLUTE_VALUE and step.result == sp.sign(x)
    assert [step.result.subs(x, v) for v in (-2, 3)] == [-1, 1]
    assert "no derivative at x = 0" in Rule.ABSOLUTE_VALUE.__doc__


@pytest.mark.parametrize("text,at_kink", [
    ("relu(x)", 0),
    ("max(0, x)", 0),
    ("max(x, 0)", 0),
    ("leaky_relu(x)", LEAKY_RELU_SLOPE),
    (leaky_relu(x, a), a),
])
def test_derivative_at_the_kink_follows_the_stated_convention(text, at_kink):
    result = differentiate(expression(text), x).result
    assert result.subs(x, 0) == at_kink
    assert result.subs(x, sp.Rational(1, 3)) == 1


ACTIVATIONS = [sigmoid(x), softplus(x), relu(x), leaky_relu(x, LEAKY_RELU_SLOPE), sp.tanh(x),
               softmax(1, x, y), softmax(2, x, y), leaky_relu(x, a)]
ELEMENTARY = set(Rule) - {Rule.ACTIVATION, Rule.FALLBACK}


@pytest.mark.parametrize("function", ACTIVATIONS, ids=str)
def test_activation_shortcut_expands_from_its_definition(function):
    step = differentiate(function, x)
    assert step.rule in (Rule.ACTIVATION, Rule.HYPERBOLIC) and not step.substeps
    expansion = step.expansion
    assert expansion is not None and expansion.result == step.result
    used = {s.rule for s in expansion.walk(expansions=True)}
    assert used <= ELEMENTARY and len(used) >= 2, used
    slope = {a: sp.Rational(1, 5)}
    assert_same_function(expansion.expr.subs(slope), elementary(function).subs(slope))
    assert_same_function(expansion.raw.subs(slope), sp.diff(elementary(function), x).subs(slope))
    assert step.expansion in [s for s in step.walk(expansions=True)]
    assert step.expansion not in list(step.walk())


def test_elementary_functions_have_no_expansion():
    for function in (sp.sin(x), sp.exp(x), sp.sinh(x), sp.log(x)):
        assert differentiate(function, x).expansion is None


def test_sigmoid_derivative_is_the_textbook_form():
    step = differentiate(sigmoid(x), x)
    assert step.result == sigmoid(x) * (1 - sigmoid(x))
    assert not step.result.has(sp.exp)
    chained = differentiate(sigmoid(2 * x), x)
    assert chained.result.has(sigmoid(2 * x)) and not chained.result.has(sp.exp)


def test_squared_error_keeps_the_shape_written():
    step = differentiate(parse_expression("(yhat - y)**2"), yhat)
    assert step.result.is_Mul and set(step.result.args) == {2, yhat - y}
    assert step.result != 2 * yhat - 2 * y  # SymPy's own form, the product multiplied out
    assert lines(step)[0] == sp.Derivative((yhat - y) ** 2, yhat)
    assert lines(step)[-1] is step.result


@pytest.mark.parametrize("text", [row[0] for row in TABLE], ids=str)
def test_simplify_step_is_there_exactly_when_the_raw_form_changes(text):
    for step in differentiate(expression(text), x).walk(expansions=True):
        simplify = step.simplification
        if simplify is None:
            assert step.raw is step.result
        else:
            assert simplify.rule is Rule.SIMPLIFY and simplify.expr != simplify.result
            assert simplify.inner not in (simplify.expr, simplify.result)
            assert step.raw is simplify.expr and step.result is simplify.result


@pytest.mark.parametrize("function,derivative", [
    (leaky_relu(x, x), sp.Piecewise((1, x > 0), (2 * x, True))),
    (softmax(1, x, x), sp.S.Zero),
])
def test_fallback_result_is_a_derivative_not_an_unevaluated_one(function, derivative):
    step = differentiate(function, x)
    assert step.rule is Rule.FALLBACK
    assert not step.result.has(sp.Derivative, sp.Subs)
    assert_same_function(step.result, derivative)
    assert verify_step(step).passed


# --- random expressions, every step checked ------------------------------------------------

EXPONENTS = [2, 3, -1, -2, sp.Rational(1, 2), sp.Rational(-1, 2), sp.Rational(3, 2),
             sp.Rational(1, 3)]
FUNCTIONS = [sp.exp, sp.log, lambda e: sp.log(e, 2), lambda e: 2**e, sp.sqrt, sp.sin, sp.cos,
             sp.tan, sp.sinh, sp.cosh, sp.tanh, sigmoid, softplus, relu,
             lambda e: leaky_relu(e, LEAKY_RELU_SLOPE), sp.Abs, lambda e: softmax(1, e, y),
             lambda e: softmax(2, y, e), unspecified("f")]
POSITIVE = [sp.exp, sp.cosh, sigmoid, softplus, lambda e: 1 + e**2]
OF_POSITIVE = [sp.log, lambda e: sp.log(e, 2), sp.sqrt, lambda e: e**sp.Rational(-1, 2),
               lambda e: e**sp.Rational(3, 2)]
"""Functions defined only where their argument is positive, for the positive forms above."""
OPERATIONS = [sp.Add, lambda p, q: p - q, sp.Mul, lambda p, q: p / q]
OTHERS = st.sampled_from([y, y, sp.Integer(2), sp.Integer(3), sp.Integer(-1), sp.Rational(1, 2),
                          sp.pi])
"""The other operand of a sum, product or quotient: y or a constant, when not an expression."""


def expressions(depth: int) -> st.SearchStrategy[sp.Expr]:
    """Expressions in x (and y) of up to ``depth`` nested functions and operations."""
    if depth == 0:
        return st.just(x)
    e = expressions(depth - 1)
    options = [
        st.just(x),
        st.builds(lambda f, p: f(p), st.sampled_from(FUNCTIONS), e),
        st.builds(lambda p, n: p**n, e, st.sampled_from(EXPONENTS)),
        st.builds(lambda op, p, q, left: op(p, q) if left else op(q, p),
                  st.sampled_from(OPERATIONS), e, st.one_of(OTHERS, e), st.booleans()),
    ]
    if depth >= 2:  # log, root or power of a positive form: two levels, defined everywhere
        positive = st.builds(lambda f, p: f(p), st.sampled_from(POSITIVE), expressions(depth - 2))
        options.append(st.builds(lambda f, p: f(p), st.sampled_from(OF_POSITIVE), positive))
    return st.one_of(options)


PROPERTY_EXAMPLES = 1100
"""Enough that at least 1,000 of them are distinct expressions."""


def test_random_expressions_every_step_holds_and_no_fallback():
    corpus: collections.Counter = collections.Counter()
    seen: set[sp.Expr] = set()

    @settings(max_examples=PROPERTY_EXAMPLES, deadline=None, derandomize=True)
    @given(expressions(4))
    def check(expr):
        assume(expr.has(x) and not expr.has(sp.zoo, sp.nan))
        step = differentiate(expr, x)
        verification = verify_step(step)
        assert verification.passed, verification.failures
        assume(verification.undefined == 0)  # every equation, the reference too, was checked
        fallbacks = [s.expr for s in step.walk(expansions=True) if s.rule is Rule.FALLBACK]
        assert not fallbacks, fallbacks
        corpus.update(s.rule for s in step.walk(expansions=True))
        seen.add(expr)

    check()
    assert len(seen) >= 1000, len(seen)
    assert corpus[Rule.FALLBACK] == 0
    assert all(corpus[r] > 0 for r in set(Rule) - {Rule.FALLBACK}), corpus
