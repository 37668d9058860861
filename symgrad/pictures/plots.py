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
from .domain import Bound, at, plotted_range, real, real_number

POINTS = 201
"""Points on each loss curve."""
GRID = 81
"""Points along each axis of the contour plot's grid."""
TRAINING_STEPS = 20
"""Steps of gradient descent in the training plot."""
SMALL_STEP = 0.08
"""A step shorter than this part of the tangent plot's width is also drawn enlarged, in an
inset (``Tangent.inset``)."""
INSET_STEPS = 2.5
"""The inset reaches this many steps either side of the point."""


@dataclass(frozen=True)
class Tangent:
    """The loss along ``parameter`` (the others at their values): ``xs`` and ``losses``,
    the point (``value``, ``loss``), the ``slope`` (the derived gradient), and with a
    learning rate the gradient-descent step to ``value - rate * slope`` and the loss there
    along the line (without one, ``rate``, ``step_to`` and ``step_loss`` are None: no step
    is drawn). ``bounds``: the ends where the plotted range stops short because the loss is
    not a finite real number beyond them (``symgrad.pictures.domain``); the loss is NaN
    in ``losses`` wherever it is not one."""

    parameter: sp.Symbol
    xs: np.ndarray
    losses: np.ndarray
    value: float
    loss: float
    slope: float
    rate: float | None
    step_to: float | None
    step_loss: float | None
    curve: Callable[[Any], Any] = field(repr=False, compare=False)
    bounds: tuple[Bound, ...] = ()

    @property
    def inset(self) -> tuple[float, float] | None:
        """Where along the parameter an inset shows the step enlarged, when it is shorter
        than ``SMALL_STEP`` of the plot's width (and not zero); None otherwise."""
        if self.step_to is None or self.step_loss is None or not np.isfinite(self.step_loss):
            return None
        step = abs(self.step_to - self.value)
        if step == 0 or step >= SMALL_STEP * (self.xs[-1] - self.xs[0]):
            return None
        return self.value - INSET_STEPS * step, self.value + INSET_STEPS * step

    @property
    def magnified(self) -> float | None:
        """How many times the inset enlarges the parameter's axis (None without one)."""
        inset = self.inset
        return None if inset is None else float((self.xs[-1] - self.xs[0]) / (inset[1] - inset[0]))

    @property
    def step_effect(self) -> str | None:
        """What the step does to the loss along the line: ``lower``, ``higher``, ``same``,
        ``overflow`` (too large there) or ``undefined`` (not a finite real number there);
        None without a step."""
        return None if self.step_loss is None else effect(self.loss, self.step_loss)

    def loss_at(self, x: float | np.ndarray) -> float | np.ndarray:
        """The loss at ``x`` along the line, from the composed loss."""
        return self.curve(x)


Tangents = tuple[Tangent, ...]


def effect(before: float, after: float) -> str:
    """``lower``, ``higher`` or ``same`` (within a relative 1e-12): the loss ``after`` a
    step against ``before`` it; ``overflow`` if ``after`` is +inf, ``undefined`` if it is
    NaN or -inf (not a real number, or the loss unbounded below there)."""
    if after == np.inf:
        return "overflow"
    if not np.isfinite(after):
        return "undefined"
    if abs(after - before) <= 1e-12 * max(abs(before), abs(after)):
        return "same"
    return "lower" if after < before else "higher"


def tangents(derivation: Derivation) -> Tangents | None:
    """One tangent per parameter for a derivation with values and one or two scalar
    parameters (inputs and targets, which no step moves, left out); None otherwise, and
    ``()`` (nothing to plot) if the loss or a slope at the given values is not a finite
    real number in double precision."""
    worked, trained = derivation.worked, derivation.trained
    if worked is None or not 1 <= len(trained) <= 2:
        return None
    if any(derivation.graph.group(p.name) is None for p in trained):
        return None
    composed = expand_activations(derivation.graph.composed())
    shown = [_tangent(derivation, composed, p) for p in trained]
    return () if None in shown else tuple(t for t in shown if t is not None)


def _tangent(derivation: Derivation, composed: sp.Expr, parameter: sp.Symbol) -> Tangent | None:
    """The tangent plot's data along ``parameter``, over a range around its value that
    stays where the loss is finite and real; None if it, its slope or the plotted range
    (three steps) is not finite in double precision at the value itself."""
    worked = derivation.worked
    assert worked is not None
    others = {s: v for s, v in worked.given.items() if s != parameter}
    curve = sp.lambdify(parameter, composed.xreplace(others), "numpy")
    value, slope = real_number(worked.given[parameter]), real_number(worked.gradients[parameter])
    rate = None if worked.learning_rate is None else float(worked.learning_rate)
    step_to = None if rate is None else value - rate * slope
    step = 0.0 if step_to is None else abs(step_to - value)
    loss = real_number(worked.loss)  # NaN beyond a double's range (an exact 10**400)
    if not np.isfinite([value, slope, loss, step]).all():
        return None
    half = max(0.5, 3 * step, 0.5 * abs(value))
    if not np.isfinite([value - half, value + half, 2 * half]).all():
        return None  # a step beyond a double's range (a learning rate of 1e308)
    plotted = plotted_range(curve, value - half, value + half, value, POINTS)
    if plotted is None:
        return None
    low, high, bounds = plotted
    xs = np.linspace(low, high, POINTS)
    with np.errstate(all="ignore"):
        losses = real(curve(xs), xs.shape)
    if not plottable(xs):  # an axis of w near 1e308 (the losses' axis takes up to 1.8e308)
        return None
    step_loss = None if step_to is None else at(curve, step_to)
    return Tangent(parameter, xs, losses, value, loss, slope, rate,
                   step_to, step_loss, curve, bounds)


PLOTTABLE = 1e100
"""The largest magnitude a plot's parameter axis, or a training curve's (log-scaled) loss
axis, takes: matplotlib cannot place their ticks near a double's largest (w = 1e308, or a
loss of 1e255 whose next decade of ticks is past 1e308). A tangent plot beyond it is not
drawn; a training curve is drawn up to its last loss within it (``Training.drawn``)."""


def plottable(*arrays: np.ndarray) -> bool:
    """Whether every finite number of ``arrays`` is within ``PLOTTABLE`` in magnitude."""
    finite = [a[np.isfinite(a)] for a in arrays]
    return all(f.size == 0 or float(np.abs(f).max()) <= PLOTTABLE for f in finite)


@dataclass(frozen=True)
class Contour:
    """The loss over a grid of two parameters (``xs`` by ``ys``; ``losses[i, j]`` at
    ``ys[i]``, ``xs[j]``), the point and the loss there, the derived gradient there and,
    with a learning rate, the step to ``point - rate * gradient`` and the loss after it
    (None without one)."""

    parameters: tuple[sp.Symbol, sp.Symbol]
    xs: np.ndarray
    ys: np.ndarray
    losses: np.ndarray
    point: tuple[float, float]
    gradient: tuple[float, float]
    rate: float | None
    step_to: tuple[float, float] | None
    loss: float = 0.0
    step_loss: float | None = None

    @property
    def masked(self) -> bool:
        """Whether the loss is not a finite real number somewhere on the grid (left blank)."""
        return not bool(np.all(np.isfinite(self.losses)))

    @property
    def step_effect(self) -> str | None:
        """What the step does to the loss (see ``effect``); None without a step."""
        return None if self.step_loss is None else effect(self.loss, self.step_loss)


def contour(derivation: Derivation) -> Contour | None:
    """The contour data for a derivation with values and exactly two scalar parameters,
    over the ranges of their tangent plots (NaN where the loss is not a finite real
    number); None if fewer than a quarter of the grid's points have a finite loss."""
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
    with np.errstate(all="ignore"):
        losses = real(loss(grid_x, grid_y), grid_x.shape)
    if np.count_nonzero(np.isfinite(losses)) < losses.size / 4:
        return None
    step_to = None if first.rate is None else (first.step_to, second.step_to)
    step_loss = None if step_to is None else at(loss, *step_to)
    return Contour((p, q), xs, ys, losses, (first.value, second.value),
                   (first.slope, second.slope), first.rate, step_to, first.loss, step_loss)


@dataclass(frozen=True)
class Training:
    """The loss before each step of gradient descent at ``rate`` on the derivation's
    parameters and after the last (``losses[0]`` is the given point), for as long as it is
    a finite number: ``stopped`` is the first step after which it is not (None if every
    one of the ``steps`` is finite), ``last`` the loss there (inf, -inf or nan)."""

    losses: tuple[float, ...]
    rate: float
    steps: int = TRAINING_STEPS
    stopped: int | None = None
    last: float | None = None

    @property
    def changes(self) -> tuple[int, int]:
        """How many steps raised the loss and how many lowered it (among the finite ones)."""
        pairs = list(zip(self.losses, self.losses[1:]))
        return sum(b > a for a, b in pairs), sum(b < a for a, b in pairs)

    @property
    def overflow(self) -> bool:
        """Whether the loss stopped by growing past the largest double (to +inf)."""
        return self.last is not None and self.last == np.inf

    @property
    def drawn(self) -> tuple[float, ...]:
        """The losses the plot draws: those up to the first beyond ``PLOTTABLE``."""
        beyond = [i for i, loss in enumerate(self.losses) if abs(loss) > PLOTTABLE]
        return self.losses[:beyond[0]] if beyond else self.losses

    @property
    def logarithmic(self) -> bool:
        """Whether the plot's loss axis is logarithmic: for positive losses spanning more
        than three orders of magnitude."""
        low, high = min(self.losses), max(self.losses)
        return low > 0 and high / low > 1e3


def training(derivation: Derivation, steps: int = TRAINING_STEPS) -> Training | None:
    """The loss over ``steps`` steps of gradient descent from the given values, with the
    compiled gradients in double precision, up to the first step whose loss is not finite;
    None without values, a learning rate or a parameter to move, or if the loss at the
    given values is not finite in double precision."""
    worked = derivation.worked
    if worked is None or worked.learning_rate is None or not derivation.trained:
        return None
    from ..numeric.compile import compile  # deferred: code generation only for this plot
    function = compile(derivation, form="index").function
    leaves = [s for g in derivation.graph.groups for s in g.symbols]
    values = {s: np.float64(worked.given[s]) for s in leaves}
    rate = np.float64(worked.learning_rate)
    losses: list[float] = []
    with np.errstate(all="ignore"):
        for step in range(steps + 1):
            loss, gradients = _evaluate(function, [values[s] for s in leaves])
            if not np.isfinite(loss) or step == 0 and abs(loss) > PLOTTABLE:
                if step == 0:  # no finite loss to start from, or none a plot can draw
                    return None
                return Training(tuple(losses), float(rate), steps, step, loss)
            losses.append(loss)
            for parameter, gradient in zip(derivation.parameters, gradients):
                if derivation.graph.is_parameter(parameter):  # the data stays as given
                    values[parameter] = values[parameter] - rate * gradient
    return Training(tuple(losses), float(rate), steps)


def _evaluate(function: Callable[..., list], arguments: list) -> tuple[float, list]:
    """The loss and gradients at ``arguments``; a loss that overflows in Python's own
    arithmetic (which raises rather than giving inf) is inf."""
    try:
        loss, *gradients = function(*arguments)
    except OverflowError:
        return float("inf"), []
    except (ZeroDivisionError, ValueError, TypeError):  # a math domain error, a complex power
        return float("nan"), []
    number = real_number(loss)  # a complex loss (a root of a negative number) is NaN
    if not np.isfinite(number):
        return number, []
    return number, [np.float64(real_number(g)) for g in gradients]
