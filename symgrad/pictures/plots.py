"""Plots of the loss: the tangent plot (the loss along one parameter around its value, the
tangent whose slope is the derived gradient, and the gradient-descent step), the contour
plot of the loss over two parameters with the gradient and the step, and the loss over a
few steps of gradient descent.

``tangents``, ``contour`` and ``training`` give the data (pure numbers); ``tangent_figure``,
``contour_figure`` and ``training_figure`` draw it with matplotlib (Agg backend, no display)
as SVG, PDF or PNG, byte for byte the same on every run: the SVG ids are salted with a
fixed string and the files carry no date or version.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import sympy as sp

from ..calculus.derivation import Derivation
from ..model.functions import expand_activations

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
    parameters; None otherwise."""
    worked = derivation.worked
    if worked is None or not 1 <= len(derivation.parameters) <= 2:
        return None
    if any(derivation.graph.group(p.name) is None for p in derivation.parameters):
        return None
    composed = expand_activations(derivation.graph.composed())
    return tuple(_tangent(derivation, composed, p) for p in derivation.parameters)


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


def tangent_figure(shown: Tangents, extension: str) -> bytes:
    """The tangent plots side by side, as ``extension`` (svg, pdf or png) bytes."""
    return _figure(len(shown), lambda axes: [_draw(ax, t) for ax, t in zip(axes, shown)], extension)


def _figure(panels: int, draw: Callable[[Any], Any], extension: str,
            size: tuple[float, float] = (4.2, 3.2)) -> bytes:
    """A figure of ``panels`` axes side by side, drawn by ``draw(axes)``, saved as bytes
    that are the same on every run."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": "symgrad", "svg.fonttype": "path",
                                "font.size": 9, "pdf.compression": 6}):
        figure, axes = plt.subplots(1, panels, figsize=(size[0] * panels, size[1]), squeeze=False)
        draw(list(axes[0]))
        figure.tight_layout()
        buffer = io.BytesIO()
        metadata = {"svg": {"Date": None, "Creator": None},
                    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
                    "png": {"Software": None}}[extension]
        figure.savefig(buffer, format=extension, metadata=metadata, dpi=120)
        plt.close(figure)
    return buffer.getvalue()


def _draw(ax, tangent: Tangent) -> None:  # type: ignore[no-untyped-def]
    from ..render import plain

    name, loss = plain.name(tangent.parameter), plain.loss_name()
    line = tangent.loss + tangent.slope * (tangent.xs - tangent.value)
    ax.plot(tangent.xs, tangent.losses, color="#1f4e9c", label=f"{loss} along {name}")
    ax.plot(tangent.xs, line, color="#b00020", linestyle="--",
            label=f"tangent, slope ∂{loss}/∂{name} = {plain.number(tangent.slope)}")
    ax.plot([tangent.value], [tangent.loss], "o", color="#222")
    ax.annotate("", xy=(tangent.step_to, tangent.step_loss), xytext=(tangent.value, tangent.loss),
                arrowprops={"arrowstyle": "->", "color": "#2a7d2a", "lw": 1.5})
    ax.axvline(tangent.step_to, color="#2a7d2a", linestyle=":", lw=1)
    ax.plot([tangent.step_to], [tangent.step_loss], "o", color="#2a7d2a",
            label=f"step to {name} − η ∂{loss}/∂{name} = {plain.number(tangent.step_to)} (η = {plain.number(tangent.rate)})")
    low, high = float(np.min(tangent.losses)), float(np.max(tangent.losses))
    pad = 0.15 * (high - low or 1.0)
    ax.set_ylim(low - pad, high + pad)
    ax.set_xlabel(name)
    ax.set_ylabel(plain.loss_name())
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=7)


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


def contour_figure(shown: Contour, extension: str) -> bytes:
    """The contour plot as ``extension`` bytes."""
    return _figure(1, lambda axes: _draw_contour(axes[0], shown), extension, (4.8, 4.0))


def _draw_contour(ax, shown: Contour) -> None:  # type: ignore[no-untyped-def]
    from ..render import plain

    p, q = (plain.name(s) for s in shown.parameters)
    lines = ax.contour(shown.xs, shown.ys, shown.losses, levels=14, cmap="viridis", linewidths=0.9)
    ax.clabel(lines, fontsize=6, fmt="%.3g")
    (x, y), (gx, gy) = shown.point, shown.gradient
    norm = float(np.hypot(gx, gy)) or 1.0
    length = 0.25 * min(shown.xs[-1] - shown.xs[0], shown.ys[-1] - shown.ys[0])
    ax.annotate("", xy=(x + gx / norm * length, y + gy / norm * length), xytext=(x, y),
                arrowprops={"arrowstyle": "->", "color": "#b00020", "lw": 1.6})
    ax.plot([], [], color="#b00020", label=f"gradient ({plain.number(gx)}, {plain.number(gy)}), direction")
    ax.annotate("", xy=shown.step_to, xytext=(x, y),
                arrowprops={"arrowstyle": "->", "color": "#2a7d2a", "lw": 1.6})
    ax.plot([x], [y], "o", color="#222", label=f"({p}, {q}) = ({plain.number(x)}, {plain.number(y)})")
    ax.plot([shown.step_to[0]], [shown.step_to[1]], "o", color="#2a7d2a",
            label=f"after one step (η = {plain.number(shown.rate)})")
    ax.set_xlabel(p)
    ax.set_ylabel(q)
    ax.set_aspect("auto")
    ax.legend(loc="upper left", fontsize=7, framealpha=0.85)


@dataclass(frozen=True)
class Training:
    """The loss before each of ``len(losses) - 1`` steps of gradient descent at ``rate``
    on the derivation's parameters, and after the last (``losses[0]`` is the given point)."""

    losses: tuple[float, ...]
    rate: float


def training(derivation: Derivation, steps: int = TRAINING_STEPS) -> Training | None:
    """The loss over ``steps`` steps of gradient descent from the given values, with the
    compiled gradients; None without values or a learning rate."""
    from ..numeric.compile import compile as compile_numpy

    worked = derivation.worked
    if worked is None or worked.learning_rate is None:
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
            values[parameter] -= rate * float(gradient)
    return Training(tuple(losses), rate)


def training_figure(shown: Training, extension: str) -> bytes:
    """The training curve as ``extension`` bytes."""
    return _figure(1, lambda axes: _draw_training(axes[0], shown), extension, (4.6, 3.0))


def _draw_training(ax, shown: Training) -> None:  # type: ignore[no-untyped-def]
    from matplotlib.ticker import MaxNLocator

    from ..render import plain

    ax.plot(range(len(shown.losses)), shown.losses, "o-", color="#1f4e9c", markersize=3)
    ax.set_xlabel("step of gradient descent")
    ax.set_ylabel(plain.loss_name())
    ax.set_title(f"η = {plain.number(shown.rate)}", fontsize=9)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
