"""symgrad.compile's forms and backends: the matrix form (a dense network's default) against
the index form and PyTorch autograd, the fast path's contract (prepared), what falls back to
the index form, the jax and torch backends against numpy, and the size of the generated code.
"""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

import symgrad
from render_tools import require
from symgrad import derive, network, neuron, with_loss
from symgrad.errors import DerivationError, UnknownNameError

HIDDEN = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity")
OUTPUTS = (("identity", "half_squared_error"), ("tanh", "squared_error"), ("relu", "mse"),
           ("sigmoid", "binary_cross_entropy"), ("softmax", "categorical_cross_entropy"),
           ("softmax", "mse"), ("sigmoid", "categorical_cross_entropy"),
           ("softmax", "binary_cross_entropy"))
CASES = [(hidden, output, loss, batch) for hidden in HIDDEN for output, loss in OUTPUTS
         for batch in (None, 3)]
COLUMNS = 5
"""Samples given to a network without a batch: a batch dimension for ``c(**values)``,
columns for ``prepared()``."""
RTOL, ATOL = 1e-10, 1e-12
# sigmoid outputs under the categorical cross-entropy are asked for on purpose
pytestmark = pytest.mark.filterwarnings("ignore:categorical_cross_entropy takes")


def graph_of(hidden: str, output: str, loss: str, batch: int | None = None):
    return with_loss(network(3, [(4, hidden), (3, output)], batch=batch), loss)


def random_values(graph, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Values by group name, x and y with ``COLUMNS`` columns without a batch; targets in
    (0, 1), summing to 1 for the categorical cross-entropy."""
    columns = () if graph.batch else (COLUMNS,)
    values = {g.name: rng.uniform(-1.5, 1.5, g.shape + (columns if g.role == "input" else ()))
              for g in graph.groups}
    y = next(g for g in graph.groups if g.role == "target")
    values["y"] = rng.uniform(0.1, 0.9, y.shape + columns)
    if graph.loss_name == "categorical_cross_entropy":
        values["y"] /= values["y"].sum(axis=0)
    return values


def torch_reference():
    """tests/torch_reference.py; skips without torch, fails under CI=true."""
    try:
        module = importlib.import_module("torch_reference")
    except ModuleNotFoundError as error:
        if error.name != "torch":
            raise
        module = None
    require("PyTorch", module is not None, "PyTorch is not installed (pip install 'symgrad[torch]')")
    return module


@pytest.mark.parametrize("hidden,output,loss,batch", CASES)
def test_matrix_form_equals_index_form(hidden, output, loss, batch):
    d = derive(graph_of(hidden, output, loss, batch))
    matrix, index = symgrad.compile(d), symgrad.compile(d, form="index")
    assert (matrix.form, index.form) == ("matrix", "index")
    assert matrix.arguments == index.arguments and matrix.gradient_names == index.gradient_names
    values = random_values(d.graph, np.random.default_rng(len(hidden + output + loss)))
    by_name, by_scalar = matrix(**values), index(**values)
    np.testing.assert_allclose(by_name.loss, by_scalar.loss, rtol=RTOL, atol=ATOL)
    assert by_name.gradients.keys() == by_scalar.gradients.keys()
    for name, gradient in by_scalar.gradients.items():
        assert by_name.gradients[name].shape == gradient.shape
        np.testing.assert_allclose(by_name.gradients[name], gradient, rtol=RTOL, atol=ATOL)
    arrays = [values[n] for n in matrix.arguments]
    (fast_loss, fast), (slow_loss, slow) = matrix.prepared()(*arrays), index.prepared()(*arrays)
    np.testing.assert_allclose(fast_loss, slow_loss, rtol=RTOL, atol=ATOL)
    for got, expected in zip(fast, slow, strict=True):
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("hidden,output,loss,batch", CASES[::3])
def test_prepared_matches_torch_autograd(hidden, output, loss, batch):
    """prepared() sums the columns' losses (a batch's loss is their mean, as torch's is)."""
    reference = torch_reference()
    graph = graph_of(hidden, output, loss, batch)
    c = symgrad.compile(derive(graph))
    values = random_values(graph, np.random.default_rng(7 + len(hidden + loss)))
    expected_loss, expected = reference.loss_and_gradients(values, (hidden, output), loss)
    scale = 1 if batch else COLUMNS  # the reference takes the mean over the columns
    loss_value, gradients = c.prepared()(*(values[n] for n in c.arguments))
    assert np.isclose(loss_value, scale * expected_loss, rtol=RTOL, atol=ATOL)
    for name, gradient in zip(c.gradient_names, gradients):
        assert gradient.shape == values[name].shape
        np.testing.assert_allclose(gradient, scale * expected[name], rtol=RTOL, atol=ATOL)


def test_relu_takes_no_slope_at_its_kink_in_both_forms():
    """ReLU'(0) = 0 (README "At a kink"): with W1 and b1 zero every z of layer 1 is 0."""
    d = derive(graph_of("relu", "identity", "half_squared_error"))
    values = random_values(d.graph, np.random.default_rng(3))
    values["W1"], values["b1"] = np.zeros((4, 3)), np.zeros(4)
    matrix, index = symgrad.compile(d)(**values), symgrad.compile(d, form="index")(**values)
    assert not matrix.gradients["W1"].any() and not matrix.gradients["b1"].any()
    for name, gradient in index.gradients.items():
        np.testing.assert_array_equal(matrix.gradients[name], gradient)


def test_whole_groups_compile_alone_in_the_matrix_form():
    graph = graph_of("tanh", "sigmoid", "binary_cross_entropy")
    every, some = symgrad.compile(derive(graph)), symgrad.compile(derive(graph, ["b2", "W2"]))
    assert some.form == "matrix" and some.gradient_names == ("W2", "b2")
    assert "Delta1" not in some.source  # nothing goes back past the layer asked for
    values = random_values(graph, np.random.default_rng(11))
    _, (W2, b2) = some.prepared()(*(values[n] for n in some.arguments))
    _, (_, _, W2_all, b2_all) = every.prepared()(*(values[n] for n in every.arguments))
    np.testing.assert_array_equal(W2, W2_all)
    np.testing.assert_array_equal(b2, b2_all)


@pytest.mark.parametrize("make,wrt", [
    (lambda: graph_of("sigmoid", "identity", "mse"), ["W2[0][1]", "b1[2]"]),  # elements
    (lambda: graph_of("sigmoid", "identity", "mse"), ["x", "W1"]),  # a saliency
    (lambda: with_loss(network(2, [(3, "softmax"), (2, "sigmoid")]), "mse"), "all"),
    (lambda: with_loss(neuron("tanh"), "squared_error"), "all"),
])
def test_what_the_matrix_form_cannot_write_compiles_to_the_index_form(make, wrt):
    d = derive(make(), wrt)
    c = symgrad.compile(d)
    assert c.form == "index"
    values = {k: v[..., 0] if k in "xy" else v
              for k, v in random_values(d.graph, np.random.default_rng(5)).items()}
    result = c(**values)
    assert set(c.gradient_names) == set(result.gradients)
    worked = derive(d.graph, wrt, at={k: np.asarray(v).tolist() for k, v in values.items()})
    assert np.isclose(result.loss, float(worked.worked.loss), rtol=1e-12)
    with pytest.raises(DerivationError, match="matrix"):
        symgrad.compile(d, form="matrix")


@pytest.mark.parametrize("options,message", [
    ({"form": "vector"}, "unknown form 'vector' (known: matrix, index)"),
    ({"backend": "cupy"}, "unknown backend 'cupy' (known: numpy, jax, torch)"),
])
def test_an_unknown_form_or_backend_is_one_line_naming_the_known(options, message):
    d = derive(graph_of("sigmoid", "identity", "mse"))
    with pytest.raises(UnknownNameError) as error:
        symgrad.compile(d, **options)
    assert str(error.value) == message


def test_the_matrix_source_grows_with_depth_not_width():
    def lines(width: int, depth: int) -> int:
        graph = with_loss(network(width, [(width, "sigmoid")] * depth + [(2, "identity")]),
                          "half_squared_error")
        return len(symgrad.compile(derive(graph)).source.splitlines())
    assert lines(2, 1) == lines(6, 1)
    assert lines(2, 3) - lines(2, 2) == lines(2, 2) - lines(2, 1) == 5


def test_a_free_expression_computes_each_common_subexpression_once():
    d = derive("softplus(w*x + b)**2 + exp(-w)*sqrt(x**2 + 1)", "all")
    source = symgrad.compile(d).source
    assert source.count("numpy.sqrt(") == 1 and source.count("numpy.exp(") == 1


def backend_case(rng: np.random.Generator):
    graph = with_loss(network(3, [(4, "softplus"), (4, "relu"), (3, "softmax")], batch=4), "mse")
    d = derive(graph)
    return d, {g.name: rng.uniform(-1.0, 1.0, g.shape) for g in graph.groups}


@pytest.fixture
def jax_x64():
    jax = pytest.importorskip("jax", reason="jax is not installed (pip install 'symgrad[jax]')")
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield jax
    jax.config.update("jax_enable_x64", before)


def assert_same(numpy_result, other_loss, other_gradients) -> None:
    loss, gradients = numpy_result
    assert np.isclose(float(other_loss), loss, rtol=1e-12, atol=1e-14)
    for got, expected in zip(other_gradients, gradients, strict=True):
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12, atol=1e-14)


def test_the_jax_backend_gives_numpys_numbers(jax_x64):
    d, values = backend_case(np.random.default_rng(21))
    c = symgrad.compile(d, backend="jax")
    arrays = [values[n] for n in c.arguments]
    expected = symgrad.compile(d).prepared()(*arrays)
    loss, gradients = c.prepared()(*(jax_x64.numpy.asarray(a) for a in arrays))
    assert isinstance(loss, jax_x64.Array) and loss.dtype == np.float64
    assert_same(expected, loss, gradients)
    by_name = c(**values)
    assert_same(expected, by_name.loss, [by_name.gradients[n] for n in c.gradient_names])


def torch_module():
    """torch; skips without it, fails under CI=true."""
    try:
        torch = importlib.import_module("torch")
    except ModuleNotFoundError:
        torch = None
    require("PyTorch", torch is not None, "PyTorch is not installed (pip install 'symgrad[torch]')")
    return torch


def test_the_torch_backend_gives_numpys_numbers():
    torch = torch_module()
    d, values = backend_case(np.random.default_rng(22))
    c = symgrad.compile(d, backend="torch")
    arrays = [values[n] for n in c.arguments]
    expected = symgrad.compile(d).prepared()(*arrays)
    loss, gradients = c.prepared()(*(torch.from_numpy(a) for a in arrays))
    assert isinstance(loss, torch.Tensor) and loss.dtype == torch.float64
    assert all(isinstance(g, torch.Tensor) for g in gradients)
    assert_same(expected, loss, gradients)
    by_name = c(**values)
    assert_same(expected, by_name.loss, [by_name.gradients[n] for n in c.gradient_names])


def test_a_missing_backend_library_is_one_line_naming_its_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    d = derive(graph_of("sigmoid", "identity", "mse"))
    with pytest.raises(DerivationError) as error:
        symgrad.compile(d, backend="torch")
    assert str(error.value) == "the torch backend needs torch (pip install 'symgrad[torch]')"
