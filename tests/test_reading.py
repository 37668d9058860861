"""Reading the gradient: the ranking and the warnings come from the numbers."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

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


# --- across layers: the first layer's gradients beside the last's ------------------------


def chain(layers: int, activation: str, weight: float = 1.0, bias: float = 0.0):
    """A chain: one input, ``layers`` layers of one unit each, half squared error."""
    graph = with_loss(network(1, [(1, activation)] * layers), "half_squared_error")
    at = {"x": [1.0], "y": [0.0], **{f"W{l}": [[weight]] for l in range(1, layers + 1)},
          **{f"b{l}": [bias] for l in range(1, layers + 1)}}
    return symgrad.derive(graph, "all", at=at, learning_rate=0.5)


def chain_weight_gradients(layers, activation, weight=1.0, bias=0.0, x=1.0, y=0.0):
    """dL/dW^(l) of the chain, by a numpy backward pass written here (not symgrad's)."""
    f = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh,
         "relu": lambda z: np.maximum(z, 0.0)}[activation]
    slope = {"sigmoid": lambda z: f(z) * (1 - f(z)), "tanh": lambda z: 1 - np.tanh(z) ** 2,
             "relu": lambda z: float(z > 0)}[activation]
    a, zs = [x], []
    for _ in range(layers):
        zs.append(weight * a[-1] + bias)
        a.append(f(zs[-1]))
    delta = (a[-1] - y) * slope(zs[-1])  # dL/dz of the last layer, L = (yhat - y)^2 / 2
    grads = [0.0] * layers
    for l in reversed(range(layers)):
        grads[l] = delta * a[l]  # dL/dW^(l+1) = delta^(l+1) a^(l)
        if l:
            delta = weight * delta * slope(zs[l - 1])
    return grads, [slope(z) for z in zs]


def two_figures(value: float) -> int:
    return int(float(f"{value:.2g}"))


def three_figures(value: float) -> str:
    """``value`` to three significant figures as the documents write it: 0.0976, 7.2 \times
    10^{-5} (scientific below 1e-4)."""
    text = f"{value:.3g}"
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{float(mantissa):g} \\times 10^{{{int(exponent)}}}"


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_a_deep_sigmoid_chain_says_its_first_layer_learns_slowly(fmt):
    grads, slopes = chain_weight_gradients(6, "sigmoid")
    ratio = abs(grads[-1]) / abs(grads[0])
    assert ratio > 1000  # 0.0976 / 7.2e-5, about 1356
    d = chain(6, "sigmoid")
    text = symgrad.render(d, fmt, view="index")
    sentence = f"The first layer's weight gradients are about {two_figures(ratio)} times smaller"
    assert text.count(sentence) == 1
    assert f"= {three_figures(grads[0])}$" in text  # 7.2e-5
    assert f"= {three_figures(grads[-1])}$" in text  # 0.0976
    # the slopes of layers 1 to 5 (the last one's is in both gradients), each at most 1/4
    bound = np.prod(slopes[:-1])
    assert bound < 0.25 ** 5
    assert f"multiply to at most ${three_figures(bound)}$" in text
    assert "the vanishing gradient" in text and "which is at most $\\frac{1}{4}$" in text
    across = read(d).across
    assert float(across.ratio) == pytest.approx(ratio) and across.explained


def test_a_tanh_chain_names_the_tanh_slope():
    grads, slopes = chain_weight_gradients(5, "tanh", weight=1.5, bias=1.0)
    ratio = abs(grads[-1]) / abs(grads[0])
    assert ratio >= 10
    text = symgrad.render(chain(5, "tanh", 1.5, 1.0), view="index")
    assert f"about {two_figures(ratio)} times smaller" in text
    assert "the tanh's slope, which is at most $1$" in text
    assert f"multiply to at most ${three_figures(np.prod(slopes[:-1]))}$" in text


def test_a_relu_chain_gets_the_figures_but_no_slope_reason():
    # z > 0 everywhere, so every ReLU slope is 1: the weights (0.5) and the growing
    # activations (a^(5) about 1.97 against x = 1) make the difference
    grads, slopes = chain_weight_gradients(6, "relu", weight=0.5, bias=1.0)
    assert all(s == 1.0 for s in slopes)
    ratio = abs(grads[-1]) / abs(grads[0])
    assert ratio >= 10
    text = symgrad.render(chain(6, "relu", 0.5, 1.0), view="index")
    assert f"about {two_figures(ratio)} times smaller" in text
    assert ("So with one learning rate for all, a step moves the first layer's weights far less "
            "than the last layer's.") in text
    assert "slope, which is at most" not in text and "vanishing gradient" not in text


def test_no_sentence_when_the_layers_are_close_or_for_a_neuron():
    grads, _ = chain_weight_gradients(2, "sigmoid")
    assert abs(grads[-1]) / abs(grads[0]) < 10  # 0.10 against 0.029: about 3.7
    d = chain(2, "sigmoid")
    assert not read(d).across.vanishing and not read(d).across.growing
    assert "times smaller" not in symgrad.render(d, view="index")
    assert read(sigmoid_neuron(4.0)).across is None
    assert "times smaller" not in symgrad.render(sigmoid_neuron(4.0))


def test_first_layer_gradients_much_larger_are_said_as_such():
    # identity layers: dL/dW1 = delta x = 10 delta, dL/dW2 = delta a1 = 0.1 delta
    graph = with_loss(network(1, [(1, "identity"), (1, "identity")]), "half_squared_error")
    at = {"x": [10.0], "y": [0.0], "W1": [[0.01]], "b1": [0.0], "W2": [[1.0]], "b2": [0.0]}
    text = symgrad.render(symgrad.derive(graph, "all", at=at, learning_rate=0.1), view="index")
    assert "The first layer's weight gradients are about 100 times larger" in text
    assert ("a step moves the first layer's weights far more than the last layer's." in text)


# --- a batch's warnings: one sentence per kind, naming units and samples ------------------


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


SATURATING_BATCH = {"x": [[0.5, 3.0, 0.1, 2.5], [1.0, 2.0, -0.2, 3.0]], "y": [[0.0, 1.0, 1.0, 0.0]],
                    "W1": [[2.0, 1.0], [0.1, 0.2], [1.5, 1.5]], "b1": [0.0, 0.1, 0.0],
                    "W2": [[0.5, 0.6, 0.7]], "b2": [0.2]}


def spots_by_hand(mask):
    """(unit, sample) pairs, 1-based, where ``mask`` (units x samples) holds."""
    return {(int(j) + 1, int(n) + 1) for j, n in zip(*np.nonzero(mask))}


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_a_batchs_saturated_units_are_one_sentence_naming_units_and_samples(fmt):
    at = SATURATING_BATCH
    z1 = np.array(at["W1"]) @ np.array(at["x"]) + np.array(at["b1"])[:, None]
    a1 = sigmoid(z1)
    z2 = np.array(at["W2"]) @ a1 + np.array(at["b2"])[:, None]
    saturated = lambda z: sigmoid(z) * (1 - sigmoid(z)) < 0.25 / 10  # noqa: E731
    assert spots_by_hand(saturated(z1)) == {(1, 2), (1, 4), (3, 2), (3, 4)}
    assert not saturated(z2).any()
    graph = with_loss(network(2, [(3, "sigmoid"), (1, "sigmoid")], batch=4), "half_squared_error")
    text = symgrad.render(symgrad.derive(graph, "all", at=at, learning_rate=0.5), fmt)
    assert text.count("is saturated") == 1
    assert "the sigmoid is saturated in layer 1 for units 1 and 3 at samples 2 and 4" in text
    smallest = np.abs(z1[saturated(z1)]).min()  # 7.5
    assert f"\\ge {smallest:g}$" in text
    assert f"at most ${three_figures(sigmoid(7.5) * (1 - sigmoid(7.5)))}$" in text


RELU_BATCH = {"x": [[1.0, -1.0, 2.0]], "y": [[0.0, 1.0, 1.0]], "W1": [[1.0], [-1.0], [1.0]],
              "b1": [0.0, -3.0, -1.0], "W2": [[0.5, 0.6, 0.7]], "b2": [0.2]}


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_a_batchs_relus_that_are_off_are_one_sentence_and_a_dead_unit_is_named(fmt):
    at = RELU_BATCH
    x, W1, W2 = np.array(at["x"]), np.array(at["W1"]), np.array(at["W2"])
    z1 = W1 @ x + np.array(at["b1"])[:, None]
    off = z1 <= 0
    assert spots_by_hand(off) == {(1, 2), (2, 1), (2, 2), (2, 3), (3, 1), (3, 2)}
    # unit 2 is off for every sample: its row of dL/dW1 and its dL/db1 are zero
    yhat = W2 @ np.maximum(z1, 0) + np.array(at["b2"])[:, None]
    delta1 = (W2.T @ ((yhat - np.array(at["y"])) / 3)) * (z1 > 0)
    assert np.all((delta1 @ x.T)[1] == 0) and delta1.sum(axis=1)[1] == 0
    graph = with_loss(network(1, [(3, "relu"), (1, "identity")], batch=3), "half_squared_error")
    d = symgrad.derive(graph, "all", at=at, learning_rate=0.5)
    assert float(d.worked.gradients[d.graph.element("W1[1][0]")]) == 0.0
    text = symgrad.render(d, fmt)
    assert text.count("the ReLU is off") == 1
    assert ("the ReLU is off in layer 1 for unit 1 at sample 2, unit 2 at every sample, and "
            "unit 3 at samples 1 and 2") in text
    assert ("Unit 2 of layer 1 is off for every sample, so its weights and bias get no "
            "gradient") in text


def test_a_big_batchs_samples_are_capped():
    # unit 1 saturates (z = 10 x) at the eight samples with x = 1, not at the ninth (x = 0)
    graph = with_loss(network(1, [(1, "sigmoid"), (1, "identity")], batch=9), "half_squared_error")
    at = {"x": [[1.0] * 8 + [0.0]], "y": [[0.0] * 9], "W1": [[10.0]], "b1": [0.0],
          "W2": [[1.0]], "b2": [0.0]}
    assert sigmoid(10) * (1 - sigmoid(10)) < 0.025 < 0.25  # sigma'(0) = 1/4
    d = symgrad.derive(graph, "all", at=at, learning_rate=0.1)
    text = symgrad.render(d, view="index")
    assert text.count("is saturated") == 1
    assert "saturated in layer 1 at samples 1, 2, 3, 4, 5, 6, and 2 more" in text


def test_with_some_layers_differentiated_the_first_and_last_of_them_are_compared():
    grads, slopes = chain_weight_gradients(6, "sigmoid")
    ratio = abs(grads[4]) / abs(grads[1])  # W5 against W2
    at = {"x": [1.0], "y": [0.0], **{f"W{l}": [[1.0]] for l in range(1, 7)},
          **{f"b{l}": [0.0] for l in range(1, 7)}}
    d = symgrad.derive(chain(6, "sigmoid").graph, [f"W{l}[0][0]" for l in (2, 3, 4, 5)], at=at,
                       learning_rate=0.5)
    text = symgrad.render(d, view="index")
    assert (f"Layer 2's weight gradients are about {two_figures(ratio)} times smaller than "
            "layer 5's") in text
    # the slopes of layers 2, 3 and 4 lie between delta^(5) and delta^(2)
    bound = three_figures(np.prod(slopes[1:4]))
    assert f"from layer 5 back to layer 2 these slopes multiply to at most ${bound}$" in text


def test_a_single_relu_off_in_a_network_is_named_with_its_value():
    text = symgrad.render(relu_network(-2.0), view="index")
    assert ("A warning: the ReLU is off in layer 1 for unit 1 ($z^{(1)}_{1} = -1 \\le 0$), so its "
            "slope is $0$ there") in text


def test_a_networks_exploding_paths_are_one_sentence():
    graph = with_loss(network(2, [(2, "identity")] * 3), "half_squared_error")
    W2, W3 = [[4.0, 4.0], [4.0, 5.0]], [[4.0, 4.0], [4.0, 4.0]]
    at = {"x": [1.0, 2.0], "y": [0.0, 0.0], "W1": [[4.0, 4.0], [4.0, 4.0]], "b1": [0.0, 0.0],
          "W2": W2, "b2": [0.0, 0.0], "W3": W3, "b3": [0.0, 0.0]}
    # identity layers: the path L <- yhat_i <- z3_i <- a2_j <- z2_j <- a1_k <- z1_k has the
    # factors 1 * W3[i][j] * 1 * W2[j][k] * 1 between dL/dyhat_i and dz1_k/dW1
    products = [W3[i][j] * W2[j][k] for i in range(2) for j in range(2) for k in range(2)]
    assert sum(abs(p) > 10 for p in products) == 8 and max(products) == 20
    text = symgrad.render(symgrad.derive(graph, "all", at=at, learning_rate=0.001), view="index")
    assert text.count("exploding gradient") == 1
    assert ("along eight paths back from the loss the local derivatives multiply to more "
            "than 10") in text
    assert "a^{(2)}_{2} \\leftarrow z^{(2)}_{2}" in text and ", to $20$." in text


def test_a_saturated_sigmoid_under_cross_entropy_is_no_vanishing_gradient():
    # L = -(y log yhat + (1 - y) log(1 - yhat)): dL/dyhat = (yhat - y) / (yhat (1 - yhat)),
    # and sigma'(z) = yhat (1 - yhat), so dL/dz = yhat - y = sigma(6) - 0 at w = 3, x = 2
    graph = with_loss(neuron("sigmoid", bias=False), "binary_cross_entropy")
    d = symgrad.derive(graph, "w", at={"x": 2.0, "w": 3.0, "y": 0.0}, learning_rate=0.1)
    assert sigmoid(6) * (1 - sigmoid(6)) < 0.025
    assert [c.kind for c in read(d).warnings] == ["cancelled"]
    text = symgrad.render(d)
    assert "vanishing gradient" not in text and "the gradient does not vanish" in text
    assert f"\\frac{{\\partial L}}{{\\partial z}} = {sigmoid(6):.6g}$ is the error" in text
    assert float(d.worked.gradients[d.graph.element("w")]) == pytest.approx(sigmoid(6) * 2)


def test_a_batchs_saturated_outputs_under_cross_entropy_are_one_note():
    graph = with_loss(network(1, [(2, "sigmoid"), (1, "sigmoid")], batch=2), "binary_cross_entropy")
    at = {"x": [[1.0, 2.0]], "W1": [[1.0], [2.0]], "b1": [0.0, 0.0], "W2": [[3.0, 3.0]],
          "b2": [0.0], "y": [[1.0, 0.0]]}
    z1 = np.array(at["W1"]) @ np.array(at["x"])
    z2 = np.array(at["W2"]) @ sigmoid(z1)
    slope = lambda z: sigmoid(z) * (1 - sigmoid(z))  # noqa: E731
    assert spots_by_hand(slope(z1) < 0.025) == {(2, 2)} and (slope(z2) < 0.025).all()
    text = symgrad.render(symgrad.derive(graph, "all", at=at, learning_rate=0.1), view="index")
    assert text.count("A note") == 1 and text.count("vanishing gradient") == 1  # layer 1's
    assert "saturated in the output layer at every sample" in text
    assert "$(\\hat{y} - y) / 2$, is not made small by it" in text
    assert "saturated in layer 1 for unit 2 at sample 2 ($z^{(1)}_{2,2} = 4$)" in text


def test_about_writes_a_factor_past_a_doubles_range_as_a_power_of_ten():
    from symgrad.numeric.reading import about
    assert [about(v) for v in (347.9, 13.6, 99.6, 1356.2)] == [350, 14, 100, 1400]
    assert about(sp.Integer(3) * sp.Integer(10)**400) == "$10^{400}$"
    huge = sp.Float(mpmath.power(10, mpmath.mpf("4.34e307")), 30)  # a ratio of 10^(4.34e307)
    assert about(huge) == r"$10^{4.34 \times 10^{307}}$"
