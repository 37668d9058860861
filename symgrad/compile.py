"""Compile a derivation to numpy: the loss and its gradients over arrays, batches included.

The generated function is the straight-line program itself (forward definitions, then
the named adjoints), handed to ``sympy.lambdify`` as its common subexpressions, so the
code grows like the network, not like the composed expression.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import sympy as sp

from .derivation import Derivation
from .errors import ValuesError
from .numeric import arrange


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def _softmax(k: int, *zs: np.ndarray) -> np.ndarray:
    zs = np.broadcast_arrays(*(np.asarray(z, dtype=float) for z in zs))
    top = np.maximum.reduce(zs)
    exps = [np.exp(z - top) for z in zs]
    return exps[int(k) - 1] / sum(exps)


def _select(conditions: list, choices: list, default: float = np.nan) -> np.ndarray:
    """numpy.select that also takes the scalar conditions a Piecewise gives for scalar inputs."""
    return np.select([np.asarray(c) for c in conditions], choices, default)


NUMPY_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "select": _select,
    "sigmoid": _sigmoid,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z, alpha: np.where(z > 0, z, alpha * z),
    "softplus": lambda z: np.logaddexp(0.0, z),
    "softmax": _softmax,
}


@dataclass(frozen=True)
class Evaluation:
    """The loss and the gradients (keyed and shaped as in ``numeric.arrange``)."""

    loss: np.ndarray
    gradients: dict[str, np.ndarray]


@dataclass(frozen=True)
class Compiled:
    """A numpy function of the model's quantities, called with arrays by group name.

    Each value has the quantity's shape (``W1``: units x inputs) followed by any batch
    dimensions; results keep the batch dimensions.
    """

    derivation: Derivation
    function: Callable[..., list]

    def __call__(self, **values: Any) -> Evaluation:
        graph = self.derivation.graph
        unknown = set(values) - {g.name for g in graph.groups}
        if unknown:
            raise ValuesError(f"unknown quantity {sorted(unknown)[0]!r} "
                              f"(known: {', '.join(g.name for g in graph.groups)})")
        arguments = [a for g in graph.groups for a in _elements(g, values)]
        loss, *grads = self.function(*arguments)
        shaped = dict(zip(self.derivation.parameters, np.broadcast_arrays(*grads, loss)))
        arranged = arrange(graph, self.derivation.parameters, shaped)
        return Evaluation(np.asarray(loss, dtype=float), {k: np.asarray(v, dtype=float)
                                                          for k, v in arranged.items()})


def _elements(group, values: Mapping[str, Any]) -> list[np.ndarray]:
    if group.name not in values:
        raise ValuesError(f"missing value for {group.name}")
    array = np.asarray(values[group.name], dtype=float)
    if array.shape[:len(group.shape)] != group.shape:
        raise ValuesError(f"{group.name} should have shape {group.shape} (then any batch "
                          f"dimensions), got {array.shape}")
    return [array[position] for position in group.positions()]


def compile(derivation: Derivation) -> Compiled:
    """A numpy function computing the loss and every gradient of ``derivation``."""
    graph = derivation.graph
    leaves = [s for g in graph.groups for s in g.symbols]
    program = [(d.symbol, d.expr) for d in graph.definitions]
    program += [(a.name, a.value) for a in derivation.adjoints if a.named]
    names = {old: sp.Symbol(f"_v{i}") for i, old in enumerate(leaves + [s for s, _ in program])}
    safe = [(names[s], e.xreplace(names)) for s, e in program]
    outputs = [names[graph.loss]] + [g.result.xreplace(names) for g in derivation.gradients]
    function = sp.lambdify([names[s] for s in leaves], outputs,
                           modules=[NUMPY_FUNCTIONS, "numpy"], cse=lambda exprs: (safe, exprs),
                           docstring_limit=0)
    return Compiled(derivation, function)
