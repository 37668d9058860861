"""The chain-rule engine against independent references: sympy.diff and finite differences."""

from __future__ import annotations

import math
import random

import pytest
import sympy as sp
from hypothesis import given, settings, strategies as st

import symgrad
from symgrad import derive, network, neuron, with_loss
from symgrad.calculus import backprop
from symgrad.calculus.derivation import Derivation
from references import central_difference, close, random_point, sympy_gradient, value

LOSSES = ["half_squared_error", "squared_error", "mse", "binary_cross_entropy"]
SCALAR_ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity"]


def assert_matches_references(d: Derivation, seed: int = 0) -> None:
    rng = random.Random(seed)
    point = random_point(d.graph, rng)
    for g in d.gradients:
        reference = value(sympy_gradient(d.graph, g.parameter), point)
        assert close(value(g.expanded, point), reference), (g.parameter, g.expanded)
        assert close(central_difference(d.graph, point, g.parameter), reference, rel=1e-5, abs_=1e-7)


NEURONS = [(a, loss) for a in SCALAR_ACTIVATIONS for loss in LOSSES
           if loss != "binary_cross_entropy" or a == "sigmoid"]  # BCE needs yhat in (0, 1)


@pytest.mark.parametrize("activation,loss", NEURONS)
@pytest.mark.parametrize("bias", [True, False])
def test_neuron_gradients_match_sympy_and_finite_differences(activation, loss, bias):
    assert_matches_references(derive(with_loss(neuron(activation, bias), loss), "all"))


@pytest.mark.parametrize("hidden", SCALAR_ACTIVATIONS)
@pytest.mark.parametrize("output,loss", [
    ("sigmoid", "half_squared_error"), ("identity", "mse"), ("tanh", "squared_error"),
    ("sigmoid", "binary_cross_entropy"), ("softmax", "categorical_cross_entropy"),
])
def test_two_layer_networks_match_references(hidden, output, loss):
    graph = with_loss(network(2, [(3, hidden), (2, output)]), loss)
    assert_matches_references(derive(graph, "all"), seed=len(hidden))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(widths=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       hidden=st.sampled_from(SCALAR_ACTIVATIONS), inputs=st.integers(1, 3),
       seed=st.integers(0, 10_000))
def test_random_networks_match_references(widths, hidden, inputs, seed):
    layers = [(w, hidden) for w in widths[:-1]] + [(widths[-1], "sigmoid")]
    graph = with_loss(network(inputs, layers), "half_squared_error")
    assert_matches_references(derive(graph, "all"), seed=seed)


@pytest.mark.parametrize("text,wrt", [
    ("1/2*(yhat - y)**2", "yhat"),
    ("(sigmoid(w*x) - y)**2", "w"),
    ("sigmoid(w*x) + tanh(w*x)**2 - y", "w"),
    ("-(y*log(sigmoid(w*x + b)) + (1 - y)*log(1 - sigmoid(w*x + b)))", "all"),
    ("softplus(w*x + b)**2 + exp(-w)*sqrt(x**2 + 1)", "all"),
    ("tanh(sigmoid(w*x)*w) / (1 + x**2)", "w"),
])
def test_free_expressions_match_references(text, wrt):
    assert_matches_references(derive(text, wrt))


def test_seed_mse_numbers_are_exact():
    d = derive("1/2*(yhat - y)**2", wrt="yhat", at={"y": 1.0, "yhat": 0.8})
    assert d.worked.loss == sp.Float("0.02", 30)
    assert d.worked.gradients[d.parameters[0]] == sp.Float("-0.2", 30)
    assert d.gradients[0].intermediate == sp.Symbol("yhat", real=True) - sp.Symbol("y", real=True)


def test_seed_neuron_is_three_factors_with_hand_computed_numbers():
    d = derive(with_loss(neuron("sigmoid", bias=False), "squared_error"), "w",
               at={"x": 1.5, "w": 0.8, "y": 1.0}, learning_rate=0.1)
    (path,) = d.gradients[0].paths
    assert [s.name for s in path.nodes] == ["L", "yhat", "z", "w"]
    assert len(path.factors) == 3
    s = 1 / (1 + math.exp(-0.8 * 1.5))
    expected = 2 * (s - 1.0) * s * (1 - s) * 1.5
    w = d.parameters[0]
    assert close(float(d.worked.gradients[w]), expected, rel=1e-14)
    assert close(float(d.worked.updated[w]), 0.8 - 0.1 * expected, rel=1e-14)
    assert close(float(d.worked.loss), (s - 1.0) ** 2, rel=1e-14)


def test_hidden_weight_sums_over_paths_and_reuses_deltas():
    graph = with_loss(network(2, [(2, "sigmoid"), (2, "sigmoid")]), "half_squared_error")
    d = derive(graph, ["W2[0][0]", "W1[0][0]"])
    output, hidden = d.gradients
    assert len(output.paths) == 1 and len(hidden.paths) == 2
    deltas = {a.name for a in d.adjoints if a.named}
    assert output.result.free_symbols & deltas
    hidden_delta = next(a for a in d.adjoints if a.node.name == "z1[0]")
    assert {a.name for a in d.adjoints if a.node.name.startswith("z2")} <= hidden_delta.value.free_symbols


def total_ops(d: Derivation) -> tuple[int, int]:
    forward = sum(sp.count_ops(x.expr) for x in d.definitions)
    backward = sum(sp.count_ops(a.value) for a in d.adjoints) + sum(
        sp.count_ops(g.result) for g in d.gradients)
    return forward, backward


@pytest.mark.parametrize("widths", [(2, 2, 2), (3, 3, 3, 2), (4, 4, 4, 4, 2)])
def test_what_is_derived_grows_like_the_network(widths):
    graph = with_loss(network(widths[0], [(w, "sigmoid") for w in widths[1:]]), "half_squared_error")
    d = derive(graph, "all")
    forward, backward = total_ops(d)
    assert backward <= 3 * forward, (forward, backward)
    assert len(d.adjoints) == len(d.definitions) - 1


def test_compiled_function_matches_worked_numbers_and_batches():
    at = dict(x=[0.5, -0.2], y=[0.0, 1.0], W1=[[0.1, 0.2], [0.3, 0.4]], b1=[0.0, 0.1],
              W2=[[0.5, 0.6], [0.7, 0.8]], b2=[0.2, 0.3])
    graph = with_loss(network(2, [(2, "tanh"), (2, "softmax")]), "categorical_cross_entropy")
    d = derive(graph, "all", at=at)
    f = symgrad.compile(d)
    single = f(**at)
    assert close(float(single.loss), float(d.worked.loss), rel=1e-13)
    W1 = d.graph.group("W1")
    for symbol, pos in zip(W1.symbols, W1.positions()):
        assert close(single.gradients["W1"][pos], float(d.worked.gradients[symbol]), rel=1e-12)
    import numpy as np

    rng = np.random.default_rng(1)
    batch = {k: np.asarray(v)[..., None] + 0.1 * rng.standard_normal(np.shape(v) + (4,))
             for k, v in at.items()}
    batched = f(**batch)
    for i in range(4):
        one = f(**{k: v[..., i] for k, v in batch.items()})
        assert np.allclose(batched.loss[i], one.loss)
        assert np.allclose(batched.gradients["W2"][..., i], one.gradients["W2"])


def test_compiled_gradients_match_central_differences():
    import numpy as np

    graph = with_loss(network(3, [(4, "softplus"), (2, "sigmoid")]), "binary_cross_entropy")
    d = derive(graph, "all")
    f = symgrad.compile(d)
    rng = np.random.default_rng(7)
    values = {g.name: rng.uniform(0.1, 0.9, g.shape) for g in graph.groups}
    grads = f(**values).gradients
    h = 1e-6
    for group in graph.parameters:
        for pos in group.positions():
            up = {k: v.copy() for k, v in values.items()}
            down = {k: v.copy() for k, v in values.items()}
            up[group.name][pos] += h
            down[group.name][pos] -= h
            fd = (f(**up).loss - f(**down).loss) / (2 * h)
            assert np.isclose(grads[group.name][pos], fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("text,names", [
    ("2*w*x + b", {"w", "x", "b"}),
    ("w*x + v*x**2 + u*y + w*v", {"u", "y"}),
    ("w*(x + 1) + sigmoid(v)", {"w"}),
])
def test_factors_read_off_a_sum_equal_their_steps(text, names):
    expr = symgrad.parse_expression(text)
    read_off = backprop.coefficients(expr)
    assert {s.name for s in read_off} == names
    for symbol, coefficient in read_off.items():
        assert coefficient == symgrad.differentiate(expr, symbol).result
        assert sp.simplify(coefficient - sp.diff(expr, symbol)) == 0


def test_network_factors_read_off_their_sums_agree_with_their_steps():
    graph = with_loss(network(3, [(3, "tanh"), (2, "sigmoid")]), "mse")
    d = derive(graph, "all")
    named = {x.expr: x.symbol for x in d.definitions if x.symbol.name.startswith(("a", "yhat"))}
    for f in d.factors:
        assert f.result == f.step.result.xreplace(named), (f.of, f.wrt)


def test_activation_slopes_are_written_with_the_activations_value():
    d = derive(with_loss(neuron("sigmoid"), "half_squared_error"), "w")
    factor = next(f for f in d.factors if f.wrt.name == "z")
    yhat = factor.of
    assert factor.result == yhat * (1 - yhat)
    assert factor.step.result == factor.step.expr * (1 - factor.step.expr)


@pytest.mark.parametrize("output,loss,given", [
    ("softmax", "categorical_cross_entropy", True),
    ("sigmoid", "binary_cross_entropy", False),
])
def test_output_delta_is_prediction_minus_target(output, loss, given):
    graph = with_loss(network(2, [(3, "tanh"), (3 if output == "softmax" else 1, output)]), loss)
    d = derive(graph, "all")
    outputs = graph.group("y").symbols
    for j, y in enumerate(outputs):
        delta = next(a for a in d.adjoints if a.node.name == f"z2[{j}]")
        yhat = next(s for s in delta.value.free_symbols if s.name == f"yhat[{j}]")
        assert delta.value == yhat - y
        assert delta.simplification is not None and (delta.given is not None) == given
        raw = delta.simplification.expr
        point = {s: sp.Rational(k + 2, 7) for k, s in enumerate(sorted(raw.free_symbols, key=str))}
        if given:  # the targets sum to 1
            point[outputs[-1]] = 1 - sum(point[t] for t in outputs[:-1])
        assert sp.simplify(raw.xreplace(point) - delta.value.xreplace(point)) == 0


def test_categorical_cross_entropy_rejects_targets_that_do_not_sum_to_one():
    graph = with_loss(network(1, [(2, "softmax")]), "categorical_cross_entropy")
    at = {"x": [1], "W1": [[0.5], [-0.5]], "b1": [0, 0], "y": [0.5, 1]}
    with pytest.raises(symgrad.ValuesError, match="sum to 1"):
        derive(graph, "all", at=at)


def test_sigmoid_with_binary_cross_entropy_cancels_line_by_line_to_yhat_minus_y():
    d = derive(with_loss(neuron("sigmoid", bias=True), "binary_cross_entropy"), ["w", "b"])
    names = {s.name: s for s in d.gradients[0].intermediate.free_symbols | d.gradients[1].intermediate.free_symbols}
    yhat, y = names["yhat"], names["y"]
    x = next(s for s in d.graph.groups[0].symbols if s.name == "x")
    for g, expected in zip(d.gradients, [(yhat - y) * x, yhat - y]):
        forms = (g.product,) + g.together
        assert len(forms) >= 4
        assert all(sp.simplify(a - b) == 0 for a, b in zip(forms, forms[1:]))
        assert sp.expand(g.intermediate - expected) == 0 and g.intermediate == forms[-1]
        assert not any(a == 1 for f in g.together for n in sp.preorder_traversal(f)
                       if isinstance(n, sp.Mul) for a in n.args)  # no factor 1 written


def test_squared_error_has_nothing_to_cancel():
    d = derive(with_loss(neuron("sigmoid", bias=False), "squared_error"), "w")
    assert d.gradients[0].together == ()
