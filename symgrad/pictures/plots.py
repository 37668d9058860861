"""Plots of the loss: the tangent plot (the loss along one parameter around its value, the
tangent whose slope is the derived gradient, and the gradient-descent step), the contour
plot of the loss over two parameters with the gradient and the step, and the loss over a
few steps of gradient descent.

``tangents``, ``contour`` and ``training`` give the data (pure numbers);
``symgrad.render.plots`` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import sympy as sp

from ..calculus.derivation import Derivation
from ..model.functions import expand_activations
from ..numeric.compile import compile as compile_numpy

POINTS = 201
"""Points on each loss curve."""
DEFAULT_RATE = 0.1
"""The step drawn when the derivation has no learning rate."""
GRID = 81
"""Points along each axis of the contour plot's grid."""
TRAINING_STEPS = 20
"""Steps of gradient descent in the training plot."""


@dataclass(frozen=True)
class Tangent:
    """The loss along ``parameter`` (the others at their values): ``xs`` and ``losses``,
    the point (``value``, ``loss``), the ``slope`` (the derived gradient), and the
    gradient-descent step to ``value - rate * slope`` and the loss there."""

    parameter: sp.Symbol
    xs: np.ndarray
    losses: np.ndarray
    value: float
    loss: float
    slope: float
    rate: float
    step_to: float
    step_loss: float
    curve: Callable[[Any], Any] = field(repr=False, compare=False)

    def loss_at(self, x: float | np.ndarray) -> float | np.ndarray:
        """The loss at ``x`` along the line, from the composed loss."""
        return self.curve(x)


Tangents = tuple[Tangent, ...]


def tangents(derivation: Derivation) -> Tangents | None:
    """One tangent per parameter for a derivation with values and one or two scalar
    parameters (inputs and targets, which no step moves, left out); None otherwise."""
    worked, trained = derivation.worked, derivation.trained
    if worked is None or not 1 <= len(trained) <= 2:
        return None
    if any(derivation.graph.group(p.name) is None for p in trained):
        return None
    composed = expand_activations(derivation.graph.composed())
    return tuple(_tangent(derivation, composed, p) for p in trained)


def _tangent(derivation: Derivation, composed: sp.Expr, parameter: sp.Symbol) -> Tangent:
    worked = derivation.worked
    assert worked is not None
    others = {s: v for s, v in worked.given.items() if s != parameter}
    curve = sp.lambdify(parameter, composed.xreplace(others), "numpy")
    value, slope = float(worked.given[parameter]), float(worked.gradients[parameter])
    rate = float(worked.learning_rate) if worked.learning_rate is not None else DEFAULT_RATE
    step_to = value - rate * slope
    half = max(0.5, 3 * abs(step_to - value), 0.5 * abs(value))
    xs = np.linspace(value - half, value + half, POINTS)
    losses = np.broadcast_to(np.asarray(curve(xs), dtype=float), xs.shape)
    return Tangent(parameter, xs, np.array(losses), value, float(worked.loss), slope, rate,
                   step_to, float(curve(step_to)), curve)


@dataclass(frozen=True)
class Contour:
    """The loss over a grid of two parameters (``xs`` by ``ys``; ``losses[i, j]`` at
    ``ys[i]``, ``xs[j]``), the point, the derived gradient there and the step to
    ``point - rate * gradient``."""

    parameters: tuple[sp.Symbol, sp.Symbol]
    xs: np.ndarray
    ys: np.ndarray
    losses: np.ndarray
    point: tuple[float, float]
    gradient: tuple[float, float]
    rate: float
    step_to: tuple[float, float]


def contour(derivation: Derivation) -> Contour | None:
    """The contour data for a derivation with values and exactly two scalar parameters."""
    shown = tangents(derivation)
    if shown is None or len(shown) != 2:
        return None
    first, second = shown
    p, q = first.parameter, second.parameter
    others = {s: v for s, v in derivation.worked.given.items() if s not in (p, q)}
    loss = sp.lambdify((p, q), expand_activations(derivation.graph.composed()).xreplace(others),
                       "numpy")
    xs = np.linspace(first.xs[0], first.xs[-1], GRID)
    ys = np.linspace(second.xs[0], second.xs[-1], GRID)
    grid_x, grid_y = np.meshgrid(xs, ys)
    losses = np.broadcast_to(np.asarray(loss(grid_x, grid_y), dtype=float), grid_x.shape)
    return Contour((p, q), xs, ys, np.array(losses), (first.value, second.value),
                   (first.slope, second.slope), first.rate, (first.step_to, second.step_to))


@dataclass(frozen=True)
class Training:
    """The loss before each of ``len(losses) - 1`` steps of gradient descent at ``rate``
    on the derivation's parameters, and after the last (``losses[0]`` is the given point)."""

    losses: tuple[float, ...]
    rate: float


def training(derivation: Derivation, steps: int = TRAINING_STEPS) -> Training | None:
    """The loss over ``steps`` steps of gradient descent from the given values, with the
    compiled gradients; None without values, a learning rate or a parameter to move."""
    worked = derivation.worked
    if worked is None or worked.learning_rate is None or not derivation.trained:
        return None
    function = compile_numpy(derivation).function
    leaves = [s for g in derivation.graph.groups for s in g.symbols]
    values = {s: float(worked.given[s]) for s in leaves}
    rate = float(worked.learning_rate)
    losses = []
    for _ in range(steps + 1):
        loss, *gradients = function(*(values[s] for s in leaves))
        losses.append(float(loss))
        for parameter, gradient in zip(derivation.parameters, gradients):
            if derivation.graph.is_parameter(parameter):  # the data stays as given
                values[parameter] -= rate * float(gradient)
    return Training(tuple(losses), rate)
