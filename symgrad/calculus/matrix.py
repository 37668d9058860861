"""The matrix view of backpropagation through a dense network: a few equations per layer.

Vectors are columns and a batch puts one sample per column, so for layer l, with
W^(l) of shape n_l x n_(l-1) and A^(0) = X (n_0 x N):

    forward     Z^(l) = W^(l) A^(l-1) + b^(l) 1^T,      A^(l) = f_l(Z^(l))
    output      Delta^(L) = dL/dZ^(L), entry by entry from one unit's derivation
    backward    Delta^(l) = ((W^(l+1))^T Delta^(l+1)) o f_l'(Z^(l))
    gradients   dL/dW^(l) = Delta^(l) (A^(l-1))^T,      dL/db^(l) = Delta^(l) 1

Every gradient has the shape of what it differentiates. The ingredients are derived by the
rule engine on scalars: each activation's derivative f'(z), and the output layer's delta
from the index-form derivation of a network of just that layer. Nothing here is derived
per unit of a hidden layer, so the work does not grow with the width. A ``Derivation``
holds its network's matrix view (``Derivation.matrix``); ``symgrad.numeric.matrix``
evaluates it in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..errors import DerivationError
from ..model.graph import Dense, Graph, Role, activate, check_activation, network, with_loss
from ..model.losses import get_loss
from .backprop import backpropagate
from .backward import Adjoint
from .rules import Step, differentiate

Z_SCALAR = sp.Symbol("z", real=True)
"""The scalar z in which each activation's derivative f'(z) is written."""

A_SCALAR = sp.Symbol("a", real=True)
"""The scalar a = f(z), in which sigma'(z) = a (1 - a) is written."""


@dataclass(frozen=True)
class Layer:
    """One dense layer in matrix form; ``slope`` is the derivation of f'(z)."""

    number: int
    activation: str
    W: sp.MatrixSymbol
    b: sp.MatrixSymbol
    Z: sp.MatrixSymbol
    A: sp.MatrixSymbol
    delta: sp.MatrixSymbol
    previous: sp.MatrixSymbol
    slope: Step | None

    @property
    def weighted_sum(self) -> sp.MatrixExpr:
        """W^(l) A^(l-1) + b^(l) 1^T."""
        ones = sp.OneMatrix(1, self.Z.shape[1])
        return sp.MatAdd(sp.MatMul(self.W, self.previous), sp.MatMul(self.b, ones))

    @property
    def activated(self) -> sp.MatrixExpr | None:
        """f(Z^(l)), entry by entry (None for softmax, which is not)."""
        return None if self.slope is None else entrywise(self.slope.expr, self.Z)

    @property
    def slope_written(self) -> tuple[sp.Symbol, sp.Expr] | None:
        """f' as a function of one scalar: of a = f(z) where it can be (sigma' = a (1 - a)),
        else of z; None for softmax."""
        if self.slope is None:
            return None
        in_value = self.slope.result.xreplace({self.slope.expr: A_SCALAR})
        if isinstance(self.slope.expr, sp.Function) and Z_SCALAR not in in_value.free_symbols:
            return A_SCALAR, in_value
        return Z_SCALAR, self.slope.result

    @property
    def derivative(self) -> sp.MatrixExpr | None:
        """f'(Z^(l)), entry by entry, written with A^(l) where the derivative is a function
        of the activation's value (sigma' = A o (1 - A)); None for softmax."""
        if self.slope_written is None:
            return None
        symbol, slope = self.slope_written
        return entrywise(slope, {symbol: self.A if symbol == A_SCALAR else self.Z})

    @property
    def weight_gradient(self) -> sp.MatrixExpr:
        """dL/dW^(l) = Delta^(l) (A^(l-1))^T."""
        return sp.MatMul(self.delta, self.previous.T)

    @property
    def bias_gradient(self) -> sp.MatrixExpr:
        """dL/db^(l) = Delta^(l) 1, the sum of the deltas over the samples."""
        return sp.MatMul(self.delta, sp.OneMatrix(self.Z.shape[1], 1))


@dataclass(frozen=True)
class OutputDelta:
    """Delta^(L) = dL/dZ^(L): one unit's delta from the index-form derivation (``adjoint``,
    in the quantities of unit 1 of sample 1) and the same for the whole layer (``matrix``).

    Where each entry depends on its own unit alone, ``matrix`` is the formula entry by
    entry. A softmax output under another loss than cross-entropy couples the units:
    delta_j = yhat_j (g_j - sum_k yhat_k g_k) with g = dL/dyhat (``outer``, entry by
    entry), that is Delta = Yhat o (G - 1 1^T (Yhat o G)).
    """

    adjoint: Adjoint
    unit: dict[sp.Symbol, sp.MatrixSymbol]
    matrix: sp.MatrixExpr
    outer: Adjoint | None = None


@dataclass(frozen=True)
class MatrixForm:
    """The matrix view of a dense network's derivation, layer by layer."""

    loss_name: str
    batch: int | None
    layers: tuple[Layer, ...]
    X: sp.MatrixSymbol
    Y: sp.MatrixSymbol
    output: OutputDelta

    @property
    def samples(self) -> int:
        """N, the number of columns: 1 for a single sample."""
        return self.X.shape[1]

    @cached_property
    def backward(self) -> tuple[tuple[sp.MatrixSymbol, sp.MatrixExpr], ...]:
        """Each hidden layer's delta from the next: (Delta^(l), its recursion)."""
        out = []
        for layer, after in zip(self.layers[:-1], self.layers[1:]):
            propagated = sp.MatMul(after.W.T, after.delta)
            out.append((layer.delta, sp.HadamardProduct(propagated, layer.derivative)))
        return tuple(reversed(out))


def matrix_form(graph: Graph) -> MatrixForm:
    """The matrix view of ``graph``, a dense network built by ``network`` and ``with_loss``."""
    if graph.kind != "network":
        raise DerivationError("the matrix view is for dense networks (model: network)")
    shapes = _layer_shapes(graph)
    return matrix_network(shapes[0][1], [(units, f) for units, _, f in shapes], graph.loss_name,
                          graph.batch)


def matrix_network(inputs: int, layers: Sequence[Dense | tuple[int, str]], loss: str,
                   batch: int | None = None) -> MatrixForm:
    """The matrix view of ``with_loss(network(inputs, layers, batch), loss)``, derived
    without building the network's per-unit graph."""
    layers = [layer if isinstance(layer, Dense) else Dense(*layer) for layer in layers]
    for layer in layers:
        check_activation(layer.activation)
    if any(layer.activation == "softmax" for layer in layers[:-1]):
        raise DerivationError("the matrix view takes softmax on the output layer only")
    get_loss(loss)
    samples = batch or 1
    X = sp.MatrixSymbol("X", inputs, samples)
    built, previous = [], X
    for number, layer in enumerate(layers, start=1):
        last = number == len(layers)
        A = sp.MatrixSymbol("Yhat" if last else f"A{number}", layer.units, samples)
        built.append(Layer(number, layer.activation,
                           sp.MatrixSymbol(f"W{number}", layer.units, previous.shape[0]),
                           sp.MatrixSymbol(f"b{number}", layer.units, 1),
                           sp.MatrixSymbol(f"Z{number}", layer.units, samples), A,
                           sp.MatrixSymbol(f"Delta{number}", layer.units, samples), previous,
                           _slope(layer.activation)))
        previous = A
    Y = sp.MatrixSymbol("Y", layers[-1].units, samples)
    return MatrixForm(loss, batch, tuple(built), X, Y, _output_delta(loss, batch, built[-1], Y))


def _layer_shapes(graph: Graph) -> list[tuple[int, int, str]]:
    """(units, inputs, activation) of each layer, read off the graph's groups and definitions."""
    weights = [g for g in graph.groups if g.role == "parameter" and g.name[0] == "W"]
    activations: dict[int, str] = {}
    for d in graph.definitions:
        if d.role is Role.ACTIVATION:
            layer = getattr(d.symbol, "layer", None) or len(weights)
            activations.setdefault(layer, d.activation or "identity")
    return [(w.shape[0], w.shape[1], activations[number])
            for number, w in enumerate(weights, start=1)]


def _slope(activation: str) -> Step | None:
    """The derivation of f'(z) for the named activation, z a scalar (None for softmax,
    whose outputs each depend on every input: its derivative is in the output delta)."""
    if activation == "softmax":
        return None
    return differentiate(activate(activation, [Z_SCALAR], 0), Z_SCALAR)


def _output_delta(loss: str, batch: int | None, last: Layer, Y: sp.MatrixSymbol) -> OutputDelta:
    """Derive one output unit's delta in a network of the output layer alone, for one
    sample, and write it for every entry (divided by N for a batch's mean loss)."""
    units = last.Z.shape[0]
    alone = with_loss(network(1, [(units, last.activation)]), loss)
    adjoints = tuple(backpropagate(alone, alone.resolve("b1")).adjoints.values())
    adjoint = next(a for a in adjoints if a.node.name == "z1[0]")
    unit = {_named(alone, "yhat[0]"): last.A, _named(alone, "y[0]"): Y,
            _named(alone, "z1[0]"): last.Z}
    outer = None
    if adjoint.value.free_symbols <= set(unit):
        matrix = entrywise(adjoint.value, unit)
    elif last.activation == "softmax":
        outer = next(a for a in adjoints if a.node.name == "yhat[0]")
        G = entrywise(outer.value, unit)
        weighted = sp.HadamardProduct(last.A, G)
        matrix = sp.HadamardProduct(last.A, G - sp.MatMul(sp.OneMatrix(units, units), weighted))
    else:
        raise DerivationError(f"the matrix view has no layer-wide delta for "
                              f"{last.activation} with {loss}")
    if batch:
        matrix = sp.MatMul(sp.Rational(1, batch), matrix)
    return OutputDelta(adjoint, unit, matrix, outer)


def _named(graph: Graph, name: str) -> sp.Symbol:
    return next(s for s in (*(x for g in graph.groups for x in g.symbols),
                            *(d.symbol for d in graph.definitions)) if s.name == name)


def entrywise(expr: sp.Expr, matrices: dict[sp.Symbol, sp.MatrixSymbol] | sp.MatrixSymbol
              ) -> sp.MatrixExpr:
    """A scalar formula applied to every entry: sums stay sums, products become Hadamard
    products, and a function of one quantity is applied entry by entry."""
    if isinstance(matrices, sp.MatrixSymbol):
        matrices = {Z_SCALAR: matrices}
    shape = next(iter(matrices.values())).shape
    if expr in matrices:
        return matrices[expr]
    used = expr.free_symbols & set(matrices)
    if len(used) == 1 and not expr.is_Add and expr.as_coeff_Mul()[1] not in matrices:
        (symbol,) = used
        # built directly: for a 1 x 1 matrix SymPy would apply the function to the matrix
        return sp.MatrixExpr.__new__(ElementwiseApplyFunction, sp.Lambda(symbol, expr),
                                     matrices[symbol])
    if expr.is_number:
        return sp.MatMul(expr, sp.OneMatrix(*shape)) if expr != 1 else sp.OneMatrix(*shape)
    if isinstance(expr, sp.Add):
        return sp.MatAdd(*(entrywise(a, matrices) for a in expr.args))
    if isinstance(expr, sp.Mul):
        coefficient, rest = expr.as_coeff_Mul()
        factors = rest.args if isinstance(rest, sp.Mul) else (rest,)
        product = [entrywise(f, matrices) for f in factors]
        body = product[0] if len(product) == 1 else sp.HadamardProduct(*product)
        return body if coefficient == 1 else sp.MatMul(coefficient, body)
    raise DerivationError(f"cannot write {expr} entry by entry")
