"""Compiled code in stable forms (symgrad.numeric.stable), against PyTorch's stable functions
in float64 (logsigmoid, softplus, binary_cross_entropy_with_logits, log_softmax) and its
autograd: finite wherever torch's value is, within 1e-12 relative (1e-15 absolute near 0), at
logits up to 1e4 in both signs; the same at ordinary values as mpmath at 50 digits; and any
valid name for a quantity, ``self`` and the generated code's own names included."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad.calculus.matrix import matrix_form
from symgrad.model.functions import sigmoid, softplus
from symgrad.numeric.matrix import compile_matrix
from symgrad.numeric.stable import stable_program
from symgrad.render.notebook import code
from symgrad.spec import load_spec
from test_compile_forms import torch_module

EXAMPLES = __import__("pathlib").Path(__file__).resolve().parent.parent / "examples"
EDGES = [-1e4, -1000.0, -800.0, -40.0, -1.0, 0.0, 1.0, 40.0, 800.0, 1000.0, 1e4]
Z = np.array(EDGES + list(np.random.default_rng(13).normal(0.0, 30.0, 9)))
RTOL, ATOL = 1e-12, 1e-15


def assert_compiled(f, values, loss, grads, how: str) -> None:
    """``f`` at ``values``, with no numpy warning, gives the reference loss and gradients."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = f(**values)
    assert_close(np.asarray(result.loss), loss, f"{how} loss")
    for name, expected in grads.items():
        assert_close(np.asarray(result.gradients[name]), expected, f"{how} dL/d{name}")


def assert_close(actual, expected, what: str) -> None:
    """Finite wherever the reference is, and within RTOL (ATOL near 0)."""
    actual = np.asarray(actual.detach() if hasattr(actual, "detach") else actual, dtype=float)
    expected = np.asarray(expected.detach(), dtype=float)
    finite = np.isfinite(expected)
    assert np.isfinite(actual[finite]).all(), f"{what}: {actual} where torch has {expected}"
    bad = ~np.isclose(actual, expected, rtol=RTOL, atol=ATOL)
    assert not bad.any(), f"{what} at {Z[bad] if bad.shape == Z.shape else bad}: " \
                          f"symgrad {actual[bad]} != torch {expected[bad]}"


def torch_loss(torch, text: str, z, y: float):
    F = torch.nn.functional
    return {"log(sigmoid(z))": lambda: F.logsigmoid(z),
            "log(1 - sigmoid(z))": lambda: F.logsigmoid(-z),
            "log(1 + exp(z))": lambda: F.softplus(z),
            "softplus(z)": lambda: F.softplus(z),
            "log(1 + exp(-z))": lambda: F.softplus(-z),
            "-(y*log(sigmoid(z)) + (1 - y)*log(1 - sigmoid(z)))":
                lambda: F.binary_cross_entropy_with_logits(z, torch.full_like(z, y),
                                                           reduction="none"),
            }[text]()


FREE = ["log(sigmoid(z))", "log(1 - sigmoid(z))", "log(1 + exp(z))", "softplus(z)",
        "log(1 + exp(-z))", "-(y*log(sigmoid(z)) + (1 - y)*log(1 - sigmoid(z)))"]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize(("text", "y"), [(t, 0.3) for t in FREE[:-1]] +
                         [(FREE[-1], y) for y in (0.0, 0.3, 1.0)])
def test_free_expressions_are_finite_and_match_torch(text, y, backend):
    torch = torch_module()
    z = torch.tensor(Z, dtype=torch.float64, requires_grad=True)
    expected = torch_loss(torch, text, z, y)
    (slope,) = torch.autograd.grad(expected.sum(), z)
    f = symgrad.compile(symgrad.derive(text, wrt="z"), backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, no log of 0, no 0/0
        result = f(z=Z, **({"y": y} if "y" in text else {}))
    assert_close(result.loss, expected, f"{text}")
    assert_close(result.gradients["z"], slope, f"d/dz {text}")


@pytest.mark.parametrize("y", [0.0, 1.0, 0.7])
def test_the_sigmoid_neuron_with_cross_entropy_is_computed_from_the_logit(y):
    torch = torch_module()
    spec = load_spec(EXAMPLES / "15_neuron_cross_entropy.yaml")
    f = symgrad.compile(symgrad.derive(spec.graph, wrt=spec.wrt))
    x = 1.5
    w = torch.tensor(Z / x, dtype=torch.float64, requires_grad=True)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        w * x, torch.full_like(w, y), reduction="none")
    (slope,) = torch.autograd.grad(expected.sum(), w)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = f(x=x, w=Z / x, y=y)
    assert_close(result.loss, expected, "BCE")
    assert_close(result.gradients["w"], slope, "dBCE/dw")


def softmax_network_values(scale: float, target: int) -> dict[str, np.ndarray]:
    """Example 12's values with W2 scaled, so the logits reach +-1000 and beyond."""
    at = load_spec(EXAMPLES / "12_tanh_softmax_network.yaml").at
    values = {k: np.asarray(v, dtype=float) for k, v in at.items()}
    values["W2"] = values["W2"] * scale
    values["y"] = np.eye(3)[target]
    return values


def torch_network(torch, values: dict[str, np.ndarray]):
    """Loss and gradients of the 3-4-3 tanh-softmax network by torch's cross_entropy."""
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k not in "xy")
         for k, v in values.items()}
    a1 = torch.tanh(t["W1"] @ t["x"] + t["b1"])
    logits = t["W2"] @ a1 + t["b2"]
    loss = torch.nn.functional.cross_entropy(logits[None], t["y"].argmax()[None])
    assert torch.allclose(loss, -(t["y"] * torch.log_softmax(logits, 0)).sum())
    names = ["W1", "b1", "W2", "b2"]
    return loss, dict(zip(names, torch.autograd.grad(loss, [t[n] for n in names]))), logits


@pytest.mark.parametrize("how", ["matrix", "index", "index-torch", "compile_matrix"])
@pytest.mark.parametrize("scale", [1.0, 800.0, 1500.0, 3000.0])
@pytest.mark.parametrize("target", [0, 1, 2])
def test_softmax_with_cross_entropy_is_log_softmax(how, scale, target):
    torch = torch_module()
    values = softmax_network_values(scale, target)
    loss, grads, logits = torch_network(torch, values)
    if scale == 3000.0:
        assert logits.abs().max() > 800  # the cases of the issue
    graph = load_spec(EXAMPLES / "12_tanh_softmax_network.yaml").graph
    d = symgrad.derive(graph, wrt="all")
    if how == "compile_matrix":
        f = compile_matrix(matrix_form(graph))
    else:
        form, _, backend = how.partition("-")
        f = symgrad.compile(d, form=form, backend=backend or "numpy")
    assert_compiled(f, values, loss, grads, how)


def test_the_softmax_alone_is_stable_at_large_logits():
    torch = torch_module()
    spec = load_spec(EXAMPLES / "11_softmax.yaml")
    f = symgrad.compile(symgrad.derive(spec.graph, wrt=spec.wrt))
    zs = np.array([[-1000.0, 800.0, 1000.0, 1e4, 0.0], [800.0, -800.0, 999.0, -1e4, 1.0],
                   [1000.0, 1000.0, -1000.0, 0.0, 2.0]])
    t = torch.tensor(zs, dtype=torch.float64, requires_grad=True)
    expected = torch.softmax(t, 0)[0]
    (slope,) = torch.autograd.grad(expected.sum(), t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = f(z1=zs[0], z2=zs[1], z3=zs[2])
    assert_close(result.loss, expected, "softmax_1")
    for k, name in enumerate(["z1", "z2"]):
        assert_close(result.gradients[name], slope[k], f"d softmax_1/d{name}")


def test_the_matrix_forms_cross_entropy_reads_the_logits():
    graph = symgrad.with_loss(symgrad.network(2, [(2, "tanh"), (3, "softmax")]),
                              "categorical_cross_entropy")
    source = symgrad.compile(symgrad.derive(graph, "all")).source
    assert "_logsumexp_columns(Z2)" in source and "log(" not in source
    graph = symgrad.with_loss(symgrad.network(2, [(1, "sigmoid")]), "binary_cross_entropy")
    source = symgrad.compile(symgrad.derive(graph, "all")).source
    assert "_softplus(Z1)" in source and "_softplus(-Z1)" in source and "log(" not in source


_z, _y = sp.symbols("z y", real=True)
REFERENCES = {  # written from the definitions, not through symgrad's rewriting
    "log(sigmoid(z))": sp.log(1 / (1 + sp.exp(-_z))),
    "log(1 - sigmoid(z))": sp.log(1 - 1 / (1 + sp.exp(-_z))),
    "log(1 + exp(z))": sp.log(1 + sp.exp(_z)),
    "softplus(z)": sp.log(1 + sp.exp(_z)),
    "log(1 + exp(-z))": sp.log(1 + sp.exp(-_z)),
    "-(y*log(sigmoid(z)) + (1 - y)*log(1 - sigmoid(z)))":
        -(_y * sp.log(1 / (1 + sp.exp(-_z))) + (1 - _y) * sp.log(1 - 1 / (1 + sp.exp(-_z)))),
}


@pytest.mark.parametrize("text", FREE)
def test_ordinary_values_agree_with_mpmath_at_50_digits(text):
    reference = REFERENCES[text]
    slope = sp.diff(reference, _z)
    f = symgrad.compile(symgrad.derive(text, wrt="z"))
    zs, y = [-7.5, -2.0, -0.3, 0.0, 0.4, 1.0, 3.25, 9.0], sp.Rational(3, 10)
    result = f(z=np.array(zs), **({"y": 0.3} if "y" in text else {}))
    for i, value in enumerate(zs):
        at = {_z: sp.Rational(value), _y: y}
        assert result.loss[i] == pytest.approx(float(reference.evalf(50, subs=at)), rel=1e-13,
                                               abs=1e-15)
        assert result.gradients["z"][i] == pytest.approx(float(slope.evalf(50, subs=at)),
                                                         rel=1e-13, abs=1e-15)


def test_the_rules_are_identities():
    """Each rewritten program equals the original, symbolically."""
    a, L = sp.symbols("a L", real=True)
    program = [(a, sigmoid(_z)), (L, -(_y * sp.log(a) + (1 - _y) * sp.log(1 - a)))]
    lines, outputs = stable_program(program, [L, -(_y / a - (1 - _y) / (1 - a)) * a * (1 - a)])
    assert dict(lines)[L] == _y * softplus(-_z) + (1 - _y) * softplus(_z)
    assert sp.expand(outputs[1] - (a - _y)) == 0
    exps = [(L, sp.exp(_z) / (1 + sp.exp(_z)) + 1 / (1 + sp.exp(-_z)))]
    assert stable_program(exps, [L])[0][0][1] == sigmoid(_z) + sigmoid(_z)


NAMES = ["self", "np", "numpy", "out", "result", "gradients", "L", "math", "common0",
         "logsumexp0", "print", "f", "derivation", "a"]


@pytest.mark.parametrize("name", NAMES)
def test_any_valid_name_works_in_compiled_code_and_the_notebook(name):
    text = f"(sigmoid({name}*w) - y)**2 + log(1 + exp({name}))"
    d = symgrad.derive(text, wrt=["w", name], at={name: 0.5, "w": 0.3, "y": 1.0})
    result = symgrad.compile(d)(**{name: 0.5, "w": 0.3, "y": 1.0})
    s = 1 / (1 + np.exp(-0.15))
    assert float(result.loss) == pytest.approx((s - 1) ** 2 + np.log(1 + np.exp(0.5)), rel=1e-13)
    assert float(result.gradients["w"]) == pytest.approx(2 * (s - 1) * s * (1 - s) * 0.5,
                                                          rel=1e-13)
    namespace: dict = {}
    for cell in code(d):  # the notebook's cells run as written
        exec(cell, namespace)


@pytest.mark.parametrize("how", ["matrix", "index", "compile_matrix"])
@pytest.mark.parametrize("scale", [1.0, 50.0, 2000.0])
def test_a_sigmoid_output_layer_with_cross_entropy_matches_torch(how, scale):
    torch = torch_module()
    graph = symgrad.with_loss(symgrad.network(2, [(3, "tanh"), (2, "sigmoid")]),
                              "binary_cross_entropy")
    rng = np.random.default_rng(5)
    values = {"x": rng.uniform(-1, 1, 2), "y": np.array([0.0, 1.0]),
              "W1": rng.uniform(-1, 1, (3, 2)), "b1": rng.uniform(-1, 1, 3),
              "W2": rng.uniform(-1, 1, (2, 3)) * scale, "b2": rng.uniform(-1, 1, 2)}
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k not in "xy")
         for k, v in values.items()}
    logits = t["W2"] @ torch.tanh(t["W1"] @ t["x"] + t["b1"]) + t["b2"]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, t["y"], reduction="sum")
    names = ["W1", "b1", "W2", "b2"]
    grads = dict(zip(names, torch.autograd.grad(loss, [t[n] for n in names])))
    f = compile_matrix(matrix_form(graph)) if how == "compile_matrix" else \
        symgrad.compile(symgrad.derive(graph, wrt="all"), form=how)
    assert_compiled(f, values, loss, grads, how)
