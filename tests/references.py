"""Independent references for tests: sympy.diff of the composed loss, finite differences."""

from __future__ import annotations

import random

import numpy as np
import sympy as sp

from symgrad.functions import expand_activations


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
    return sp.diff(expand_activations(graph.composed()), parameter)


def value(expr: sp.Expr, point: dict) -> float:
    return float(expand_activations(expr).xreplace(point).evalf(30))


def numpy_loss(graph):
    """The composed loss as a plain numpy function of all leaves (no symgrad code involved)."""
    names = leaves(graph)
    plain = {s: sp.Symbol(f"v{i}") for i, s in enumerate(names)}
    composed = expand_activations(graph.composed()).xreplace(plain)
    scalar_select = {"select": lambda conds, choices, default=np.nan:
                     np.select([np.asarray(c) for c in conds], choices, default)}
    return names, sp.lambdify(list(plain.values()), composed, modules=[scalar_select, "numpy"],
                              docstring_limit=0)


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
