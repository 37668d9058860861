"""How the printer writes a network's matrix view (a mixin of ``Printer``): matrices in the
notation's letters, gradients with respect to a matrix, transposes, ones, products, sums and
Hadamard products of matrices, and functions applied entry by entry."""

from __future__ import annotations

import re

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .. import notation
from .ordering import factor_rank, flat, hadamard_rank, split_sign
from .pieces import Math, Piece, bmatrix, bracket


MATRIX_LETTERS = {"W": "W", "b": "b", "Z": "z", "A": "a", "Delta": "delta", "Yhat": "yhat",
                  "X": "x", "Y": "y"}
"""The quantity (see ``notation.QUANTITIES``) each matrix of a network's matrix view holds,
by its name without the layer number: written in the notation's letter, in upper case as a
matrix with a column per sample, as it is as one sample's column vector."""
_MATRIX_NAME = re.compile(r"([A-Za-z]+?)(\d*)")
_GRADIENT_NAME = re.compile(r"d(\w+)/d(\w+)")
"""A matrix named ``dL/dW1`` is the gradient of L with respect to the matrix ``W1``."""


class MatrixPrinting:
    """The matrix view's printing methods, for ``Printer`` (which supplies ``math``)."""

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        gradient = _GRADIENT_NAME.fullmatch(expr.name)
        if gradient:
            of = self._print(sp.MatrixSymbol(gradient.group(2), *expr.shape))
            loss = gradient.group(1)
            loss = notation.current().letter("L") if loss == "L" else loss
            return rf"\frac{{\partial {loss}}}{{\partial {of}}}"
        name = _MATRIX_NAME.fullmatch(expr.name)
        if name is None or name.group(1) not in MATRIX_LETTERS:
            return super()._print_MatrixSymbol(expr)
        layer = int(name.group(2)) if name.group(2) else None
        return notation.current().matrix(MATRIX_LETTERS[name.group(1)], expr.shape[1] == 1, layer)

    def _print_Transpose(self, expr: sp.Transpose) -> str:
        inner = self._print(expr.arg)
        simple = isinstance(expr.arg, sp.MatrixSymbol) and "^" not in inner
        return f"{inner}^{{T}}" if simple else f"{bracket(inner)}^{{T}}"

    def _print_OneMatrix(self, expr: sp.OneMatrix) -> str:
        if expr.shape == (1, 1):
            return "1"
        return r"\mathbf{1}^{T}" if expr.shape[0] == 1 else r"\mathbf{1}"

    def _print_ElementwiseApplyFunction(self, expr: ElementwiseApplyFunction) -> str:
        """f(Z) for f applied to every entry of Z: the scalar formula with Z in place of
        its variable."""
        variable, body = expr.function.variables[0], expr.function.expr
        inner = type(self)(self.values, {**self.names, variable: self._print(expr.expr)})
        negative, magnitude = split_sign(body)
        factors = flat(magnitude, sp.Mul) if isinstance(magnitude, sp.Mul) else [magnitude]
        if len(factors) == 1 or any(f.is_Number for f in factors):
            return str(inner.math(body))
        product = " \\odot ".join(inner._factor_tex(f, first=True) for f in sorted(factors, key=factor_rank))
        return ("- " if negative else "") + product

    def _print_ColumnSoftmax(self, expr: sp.Function) -> str:
        return self._call(r"\operatorname{softmax}", expr.args, None)

    def _print_MatrixBase(self, expr: sp.MatrixBase) -> str:
        return bmatrix([[self._print(x) for x in expr.row(i)] for i in range(expr.rows)])

    def _print_MatAdd(self, expr: sp.MatAdd) -> str:
        return str(self.math(expr))

    def _print_MatMul(self, expr: sp.MatMul) -> str:
        return str(self.math(expr))

    def _print_HadamardProduct(self, expr: sp.HadamardProduct) -> str:
        return str(self.math(expr))

    def _hadamard_math(self, expr: sp.HadamardProduct) -> Math:
        """Factors multiplied entry by entry, ``(a - b) \\odot \\sigma(Z)``: sums and
        matrix products in brackets, function values after the quantities they multiply."""
        factors = sorted(expr.args, key=hadamard_rank)
        return Math(tuple(Piece(r"\odot" if i else "", self.math(f), paren=self._grouped(f))
                          for i, f in enumerate(factors)))

    def _grouped(self, factor: sp.MatrixExpr) -> bool:
        """True when a matrix factor needs brackets: a sum or product not shown as numbers."""
        compound = isinstance(factor, (sp.MatAdd, sp.MatMul, sp.HadamardProduct))
        return compound and factor not in self.values and factor not in self.names

    def _matmul_math(self, expr: sp.MatMul) -> tuple[bool, Math]:
        """A scalar coefficient, then the matrices juxtaposed (a 1 x 1 matrix of ones,
        a single sample's row of ones, left out)."""
        scalars = [a for a in expr.args if not getattr(a, "is_Matrix", False)]
        matrices = [a for a in expr.args if getattr(a, "is_Matrix", False)
                    and not (isinstance(a, sp.OneMatrix) and a.shape == (1, 1))]
        negative, coefficient = split_sign(sp.Mul(*scalars))
        pieces = [] if coefficient == 1 else [Piece("", self.math(coefficient))]
        for m in matrices:
            pieces.append(Piece(" " if pieces else "", self.math(m),
                                paren=self._grouped(m) and not isinstance(m, sp.MatMul)))
        return negative, Math(tuple(pieces) or (Piece("", "1"),))
