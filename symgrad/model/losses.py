"""Loss functions: each builds L from predictions and targets and knows its definition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import sympy as sp

from ..errors import unknown
from .symbols import Var

_k, _n = sp.symbols("k n", integer=True, positive=True)
_yhat, _y = sp.IndexedBase("yhat", real=True), sp.IndexedBase("y", real=True)


@dataclass(frozen=True)
class Loss:
    """A loss: its name, a one-line description, its general formula, and how it is built."""

    name: str
    title: str
    per_output: Callable[[sp.Expr, sp.Expr], sp.Expr]
    mean: bool = False

    def build(self, predictions: Sequence[sp.Expr], targets: Sequence[sp.Expr]) -> sp.Expr:
        """L for these predictions and targets: summed (or averaged) over the outputs."""
        total = sp.Add(*(self.per_output(p, t) for p, t in zip(predictions, targets)))
        return total / len(predictions) if self.mean else total

    def formula(self, outputs: int) -> sp.Expr:
        """The definition, written with a sum over outputs k = 1..n when there are several."""
        if outputs == 1:
            return self.per_output(Var("yhat"), Var("y"))
        term = sp.Sum(self.per_output(_yhat[_k], _y[_k]), (_k, 1, outputs))
        return term / outputs if self.mean else term


def _half_squared(p: sp.Expr, t: sp.Expr) -> sp.Expr:
    return sp.Rational(1, 2) * (p - t) ** 2


def _squared(p: sp.Expr, t: sp.Expr) -> sp.Expr:
    return (p - t) ** 2


def _binary_cross_entropy(p: sp.Expr, t: sp.Expr) -> sp.Expr:
    return -(t * sp.log(p) + (1 - t) * sp.log(1 - p))


def _categorical_cross_entropy(p: sp.Expr, t: sp.Expr) -> sp.Expr:
    return -t * sp.log(p)


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss("half_squared_error", "half squared error", _half_squared),
        Loss("squared_error", "squared error", _squared),
        Loss("mse", "mean squared error over the outputs", _squared, mean=True),
        Loss("binary_cross_entropy", "binary cross-entropy", _binary_cross_entropy),
        Loss("categorical_cross_entropy", "categorical cross-entropy", _categorical_cross_entropy),
    )
}


def get_loss(name: str) -> Loss:
    """The loss called ``name``; raise UnknownNameError listing the known ones."""
    if not isinstance(name, str) or name not in LOSSES:
        raise unknown("loss", name, LOSSES)
    return LOSSES[name]
