"""symgrad's gradients against PyTorch autograd (float64) and central differences.

Over two hundred random dense networks, seeded: depth 1 to 4, widths 1 to 8, every hidden
activation with every loss, every output activation that the loss allows. The reference is
tests/torch_reference.py, written from the maths. Without torch these tests skip; under
CI=true they fail.
"""

from __future__ import annotations

import functools
import importlib
import math
import random
import sys
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import pytest

import symgrad
from symgrad.calculus.matrix import matrix_form
from symgrad.numeric.matrix import compile_matrix
from render_tools import on_ci, require
from symgrad import network, with_loss

TORCH_VERSION = "2.13.0"
MISSING = f"PyTorch is not installed (pip install torch=={TORCH_VERSION}, the CPU build)"

HIDDEN = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity")
SQUARED = ("half_squared_error", "squared_error", "mse")
OUTPUTS: dict[str, tuple[str, ...]] = {
    **{loss: HIDDEN + ("softmax",) for loss in SQUARED},
    "binary_cross_entropy": ("sigmoid", "softmax"),  # outputs in (0, 1)
    "categorical_cross_entropy": ("softmax", "sigmoid"),  # outputs positive
}
LOSSES = tuple(OUTPUTS)
EXTRA_NETWORKS = 50
RTOL, ATOL = 1e-10, 1e-12


@dataclass(frozen=True)
class Case:
    """One random network: its inputs, its layers as (units, activation), its loss."""

    index: int
    inputs: int
    layers: tuple[tuple[int, str], ...]
    loss: str

    @property
    def activations(self) -> tuple[str, ...]:
        return tuple(a for _, a in self.layers)

    def graph(self) -> symgrad.Graph:
        return with_loss(network(self.inputs, self.layers), self.loss)

    def __str__(self) -> str:
        layers = "-".join(f"{units}{activation}" for units, activation in self.layers)
        return f"{self.index:03d}-x{self.inputs}-{layers}-{self.loss}"


def _layers(rng: random.Random, depth: int, featured: str, output: str, loss: str) -> tuple:
    """``depth`` layers of random widths; one hidden layer (if any) is ``featured``."""
    hidden = [rng.choice(HIDDEN) for _ in range(depth - 1)]
    if hidden:
        hidden[rng.randrange(len(hidden))] = featured
    widths = [rng.randint(1, 8) for _ in range(depth)]
    if output == "softmax":
        widths[-1] = rng.randint(2, 8)  # one softmax output is the constant 1
    return tuple(zip(widths, hidden + [output]))


def _cases() -> list[Case]:
    """Every (hidden, output, loss) at depth 2 to 4; every (output, loss) at depth 1; then
    networks drawn at random."""
    rng = random.Random(4)
    plans = [(loss, output, hidden, rng.randint(2, 4))
             for loss in LOSSES for output in OUTPUTS[loss] for hidden in HIDDEN]
    plans += [(loss, output, None, 1) for loss in LOSSES for output in OUTPUTS[loss]]
    for _ in range(EXTRA_NETWORKS):
        loss = rng.choice(LOSSES)
        plans.append((loss, rng.choice(OUTPUTS[loss]), rng.choice(HIDDEN), rng.randint(1, 4)))
    return [Case(i, rng.randint(1, 8), _layers(rng, depth, hidden, output, loss), loss)
            for i, (loss, output, hidden, depth) in enumerate(plans)]


CASES = _cases()
WORKED = CASES[::9]  # exact 30-digit evaluation is slower: a subset
DIFFERENCED = CASES[::3]


def random_values(case: Case) -> dict[str, np.ndarray]:
    """Inputs, parameters (scaled by fan-in, so weighted sums stay moderate) and targets."""
    rng = np.random.default_rng(case.index)
    values = {"x": rng.uniform(-2.0, 2.0, case.inputs)}
    fan_in = case.inputs
    for l, (units, _) in enumerate(case.layers, start=1):
        scale = 2.0 / math.sqrt(fan_in)
        values[f"W{l}"] = rng.uniform(-scale, scale, (units, fan_in))
        values[f"b{l}"] = rng.uniform(-0.5, 0.5, units)
        fan_in = units
    if case.loss == "categorical_cross_entropy":
        values["y"] = rng.dirichlet(np.ones(fan_in))  # a probability vector
    elif case.loss == "binary_cross_entropy":
        values["y"] = rng.uniform(0.0, 1.0, fan_in)
    else:
        values["y"] = rng.uniform(-1.0, 1.0, fan_in)
    return values


@functools.lru_cache(maxsize=None)
def compiled(case: Case) -> symgrad.Compiled:
    return symgrad.compile(symgrad.derive(case.graph()))


def assert_close(actual, expected, what: str, rtol: float = RTOL, atol: float = ATOL) -> None:
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    bad = ~np.isclose(actual, expected, rtol=rtol, atol=atol)
    assert not bad.any(), (f"{what} at {np.argwhere(bad).tolist()}: symgrad {actual[bad]} "
                           f"!= reference {expected[bad]}")


# --- the reference, or a skip (a failure on CI) without torch ---------------------------


def load_reference() -> ModuleType | None:
    """tests/torch_reference.py, or None when torch cannot be imported."""
    try:
        return importlib.import_module("torch_reference")
    except ModuleNotFoundError as error:
        if error.name != "torch":
            raise
        return None


def require_reference() -> ModuleType:
    """The reference; skip the calling test without torch, or fail it under CI=true."""
    module = load_reference()
    require("PyTorch", module is not None, MISSING)
    return module


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    return require_reference()


@pytest.fixture
def without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    monkeypatch.delitem(sys.modules, "torch_reference", raising=False)


def test_missing_torch_skips_with_a_reason(without_torch, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert load_reference() is None
    with pytest.raises(pytest.skip.Exception, match="PyTorch is not installed"):
        require_reference()


def test_missing_torch_fails_on_ci(without_torch, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PyTorch is required on CI"):
        require_reference()


def test_ci_has_the_pinned_torch(reference):
    if not on_ci():
        pytest.skip("the torch pin is checked under CI=true only")
    assert reference.torch.__version__.split("+")[0] == TORCH_VERSION


# --- the cases ---------------------------------------------------------------------------


def test_cases_cover_every_activation_and_loss():
    assert set(LOSSES) == set(symgrad.LOSSES)
    assert set(HIDDEN) | {"softmax"} == set(symgrad.ACTIVATIONS)
    hidden = {(a, c.loss) for c in CASES for a in c.activations[:-1]}
    output = {(c.activations[-1], c.loss) for c in CASES}
    assert hidden == {(a, loss) for a in HIDDEN for loss in LOSSES}
    assert output == {(a, loss) for loss in LOSSES for a in OUTPUTS[loss]}
    assert {len(c.layers) for c in CASES} == {1, 2, 3, 4}
    assert {units for c in CASES for units, _ in c.layers} == set(range(1, 9))
    assert len(CASES) >= 200


def test_reference_knows_every_activation_and_loss(reference):
    assert set(reference.ACTIVATIONS) == set(symgrad.ACTIVATIONS)
    assert set(reference.LOSSES) == set(symgrad.LOSSES)


def test_reference_matches_a_neuron_by_hand(reference):
    x, w, b, y = 1.5, 0.8, -0.3, 0.25
    s = 1 / (1 + math.exp(-(w * x + b)))
    values = {"x": [x], "W1": [[w]], "b1": [b], "y": [y]}
    loss, grads = reference.loss_and_gradients(values, ["sigmoid"], "squared_error")
    assert math.isclose(loss, (s - y) ** 2, rel_tol=1e-14)
    assert math.isclose(grads["W1"][0, 0], 2 * (s - y) * s * (1 - s) * x, rel_tol=1e-14)
    assert math.isclose(grads["b1"][0], 2 * (s - y) * s * (1 - s), rel_tol=1e-14)


# --- symgrad against the reference -------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=str)
def test_compiled_gradients_match_torch_autograd(case, reference):
    values = random_values(case)
    result = compiled(case)(**values)
    loss, grads = reference.loss_and_gradients(values, case.activations, case.loss)
    assert_close(result.loss, loss, "loss")
    assert result.gradients.keys() == grads.keys()
    for name, expected in grads.items():
        assert_close(result.gradients[name], expected, f"dL/d{name}")


@pytest.mark.parametrize("case", WORKED, ids=str)
def test_worked_numbers_match_torch_autograd(case, reference):
    values = random_values(case)
    d = symgrad.derive(case.graph(), at={k: v.tolist() for k, v in values.items()})
    loss, grads = reference.loss_and_gradients(values, case.activations, case.loss)
    assert_close(float(d.worked.loss), loss, "worked loss")
    for group in d.graph.parameters:
        worked = [float(d.worked.gradients[s]) for s in group.symbols]
        assert_close(np.reshape(worked, group.shape), grads[group.name], f"worked dL/d{group.name}")


@pytest.mark.parametrize("case", DIFFERENCED, ids=str)
def test_compiled_gradients_match_central_differences(case, reference):
    values = random_values(case)
    gradients = compiled(case)(**values).gradients
    estimates = reference.central_differences(values, case.activations, case.loss)
    for name, estimate in estimates.items():
        assert_close(gradients[name], estimate, f"dL/d{name}", rtol=1e-6, atol=1e-8)


# --- batches and the matrix view ----------------------------------------------------------


BATCHES = [(case, 2 + case.index % 3) for case in CASES[1::5]]


def batch_values(case: Case, samples: int) -> dict[str, np.ndarray]:
    """The case's values with x and y widened to one column per sample."""
    values = random_values(case)
    rng = np.random.default_rng(1000 + case.index)
    columns = [values["x"]] + [rng.uniform(-2.0, 2.0, case.inputs) for _ in range(samples - 1)]
    targets = [values["y"]] + [random_values(Case(case.index + 7 * n, case.inputs, case.layers,
                                                  case.loss))["y"] for n in range(1, samples)]
    return {**values, "x": np.stack(columns, axis=1), "y": np.stack(targets, axis=1)}


@pytest.mark.parametrize("case,samples", BATCHES, ids=lambda v: str(v))
def test_batch_mean_loss_gradients_match_torch_autograd(case, samples, reference):
    values = batch_values(case, samples)
    graph = with_loss(network(case.inputs, case.layers, batch=samples), case.loss)
    loss, grads = reference.loss_and_gradients(values, case.activations, case.loss)
    index = symgrad.compile(symgrad.derive(graph))(**values)
    matrix = compile_matrix(matrix_form(graph))(**values)
    for result, view in ((index, "index"), (matrix, "matrix")):
        assert_close(result.loss, loss, f"{view} loss")
        for name, expected in grads.items():
            assert_close(result.gradients[name], expected, f"{view} dL/d{name}")


@pytest.mark.parametrize("case", CASES[::4], ids=str)
def test_matrix_view_matches_torch_autograd(case, reference):
    values = random_values(case)
    result = compile_matrix(matrix_form(case.graph()))(**values)
    loss, grads = reference.loss_and_gradients(values, case.activations, case.loss)
    assert_close(result.loss, loss, "loss")
    for name, expected in grads.items():
        assert_close(result.gradients[name], expected, f"dL/d{name}")
