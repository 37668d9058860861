"""Independent references for tests: sympy.diff of the composed loss, finite differences."""

from __future__ import annotations

import functools
import random

import numpy as np
import sympy as sp

from symgrad.model.functions import Activation, Unspecified, leaky_relu, relu

F = sp.Function("f")
"""SymPy's own undefined function f, whose derivatives SymPy writes as Derivative and Subs."""
TEST_FUNCTION = sp.Lambda(sp.Symbol("t"), sp.cosh(sp.Symbol("t") / 3) + sp.Symbol("t") ** 3 / 7)
"""The function the tests give f to get numbers (not symgrad's witness)."""


def as_sympy_undefined(expr: sp.Expr) -> sp.Expr:
    """``expr`` with symgrad's unspecified f, f', f'' written as SymPy writes an undefined
    function and its derivatives: f(a), Subs(Derivative(f(t), t), t, a), ..."""
    def written(e: Unspecified) -> sp.Expr:
        t = sp.Dummy("t")
        function = sp.Function(e.base)
        if not e.order:
            return function(e.args[0])
        return sp.Subs(sp.Derivative(function(t), (t, e.order)), t, e.args[0]).doit()

    return expr.replace(lambda e: isinstance(e, Unspecified), written)


def with_test_function(expr: sp.Expr) -> sp.Expr:
    """``expr`` (SymPy's undefined f, or symgrad's) with f put equal to ``TEST_FUNCTION``
    and every derivative of it worked out."""
    return as_sympy_undefined(expr).subs(F, TEST_FUNCTION).doit()


def elementary(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every activation written out by hand (not by symgrad's own definitions):
    kinks as Max/Min, so that sympy.diff and numpy see no Piecewise."""
    def written_out(e: sp.Expr) -> sp.Expr:
        if isinstance(e, relu):
            return sp.Max(e.args[0], 0)
        if isinstance(e, leaky_relu):
            z, alpha = e.args
            return sp.Max(z, 0) + alpha * sp.Min(z, 0)
        z = e.args[0]
        by_name = {"sigmoid": lambda: 1 / (1 + sp.exp(-z)), "softplus": lambda: sp.log(1 + sp.exp(z))}
        if type(e).__name__ in by_name:
            return by_name[type(e).__name__]()
        zs, k = e.args[1:], int(e.args[0])
        return sp.exp(zs[k - 1]) / sp.Add(*(sp.exp(v) for v in zs))

    return expr.replace(lambda e: isinstance(e, Activation), written_out)


def leaves(graph) -> list[sp.Symbol]:
    return [s for g in graph.groups for s in g.symbols]


def random_point(graph, rng: random.Random, low: float = -1.0, high: float = 1.0) -> dict:
    """Random values, kept inside (0, 1) for targets and for any quantity under a log."""
    point = {}
    for group in graph.groups:
        for s in group.symbols:
            inside = group.role == "target" or s.name in ("yhat",)
            point[s] = sp.Float(rng.uniform(0.05, 0.95) if inside else rng.uniform(low, high), 30)
    return point


def sympy_gradient(graph, parameter: sp.Symbol) -> sp.Expr:
    """sympy.diff of the fully composed loss, activations written out in elementary functions."""
    return sp.diff(composed_reference(graph), parameter)


@functools.lru_cache(maxsize=64)
def composed_reference(graph) -> sp.Expr:
    return elementary(graph.composed())


def value(expr: sp.Expr, point: dict) -> float:
    return float(elementary(expr.xreplace(point)).evalf(30))


@functools.lru_cache(maxsize=64)
def numpy_loss(graph):
    """The composed loss as a plain numpy function of all leaves (no symgrad code involved)."""
    names = leaves(graph)
    plain = {s: sp.Symbol(f"v{i}") for i, s in enumerate(names)}
    composed = composed_reference(graph).xreplace(plain)
    return names, sp.lambdify(list(plain.values()), composed, modules="numpy", docstring_limit=0)


def central_difference(graph, point: dict, parameter: sp.Symbol, h: float = 1e-6) -> float:
    names, loss = numpy_loss(graph)
    base = [float(point[s]) for s in names]
    i = names.index(parameter)
    up, down = list(base), list(base)
    up[i] += h
    down[i] -= h
    return (loss(*up) - loss(*down)) / (2 * h)


def close(a: float, b: float, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    return bool(np.isclose(a, b, rtol=rel, atol=abs_))
