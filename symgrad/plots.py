"""The tangent plot: the loss along one parameter around its value, the tangent whose
slope is the derived gradient, and the gradient-descent step.

``tangents(derivation)`` is the data (pure numbers); ``tangent_figure`` draws it with
matplotlib (Agg backend, no display) as SVG or PDF, byte for byte the same on every run:
the SVG ids are salted with a fixed string and the files carry no date or version.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import sympy as sp

from .derivation import Derivation
from .functions import expand_activations

POINTS = 201
"""Points on each loss curve."""
DEFAULT_RATE = 0.1
"""The step drawn when the derivation has no learning rate."""


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
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": "symgrad", "svg.fonttype": "path",
                                "font.size": 9, "pdf.compression": 6}):
        figure, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 3.2), squeeze=False)
        for ax, tangent in zip(axes[0], shown):
            _draw(ax, tangent)
        figure.tight_layout()
        buffer = io.BytesIO()
        metadata = {"svg": {"Date": None, "Creator": None},
                    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
                    "png": {"Software": None}}[extension]
        figure.savefig(buffer, format=extension, metadata=metadata, dpi=120)
        plt.close(figure)
    return buffer.getvalue()


def _draw(ax, tangent: Tangent) -> None:  # type: ignore[no-untyped-def]
    from . import plain

    name = plain.name(tangent.parameter)
    line = tangent.loss + tangent.slope * (tangent.xs - tangent.value)
    ax.plot(tangent.xs, tangent.losses, color="#1f4e9c", label=f"L along {name}")
    ax.plot(tangent.xs, line, color="#b00020", linestyle="--",
            label=f"tangent, slope ∂L/∂{name} = {plain.number(tangent.slope)}")
    ax.plot([tangent.value], [tangent.loss], "o", color="#222")
    ax.annotate("", xy=(tangent.step_to, tangent.step_loss), xytext=(tangent.value, tangent.loss),
                arrowprops={"arrowstyle": "->", "color": "#2a7d2a", "lw": 1.5})
    ax.axvline(tangent.step_to, color="#2a7d2a", linestyle=":", lw=1)
    ax.plot([tangent.step_to], [tangent.step_loss], "o", color="#2a7d2a",
            label=f"step to {name} − η ∂L/∂{name} = {plain.number(tangent.step_to)} (η = {plain.number(tangent.rate)})")
    low, high = float(np.min(tangent.losses)), float(np.max(tangent.losses))
    pad = 0.15 * (high - low or 1.0)
    ax.set_ylim(low - pad, high + pad)
    ax.set_xlabel(name)
    ax.set_ylabel("L")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=7)
