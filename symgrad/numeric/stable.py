"""Stable forms for compiled code: the standard unstable expressions of a loss and its
gradients rewritten, before code generation, into forms that stay finite in float64.

Each rule is an identity, so the value is unchanged where float64 could already compute it:

    log(sigma(u))          = -softplus(-u)          (log-sigmoid, -logaddexp(0, -u))
    log(1 - sigma(u))      = -softplus(u)
    log(1 + e^u)           = softplus(u)            (logaddexp(0, u))
    1 / (1 + e^u)          = sigma(-u)
    e^u sigma(-u)          = sigma(u)               (e^u / (1 + e^u), softplus's derivative)
    log(softmax_k(z))      = z_k - logsumexp(z)     (log-softmax, for cross-entropy)

so binary cross-entropy after a sigmoid is computed from the logit, y softplus(-z) +
(1 - y) softplus(z). A gradient that still divides by a saturating quantity (a sigmoid or
softmax output, or one minus it) is cancelled where SymPy's ``cancel`` removes the division
(dBCE/dz = sigma(z) - y). ``stable_program`` does this to the index form's straight-line
program, computes each logsumexp once and drops the lines nothing reads; ``stable_output``
to one output unit's loss in the matrix form, where a softmax's logsumexp is a column's
(``COLUMN_LOGSUMEXP``).
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from ..model.functions import sigmoid, softmax, softplus

Program = list[tuple[sp.Expr, sp.Expr]]


class logsumexp(sp.Function):
    """log(e^{z_1} + ... + e^{z_n}), computed with the largest z_j taken out first."""

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return sp.log(sp.Add(*(sp.exp(z) for z in self.args)))._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return all(z.is_real for z in self.args) or None

    @staticmethod
    def numpy(*zs: np.ndarray) -> np.ndarray:
        zs = np.broadcast_arrays(*(np.asarray(z, dtype=float) for z in zs))
        top = np.maximum.reduce(zs)
        return top + np.log(sum(np.exp(z - top) for z in zs))


def logsumexp_columns(Z: np.ndarray) -> np.ndarray:
    """The logsumexp of each column of ``Z``, as a row."""
    top = Z.max(axis=0, keepdims=True)
    return top + np.log(np.exp(Z - top).sum(axis=0, keepdims=True))


NUMPY_STABLE: dict[str, Callable[..., np.ndarray]] = {
    "logsumexp": logsumexp.numpy, "logsumexp_columns": logsumexp_columns}
"""The numpy functions the stable forms call, by name (``_logsumexp`` in generated code)."""

COLUMN_LOGSUMEXP = sp.Symbol("logsumexp_Z", real=True)
"""In ``stable_output``, the logsumexp of the output layer's column of weighted sums."""


class Rewriter:
    """The rules above, applied bottom-up to expressions whose symbols may stand for the
    activations in ``defined`` (``a`` for ``sigmoid(z)`` once ``a = sigmoid(z)``)."""

    def __init__(self, defined: Mapping[sp.Expr, sp.Expr], column: sp.Expr | None = None):
        self.defined = defined
        self.column = column  # the matrix form's z for a softmax output
        self.done: dict[sp.Basic, sp.Basic] = {}

    def __call__(self, expr: sp.Basic) -> sp.Basic:
        if expr.is_Atom:
            return expr
        if expr not in self.done:
            args = [self(a) for a in expr.args]
            new = expr.func(*args) if args != list(expr.args) else expr
            rule = RULES.get(type(new))
            self.done[expr] = rule(self, new) if rule else new
        return self.done[expr]

    def activation(self, expr: sp.Expr) -> sp.Expr | None:
        """``expr``'s sigmoid or softmax call, looking through a defined symbol."""
        expr = self.defined.get(expr, expr)
        return expr if isinstance(expr, (sigmoid, softmax)) else None

    def log(self, expr: sp.log) -> sp.Expr:
        (argument,) = expr.args
        inner = self.activation(argument)
        if isinstance(inner, sigmoid):
            return -softplus(-inner.args[0])
        if isinstance(inner, softmax):
            if self.column is not None:
                return self.column - COLUMN_LOGSUMEXP
            return inner.inputs[inner.index - 1] - logsumexp(*inner.inputs)
        if argument.is_Add:
            rest = self.activation(1 - argument)
            if isinstance(rest, sigmoid):
                return -softplus(rest.args[0])
            if isinstance(argument - 1, sp.exp):
                return softplus((argument - 1).args[0])
        return expr

    def pow(self, expr: sp.Pow) -> sp.Expr:
        base, exponent = expr.args
        if exponent.is_Integer and exponent < 0 and base.is_Add and isinstance(base - 1, sp.exp):
            return sigmoid(-(base - 1).args[0]) ** -exponent
        return expr

    def mul(self, expr: sp.Mul) -> sp.Expr:
        factors = list(expr.args)
        for i, f in enumerate(factors):
            if not isinstance(f, sp.exp):
                continue
            partner = sigmoid(-f.args[0])
            for j, g in enumerate(factors):
                base, power = g.as_base_exp()
                if base == partner and power.is_Integer and power > 0:
                    factors[i], factors[j] = sigmoid(f.args[0]), partner ** (power - 1)
                    product = sp.Mul(*factors)
                    return self.mul(product) if product.is_Mul else product
        return expr

    def saturating(self, expr: sp.Expr) -> bool:
        """Whether ``expr`` divides by a sigmoid or softmax output or by one minus it."""
        for power in expr.atoms(sp.Pow):
            base, exponent = power.args
            if exponent.is_negative and (self.activation(base) is not None or
                                         self.activation(1 - base) is not None):
                return True
        return False

    def cancelled(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with its division by a saturating quantity cancelled, where it can be."""
        if not self.saturating(expr):
            return expr
        candidate = sp.cancel(expr)
        if self.saturating(candidate) or sp.count_ops(candidate) > 2 * sp.count_ops(expr) + 8:
            return expr
        return candidate


RULES: dict[type, Callable[[Rewriter, sp.Basic], sp.Basic]] = {
    sp.log: Rewriter.log, sp.Pow: Rewriter.pow, sp.Mul: Rewriter.mul}
"""The rule for each expression type; any other type is left as it is."""


def stable_program(program: Sequence[tuple[sp.Expr, sp.Expr]], outputs: Sequence[sp.Expr]
                   ) -> tuple[Program, list[sp.Expr]]:
    """``program`` (``(symbol, expr)`` lines) and ``outputs`` in stable forms: the lines
    nothing reads dropped, the rules applied, divisions by saturating quantities cancelled,
    and each logsumexp computed once, in a line of its own before its first use."""
    program = _live(program, outputs)
    defined = {s: e for s, e in program if isinstance(e, (sigmoid, softmax))}
    rewrite = Rewriter(defined)
    lines = [(s, rewrite.cancelled(rewrite(e))) for s, e in program]
    outputs = [rewrite.cancelled(rewrite(e)) for e in outputs]
    return _logsumexps(lines, outputs)


def stable_output(loss: sp.Expr, yhat: sp.Symbol, z: sp.Symbol, activation: sp.Expr | None
                  ) -> sp.Expr:
    """One output unit's loss in ``yhat`` = ``activation`` (of ``z``; None for a softmax
    over the column, whose log is ``z - COLUMN_LOGSUMEXP``), in stable forms."""
    if activation is None:
        return Rewriter({yhat: softmax(1, z, z)}, column=z)(loss)
    return Rewriter({yhat: activation})(loss)


def _live(program: Sequence[tuple[sp.Expr, sp.Expr]], outputs: Sequence[sp.Expr]) -> Program:
    """The lines that the outputs read, directly or through other lines."""
    needed = set().union(*map(_reads, outputs))
    kept = []
    for symbol, expr in reversed(program):
        if symbol in needed:
            kept.append((symbol, expr))
            needed |= _reads(expr)
    return kept[::-1]


def _reads(expr: sp.Expr) -> set[sp.Basic]:
    """What ``expr`` reads: its symbols and the adjoints' names (dL/dv) in it."""
    return expr.free_symbols | expr.atoms(sp.Derivative)


def _logsumexps(lines: Program, outputs: list[sp.Expr]) -> tuple[Program, list[sp.Expr]]:
    """Each logsumexp call read by a name, defined just before the first line reading it."""
    calls = [c for e in [*(e for _, e in lines), *outputs] for c in _calls(e)]
    names = {c: sp.Dummy(f"logsumexp{i}", real=True) for i, c in enumerate(dict.fromkeys(calls))}
    if not names:
        return lines, outputs
    result: Program = []
    for symbol, expr in lines:
        for call in _calls(expr):
            if names[call] not in {s for s, _ in result}:
                result.append((names[call], call))
        result.append((symbol, expr.xreplace(names)))
    for expr in outputs:
        for call in _calls(expr):
            if names[call] not in {s for s, _ in result}:
                result.append((names[call], call))
    return result, [e.xreplace(names) for e in outputs]


def _calls(expr: sp.Expr) -> list[sp.Expr]:
    return sorted(expr.atoms(logsumexp), key=sp.default_sort_key)
