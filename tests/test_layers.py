"""The matrix view against the index form, against central differences, and its shapes."""

from __future__ import annotations

import re

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import network, with_loss
from symgrad.calculus.matrix import matrix_form, matrix_network
from symgrad.numeric.matrix import compile_matrix

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity"]
OUTPUTS = [("sigmoid", "binary_cross_entropy"), ("softmax", "categorical_cross_entropy"),
           ("identity", "mse"), ("tanh", "half_squared_error"), ("sigmoid", "squared_error")]


def random_values(sizes: list[int], batch: int | None, loss: str, rng) -> dict:
    values = {}
    for l in range(1, len(sizes)):
        values[f"W{l}"] = rng.normal(size=(sizes[l], sizes[l - 1]))
        values[f"b{l}"] = rng.normal(size=sizes[l])
    columns = batch or 1
    x = rng.normal(size=(sizes[0], columns))
    y = rng.uniform(0.1, 0.9, size=(sizes[-1], columns))
    if loss == "categorical_cross_entropy":
        y = y / y.sum(axis=0)
    values["x"], values["y"] = (x, y) if batch else (x[:, 0], y[:, 0])
    return values


def numpy_loss(values: dict, hidden: str, output: str, loss: str, layers: int) -> float:
    """The loss written out directly in numpy, independent of symgrad."""
    f = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh,
         "relu": lambda z: np.maximum(z, 0), "leaky_relu": lambda z: np.where(z > 0, z, z / 100),
         "softplus": lambda z: np.log1p(np.exp(z)), "identity": lambda z: z,
         "softmax": lambda z: np.exp(z) / np.exp(z).sum(axis=0)}
    a = np.atleast_2d(values["x"].T).T
    for l in range(1, layers + 1):
        z = values[f"W{l}"] @ a + values[f"b{l}"][:, None]
        a = f[output if l == layers else hidden](z)
    y = np.atleast_2d(values["y"].T).T
    per_sample = {
        "binary_cross_entropy": lambda: -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum(axis=0),
        "categorical_cross_entropy": lambda: -(y * np.log(a)).sum(axis=0),
        "mse": lambda: ((a - y) ** 2).mean(axis=0),
        "half_squared_error": lambda: 0.5 * ((a - y) ** 2).sum(axis=0),
        "squared_error": lambda: ((a - y) ** 2).sum(axis=0),
    }[loss]()
    return float(per_sample.mean())


CASES = [(hidden, output, loss, batch) for hidden in HIDDEN for output, loss in OUTPUTS
         for batch in (None, 3)]


@pytest.mark.parametrize("hidden,output,loss,batch", CASES)
def test_matrix_view_matches_index_form_and_finite_differences(hidden, output, loss, batch):
    rng = np.random.default_rng(len(hidden) * 31 + len(loss) + (batch or 0))
    sizes = [3, 4, 3]
    layers = [(4, hidden), (3, output)]
    graph = with_loss(network(3, layers, batch=batch), loss)
    values = random_values(sizes, batch, loss, rng)
    matrix = compile_matrix(matrix_form(graph))(**values)
    index = symgrad.compile(symgrad.derive(graph))(**values)
    assert np.isclose(float(matrix.loss), float(index.loss), rtol=1e-12)
    assert np.isclose(float(matrix.loss), numpy_loss(values, hidden, output, loss, 2), rtol=1e-12)
    for name, gradient in matrix.gradients.items():
        assert gradient.shape == values[name].shape
        np.testing.assert_allclose(gradient, np.asarray(index.gradients[name], dtype=float),
                                   rtol=1e-10, atol=1e-13)
    h, name = 1e-6, "W1"
    for position in [(0, 0), (3, 2)]:
        up, down = ({**values, name: values[name].copy()} for _ in range(2))
        up[name][position] += h
        down[name][position] -= h
        central = (numpy_loss(up, hidden, output, loss, 2) - numpy_loss(down, hidden, output, loss, 2)) / (2 * h)
        assert np.isclose(matrix.gradients[name][position], central, rtol=1e-5, atol=1e-8)


def test_layer_equations_have_the_shapes_of_what_they_define():
    form = matrix_network(5, [(4, "tanh"), (3, "relu"), (2, "softmax")],
                          "categorical_cross_entropy", batch=6)
    for layer in form.layers:
        assert layer.weighted_sum.shape == layer.Z.shape == layer.delta.shape
        assert layer.weight_gradient.shape == layer.W.shape
        assert layer.bias_gradient.shape == layer.b.shape
    assert [d.shape for d, _ in form.backward] == [(3, 6), (4, 6)]
    assert all(d.shape == rule.shape for d, rule in form.backward)
    assert form.output.matrix.shape == form.Y.shape


def test_output_delta_is_derived_and_textbook():
    form = matrix_network(2, [(3, "softmax")], "categorical_cross_entropy")
    assert form.output.matrix == form.layers[-1].A - form.Y
    assert form.output.adjoint.given is not None
    batch = matrix_network(2, [(1, "sigmoid")], "binary_cross_entropy", batch=4)
    assert batch.output.matrix == sp.MatMul(sp.Rational(1, 4), batch.layers[-1].A - batch.Y)


def test_activation_slopes_come_from_the_rules():
    form = matrix_network(2, [(2, "sigmoid"), (2, "tanh"), (1, "identity")], "mse")
    z = sp.Symbol("z", real=True)
    slopes = [layer.slope.result for layer in form.layers]
    by_hand = sp.diff(1 / (1 + sp.exp(-z)), z)
    for point in (-1.5, 0.25, 2.0):
        assert sp.N(slopes[0].subs(z, point)) == pytest.approx(float(by_hand.subs(z, point)))
    assert slopes[1] == 1 - sp.tanh(z) ** 2 and slopes[2] == 1


@pytest.mark.parametrize("layers,loss,message", [
    ([(3, "softmax"), (2, "sigmoid")], "mse", "softmax on the output"),
    ([(2, "swish")], "mse", "unknown activation"),
    ([(2, "sigmoid")], "hinge", "unknown loss"),
])
def test_matrix_view_rejects_what_it_cannot_write(layers, loss, message):
    with pytest.raises(symgrad.SymgradError, match=message):
        matrix_network(2, layers, loss)


def test_matrix_derivation_does_not_grow_with_width():
    narrow = matrix_network(4, [(4, "sigmoid")] * 3 + [(2, "sigmoid")], "mse")
    wide = matrix_network(512, [(512, "sigmoid")] * 3 + [(2, "sigmoid")], "mse")
    assert [sp.count_ops(l.slope.result) for l in narrow.layers] == \
        [sp.count_ops(l.slope.result) for l in wide.layers]
    assert sp.count_ops(narrow.output.adjoint.value) == sp.count_ops(wide.output.adjoint.value)


@pytest.mark.parametrize("batch", [None, 2])
@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_bold_one_is_only_the_column_of_ones(batch, fmt):
    """The documents define bold 1 as a column of ones (b 1^T, Delta 1); a slope such as
    sigma(Z) (1 - sigma(Z)) subtracts from the number 1, applied to every entry."""
    values = {"x": [0.5, -0.2], "y": [0.0, 1.0], "W1": [[0.1, 0.2], [0.3, 0.4]], "b1": [0.0, 0.1],
              "W2": [[0.5, 0.6], [0.7, 0.8]], "b2": [0.2, 0.3]}
    if batch:
        values.update(x=[[0.5, 1.0], [-0.2, 0.3]], y=[[0.0, 1.0], [1.0, 0.0]])
    d = symgrad.derive(with_loss(network(2, [(2, "sigmoid"), (2, "sigmoid")], batch=batch),
                                 "half_squared_error"), "all", at=values)
    text = symgrad.render(d, fmt, view="matrix")
    added = re.findall(r"\\mathbf\{1\}\s*[-+]|[-+]\s*\\mathbf\{1\}", text)
    assert added == [], "bold 1 added or subtracted entry by entry"
    assert "(1 - " in text or r"\left(1 - " in text
    if batch:
        assert r"\mathbf{1}^{T}" in text and r"\Delta^{(l)} \mathbf{1}" in text


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_an_outer_products_row_vector_stays_with_its_column(fmt):
    """dL/dW = delta a^T: the matrix view writes the product on one line, and its numbers are
    the gradient table's entries, not matrices whose row vector could be set alone on the next
    line (the 3-4-3 network of the gallery)."""
    from symgrad.spec import load_spec
    from symgrad.cli.main import derive_spec
    from pathlib import Path
    spec = load_spec(Path(__file__).resolve().parent.parent / "examples" / "12_tanh_softmax_network.yaml")
    text = symgrad.render(derive_spec(spec, verify=False), fmt, view="matrix")
    row_alone = re.compile(r"\\end\{bmatrix\} \\\\\n\s*&\\quad \{\} \\begin\{bmatrix\}")
    assert not row_alone.search(text)
    assert r"\frac{\partial L}{\partial W^{(l)}} = \delta^{(l)} (a^{(l-1)})^{T}" in text
    assert r"\delta^{(2)}_{1} \cdot a^{(1)}_{1} = 0.211436 \cdot (-0.148885)" in text
