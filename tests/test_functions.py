"""Activations differentiate to the textbook forms and evaluate like their definitions."""

from __future__ import annotations

import dataclasses
import math

import pytest
import sympy as sp

import symgrad
from symgrad.model.functions import LEAKY_RELU_SLOPE, leaky_relu, relu, sigmoid, softmax, softplus

z, v = sp.symbols("z v", real=True)


@pytest.mark.parametrize("function,textbook", [
    (sigmoid(z), sigmoid(z) * (1 - sigmoid(z))),
    (sp.tanh(z), 1 - sp.tanh(z) ** 2),
    (softplus(z), sigmoid(z)),
    (relu(z), sp.Piecewise((1, z > 0), (0, True))),
    (leaky_relu(z, LEAKY_RELU_SLOPE), sp.Piecewise((1, z > 0), (LEAKY_RELU_SLOPE, True))),
    (softmax(1, z, v), softmax(1, z, v) * (1 - softmax(1, z, v))),
])
def test_derivative_is_the_textbook_form(function, textbook):
    assert sp.diff(function, z) == textbook


def test_softmax_cross_derivative():
    assert sp.diff(softmax(1, z, v), v) == -softmax(1, z, v) * softmax(2, z, v)


def test_relu_takes_zero_at_the_kink():
    assert sp.diff(relu(z), z).subs(z, 0) == 0
    assert sp.diff(leaky_relu(z, LEAKY_RELU_SLOPE), z).subs(z, 0) == LEAKY_RELU_SLOPE


@pytest.mark.parametrize("function,reference", [
    (sigmoid, lambda t: 1 / (1 + math.exp(-t))),
    (softplus, lambda t: math.log1p(math.exp(t))),
    (relu, lambda t: max(0.0, t)),
    (lambda t: leaky_relu(t, LEAKY_RELU_SLOPE), lambda t: t if t > 0 else 0.01 * t),
    (lambda t: softmax(2, t, sp.Float(0.3)), lambda t: math.exp(0.3) / (math.exp(t) + math.exp(0.3))),
])
@pytest.mark.parametrize("t", [-2.5, -0.1, 0.0, 0.7, 3.0])
def test_numeric_values_match_the_definitions(function, reference, t):
    assert math.isclose(float(function(sp.Float(t)).evalf(20)), reference(t), rel_tol=1e-14, abs_tol=1e-15)


def test_derivations_are_immutable():
    d = symgrad.derive("1/2*(yhat - y)**2", wrt="yhat", at={"yhat": 0.8, "y": 1.0})
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.title = "changed"
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.gradients[0].result = sp.S.Zero
    assert isinstance(d.gradients, tuple) and isinstance(d.definitions, tuple)
