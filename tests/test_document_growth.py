"""A network document's work grows like the network, not like its paths: the exploding-
gradient reading (dynamic programming over the graph) agrees with listing every path by
hand, and rendering prints and walks at most linearly more as the parameters grow."""

from __future__ import annotations

import random

import pytest
import sympy as sp

import symgrad
from symgrad import network, with_loss
from symgrad.calculus.backward import Backward
from symgrad.numeric.reading import EXPLODING, read
from symgrad.render.latex.printer import Printer


def random_network(widths: list[int], activation: str, scale: float, seed: int):
    """A network of ``widths`` (inputs first), weights uniform in [-scale, scale]."""
    r = random.Random(seed)
    graph = with_loss(network(widths[0], [(w, activation) for w in widths[1:]]), "half_squared_error")
    at = {"x": [r.uniform(-1, 1) for _ in range(widths[0])],
          "y": [r.uniform(0, 1) for _ in range(widths[-1])]}
    for layer, (before, units) in enumerate(zip(widths, widths[1:]), start=1):
        at[f"W{layer}"] = [[r.uniform(-scale, scale) for _ in range(before)] for _ in range(units)]
        at[f"b{layer}"] = [r.uniform(-0.1, 0.1) for _ in range(units)]
    return symgrad.derive(graph, "all", at=at, learning_rate=0.01)


def paths_by_hand(derivation) -> dict[tuple, sp.Expr]:
    """Every path from the loss down to a quantity a parameter feeds, with the product of
    its factors between the loss's own and the parameter's (at least two of them), each
    factor by sympy.diff at a forward pass worked out here."""
    graph = derivation.graph
    env = {s: v for s, v in derivation.worked.given.items()}
    for d in graph.definitions:
        env[d.symbol] = d.expr.xreplace(env).evalf(30)
    users = {}
    for d in graph.definitions:
        for s in d.expr.free_symbols:
            users.setdefault(s, []).append(d)

    def up(node, route, factors):
        for d in users.get(node, []):
            if d.symbol == graph.loss:
                yield (d.symbol,) + route, factors
            else:
                slope = sp.diff(d.expr, node).xreplace(env).evalf(30)
                yield from up(d.symbol, (d.symbol,) + route, [slope] + factors)

    found = {}
    for p in derivation.parameters:
        for fed in users[p]:
            for route, factors in up(fed.symbol, (fed.symbol,), []):
                if len(factors) >= 2:
                    found[route] = sp.Mul(*factors)
    return found


@pytest.mark.parametrize("widths,activation,scale,seed", [
    ([2, 3, 3, 2], "identity", 4.0, 0),  # 2 of 24 paths multiply past the limit
    ([3, 2, 3, 2, 2], "identity", 8.0, 2),  # 12 of 40
    ([2, 3, 3, 3, 2], "leaky_relu", 6.0, 2),  # 6 of 78
    ([2, 2, 2, 2], "identity", 6.0, 2),  # one: a sentence of its own
    ([2, 3, 3, 2], "identity", 60.0, 7),  # 23 of 24: most counted without listing
    ([2, 3, 3, 2], "tanh", 6.0, 3),  # none: saturated
    ([2, 3, 3, 2], "identity", 0.5, 5),  # none: small weights
])
def test_the_exploding_reading_agrees_with_every_path_listed_by_hand(widths, activation, scale, seed):
    d = random_network(widths, activation, scale, seed)
    products = paths_by_hand(d)
    exploding = {route: p for route, p in products.items() if abs(p) > EXPLODING}
    reading = read(d)
    assert reading.exploding_paths == len(exploding)
    if not exploding:
        assert reading.exploding is None
        return
    route = max(exploding, key=lambda r: abs(exploding[r]))
    assert reading.exploding.path == route
    assert float(reading.exploding.value) == pytest.approx(float(exploding[route]), rel=1e-12)


def test_many_exploding_paths_are_one_sentence_naming_the_largest():
    d = random_network([3, 2, 3, 2, 2], "identity", 8.0, 2)
    products = [abs(p) for p in paths_by_hand(d).values()]
    text = symgrad.render(d, "markdown")
    assert sum(bool(p > EXPLODING) for p in products) == 12
    assert "along 12 paths back from the loss the local derivatives multiply to more than 10" in text
    assert text.count("exploding gradient") == 1


def work_of_rendering(widths: list[int], monkeypatch) -> tuple[int, int, int]:
    """The parameters, the printer's calls and the paths listed, rendering the Markdown."""
    d = random_network(widths, "sigmoid", 0.5, 0)
    counts = {"math": 0, "paths": 0}
    math, paths = Printer.math, Backward.paths

    def counted_math(self, expr):
        counts["math"] += 1
        return math(self, expr)

    def counted_paths(self, start):
        for path in paths(self, start):
            counts["paths"] += 1
            yield path

    with monkeypatch.context() as patched:
        patched.setattr(Printer, "math", counted_math)
        patched.setattr(Backward, "paths", counted_paths)
        symgrad.render(d, "markdown")
    return len(d.parameters), counts["math"], counts["paths"]


def test_rendering_a_network_grows_at_most_linearly_in_its_parameters(monkeypatch):
    # a first-layer weight of the larger network has 8 times the paths of the smaller's
    small = work_of_rendering([3, 3, 3, 3, 2], monkeypatch)
    large = work_of_rendering([6, 6, 6, 6, 2], monkeypatch)
    growth = large[0] / small[0]
    assert growth > 3
    assert large[1] <= growth * small[1]
    assert large[2] <= growth * max(small[2], 1)
