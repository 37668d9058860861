"""The index form on the jax and torch backends: the same loss and gradients as numpy's index
form (itself checked against sympy.diff, finite differences and PyTorch autograd elsewhere),
over the backend's own arrays, batch dimensions included; what cannot be translated is one
line naming it."""

from __future__ import annotations

import numpy as np
import pytest

import symgrad
from symgrad import derive, network, neuron, with_loss
from symgrad.errors import DerivationError
from symgrad.numeric.backends import get_backend
from test_compile_forms import jax_x64, torch_module  # noqa: F401 (jax_x64 is a fixture)

EXPRESSIONS = [
    ("1/2*(yhat - y)**2", "yhat"),
    ("softplus(w*x + b)**2", ["w", "b"]),
    ("(sigmoid(w*x) - y)**2", "w"),
    ("relu(w*x - b)**2", ["w", "b"]),
    ("log(1 + exp(w*x))", "w"),
    ("tanh(w*x + b)*y", ["w", "b"]),
    ("leaky_relu(w*x)**2 + max(w, b) - min(w*x, b)", ["w", "b"]),
    ("abs(w*x - b) + sqrt(w**2 + 1) + log(2)*w + exp(-2)*b", ["w", "b"]),
]
BATCH = (4, 3)
"""Trailing batch dimensions given to every quantity."""


@pytest.fixture(params=["jax", "torch"])
def backend(request):
    """The backend's name and its array type (float64 for jax)."""
    if request.param == "jax":
        return "jax", request.getfixturevalue("jax_x64").Array
    return "torch", torch_module().Tensor


def values_of(d, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each quantity with its shape then ``BATCH``; a zero among the x, so that a ReLU meets
    its kink (w*x - b = 0 where b is 0 too)."""
    values = {g.name: rng.uniform(-1.5, 1.5, g.shape + BATCH) for g in d.graph.groups}
    for name in ("x", "b"):
        if name in values:
            values[name][..., 0, 0] = 0.0
    return values


def assert_same(expected: symgrad.Evaluation, got: symgrad.Evaluation, kind: type) -> None:
    assert isinstance(got.loss, kind)
    np.testing.assert_allclose(np.asarray(got.loss), expected.loss, rtol=1e-12, atol=0)
    assert got.gradients.keys() == expected.gradients.keys()
    for name, gradient in got.gradients.items():
        assert isinstance(gradient, kind) and tuple(gradient.shape) == expected.gradients[name].shape
        np.testing.assert_allclose(np.asarray(gradient), expected.gradients[name], rtol=1e-12,
                                   atol=0)


def assert_prepared_same(d, c, values: dict[str, np.ndarray], kind: type) -> None:
    arrays = [values[n] for n in c.arguments]
    loss, gradients = symgrad.compile(d, form="index").prepared()(*arrays)
    got_loss, got = c.prepared()(*arrays)
    assert isinstance(got_loss, kind) and len(got) == len(gradients)
    np.testing.assert_allclose(np.asarray(got_loss), loss, rtol=1e-12, atol=0)
    for a, b in zip(got, gradients):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-12, atol=0)


@pytest.mark.parametrize("expression, wrt", EXPRESSIONS)
def test_a_free_expression_gives_numpys_numbers(backend, expression, wrt):
    name, kind = backend
    d = derive(expression, wrt)
    values = values_of(d, np.random.default_rng(len(expression)))
    c = symgrad.compile(d, backend=name)
    assert (c.form, c.backend) == ("index", name)
    assert_same(symgrad.compile(d)(**values), c(**values), kind)
    assert_prepared_same(d, c, values, kind)


def test_relus_derivative_at_its_kink_is_zero_as_on_numpy(backend):
    name, kind = backend
    d = derive("relu(w*x - b)", ["w", "b"])
    values = {"w": np.array([0.5, 0.5, 2.0]), "x": np.array([0.0, 1.0, -1.0]),
              "b": np.array([0.0, 0.25, 0.0])}
    got = symgrad.compile(d, backend=name)(**values)
    assert_same(symgrad.compile(d)(**values), got, kind)
    # z = 0, 0.25, -2: ReLU' = 0, 1, 0, and dz/dw = x
    np.testing.assert_array_equal(np.asarray(got.gradients["w"]), [0.0, 1.0, 0.0])


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "softplus", "leaky_relu"])
def test_a_single_neuron_gives_numpys_numbers(backend, activation):
    name, kind = backend
    d = derive(with_loss(neuron(activation), "squared_error"), "all")
    values = values_of(d, np.random.default_rng(7))
    c = symgrad.compile(d, backend=name)
    assert_same(symgrad.compile(d)(**values), c(**values), kind)
    assert_prepared_same(d, c, values, kind)


def test_a_networks_single_weight_and_saliency_give_numpys_numbers(backend):
    name, kind = backend
    graph = with_loss(network(3, [(4, "softplus"), (3, "softmax")]), "categorical_cross_entropy")
    d = derive(graph, ["W1[0][0]", "x"])
    rng = np.random.default_rng(3)
    values = {g.name: rng.uniform(-1.0, 1.0, g.shape + BATCH[:1]) for g in graph.groups}
    values["y"] = np.abs(values["y"]) / np.abs(values["y"]).sum(axis=0)
    c = symgrad.compile(d, backend=name)
    assert c.form == "index" and set(c.gradient_names) == {"W1[0][0]", "x"}
    assert_same(symgrad.compile(d)(**values), c(**values), kind)
    assert_prepared_same(d, c, values, kind)


def test_the_backends_own_arrays_go_in():
    torch = torch_module()
    d = derive("softplus(w*x + b)**2", ["w", "b"])
    values = values_of(d, np.random.default_rng(5))
    got = symgrad.compile(d, backend="torch")(**{k: torch.from_numpy(v) for k, v in values.items()})
    assert_same(symgrad.compile(d)(**values), got, torch.Tensor)


def test_jax_jit_compiles_the_index_form(request):
    jax = request.getfixturevalue("jax_x64")
    d = derive("(sigmoid(w*x) - y)**2", "w")
    c = symgrad.compile(d, backend="jax")
    assert hasattr(c.function, "lower")  # what jax.jit gives, not the plain function
    loss, (gradient,) = c.prepared()(*(jax.numpy.asarray([0.5, -1.0]) for _ in c.arguments))
    assert loss.dtype == np.float64 and gradient.dtype == np.float64


@pytest.mark.parametrize("text, message", [
    ("numpy.select([x > 0], [x], 0)", "cannot compile numpy.select for torch"),
    ("numpy.arctan2(x, y)", "cannot compile numpy.arctan2 for torch"),
])
def test_a_call_torch_does_not_share_is_one_line_naming_it(text, message):
    with pytest.raises(DerivationError, match=message):
        get_backend("torch").translate(text)


def test_code_needing_another_module_is_one_line_naming_it():
    with pytest.raises(DerivationError, match="needs scipy for jax"):
        get_backend("jax").translate("scipy.special.erf(x)", ("numpy", "scipy"))


def test_a_number_torch_refuses_is_read_as_numpys():
    text = get_backend("torch").translate("numpy.log(0.5)**2 * numpy.exp(-2) + numpy.exp(w)")
    assert text == f"({float(np.log(0.5))!r})**2 * ({float(np.exp(-2.0))!r}) + torch.exp(w)"
    assert eval(text.replace("torch.exp(w)", "0")) == pytest.approx(np.log(0.5)**2 * np.exp(-2))
