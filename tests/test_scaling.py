"""The JSON of a network and its verification: right against PyTorch autograd, and of a
size that grows like the parameters, not like the paths from the loss.

Bigger than the gallery's examples (3-4-3-2 with values); the growth is counted, not
timed: step entries, printed LaTeX strings and checked kinds at two depths.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy as sp

import symgrad
from symgrad import network, with_loss
from symgrad.calculus import verify as verification
from symgrad.calculus import worked
from symgrad.calculus.backward import Factor
from symgrad.calculus.kinds import factor_kinds
from symgrad.render.json_output import _chain
from symgrad.render.latex import tex
from test_torch import require_reference

RTOL, ATOL = 1e-10, 1e-12


def values(inputs: int, widths: list[int], seed: int = 0) -> dict:
    rng = random.Random(seed)
    at = {"x": [rng.uniform(-1, 1) for _ in range(inputs)],
          "y": [rng.uniform(0, 1) for _ in range(widths[-1])]}
    previous = inputs
    for l, units in enumerate(widths, start=1):
        at[f"W{l}"] = [[rng.uniform(-0.5, 0.5) for _ in range(previous)] for _ in range(units)]
        at[f"b{l}"] = [rng.uniform(-0.1, 0.1) for _ in range(units)]
        previous = units
    return at


def derived(inputs: int, widths: list[int], verify: bool = True):
    graph = with_loss(network(inputs, [(w, "sigmoid") for w in widths]), "half_squared_error")
    return symgrad.derive(graph, "all", at=values(inputs, widths), learning_rate=0.1, verify=verify)


def test_json_of_a_3_4_3_2_network_agrees_with_torch_autograd():
    reference = require_reference()
    widths = [4, 3, 2]
    d = derived(3, widths)
    data = json.loads(symgrad.render(d, "json"))
    at = {k: np.asarray(v, dtype=float) for k, v in values(3, widths).items()}
    loss, grads = reference.loss_and_gradients(at, ["sigmoid"] * 3, "half_squared_error")
    assert data["loss"] == pytest.approx(loss, rel=RTOL, abs=ATOL)
    for name, gradient in grads.items():
        np.testing.assert_allclose(data["gradients"][name], gradient, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(data["updated"][name], at[name] - 0.1 * gradient,
                                   rtol=RTOL, atol=ATOL)
    assert data["verification"]["passed"] and data["verification"]["kinds"] == len(data["steps"])


def _printed(data: dict) -> int:
    """How many LaTeX strings the JSON prints besides the numbers."""
    steps = data["steps"]

    def count(step: dict) -> int:
        return 1 + sum(count(s) for s in step["substeps"])
    return len(data["symbolic"]) + len(data["deltas"]) + sum(count(s) for s in steps)


def test_json_and_verification_grow_like_the_parameters_not_the_paths():
    """From 3 to 6 hidden layers of 3 units the paths to a first-layer weight go from 3^2 to
    3^5; the JSON's LaTeX strings, its step entries and the kinds checked grow at most like
    the parameters, and every factor is listed once under its kind."""
    small, large = (derived(2, [3] * depth + [2], verify=True) for depth in (3, 6))
    ratio = len(large.parameters) / len(small.parameters)
    first = large.gradient("W1[0][0]")
    assert first.path_count == 2 * 3 ** 5  # what listing paths would cost
    texts = [_printed(json.loads(symgrad.render(d, "json"))) for d in (small, large)]
    assert texts[1] <= ratio * texts[0]
    steps = [len(json.loads(symgrad.render(d, "json"))["steps"]) for d in (small, large)]
    assert steps[1] <= steps[0]  # the same kinds at any depth
    assert large.verification.kinds <= small.verification.kinds
    data = json.loads(symgrad.render(large, "json"))
    listed = [tuple(f) for s in data["steps"] for f in s["factors"]]
    assert sorted(listed) == sorted((f.of.name, f.wrt.name) for f in large.factors)


def test_kinds_rename_and_nothing_else():
    """Factors share a kind only when a renaming takes one to the other: the weights of
    layers with the same fan-in do, a bias and a weight do not, and a sum whose terms
    share a symbol is compared whole."""
    d = derived(2, [2, 2], verify=False)
    calls = {s: c for c, s in d.graph.activation_names.items()}
    kinds = factor_kinds(d.factors)
    for kind in kinds:  # every member is its own derivative (by sympy.diff), not just alike
        for f in kind.factors:
            named = f.result.xreplace({f.of: calls[f.of]} if f.of in calls else {})
            assert sp.simplify(sp.diff(f.expr, f.wrt) - named) == 0, (f.of, f.wrt)
    kind_of = {(f.of.name, f.wrt.name): i for i, k in enumerate(kinds) for f in k.factors}
    assert kind_of[("z1[0]", "W1[0][0]")] == kind_of[("z2[1]", "W2[1][1]")]  # fan-in 2 both
    assert kind_of[("z1[0]", "W1[0][0]")] != kind_of[("z1[0]", "b1[0]")]
    shared = symgrad.derive("(w*x + w*v)**2 + (x*v)**2", "all")
    kinds = factor_kinds(shared.factors)
    assert len(kinds) == len(shared.factors)


def test_verification_catches_a_wrong_gradient_in_the_numbers(monkeypatch):
    """One weight's worked gradient off by a tenth of the layer's gradient: the float64
    directional check, which shares none of symgrad's derivation, reports it."""
    d = derived(2, [3, 2], verify=False)
    grads = dict(d.worked.gradients)
    p = d.graph.element("W1[1][0]")
    size = max(abs(float(v)) for v in grads.values())
    grads[p] = grads[p] + sp.Float(size / 10)
    wrong = replace(d, worked=replace(d.worked, gradients=grads))
    outcome = verification.verify_numbers(wrong)
    assert not outcome.passed and "central differences" in outcome.failures[0]
    assert verification.verify_numbers(d).passed


def nested(depth: int) -> str:
    """Six terms, each w x_i through ``depth`` alternating sigmoids and tanhs."""
    terms = []
    for i in range(1, 7):
        term = f"w*x{i}"
        for k in range(depth):
            term = f"{'sigmoid' if k % 2 == 0 else 'tanh'}({term})"
        terms.append(term)
    return " + ".join(terms)


def test_nested_free_expressions_do_not_multiply_out_their_chains(monkeypatch):
    """The textbook-form search cancels only deltas that divide by something: a nested
    chain's delta, a product of local derivatives, is never expanded (2^depth terms),
    while sigmoid with binary cross-entropy still becomes yhat - y."""
    calls = []
    cancel = sp.cancel
    monkeypatch.setattr(sp, "cancel", lambda e, *a, **k: calls.append(e) or cancel(e, *a, **k))
    d = symgrad.derive(nested(6), "w", verify=True)
    assert calls == [] and d.verification.passed
    at = {f"x{i}": 0.1 * i for i in range(1, 7)}

    def loss(w_: float) -> float:
        total = 0.0
        for i in range(1, 7):
            u = w_ * at[f"x{i}"]
            for k in range(6):
                u = 1 / (1 + math.exp(-u)) if k % 2 == 0 else math.tanh(u)
            total += u
        return total

    worked = symgrad.derive(nested(6), "w", at={"w": 0.3, **at})
    h = 1e-6
    difference = (loss(0.3 + h) - loss(0.3 - h)) / (2 * h)
    assert float(worked.worked.gradients[worked.parameters[0]]) == pytest.approx(difference, rel=1e-7)
    graph = with_loss(symgrad.neuron("sigmoid"), "binary_cross_entropy")
    (delta,) = [a for a in symgrad.derive(graph, "w").adjoints if a.simplification is not None]
    yhat, y = (next(s for s in delta.value.free_symbols if s.name == n) for n in ("yhat", "y"))
    assert delta.value == yhat - y


def test_each_delta_is_printed_as_the_chain_sum_it_is():
    """The JSON writes each delta as its chain-rule sum in the consumers' order; what it
    prints is the delta's own value (SymPy expressions compared, not strings)."""
    d = derived(2, [3, 2], verify=False)
    data = json.loads(symgrad.render(d, "json"))
    for a in d.adjoints:
        if a.named:
            printed = _chain(d, a)
            assert data["deltas"][str(tex(a.name))] == str(printed)
            assert sp.expand(printed.expr.doit() - a.value) == 0


@pytest.mark.parametrize("inputs, layers, batch", [
    (3, [(4, "sigmoid"), (3, "tanh"), (2, "softmax")], None),
    (12, [(11, "relu"), (1, "identity")], 3),
    (1, [(3, "sigmoid"), (1, "sigmoid")], 2),
])
def test_weighted_sums_are_the_sums_sympy_builds(inputs, layers, batch):
    """The network's weighted sums, built once per layer, are term for term the sums SymPy
    evaluates from W, the layer's inputs and b."""
    model = network(inputs, layers, batch=batch)
    groups = {g.name: g for g in model.groups}
    columns = batch or 1
    previous = [groups["x"].symbols[n::columns] for n in range(columns)]
    definitions = iter(model.definitions)
    for l, (units, _) in enumerate(layers, start=1):
        W, b = groups[f"W{l}"], groups[f"b{l}"]
        outputs = [[None] * units for _ in range(columns)]
        for j in range(units):
            row = W.symbols[j * W.shape[1]:(j + 1) * W.shape[1]]
            for n in range(columns):
                built = next(definitions).expr
                expected = sp.Add(*(w * a for w, a in zip(row, previous[n]))) + b.symbols[j]
                assert built == expected and sp.srepr(built) == sp.srepr(expected)
        for j in range(units):
            for n in range(columns):
                outputs[n][j] = next(definitions).symbol
        previous = outputs


@pytest.mark.parametrize("layers, loss, batch", [
    ([(5, "sigmoid"), (4, "tanh"), (3, "softmax")], "categorical_cross_entropy", None),
    ([(6, "relu"), (2, "sigmoid")], "binary_cross_entropy", 2),
])
def test_chain_sums_are_the_sums_sympy_builds(layers, loss, batch):
    """Every adjoint's and gradient's chain-rule sum is term for term what SymPy evaluates
    from dL/dc (its name, or its value inlined) times dc/dv."""
    derivation = symgrad.derive(with_loss(network(4, layers, batch=batch), loss))
    adjoints = derivation.backward.adjoints

    def expected(terms):
        return sp.Add(*((adjoints[t.consumer].reference if t.consumer in adjoints else 1)
                        * t.factor.result for t in terms))

    sums = [(a.value, a.terms) for a in adjoints.values() if a.simplification is None]
    sums += [(g.result, g.terms) for g in derivation.gradients]
    assert len(sums) > len(derivation.gradients)
    for built, terms in sums:
        assert built == expected(terms) and sp.srepr(built) == sp.srepr(expected(terms))


def test_kept_numbers_are_the_floats_sympy_builds():
    """A worked value kept to PRECISION digits is, digit for digit and in type, what
    sp.Float(value, PRECISION) gives: exact values (zero, integers, fractions) and mpmath
    ones (zero, tiny, huge, negative)."""
    rng = random.Random(1)
    with mpmath.workdps(worked.WORKING):
        exact = [Fraction(0), Fraction(7), Fraction(-3, 8)]
        exact += [Fraction(rng.randint(-10**9, 10**9), rng.randint(1, 10**12)) for _ in range(200)]
        inexact = [mpmath.mpf(0), mpmath.mpf("1e-40") / 3, -mpmath.mpf(10) ** 30 / 7]
        inexact += [mpmath.exp(mpmath.mpf(rng.uniform(-50, 50))) * rng.choice((-1, 1))
                    for _ in range(200)]
        for value in exact + inexact:
            reference = sp.Float(sp.Rational(value.numerator, value.denominator)
                                 if isinstance(value, Fraction) else value, worked.PRECISION)
            kept = worked._kept(value)
            assert type(kept) is type(reference) and kept == reference
            assert sp.srepr(kept) == sp.srepr(reference) and str(kept) == str(reference)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu", "softplus",
                                        "identity"])
def test_renamed_activation_factors_are_the_derived_ones(activation):
    """Each unit's activation factor (renamed from the first unit's) is, in result and in its
    steps, what deriving that unit's own factor gives."""
    graph = with_loss(network(3, [(4, activation), (2, "sigmoid")]), "mse")
    backward = symgrad.derive(graph).backward
    checked = 0
    for (of, wrt), factor in backward.factors.items():
        if graph.definition(of).role.name == "ACTIVATION":
            fresh = Factor.derived(of, wrt, factor.expr, graph.activation_names)
            assert sp.srepr(factor.result) == sp.srepr(fresh.result)
            assert sp.srepr(factor.step.result) == sp.srepr(fresh.step.result)
            checked += 1
    assert checked == 6
