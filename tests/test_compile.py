"""symgrad.compile against independent references: the worked numbers (30 digits), SymPy's
lambdify of the same program with the activations written out by hand, central differences
of the composed loss, and SymPy's own evaluation of single expressions."""

from __future__ import annotations

import random

import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import derive, network, neuron, with_loss
from symgrad.numeric.source import CHUNK, python_source
from symgrad.calculus.derivation import Derivation
from symgrad.errors import DerivationError
from symgrad.model.functions import leaky_relu, relu, sigmoid, softmax, softplus
from symgrad.model.symbols import Var
from references import central_difference, elementary

z1, z2, z3, y1, y2 = sp.symbols("z1 z2 z3 y1 y2", real=True)
CASES = {  # name: (the loss's graph, wrt, range of the random values)
    "relu-sigmoid": (lambda: with_loss(network(2, [(3, "relu"), (2, "sigmoid")]),
                                       "half_squared_error"), "all", (-1.0, 1.0)),
    "leaky_relu-identity": (lambda: with_loss(network(2, [(3, "leaky_relu"), (2, "identity")]),
                                              "mse"), "all", (-1.0, 1.0)),
    "tanh-softmax": (lambda: with_loss(network(3, [(3, "tanh"), (3, "softmax")]),
                                       "categorical_cross_entropy"), "all", (-1.0, 1.0)),
    "softplus-softmax": (lambda: with_loss(network(2, [(2, "softplus"), (2, "softmax")]),
                                           "categorical_cross_entropy"), ["W1", "b2"], (-1.0, 1.0)),
    "three-layers": (lambda: with_loss(network(2, [(4, "sigmoid"), (3, "tanh"), (1, "sigmoid")]),
                                       "binary_cross_entropy"), "all", (-1.0, 1.0)),
    "relu-neuron": (lambda: with_loss(neuron("relu"), "squared_error"), "all", (-1.0, 1.0)),
    "softplus": ("softplus(w*x + b)**2 + exp(-w)*sqrt(x**2 + 1)", "all", (-1.0, 1.0)),
    "log-exp-powers": ("log(w*x + 2)/(1 + exp(-b)) - x**(3/2)*w**(-1/2)", "all", (0.2, 1.5)),
    "relu-leaky_relu": ("relu(w*x - b) + leaky_relu(w - x)**3", "all", (-1.0, 1.0)),
    "tanh-sigmoid": ("tanh(sigmoid(w*x)*w) / (1 + x**2)", "w", (-1.0, 1.0)),
    "abs-max-sin": ("abs(w - x) + max(w, x)*sin(w)", "all", (-1.0, 1.0)),
    "cross-entropy": ("-(y*log(sigmoid(w*x + b)) + (1 - y)*log(1 - sigmoid(w*x + b)))", "all",
                      (0.1, 0.9)),
    "softmax": (lambda: -y1 * sp.log(softmax(1, z1, z2, z3)) - y2 * sp.log(softmax(2, z1, z2, z3)),
                "all", (-1.0, 1.0)),
}


def case(name: str) -> tuple[Derivation, tuple[float, float]]:
    loss, wrt, span = CASES[name]
    return derive(loss() if callable(loss) else loss, wrt), span


def random_values(graph, rng: np.random.Generator, low: float = -1.0, high: float = 1.0,
                  batch: tuple[int, ...] = ()) -> dict[str, np.ndarray]:
    """Values by group name; targets inside (0, 1), as the cross-entropies need, and
    summing to 1 for the categorical one."""
    values = {g.name: rng.uniform(0.1, 0.9, g.shape + batch) if g.role == "target"
              else rng.uniform(low, high, g.shape + batch) for g in graph.groups}
    if graph.loss_name == "categorical_cross_entropy":
        values["y"] /= values["y"].sum(axis=0)
    return values


def by_symbol(graph, values: dict[str, np.ndarray]) -> dict[sp.Symbol, float]:
    return {s: float(values[g.name][p]) for g in graph.groups
            for s, p in zip(g.symbols, g.positions())}


def gradients_by_symbol(d: Derivation, evaluation) -> dict[sp.Symbol, np.ndarray]:
    return {s: evaluation.gradients[g.name][p] for g in d.graph.parameters
            for s, p in zip(g.symbols, g.positions()) if s in d.parameters}


def lambdified(d: Derivation):
    """The compile of symgrad 0.1: SymPy's lambdify over the same straight-line program
    (the definitions and named adjoints as its common subexpressions), here with every
    activation written out by hand in elementary functions."""
    graph = d.graph
    leaves = [s for g in graph.groups for s in g.symbols]
    program = [(x.symbol, x.expr) for x in graph.definitions]
    program += [(a.name, a.value) for a in d.adjoints if a.named]
    names = {old: sp.Symbol(f"_v{i}") for i, old in enumerate(leaves + [s for s, _ in program])}
    steps = [(names[s], elementary(e.xreplace(names))) for s, e in program]
    outputs = [names[graph.loss]] + [elementary(g.result.xreplace(names)) for g in d.gradients]
    def select(conditions, choices, default):  # numpy.select, also for scalar conditions
        return np.select([np.asarray(c) for c in conditions], choices, default)

    return leaves, sp.lambdify([names[s] for s in leaves], outputs,
                               modules=[{"select": select}, "numpy"],
                               cse=lambda exprs: (steps, exprs), docstring_limit=0)


@pytest.mark.parametrize("name", CASES)
def test_compiled_matches_worked_numbers(name):
    d, span = case(name)
    values = random_values(d.graph, np.random.default_rng(len(name)), *span)
    at = {k: v.tolist() for k, v in values.items()}
    worked = derive(d.graph, [p.name for p in d.parameters], at=at)
    result = symgrad.compile(d)(**values)
    assert np.isclose(result.loss, float(worked.worked.loss), rtol=1e-12, atol=1e-14)
    for symbol, got in gradients_by_symbol(d, result).items():
        expected = float(worked.worked.gradients[symbol])
        assert np.isclose(got, expected, rtol=1e-10, atol=1e-13), (symbol, got, expected)


@pytest.mark.parametrize("name", CASES)
def test_compiled_matches_the_lambdify_path(name):
    d, span = case(name)
    f = symgrad.compile(d)
    leaves, reference = lambdified(d)
    rng = np.random.default_rng(100 + len(name))
    for _ in range(5):
        values = random_values(d.graph, rng, *span)
        point = by_symbol(d.graph, values)
        loss, *expected = reference(*(point[s] for s in leaves))
        result = f(**values)
        assert np.isclose(result.loss, loss, rtol=1e-12, atol=1e-14)
        got = gradients_by_symbol(d, result)
        for g, want in zip(d.gradients, expected):
            assert np.isclose(got[g.parameter], want, rtol=1e-10, atol=1e-13), g.parameter


@pytest.mark.parametrize("name", CASES)
def test_compiled_gradients_match_central_differences(name):
    d, span = case(name)
    values = random_values(d.graph, np.random.default_rng(200 + len(name)), *span)
    point = {s: sp.Float(v) for s, v in by_symbol(d.graph, values).items()}
    got = gradients_by_symbol(d, symgrad.compile(d)(**values))
    for p in d.parameters:
        fd = central_difference(d.graph, point, p)
        assert np.isclose(got[p], fd, rtol=1e-5, atol=1e-7), (p, got[p], fd)


@pytest.mark.parametrize("name", CASES)
def test_a_batch_gives_what_each_of_its_points_gives(name):
    d, span = case(name)
    f = symgrad.compile(d)
    batch = random_values(d.graph, np.random.default_rng(300 + len(name)), *span, batch=(3, 2))
    together = f(**batch)
    assert together.loss.shape == (3, 2)
    for i, j in np.ndindex(3, 2):
        alone = f(**{k: v[..., i, j] for k, v in batch.items()})
        assert np.isclose(together.loss[i, j], alone.loss, rtol=1e-14)
        for group, gradient in alone.gradients.items():
            assert np.allclose(together.gradients[group][..., i, j], gradient, rtol=1e-14)


def test_the_seed_neuron_gives_its_hand_computed_numbers():
    d = derive(with_loss(neuron("sigmoid", bias=False), "squared_error"), "w")
    result = symgrad.compile(d)(x=1.5, w=0.8, y=1.0)
    s = 1 / (1 + np.exp(-0.8 * 1.5))
    assert np.isclose(result.loss, (s - 1.0) ** 2, rtol=1e-15)
    assert np.isclose(result.gradients["w"], 2 * (s - 1.0) * s * (1 - s) * 1.5, rtol=1e-14)


def test_each_activation_is_computed_once_and_read_by_name_after():
    graph = with_loss(network(3, [(4, "sigmoid"), (3, "softmax")]), "mse")
    source = symgrad.compile(derive(graph, "all"), form="index").source
    assert source.count("_sigmoid(") == 4
    assert source.count("_softmax(") == 3
    assert "W1_0_2 * x_2" in source and "delta_z2_0" in source


x, y = sp.symbols("x y", real=True)
EXPRESSIONS = [  # (expression, its source)
    (1 / x, "1 / x"),
    (x ** -2, "1 / x**2"),
    (sp.sqrt(x), "numpy.sqrt(x)"),
    (1 / sp.sqrt(x), "1 / numpy.sqrt(x)"),
    (x ** sp.Rational(3, 2), "x**1.5"),
    (sp.Rational(1, 3) * x, "0.3333333333333333 * x"),
    (sigmoid(x), "_sigmoid(x)"),
    (leaky_relu(x, sp.Rational(1, 100)), "_leaky_relu(x, 0.01)"),
    (relu(x).diff(x), "numpy.where(x > 0, 1, 0)"),
    (sp.Piecewise((x, x < 0), (2 * x, x < 1)), "numpy.where(x < 0, x, numpy.where(x < 1, 2 * x, numpy.nan))"),
    (x - 2 * y, "x - 2 * y"),
    (-(x + y) ** 3, "-(x + y)**3"),
    ((-x) ** y, "(-x)**y"),
    (sp.exp(x) / (x * y), "numpy.exp(x) / (x * y)"),
]


@pytest.mark.parametrize("expr,text", EXPRESSIONS, ids=[t for _, t in EXPRESSIONS])
def test_expressions_print_as_numpy(expr, text):
    source = python_source([x, y], [], [expr])
    assert source.text.splitlines()[2].strip() == f"{text},"


@pytest.mark.parametrize("expr", [e for e, _ in EXPRESSIONS] + [
    softplus(x) * sp.log(y + 2) - sp.tanh(x - y) ** 2,
    softmax(2, x, y, x * y) + sp.Abs(x - y) ** sp.Rational(-3, 2),
    sp.Max(x, y) + sp.sin(x) * sp.cos(y) + sp.pi * sp.E ** y,      # through NumPyPrinter
    sp.Piecewise((1, sp.And(x > 0, y > 0)), (0, True)),
    sp.Float("0.1") * x ** sp.Float("2.5") - 7 * y / (x + 3),
])
def test_expressions_evaluate_as_sympy_does(expr):
    f = python_source([x, y], [], [expr]).load()
    rng = random.Random(str(expr))
    for _ in range(4):
        point = {x: rng.uniform(0.1, 2.0), y: rng.uniform(-1.0, 1.0)}
        expected = expr.subs(point)
        reference = float(elementary(expected).evalf(30)) if expected.is_real is not False \
            else np.nan
        with np.errstate(invalid="ignore"):  # a negative number to a fractional power
            (got,) = f(np.float64(point[x]), np.float64(point[y]))
        assert np.isclose(got, reference, rtol=1e-12, atol=1e-15, equal_nan=True), point


def test_long_sums_and_products_are_grouped_for_pythons_compiler():
    xs = sp.symbols(f"x0:{5 * CHUNK}", real=True)
    total = sp.Add(*(x if i % 3 else -x for i, x in enumerate(xs)))
    product = sp.Mul(*xs[:3 * CHUNK])
    values = np.linspace(0.999, 1.001, len(xs))
    got_total, got_product = python_source(xs, [], [total, product]).load()(*values)
    signs = np.where(np.arange(len(xs)) % 3 == 0, -1.0, 1.0)
    assert np.isclose(got_total, np.sum(signs * values), rtol=1e-12)
    assert np.isclose(got_product, np.prod(values[:3 * CHUNK]), rtol=1e-12)


def test_names_become_distinct_python_identifiers():
    leaves = [Var("a[0]"), sp.Symbol("a_0"), sp.Symbol("lambda"), sp.Symbol("sum"),
              sp.Symbol("numpy"), sp.Symbol("_sigmoid")]
    total = sp.Add(*(i * s for i, s in enumerate(leaves, start=1)))
    source = python_source(leaves, [(sp.Symbol("t"), total)], [sp.Symbol("t")])
    assert source.load()(1.0, 10.0, 100.0, 1000.0, 1e4, 1e5) == [654321.0]


def test_an_unknown_symbol_or_function_is_an_error_not_broken_code():
    with pytest.raises(DerivationError, match="neither a quantity"):
        python_source([x], [], [x + y])
    with pytest.raises(DerivationError, match="cannot compile"):
        python_source([x], [], [sp.Function("f")(x)])
