"""Reading the gradient: the ranking and the warnings come from the numbers."""

from __future__ import annotations

import math

import pytest

import symgrad
from symgrad import network, neuron, with_loss
from symgrad.numeric.reading import read


def sigmoid_neuron(w: float, x: float = 1.5):
    graph = with_loss(neuron("sigmoid", bias=False), "squared_error")
    return symgrad.derive(graph, "w", at={"x": x, "w": w, "y": 0.0}, learning_rate=0.1)


@pytest.mark.parametrize("w,saturated", [(0.5, False), (1.5, False), (2.5, True), (4.0, True)])
def test_a_sigmoid_is_saturated_when_its_slope_is_under_a_tenth_of_a_quarter(w, saturated):
    z = 1.5 * w
    slope = math.exp(-z) / (1 + math.exp(-z)) ** 2  # sigma'(z), by hand
    assert (slope < 0.025) == saturated
    warnings = read(sigmoid_neuron(w)).warnings
    assert [c.kind for c in warnings] == (["saturated"] if saturated else [])
    if saturated:
        assert float(warnings[0].value) == pytest.approx(slope)
        assert "vanishing gradient" in symgrad.render(sigmoid_neuron(w))


def relu_network(first_bias: float):
    graph = with_loss(network(1, [(2, "relu"), (1, "identity")]), "half_squared_error")
    at = {"x": [1.0], "W1": [[1.0], [1.0]], "b1": [first_bias, 0.5], "W2": [[1.0, 1.0]],
          "b2": [0.0], "y": [0.0]}
    return symgrad.derive(graph, "all", at=at, learning_rate=0.1)


def test_a_relu_that_is_off_is_named_and_its_weights_get_no_gradient():
    d = relu_network(-2.0)  # z = 1 - 2 < 0 for the first unit
    (off,) = [c for c in read(d).warnings if c.kind == "off"]
    assert off.factor.of.name == "a1[0]" and float(off.argument) == -1.0
    assert float(d.worked.gradients[d.graph.element("W1[0][0]")]) == 0.0
    assert "no gradient flows back" in symgrad.render(d)
    assert not [c for c in read(relu_network(2.0)).warnings if c.kind == "off"]


def test_factors_that_multiply_up_are_an_exploding_warning_once_per_path():
    graph = with_loss(network(1, [(1, "identity")] * 3), "half_squared_error")
    at = {"x": [1.0], "y": [0.0], **{f"W{l}": [[4.0]] for l in (1, 2, 3)},
          **{f"b{l}": [0.0] for l in (1, 2, 3)}}
    d = symgrad.derive(graph, "all", at=at, learning_rate=0.001)
    exploding = [c for c in read(d).warnings if c.kind == "exploding"]
    assert [float(c.value) for c in exploding] == [16.0]  # W3 * W2 between L's factor and z1
    small = {**at, **{f"W{l}": [[0.5]] for l in (1, 2, 3)}}
    assert not [c for c in read(symgrad.derive(graph, "all", at=small)).warnings
                if c.kind == "exploding"]


def test_ranking_is_by_size_and_named_only_with_a_training_step():
    graph = with_loss(neuron("sigmoid"), "squared_error")
    at = {"x": 2.0, "w": 0.3, "b": -0.1, "y": 1.0}
    reading = read(symgrad.derive(graph, "all", at=at))
    sizes = [abs(float(g)) for _, g in reading.ranking]
    assert sizes == sorted(sizes, reverse=True)
    assert reading.ranking[0][0].name == "w"  # dz/dw = x = 2 > dz/db = 1
    assert "largest in size" in symgrad.render(symgrad.derive(graph, "all", at=at,
                                                               learning_rate=0.1))
    assert "largest in size" not in symgrad.render(symgrad.derive(graph, "all", at=at))


def test_no_values_no_reading():
    assert read(symgrad.derive("(w*x - y)**2", "w")) is None
