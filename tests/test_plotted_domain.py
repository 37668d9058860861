"""Pictures drawn from evaluated numbers only: the plotted range of a loss stays where it
is a finite real number (symgrad.pictures.domain), and the graph writes a number only where
one evaluates to a real finite number (symgrad.pictures.graph.drawn_number). The expected
bounds are the domains' edges worked out by hand (and the largest double's logarithm from
``sys.float_info``), not symgrad's output."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad.pictures import pictures
from symgrad.pictures.domain import plotted_range, real
from symgrad.pictures.graph import computational_graph, drawn_number
from symgrad.pictures.plots import effect

LOG_MAX = math.log(sys.float_info.max)


@pytest.mark.parametrize("curve, value, side, at, reason, included", [
    (np.log, 0.1, "below", 0.0, "undefined", False),
    (np.sqrt, 0.1, "below", 0.0, "undefined", True),
    (lambda w: np.log(1 - w), 0.9, "above", 1.0, "undefined", False),
    (lambda w: np.exp(100 * w), 5.0, "above", LOG_MAX / 100, "overflow", True),
])
def test_a_bound_is_the_domains_edge(curve, value, side, at, reason, included):
    low, high, bounds = plotted_range(curve, value - 2.5, value + 2.5, value, 201)
    (bound,) = bounds
    assert (bound.side, bound.reason, bound.included) == (side, reason, included)
    assert bound.at == pytest.approx(at, abs=5 * 1e-4)
    assert low <= value <= high
    xs = np.linspace(low, high, 201)
    with np.errstate(all="ignore"):
        assert np.all(np.isfinite(curve(xs)))


def test_both_ends_of_a_log_loss():
    def loss(p):
        return -0.5 * np.log(p) - 0.5 * np.log(1 - p)

    _, _, bounds = plotted_range(loss, 0.0, 1.0, 0.5, 201)
    assert [(b.side, b.at, b.reason) for b in bounds] == [("below", 0.0, "undefined"),
                                                           ("above", 1.0, "undefined")]


def test_no_bound_inside_the_domain_and_none_outside_it():
    assert plotted_range(np.tanh, -1.0, 1.0, 0.0, 101)[2] == ()
    with np.errstate(all="ignore"):
        assert plotted_range(np.log, -2.0, -1.0, -1.5, 101) is None


def test_complex_and_infinite_values_are_left_out():
    values = np.array([1.0 + 0j, 2.0 + 1j, np.inf, -np.inf, np.nan, 3.0])
    got = real(values, values.shape)
    assert got[0] == 1.0 and got[-1] == 3.0 and np.all(np.isnan(got[1:5]))


def test_a_step_out_of_the_domain_is_undefined_not_an_overflow():
    assert effect(1.0, float("nan")) == "undefined"
    assert effect(1.0, float("-inf")) == "undefined"
    assert effect(1.0, float("inf")) == "overflow"


@pytest.mark.parametrize("value, expected", [
    (sp.Rational(4, 5), sp.Rational(4, 5)),
    (sp.log(sp.Rational(5, 4)) / 8, sp.Float(math.log(1.25) / 8)),
    (sp.zoo, None), (sp.nan, None), (sp.oo, None), (sp.I, None), (1 + sp.I, None),
    (sp.Function("g")(1), None), (None, None),
])
def test_a_drawn_number_is_real_and_finite(value, expected):
    got = drawn_number(value)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, rel=1e-15)


def test_an_edge_that_is_not_finite_is_drawn_without_a_number():
    d = symgrad.derive("w*sqrt(x)", wrt="w", at={"w": 1.0, "x": 0.0})
    graph = computational_graph(d)
    (edge,) = [e for e in graph.edges if e.source.name == "x"]
    assert edge.value is None and graph.unnumbered == 1
    (other,) = [e for e in graph.edges if e.source.name == "w"]
    assert float(other.value) == 0.0  # d(w sqrt(x))/dw = sqrt(0)


def test_the_tangent_plot_of_log_stays_where_it_is_defined():
    d = symgrad.derive("log(w)", wrt="w", at={"w": 0.1}, learning_rate=0.5)
    (tangent,) = pictures(d, "x").tangent
    assert tangent.xs[0] > 0 and np.all(np.isfinite(tangent.losses))
    np.testing.assert_allclose(tangent.losses, np.log(tangent.xs), rtol=1e-12)
    assert tangent.step_to == pytest.approx(0.1 - 0.5 * 10) and tangent.step_effect == "undefined"


def test_a_loss_too_large_for_a_double_is_not_plotted():
    d = symgrad.derive("exp(w)", wrt="w", at={"w": 800.0})
    shown = pictures(d, "x")
    assert shown.tangent is None and shown.unplotted
