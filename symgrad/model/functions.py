"""Activation functions as SymPy functions that know their textbook derivatives.

Each class differentiates to the form a textbook writes (sigma' = sigma (1 - sigma)),
rewrites to its definition with ``definition()``, evaluates numerically with ``evalf``, and
has a numpy form (``numpy``, collected in ``NUMPY_FUNCTIONS``) for compiled code and checks.
``tanh`` is SymPy's own: its derivative is already 1 - tanh^2.

An ``Unspecified`` function (the seed's f in yhat = f(w x)) has no definition and no numbers:
its derivative is written f', f'', ... (``unspecified("f", 1)``), and ``specify`` puts a
concrete activation in its place.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import sympy as sp
from sympy.core.function import ArgumentIndexError

from ..errors import SpecError, UnknownNameError


class Activation(sp.Function):
    """An activation: a SymPy function with a definition in elementary functions."""

    def definition(self) -> sp.Expr:
        """The activation written out in elementary functions."""
        raise NotImplementedError

    @staticmethod
    def numpy(*arguments: np.ndarray) -> np.ndarray:
        """The activation over numpy arrays, with the same arguments as the SymPy call."""
        raise NotImplementedError

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return self.definition()._eval_evalf(prec)

    def _eval_rewrite_as_exp(self, *args: sp.Expr, **hints: object) -> sp.Expr:
        return self.definition()

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real


class sigmoid(Activation):
    """The logistic function sigma(z) = 1 / (1 + e^{-z}); sigma'(z) = sigma(z) (1 - sigma(z))."""

    nargs = 1

    @classmethod
    def eval(cls, z: sp.Expr) -> sp.Expr | None:
        return sp.S.Half if z.is_zero else None

    def definition(self) -> sp.Expr:
        return 1 / (1 + sp.exp(-self.args[0]))

    @staticmethod
    def numpy(z: np.ndarray) -> np.ndarray:
        return np.exp(-np.logaddexp(0.0, -z))

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return self * (1 - self)


class relu(Activation):
    """ReLU(z) = max(0, z); ReLU'(z) = 1 for z > 0 and 0 otherwise (0 is taken at z = 0)."""

    nargs = 1

    def definition(self) -> sp.Expr:
        return sp.Max(0, self.args[0])

    @staticmethod
    def numpy(z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0.0)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sp.Piecewise((1, self.args[0] > 0), (0, True))


class leaky_relu(Activation):
    """LeakyReLU(z) = z for z > 0, alpha z otherwise; its derivative is 1 or alpha (alpha at 0)."""

    nargs = 2

    @classmethod
    def eval(cls, z: sp.Expr, alpha: sp.Expr) -> sp.Expr | None:
        return None

    def definition(self) -> sp.Expr:
        z, alpha = self.args
        return sp.Piecewise((z, z > 0), (alpha * z, True))

    @staticmethod
    def numpy(z: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        return np.where(z > 0, z, alpha * z)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        z, alpha = self.args
        return sp.Piecewise((1, z > 0), (alpha, True))


class softplus(Activation):
    """softplus(z) = ln(1 + e^z); softplus'(z) = sigma(z)."""

    nargs = 1

    def definition(self) -> sp.Expr:
        return sp.log(1 + sp.exp(self.args[0]))

    @staticmethod
    def numpy(z: np.ndarray) -> np.ndarray:
        return np.logaddexp(0.0, z)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return sigmoid(self.args[0])


class softmax(Activation):
    """softmax(z)_k = e^{z_k} / sum_j e^{z_j}, as ``softmax(k, z_1, ..., z_n)`` with k from 1.

    d softmax_k / d z_j = softmax_k (1 - softmax_k) when j = k, and -softmax_k softmax_j otherwise.
    """

    @classmethod
    def eval(cls, k: sp.Expr, *zs: sp.Expr) -> sp.Expr | None:
        if not (k.is_Integer and 1 <= k <= len(zs)):
            raise ValueError(f"softmax index {k} is not between 1 and {len(zs)}")
        return None

    @property
    def index(self) -> int:
        """The output index k, counted from 1."""
        return int(self.args[0])

    @property
    def inputs(self) -> tuple[sp.Expr, ...]:
        """The vector z the softmax is taken over."""
        return self.args[1:]

    def definition(self) -> sp.Expr:
        zs = self.inputs
        return sp.exp(zs[self.index - 1]) / sp.Add(*(sp.exp(z) for z in zs))

    @staticmethod
    def numpy(k: int, *zs: np.ndarray) -> np.ndarray:
        zs = np.broadcast_arrays(*(np.asarray(z, dtype=float) for z in zs))
        top = np.maximum.reduce(zs)
        exps = [np.exp(z - top) for z in zs]
        return exps[int(k) - 1] / sum(exps)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex == 1:
            raise ArgumentIndexError(self, argindex)
        j = argindex - 1
        if j == self.index:
            return self * (1 - self)
        return -self * softmax(j, *self.inputs)

    def _eval_is_real(self) -> bool | None:
        return all(z.is_real for z in self.inputs) or None


ACTIVATION_FUNCTIONS: dict[str, type[sp.Function]] = {
    "sigmoid": sigmoid,
    "tanh": sp.tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "softplus": softplus,
    "softmax": softmax,
}

LEAKY_RELU_SLOPE = sp.Rational(1, 100)


def _select(conditions: list, choices: list, default: float = np.nan) -> np.ndarray:
    """numpy.select that also takes the scalar conditions a Piecewise gives for scalar inputs."""
    return np.select([np.asarray(c) for c in conditions], choices, default)


NUMPY_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "select": _select,
    **{f.__name__: f.numpy for f in (sigmoid, relu, leaky_relu, softplus, softmax)},
}
"""The activations as numpy functions, by name, for the generated code and for ``verify``
(whose SymPy ``lambdify`` prints a Piecewise as ``select``)."""


class Unspecified(sp.Function):
    """A function of one argument left unspecified, such as the seed's activation f, or
    one of its derivatives: ``base`` is its letter (f) and ``order`` how many primes it
    carries (f' is order 1). Its derivative is the next one, f' of f, f'' of f'; it has
    no definition, so no numbers until ``specify`` gives it one."""

    nargs = 1
    base = "f"
    order = 0

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        return unspecified(self.base, self.order + 1)(self.args[0])


_UNSPECIFIED: dict[tuple[str, int], type[Unspecified]] = {}


def unspecified(base: str, order: int = 0) -> type[Unspecified]:
    """The unspecified function called ``base`` (``order`` 0) or its ``order``-th
    derivative, named with that many primes (``f'``); one class per name, so that equal
    names make equal expressions."""
    key = (base, order)
    if key not in _UNSPECIFIED:
        name = base + "'" * order
        _UNSPECIFIED[key] = type(name, (Unspecified,), {"base": base, "order": order,
                                                         "__module__": __name__})
    return _UNSPECIFIED[key]


def unspecified_names(expr: sp.Basic) -> list[str]:
    """The names of the unspecified functions in ``expr`` (f for f and f'), sorted."""
    return sorted({e.base for e in expr.atoms(Unspecified)})


CONCRETE = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity")
"""The activations an unspecified function of one argument can be given (``specify``)."""


def concrete(name: str) -> Callable[[sp.Expr], sp.Expr]:
    """The activation ``name`` (from ``CONCRETE``) as a function of one argument."""
    if name not in CONCRETE:
        raise UnknownNameError(f"cannot give an unspecified function the activation {name!r} "
                               f"(known: {', '.join(CONCRETE)}; softmax needs a layer)")
    if name == "identity":
        return lambda z: z
    if name == "leaky_relu":
        return lambda z: leaky_relu(z, LEAKY_RELU_SLOPE)
    return sp.tanh if name == "tanh" else ACTIVATION_FUNCTIONS[name]


def specify(expr: sp.Expr, choices: dict[str, str]) -> sp.Expr:
    """``expr`` with each unspecified function named in ``choices`` replaced by its
    concrete activation (f(z) by sigmoid(z) for {"f": "sigmoid"}), its derivatives by
    theirs; the others stay unspecified."""
    functions = {name: concrete(activation) for name, activation in choices.items()}

    def put(e: Unspecified) -> sp.Expr:
        u = sp.Dummy("u", real=True)
        value = functions[e.base](u)
        return (sp.diff(value, u, e.order) if e.order else value).xreplace({u: e.args[0]})

    return expr.replace(lambda e: isinstance(e, Unspecified) and e.base in functions, put)


def expand_activations(expr: sp.Expr) -> sp.Expr:
    """Rewrite every activation in ``expr`` as its elementary definition (for references)."""
    return expr.replace(lambda e: isinstance(e, Activation), lambda e: e.definition())


def read_functions(functions: object) -> tuple[tuple[str, ...], dict[str, str]]:
    """``derive``'s ``functions``: a name or list of names of unspecified functions, or a
    mapping from each to the activation it stands for (None: left unspecified). Returns
    (the names declared, the choices made); SpecError for anything else."""
    if functions is None:
        return (), {}
    if isinstance(functions, str):
        functions = [functions]
    if isinstance(functions, dict):
        choices = {str(k): v for k, v in functions.items() if v is not None}
        if not all(isinstance(v, str) for v in choices.values()):
            raise SpecError("functions must map each name to an activation's name "
                                   "(sigmoid, tanh, ...) or to nothing")
        return tuple(str(k) for k in functions), choices
    if isinstance(functions, (list, tuple)) and all(isinstance(n, str) for n in functions):
        return tuple(functions), {}
    raise SpecError("functions must be a name, a list of names, or a mapping from "
                           "names to activations")


def numbers_refused(name: str) -> str:
    """The line that refuses numbers while the function ``name`` is unspecified."""
    return (f"{name} is an unspecified function, so the loss has no numbers: give it an "
            f"activation, e.g. functions={{'{name}': 'sigmoid'}} in derive, functions: "
            f"{{{name}: sigmoid}} in a spec, --function {name}=sigmoid on the command line")
