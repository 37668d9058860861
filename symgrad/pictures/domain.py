"""Where a loss can be plotted: the stretch of a parameter's axis around its value on which
the loss is a real, finite number in double precision.

A plot of the loss along one parameter samples it over a range chosen for the picture
(``symgrad.pictures.plots``); that range may leave the loss's domain (``log(w)`` for
``w <= 0``, ``sqrt(w)``, ``log(1 - w)``) or run into numbers too large for a double
(``exp(10*w)``). ``plotted_range`` keeps the stretch around the value where every sample is
finite and real, finds where it ends to the double's resolution (``Bound``), and says why
(the loss is undefined past there, or overflows), so that the document can say where the
curve is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

BISECTIONS = 60
"""Halvings of the interval between the last finite sample and the first that is not."""


@dataclass(frozen=True)
class Bound:
    """One end of the plotted stretch that stops short of the range asked for: the loss is
    a finite real number on the value's side of ``at`` and not beyond it. ``side`` is
    ``below`` (the parameter is plotted above ``at``) or ``above``; ``reason`` is
    ``undefined`` (not a real number beyond, as ``log`` of a negative number) or
    ``overflow`` (too large for a double beyond); ``included``: whether the loss is finite
    at ``at`` itself (``sqrt(w)`` at 0), so the condition is ``>=`` rather than ``>``."""

    side: str
    at: float
    reason: str
    included: bool


def real(values: Any, shape: tuple[int, ...], infinite: bool = False) -> np.ndarray:
    """``values`` (a function's result on a grid of ``shape``) as real doubles: a complex
    value with a non-zero imaginary part and anything that is no number are NaN, so that
    a plot leaves them out, and so is an infinity unless ``infinite``."""
    array = np.broadcast_to(np.asarray(values), shape)
    if np.iscomplexobj(array):
        array = np.where(np.imag(array) == 0, np.real(array), np.nan)
    try:
        array = np.asarray(array, dtype=float)
    except (TypeError, ValueError):  # objects (SymPy numbers) in the array: one at a time
        array = np.array([real_number(v) for v in np.ravel(array)]).reshape(shape)
    return array if infinite else np.where(np.isfinite(array), array, np.nan)


def real_number(value: Any) -> float:
    """``value`` as a real double; NaN if it is not a real number."""
    try:
        number = complex(value)
    except (TypeError, ValueError, OverflowError):
        return float("nan")
    return number.real if number.imag == 0 else float("nan")


def at(function: Callable[..., Any], *point: float) -> float:
    """``function`` at ``point`` in double precision: +inf where it overflows (raising,
    or giving inf), NaN where it is undefined or not real."""
    with np.errstate(all="ignore"):
        try:
            value = function(*(np.float64(x) for x in point))
        except OverflowError:
            return float("inf")
        except (ZeroDivisionError, ValueError, TypeError):
            return float("nan")
    return real_number(value)


def plotted_range(curve: Callable[[Any], Any], low: float, high: float, value: float,
                  points: int) -> tuple[float, float, tuple[Bound, ...]] | None:
    """The stretch of ``[low, high]`` around ``value`` on which ``curve`` is finite and
    real, sampled at ``points`` points, and its ends that stop short (``Bound``); None if
    the curve is not finite at ``value`` itself in double precision."""
    if not np.isfinite(at(curve, value)):
        return None
    xs = np.linspace(low, high, points)
    with np.errstate(all="ignore"):
        ys = real(curve(xs), xs.shape, infinite=True)
    finite = np.isfinite(ys)
    middle = int(np.argmin(np.abs(xs - value)))
    finite[middle] = True
    start, end = middle, middle
    while start > 0 and finite[start - 1]:
        start -= 1
    while end < points - 1 and finite[end + 1]:
        end += 1
    bounds = []
    if start > 0:
        bounds.append(_edge(curve, float(xs[start]), float(xs[start - 1]), high - low, "below",
                            ys[:start]))
        start = min(start + 1, middle)  # the last sample before a bound may be huge (log near 0)
    if end < points - 1:
        bounds.append(_edge(curve, float(xs[end]), float(xs[end + 1]), high - low, "above",
                            ys[end + 1:]))
        end = max(end - 1, middle)
    return float(xs[start]), float(xs[end]), tuple(bounds)


def _edge(curve: Callable[[Any], Any], inside: float, outside: float, width: float,
          side: str, beyond: np.ndarray) -> Bound:
    """Where the finite stretch ends between ``inside`` and ``outside``, by bisection, and
    why: ``overflow`` if the loss is +inf at every sample ``beyond`` it and a few points
    further, else ``undefined``; the bound rounded to a ten-thousandth of the range's
    ``width`` (so that the document writes ``w > 0``, not ``w > 2.2e-17``)."""
    for _ in range(BISECTIONS):
        middle = (inside + outside) / 2
        if middle in (inside, outside):
            break
        if np.isfinite(at(curve, middle)):
            inside = middle
        else:
            outside = middle
    digits = max(0, int(-np.floor(np.log10(width * 1e-4)))) if width > 0 else 6
    bound = round(outside, digits) + 0.0
    away = 1.0 if side == "above" else -1.0  # a few points past the bound, past the grid too
    probes = [at(curve, bound + away * width * f) for f in (1e-3, 1e-2, 1e-1)]
    reason = "overflow" if bool(np.all(np.append(beyond, probes) == np.inf)) else "undefined"
    return Bound(side, bound, reason, bool(np.isfinite(at(curve, bound))))
