"""The matrix view of a network chapter: Z = W A + b 1^T, the deltas, gradients and
updates in matrices, and their numbers (a mixin of ``chapter.Chapter``)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import sympy as sp

from . import latex
from ..calculus.matrix import Z_SCALAR, Layer, entrywise
from .chapter_pieces import ETA, Values


class ColumnSoftmax(sp.Function):
    """The softmax of each column of a matrix (a softmax layer's outputs in the matrix view)."""

    nargs = 1


class ChapterMatrix:
    """The matrix view's equations of a ``Chapter``, and with values their numbers."""

    def matrix_forward(self, layer: Layer, numbers: bool = True) -> list[list[latex.Math]]:
        """Z = W A + b 1^T and A = f(Z) for one layer, and with values (and ``numbers``)
        their numbers."""
        activated = layer.activated if layer.activated is not None else ColumnSoftmax(layer.Z)
        chains = [[latex.tex(layer.Z), latex.tex(layer.weighted_sum)], [latex.tex(layer.A), latex.tex(activated)]]
        numbers = self.matrix_values if numbers else None
        if numbers is not None:
            chains[0] += [numbers.subs(layer.weighted_sum), numbers.number(layer.Z)]
            chains[1] += [numbers.subs(activated), numbers.number(layer.A)]
        return chains

    def matrix_output(self, numbers: bool = True) -> list[latex.Math]:
        """The output layer's delta, entry by entry, and with values its numbers."""
        last = self.form.layers[-1]
        chain = [latex.tex(last.delta), latex.tex(self.gradient_matrix(last.Z)),
                 latex.tex(self.form.output.matrix)]
        numbers = self.matrix_values if numbers else None
        if numbers is not None:
            chain += [numbers.subs(self.form.output.matrix), numbers.number(last.delta)]
        return chain

    def matrix_backward(self, numbers: bool = True) -> list[tuple[Layer, list[latex.Math]]]:
        """Each hidden layer's delta from the next one's, and with values its numbers."""
        out = []
        for delta, recursion in self.form.backward:
            layer = next(l for l in self.form.layers if l.delta == delta)
            chain = [latex.tex(delta), latex.tex(self.gradient_matrix(layer.Z))]
            slope = self.slope_matrix(layer)
            if slope is not None:  # f'(Z) by name, before the recursion as the form writes it
                propagated, = (f for f in recursion.args if f != layer.derivative)
                chain.append(latex.tex(sp.HadamardProduct(propagated, slope), names=self.slope_names))
            chain.append(latex.tex(recursion))
            values = self.matrix_values if numbers else None
            if values is not None:
                products = self.matrix_products
                chain += [values.subs(recursion), values.subs(recursion, products=products),
                          values.number(delta)]
            out.append((layer, chain))
        return out

    def matrix_gradients(self, layer: Layer, numbers: bool = True) -> list[list[latex.Math]]:
        """dL/dW = Delta A^T and dL/db = Delta 1 for one layer, and with values their numbers."""
        chains = []
        for of, rule in ((layer.W, layer.weight_gradient), (layer.b, layer.bias_gradient)):
            gradient = self.gradient_matrix(of)
            chain = [latex.tex(gradient), latex.tex(rule)]
            if numbers and self.matrix_values is not None:
                chain += [self.matrix_values.subs(rule), self.matrix_values.number(gradient)]
            chains.append(chain)
        return chains

    def matrix_input_gradient(self, numbers: bool = True) -> list[latex.Math] | None:
        """dL/dX = (W^(1))^T Delta^(1) when the inputs' gradient is asked for (a saliency),
        and with values (of every parameter) its numbers; None otherwise."""
        if not any(self.graph.role_of(p) == "input" for p in self.derivation.parameters):
            return None
        first = self.form.layers[0]
        gradient, rule = self.gradient_matrix(self.form.X), sp.MatMul(first.W.T, first.delta)
        chain = [latex.tex(gradient), latex.tex(rule)]
        values = self.matrix_values if numbers else None
        if values is not None and gradient in values.exact:
            chain += [values.subs(rule), values.number(gradient)]
        return chain

    @staticmethod
    def slope_matrix(layer: Layer) -> sp.MatrixExpr | None:
        """f'(Z^(l)): the activation's derivative f'(z) applied to every entry of Z^(l)
        (None for softmax and for an identity, whose slope is 1)."""
        if layer.slope is None or not layer.slope.result.has(Z_SCALAR):
            return None
        return entrywise(layer.slope.result, layer.Z)

    @cached_property
    def slope_names(self) -> dict[sp.Basic, str]:
        """f'(Z^(l)) by name, for each layer's entry-by-entry derivative."""
        names = {}
        for layer in self.form.layers:
            slope = self.slope_matrix(layer)
            if slope is not None:
                names[slope] = f"{self.function_tex(layer)}'({latex.tex(layer.Z)})"
        return names

    def function_tex(self, layer: Layer) -> str:
        """The activation's name as printed: ``\\sigma``, ``\\tanh``."""
        return str(latex.tex(layer.slope.expr)).rsplit("(", 1)[0]

    def slopes(self) -> list[tuple[Layer, list[latex.Math]]]:
        """f'(z) = ... once for each activation of a hidden layer, z a scalar."""
        seen, out = set(), []
        for layer in self.form.layers[:-1]:
            if layer.activation not in seen and layer.slope is not None:
                seen.add(layer.activation)
                lhs = latex.Math.atom(f"{self.function_tex(layer)}'(z)",
                                      sp.Derivative(layer.slope.expr, Z_SCALAR))
                out.append((layer, [lhs, latex.tex(layer.slope.result)]))
        return out

    @staticmethod
    def gradient_matrix(of: sp.MatrixSymbol) -> sp.MatrixSymbol:
        """dL/dM, the matrix of M's shape whose entries are dL/dM_jk."""
        return sp.MatrixSymbol(f"dL/d{of.name}", *of.shape)

    @cached_property
    def matrix_values(self) -> Values | None:
        """Every matrix of the matrix view as numbers, when every one is known."""
        if self.values is None or self.form is None or not self.every_parameter:
            return None
        return _MatrixNumbers(self).values()

    @cached_property
    def matrix_products(self) -> Values:
        """W^T Delta for each recursion, as numbers (the adjoints of the activations)."""
        return _MatrixNumbers(self).products()


def _updated(of: sp.MatrixSymbol) -> sp.MatrixSymbol:
    """A key for the values of M after the update (never printed)."""
    return sp.MatrixSymbol(f"{of.name}'", *of.shape)


class _MatrixNumbers:
    """The matrices of a chapter's matrix view, entry by entry from the worked numbers:
    given ones as written, computed ones rounded (``text``), and exactly (``exact``)."""

    def __init__(self, chapter: ChapterMatrix):
        self.chapter = chapter
        self.worked = chapter.derivation.worked
        self.symbols = {s.name: s for g in chapter.graph.groups for s in g.symbols}
        self.symbols.update({d.symbol.name: d.symbol for d in chapter.graph.definitions})
        self.text: dict[sp.Basic, str] = {}
        self.exact: dict[sp.Basic, Any] = {}

    def entries(self, name: str, shape: tuple[int, int]) -> list[list[sp.Symbol]]:
        """The element symbols of a group or layer quantity, as rows."""
        rows, columns = shape
        if f"{name}[0][0]" in self.symbols:
            return [[self.symbols[f"{name}[{j}][{k}]"] for k in range(columns)] for j in range(rows)]
        return [[self.symbols[f"{name}[{j}]"]] for j in range(rows)]

    def given(self, symbol: sp.Symbol) -> tuple[str, Any]:
        return latex.literal_tex(self.worked.literals[symbol]), self.worked.given[symbol]

    @staticmethod
    def computed(value: Any) -> tuple[str, Any]:
        return latex.num(value), value

    def values(self) -> Values:
        form, worked = self.chapter.form, self.worked
        X = self.entries("x", form.X.shape)
        self.put(form.X, X, self.given)
        self.put(form.X.T, _transposed(X), self.given)
        self.put(form.Y, self.entries("y", form.Y.shape), self.given)
        if all(s in worked.gradients for row in X for s in row):
            self.put(ChapterMatrix.gradient_matrix(form.X), X,
                     lambda s: self.computed(worked.gradients[s]))
        for layer in form.layers:
            self.layer(layer)
        if worked.learning_rate is not None:
            self.text[ETA], self.exact[ETA] = self.computed(worked.learning_rate)
        return Values(self.text, self.exact)

    def layer(self, layer: Layer) -> None:
        """A layer's parameters, weighted sums, activations, deltas, gradients, slopes."""
        worked, n = self.worked, layer.number
        W = self.entries(f"W{n}", layer.W.shape)
        self.put(layer.W, W, self.given)
        self.put(layer.W.T, _transposed(W), self.given)
        self.put(layer.b, self.entries(f"b{n}", layer.b.shape), self.given)
        Z = self.entries(f"z{n}", layer.Z.shape)
        A = self.entries("yhat" if n == len(self.chapter.form.layers) else f"a{n}", layer.A.shape)
        forward = lambda s: self.computed(worked.forward[s])
        adjoint = lambda s: self.computed(worked.adjoints[s])
        self.put(layer.Z, Z, forward)
        self.put(layer.A, A, forward)
        self.put(layer.A.T, _transposed(A), forward)
        self.put(layer.delta, Z, adjoint)
        self.put(ChapterMatrix.gradient_matrix(layer.Z), Z, adjoint)
        for of in (layer.W, layer.b):
            entries = self.entries(of.name, of.shape)
            self.put(ChapterMatrix.gradient_matrix(of), entries, lambda s: self.computed(worked.gradients[s]))
            if worked.learning_rate is not None:
                self.put(_updated(of), entries, lambda s: self.computed(worked.updated[s]))
        slope = ChapterMatrix.slope_matrix(layer)
        if slope is not None:
            pairs = [list(zip(ra, rz)) for ra, rz in zip(A, Z)]
            self.put(slope, pairs, lambda key: self.computed(worked.factors[key]))

    def products(self) -> Values:
        """(W^(l+1))^T Delta^(l+1): its entries are the adjoints of layer l's activations."""
        form = self.chapter.form
        for layer, after in zip(form.layers[:-1], form.layers[1:]):
            A = self.entries(f"a{layer.number}", layer.A.shape)
            self.put(sp.MatMul(after.W.T, after.delta), A,
                     lambda s: self.computed(self.worked.adjoints[s]))
        return Values(self.text, self.exact)

    def put(self, key: sp.Basic, rows: list[list[Any]], value) -> None:
        """The matrix of ``value`` of each entry, as ``key``'s numbers."""
        pairs = [[value(s) for s in row] for row in rows]
        self.text[key] = latex.bmatrix([[t for t, _ in row] for row in pairs])
        self.exact[key] = sp.ImmutableMatrix([[v for _, v in row] for row in pairs])


def _transposed(rows: list[list[Any]]) -> list[list[Any]]:
    return [list(column) for column in zip(*rows)]
