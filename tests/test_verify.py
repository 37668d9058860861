"""The verifier catches wrong steps, and only wrong ones."""

from __future__ import annotations

import importlib
from dataclasses import replace

import pytest
import sympy as sp

import symgrad
from symgrad import DerivationError, Rule, Step, derive, differentiate, verify_step
from symgrad.model.functions import relu, sigmoid

verification = importlib.import_module("symgrad.calculus.verify")
rules = importlib.import_module("symgrad.calculus.rules")

x, y, w, v = sp.symbols("x y w v", real=True)


def test_a_correct_derivation_passes_with_every_equation_counted():
    step = differentiate(sp.exp(sp.sin(x**2)) + x * sigmoid(x), x)
    result = verify_step(step)
    claims = sum(len(s.forms) - 1 + sum(len(u) - 1 for u in s.uses) if s.rule is Rule.SIMPLIFY else 1
                 for s in step.walk(expansions=True))
    assert result.passed and result.failures == ()
    assert (result.equations, result.references, result.undefined) == (claims, 1, 0)
    assert result.points == 2 * verification.POINTS


def test_a_wrong_result_is_reported_against_sympy_diff():
    step = differentiate(sp.sin(x**2), x)  # 2 x cos(x^2), no simplify step
    wrong = replace(step, result=x * sp.cos(x**2))
    result = verify_step(wrong)
    assert not result.passed
    (chain, reference) = result.failures
    assert chain.startswith("d/dx sin(x**2): chain step does not hold: ")
    assert reference.startswith("d/dx sin(x**2): result differs from sympy.diff: ")
    assert "x*cos(x**2)" in reference and " at x = " in reference


def test_a_wrong_sub_step_is_reported_by_its_rule_alone():
    step = differentiate(sp.sin(x**2), x)
    outer, power = step.substeps
    wrong = replace(step, substeps=(outer, replace(power, result=3 * x)))
    (failure,) = verify_step(wrong).failures
    assert failure.startswith("d/dx x**2: power step does not hold: 2*x != 3*x at x = ")


def test_a_wrong_simplification_is_caught_and_a_right_one_passes():
    step = differentiate((x - y)**2, x)
    assert step.simplification is not None and verify_step(step).passed
    wrong = replace(step.simplification, result=2 * x - y)
    broken = replace(step, simplification=wrong, result=2 * x - y)
    (simplify, reference) = verify_step(broken).failures
    assert "simplify step does not hold" in simplify and "!= 2*x - y at " in simplify
    assert "result differs from sympy.diff" in reference


def test_an_activation_expansion_is_checked():
    step = differentiate(sigmoid(x), x)
    expansion = step.expansion
    wrong_rewrite = replace(expansion.simplification, inner=sp.exp(-x) / (1 + sp.exp(x))**2)
    broken = replace(expansion, simplification=wrong_rewrite)
    object.__setattr__(step, "expansion", broken)  # the cached property, replaced for the test
    failures = verify_step(step).failures
    assert len(failures) == 2 and all("simplify step does not hold" in f for f in failures)


def test_undefined_everywhere_is_counted_not_passed_as_checked():
    step = differentiate(sp.sqrt(-1 - x**2), x)  # real nowhere
    result = verify_step(step)
    assert result.undefined >= 2  # the chain step and the reference at least
    wrong = verify_step(replace(step, result=sp.S(7)))
    assert wrong.undefined == result.undefined  # nothing to compare: not a pass, not a failure


def test_a_cancellation_at_every_point_is_undefined_not_a_failure():
    """log(x^(3/2) - sqrt(x^3)) is log 0 where it is real: float64 gives rounding noise."""
    step = differentiate(sp.log(x**sp.Rational(3, 2) - sp.sqrt(x**3)), x)
    result = verify_step(step)
    assert result.passed and result.undefined >= 2


def test_rounding_error_in_float64_is_rechecked_exactly(monkeypatch):
    """A simplification whose first form loses every digit in float64 (|1 + 10^20 cosh x| -
    10^20 cosh x is 0 there) holds when checked exactly."""
    big = 10**20 * sp.cosh(x)
    form = sp.Add(sp.Abs(1 + big, evaluate=False), -big, evaluate=False)
    rewrite = Step(Rule.SIMPLIFY, form, x, sp.S.One)
    step = Step(Rule.IDENTITY, x, x, sp.S.One, simplification=rewrite)
    assert verify_step(step).passed
    monkeypatch.setattr(verification, "_agree_precisely", lambda claim, point: False)
    assert not verify_step(step).passed  # so it was the exact re-check that passed it


def test_a_kink_where_the_inner_function_is_undefined_is_not_evaluated():
    """relu(log x) for x < 0: Heaviside(log x) must stay undefined, not become 1."""
    result = verify_step(differentiate(relu(sp.log(x)), x))
    assert result.passed and result.undefined == 0


def test_derive_with_verify_keeps_a_passing_verification():
    d = derive("1/2*(yhat - y)**2", wrt="yhat", verify=True)
    assert d.verification is not None and d.verification.passed
    assert d.verification.references == len(d.factors) >= 1
    assert d.verification.equations >= 3
    assert derive("1/2*(yhat - y)**2", wrt="yhat").verification is None


def test_derive_with_verify_raises_on_a_wrong_step(monkeypatch):
    monkeypatch.setattr(rules, "_known_derivative", lambda expr: 2 * expr.fdiff(1))
    with pytest.raises(DerivationError, match=r"verification failed: d/dw sin\(w\*x\): chain step "
                       r"does not hold: x\*cos\(w\*x\) != x\*\(2\*cos\(w\*x\)\) at w = "):
        derive("sin(w*x)", wrt="w", verify=True)
    derive("sin(w*x)", wrt="w")  # without verify, the wrong step goes unnoticed


def test_verify_checks_every_factor_of_a_network():
    network = symgrad.network(2, [(2, "sigmoid"), (1, "sigmoid")])
    graph = symgrad.with_loss(network, "half_squared_error")
    d = derive(graph, "all")
    result = symgrad.verify(d)
    assert result.passed and result.references == len(d.factors)
