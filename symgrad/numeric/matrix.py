"""The matrix view evaluated in numpy: the loss and every gradient of a dense network,
layer by layer, from the view's own formulas (``symgrad.calculus.matrix``); the loss in the
stable forms of ``stable`` (binary cross-entropy from the logit, log-softmax).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import sympy as sp

from ..calculus.matrix import A_SCALAR, Z_SCALAR, MatrixForm
from ..model.functions import NUMPY_FUNCTIONS
from ..model.losses import get_loss
from .backends import softmax_columns
from .compile import Evaluation
from .dense import output_terms
from .stable import COLUMN_LOGSUMEXP, logsumexp_columns


def compile_matrix(form: MatrixForm) -> "MatrixFunction":
    """A numpy function evaluating the loss and every gradient layer by layer, from the
    matrix view's own formulas (each activation and its derivative, the output delta)."""
    modules = [NUMPY_FUNCTIONS, "numpy"]
    layers = []
    for layer in form.layers:
        if layer.slope is None:
            layers.append((layer, softmax_columns, None))
        else:
            symbol, slope = layer.slope_written
            layers.append((layer, sp.lambdify(Z_SCALAR, layer.slope.expr, modules),
                           (symbol == A_SCALAR, sp.lambdify(symbol, slope, modules))))
    unit = form.output.unit
    arguments = list(unit)
    coupled = form.output.outer is not None
    entry = (form.output.outer if coupled else form.output.adjoint).value
    delta = sp.lambdify(arguments, entry, modules)
    roles = [unit[a] for a in arguments]
    loss = get_loss(form.loss_name)
    scalar = {matrix: symbol for symbol, matrix in unit.items()}
    last = form.layers[-1]
    per_output = sp.lambdify([scalar[m] for m in (last.A, form.Y, last.Z)] + [COLUMN_LOGSUMEXP],
                             output_terms(form), modules)
    if coupled:
        delta = _softmax_coupled(delta, tuple(roles), form.layers[-1].A)
    return MatrixFunction(form, tuple(layers), delta, tuple(roles), per_output, loss.mean)


def _softmax_coupled(gradient: Callable, roles: tuple, Yhat: sp.MatrixSymbol) -> Callable:
    """Delta = Yhat o (G - 1 1^T (Yhat o G)), from G = dL/dYhat entry by entry."""
    position = roles.index(Yhat)

    def delta(*arguments: np.ndarray) -> np.ndarray:
        G = gradient(*arguments) * np.ones_like(arguments[position])
        A = arguments[position]
        return A * (G - (A * G).sum(axis=0, keepdims=True))
    return delta


@dataclass(frozen=True)
class MatrixFunction:
    """Call with arrays by group name (x: inputs x N, or a vector for one sample)."""

    form: MatrixForm
    layers: tuple
    delta: Callable
    roles: tuple[sp.MatrixSymbol, ...]
    per_output: Callable
    mean_over_outputs: bool

    def __call__(self, **values: Any) -> Evaluation:
        form = self.form
        single = form.batch is None
        column = (lambda a: np.asarray(a, dtype=float).reshape(-1, 1)) if single else \
            (lambda a: np.asarray(a, dtype=float))
        A, Y = column(values["x"]), column(values["y"])
        samples = A.shape[1]
        cache, ones = [], np.ones((1, samples))
        for layer, f, _ in self.layers:
            W, b = (np.asarray(values[f"{n}{layer.number}"], dtype=float) for n in "Wb")
            before, Z = A, W @ A + b.reshape(-1, 1) @ ones
            A = f(Z) * np.ones_like(Z)
            cache.append((W, before, Z, A))
        given = {form.layers[-1].A: A, form.Y: Y, form.layers[-1].Z: cache[-1][2]}
        delta = self.delta(*(given[r] for r in self.roles)) * np.ones_like(A) / samples
        gradients = {}
        for i in reversed(range(len(self.layers))):
            layer, (W, before, _, _) = self.layers[i][0], cache[i]
            gradients[f"W{layer.number}"] = delta @ before.T
            gradients[f"b{layer.number}"] = delta.sum(axis=1)
            if i > 0:  # the layer before's f', of its activation or of its weighted sum
                of_value, slope = self.layers[i - 1][2]
                _, _, Z_before, A_before = cache[i - 1]
                delta = (W.T @ delta) * slope(A_before if of_value else Z_before)
        Z = cache[-1][2]
        terms = self.per_output(A, Y, Z, logsumexp_columns(Z) if self.form.layers[-1].slope
                                is None else None)
        loss = terms.mean(axis=0) if self.mean_over_outputs else terms.sum(axis=0)
        return Evaluation(np.asarray(loss.mean()), gradients)

