"""Compile a derivation to numpy: the loss and its gradients over arrays, batches included.

The generated function is the derivation's own straight-line program: one line per
forward definition, then one per named adjoint (the backprop deltas), then the gradient
expressions, returned with the loss. A small printer writes the Python source straight
from the SymPy expressions, mapping every symbol to an identifier as it goes (nothing is
substituted), and Python's ``compile`` turns it into a function; expression types the
printer does not know are handed to SymPy's ``NumPyPrinter``. So the code, and the time
to make it, grow like the network, not like the composed expression.

That is the index form. A dense network's gradients of whole layers compile by default to its
matrix form instead (``dense``: a matmul per layer over the batch), and either runs on one of
the ``backends``; ``Compiled.prepared()`` is the call without checks.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import itertools
import keyword
import linecache
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterable, Mapping, Sequence

import numpy as np
import sympy as sp
from sympy.core.relational import Relational
from sympy.logic.boolalg import BooleanAtom
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.numpy import NumPyPrinter

from ..calculus.derivation import Derivation
from ..calculus.matrix import MatrixForm
from ..errors import DerivationError, UnknownNameError, ValuesError
from ..model.functions import (NUMPY_FUNCTIONS, leaky_relu, numbers_refused, relu, sigmoid, softmax,
                               softplus)
from ..model.values import arrange
from .backends import Backend, get_backend
from .dense import arguments as dense_arguments
from .dense import dense_source


CALLS: dict[type, str] = {
    sigmoid: "sigmoid", relu: "relu", leaky_relu: "leaky_relu", softplus: "softplus",
    softmax: "softmax", sp.exp: "numpy.exp", sp.log: "numpy.log", sp.tanh: "numpy.tanh",
    sp.Abs: "numpy.abs",
}
"""Functions printed as a call of the same arguments: an activation by its name in
``NUMPY_FUNCTIONS``, an elementary function by its numpy name."""

MODULES = ("numpy", "functools", "math", "scipy", "mpmath", "jnp", "torch")
"""Names left to the modules that generated code may refer to (NumPyPrinter's included)."""

ADD, MUL, POW, ATOM = 1, 2, 3, 4
"""How tightly a printed piece binds: a sum, a product or quotient (or anything with a
leading minus), a power, and an atom (name, call, positive number or parenthesized)."""

CHUNK = 200
"""The most operands joined in one flat chain: Python's compiler recurses once per
operand of ``a + b + ...``, so longer sums are grouped in parentheses."""


FORMS = ("matrix", "index")
"""How a derivation compiles: a dense network's ``matrix`` form (whole layers, the default
where it applies) or the ``index`` form, the per-scalar program of any derivation."""


@dataclass(frozen=True)
class Evaluation:
    """The loss and the gradients (keyed and shaped as in ``numeric.arrange``)."""

    loss: np.ndarray
    gradients: dict[str, np.ndarray]


@dataclass(frozen=True)
class Compiled:
    """The loss and gradients of a derivation as a function over arrays.

    ``c(**values)`` takes arrays by group name, each with the quantity's shape (``W1``:
    units x inputs) followed by any batch dimensions, checks them and returns an
    ``Evaluation`` that keeps the batch dimensions. ``c.prepared()`` is the fast path: the
    arrays in the order of ``arguments``, unchecked, ``x`` with one column per sample; it
    returns the loss summed over the columns (averaged for a network with a batch) and the
    gradients of that loss, in the order of ``gradient_names``. ``source`` is the generated
    Python, ``form`` one of ``FORMS`` and ``backend`` the array library's name.
    """

    derivation: Derivation
    function: Callable[..., Any]
    source: str = field(default="", repr=False)
    form: str = "index"
    backend: str = "numpy"
    arguments: tuple[str, ...] = ()
    gradient_names: tuple[str, ...] = ()
    evaluate: Callable[[dict[str, Any]], Evaluation] | None = field(default=None, repr=False)
    fast: Callable[..., tuple] | None = field(default=None, repr=False)

    def __call__(self, **values: Any) -> Evaluation:
        known = [g.name for g in self.derivation.graph.groups]
        unknown = set(values) - set(known)
        if unknown:
            raise ValuesError(f"unknown quantity {sorted(unknown)[0]!r} (known: {', '.join(known)})")
        return self.evaluate(values)

    def prepared(self) -> Callable[..., tuple]:
        """The function of the arrays in ``arguments`` order, returning ``(loss, gradients)``."""
        return self.fast


def compile(derivation: Derivation, form: str | None = None, backend: str = "numpy") -> Compiled:
    """A function computing the loss and every gradient of ``derivation`` over the arrays of
    ``backend`` (``numpy``, ``jax`` or ``torch``; see ``backends.BACKENDS``).

    A dense network whose gradients are wanted for whole parameter groups compiles by
    default in its matrix form (``form="matrix"``: a matmul per layer over the batch); any
    other derivation, or ``form="index"``, gives the per-scalar program. jax computes in
    float64 only with ``jax.config.update("jax_enable_x64", True)``. A loss with an
    unspecified function (f) has no numbers, so DerivationError."""
    chosen = get_backend(backend)
    if form is not None and form not in FORMS:
        raise UnknownNameError(f"unknown form {form!r} (known: {', '.join(FORMS)})")
    graph = derivation.graph
    if graph.unspecified:
        raise DerivationError(f"cannot compile: {numbers_refused(graph.unspecified[0])}")
    groups = _whole_groups(derivation)
    if form == "matrix" or (form is None and groups and derivation.has_matrix_view):
        if not groups:
            raise DerivationError("the matrix form computes the gradients of whole weight "
                                  "and bias groups; use form='index'")
        return _compile_matrix(derivation, derivation.matrix, groups, chosen)
    if chosen.name != "numpy":
        raise DerivationError(f"the {chosen.name} backend compiles a dense network's matrix "
                              "form; this derivation compiles to the index form, on numpy")
    return _compile_index(derivation)


def _whole_groups(derivation: Derivation) -> tuple[str, ...]:
    """The names of the parameter groups differentiated, when the derivation asks for
    exactly whole weight and bias groups; else ()."""
    asked = set(derivation.parameters)
    whole = [g for g in derivation.graph.parameters if asked.issuperset(g.symbols)]
    if sum(len(g.symbols) for g in whole) != len(asked):
        return ()
    return tuple(g.name for g in whole)


def _compile_matrix(derivation: Derivation, form: MatrixForm, groups: tuple[str, ...],
                    backend: Backend) -> Compiled:
    """The matrix form over ``backend``: the summed function (the fast path) and, for a
    network without a batch, the per-sample one that the keyword call uses."""
    namespace = backend.namespace()
    summed = backend.translate(dense_source(form, groups, _entrywise))
    function = backend.finish(_loaded(summed, "gradients", namespace, derivation.title))
    per_sample = None
    if form.batch is None:
        text = backend.translate(dense_source(form, groups, _entrywise, per_sample=True))
        per_sample = backend.finish(_loaded(text, "gradients", namespace, derivation.title))
    arguments = dense_arguments(form)
    keyword = Keyword(derivation, groups, backend, backend.library(), arguments, function,
                      per_sample)
    return Compiled(derivation, function, summed, "matrix", backend.name, arguments, groups,
                    keyword, function)


@dataclass(frozen=True)
class Keyword:
    """``Compiled.__call__`` in the matrix form: the arrays checked, any batch dimensions
    laid out as columns (or, where a weight has them too, one call per element), and the
    results shaped like the quantities followed by the batch dimensions."""

    derivation: Derivation
    groups: tuple[str, ...]
    backend: Backend
    library: Any
    arguments: tuple[str, ...]
    summed: Callable[..., tuple]
    per_sample: Callable[..., tuple] | None

    def __call__(self, values: Mapping[str, Any]) -> Evaluation:
        graph, xp = self.derivation.graph, self.library
        arrays = {g.name: self.checked(g, values) for g in graph.groups}
        shapes = {g.name: g.shape for g in graph.groups}
        batch = np.broadcast_shapes(*(tuple(a.shape[len(shapes[n]):]) for n, a in arrays.items()))
        weights_batched = any(a.ndim > len(shapes[n]) for n, a in arrays.items()
                              if n not in ("x", "y"))
        if graph.batch or weights_batched:
            if batch:
                return self.element_by_element(arrays, shapes, batch)
            loss, grads = self.summed(*(arrays[n] for n in self.arguments))
            return Evaluation(xp.asarray(loss), dict(zip(self.groups, grads)))
        columns = int(np.prod(batch, dtype=int))
        data = [xp.broadcast_to(arrays[n], shapes[n] + batch).reshape(shapes[n] + (columns,))
                for n in "xy"]
        loss, grads = self.per_sample(*data, *(arrays[n] for n in self.arguments[2:]))
        return Evaluation(loss.reshape(batch), {n: g.reshape(shapes[n] + batch)
                                                for n, g in zip(self.groups, grads)})

    def checked(self, group, values: Mapping[str, Any]) -> Any:
        """``group``'s value as the backend's array, its shape checked."""
        if group.name not in values:
            raise ValuesError(f"missing value for {group.name}")
        array = self.backend.array(self.library, values[group.name])
        if tuple(array.shape[:len(group.shape)]) != group.shape:
            raise ValuesError(f"{group.name} should have shape {group.shape} (then any batch "
                              f"dimensions), got {tuple(array.shape)}")
        return array

    def element_by_element(self, arrays: dict[str, Any], shapes: dict[str, tuple[int, ...]],
                           batch: tuple[int, ...]) -> Evaluation:
        """One call per element of the batch dimensions, stacked after the quantities'."""
        xp = self.library
        full = {n: xp.broadcast_to(a, shapes[n] + batch) for n, a in arrays.items()}
        results = [self({n: a[(...,) + index] for n, a in full.items()})
                   for index in np.ndindex(*batch)]
        loss = xp.stack([r.loss for r in results], axis=-1).reshape(batch)
        return Evaluation(loss, {n: xp.stack([r.gradients[n] for r in results], axis=-1)
                                 .reshape(shapes[n] + batch) for n in self.groups})


def _entrywise(expr: sp.Expr, names: Mapping[sp.Symbol, str]) -> str:
    """``expr``'s source with its symbols read as the given (matrix) names."""
    printer = Printer(Identifiers())
    printer.names.update(names)
    return printer(expr)


def _loaded(text: str, name: str, namespace: dict[str, Any], title: str) -> Callable:
    filename = f"<symgrad: {title}>"
    exec(builtins.compile(text, filename, "exec"), namespace)
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    return namespace[name]


def _compile_index(derivation: Derivation) -> Compiled:
    """The per-scalar program: one line per definition, named adjoint and gradient."""
    graph = derivation.graph
    leaves = [s for g in graph.groups for s in g.symbols]
    program = [(d.symbol, d.expr) for d in graph.definitions]
    program += [(a.name, a.value) for a in derivation.adjoints if a.named]
    outputs = [graph.loss] + [g.result for g in derivation.gradients]
    if graph.kind != "network":  # a network's named deltas already share its common parts
        program, outputs = shared(program, outputs)
    source = python_source(leaves, program, outputs)
    function = source.load(f"<symgrad: {derivation.title}>")
    names = tuple(arrange(graph, derivation.parameters, dict.fromkeys(derivation.parameters)))
    evaluate = functools.partial(_evaluate_index, derivation, function)
    arguments = tuple(g.name for g in _data_first(graph.groups))
    fast = functools.partial(_prepared_index, derivation, evaluate, arguments, names)
    return Compiled(derivation, function, source.text, "index", "numpy", arguments, names,
                    evaluate, fast)


def shared(program: Sequence[tuple[sp.Expr, sp.Expr]], outputs: Sequence[sp.Expr]
           ) -> tuple[list[tuple[sp.Expr, sp.Expr]], list[sp.Expr]]:
    """``program`` and ``outputs`` with each subexpression that occurs more than once
    (``sympy.cse``) computed once, just before the first line that reads it; one that is
    a line's whole right-hand side is read by that line's name."""
    found, reduced = sp.cse([e for _, e in program] + list(outputs),
                            symbols=sp.numbered_symbols("common", cls=sp.Dummy))
    values = dict(found)
    alias = {}
    for (symbol, _), expr in zip(program, reduced):
        if expr in values and expr not in alias:
            alias[expr] = symbol
    pending = {k: v.xreplace(alias) for k, v in values.items() if k not in alias}
    lines: list[tuple[sp.Expr, sp.Expr]] = []

    def needed(expr: sp.Expr) -> None:
        for symbol in [s for s in list(pending) if s in expr.free_symbols]:
            if symbol in pending:
                value = pending.pop(symbol)
                needed(value)
                lines.append((symbol, value))

    for (symbol, _), expr in zip(program, reduced):
        expr = (values[expr] if alias.get(expr) == symbol else expr).xreplace(alias)
        needed(expr)
        lines.append((symbol, expr))
    outputs = [expr.xreplace(alias) for expr in reduced[len(program):]]
    for expr in outputs:
        needed(expr)
    return lines, outputs


def _data_first(groups: Sequence) -> list:
    """Inputs and targets, then the rest, each in the graph's order."""
    return sorted(groups, key=lambda g: g.role not in ("input", "target"))


def _evaluate_index(derivation: Derivation, function: Callable, values: Mapping[str, Any]
                    ) -> Evaluation:
    graph = derivation.graph
    arguments = [a for g in graph.groups for a in _elements(g, values)]
    loss, *grads = function(*arguments)
    shaped = dict(zip(derivation.parameters, np.broadcast_arrays(*grads, loss)))
    arranged = arrange(graph, derivation.parameters, shaped)
    return Evaluation(np.asarray(loss, dtype=float), {k: np.asarray(v, dtype=float)
                                                      for k, v in arranged.items()})


def _prepared_index(derivation: Derivation, evaluate: Callable, arguments: tuple[str, ...],
                    names: tuple[str, ...], *arrays: np.ndarray) -> tuple:
    """The index form called as ``prepared()``: a network without a batch sums its samples'
    losses and gradients over the trailing dimensions (the columns)."""
    result = evaluate(dict(zip(arguments, arrays)))
    if derivation.graph.batch:
        return result.loss, tuple(result.gradients[n] for n in names)
    shapes = {g.name: g.shape for g in derivation.graph.groups}
    summed = [_summed(result.gradients[n], len(shapes.get(n, ()))) for n in names]
    return result.loss.sum(), tuple(summed)


def _summed(array: np.ndarray, dimensions: int) -> np.ndarray:
    return array.sum(axis=tuple(range(dimensions, array.ndim)))


def _elements(group, values: Mapping[str, Any]) -> list[np.ndarray]:
    if group.name not in values:
        raise ValuesError(f"missing value for {group.name}")
    array = np.asarray(values[group.name], dtype=float)
    if array.shape[:len(group.shape)] != group.shape:
        raise ValuesError(f"{group.name} should have shape {group.shape} (then any batch "
                          f"dimensions), got {array.shape}")
    return [array[position] for position in group.positions()]


@dataclass(frozen=True)
class Source:
    """The Python source of one function, and the modules it refers to by name."""

    text: str
    name: str
    modules: tuple[str, ...]

    def load(self, filename: str = "<symgrad>") -> Callable[..., list]:
        """The function, compiled; its lines are kept for tracebacks."""
        namespace = {f"_{k}": v for k, v in NUMPY_FUNCTIONS.items()}
        for module in self.modules:
            importlib.import_module(module)
            top = module.partition(".")[0]
            namespace[top] = importlib.import_module(top)
        exec(builtins.compile(self.text, filename, "exec"), namespace)
        linecache.cache[filename] = (len(self.text), None, self.text.splitlines(True), filename)
        return namespace[self.name]


def python_source(leaves: Sequence[sp.Symbol], program: Sequence[tuple[sp.Expr, sp.Expr]],
                  outputs: Sequence[sp.Expr], name: str = "gradients") -> Source:
    """The source of ``def name(*leaves)``: one assignment per ``(name, expr)`` of
    ``program``, in order, then ``return [*outputs]``.

    A later expression that contains the whole right-hand side of an earlier assignment
    (``sigmoid(z)`` once ``yhat = sigmoid(z)``) reads it by name instead of computing it again.
    """
    printer = Printer(Identifiers())
    parameters = [printer.bind(s) for s in leaves]
    lines = [f"def {name}({', '.join(parameters)}):"]
    for symbol, expr in program:
        text = printer(expr)
        target = printer.bind(symbol)
        lines.append(f"    {target} = {text}")
        if not expr.is_Atom:
            printer.names.setdefault(expr, target)
    returned = ",\n        ".join(printer(e) for e in outputs)
    lines.append(f"    return [\n        {returned},\n    ]")
    modules = dict.fromkeys(["numpy", *printer.fallback.module_imports])
    return Source("\n".join(lines) + "\n", name, tuple(modules))


class Identifiers:
    """Python identifiers for symbols, readable (``W1[0][1]`` is ``W1_0_1``) and unique."""

    def __init__(self) -> None:
        self.taken: set[str] = set(MODULES) | set(dir(builtins))

    def new(self, expr: sp.Expr) -> str:
        """A fresh identifier for ``expr`` (a symbol, or an adjoint's name dL/dv)."""
        if isinstance(expr, sp.Symbol):
            text = expr.name
        elif isinstance(expr, sp.Derivative):
            text = f"d{expr.expr}_d{expr.variables[0]}"
        else:
            text = str(expr)
        base = re.sub(r"\W+", "_", text).strip("_")
        if not base.isidentifier() or keyword.iskeyword(base):
            base = f"v_{base}" if f"v_{base}".isidentifier() else "v"
        identifier = base
        for n in itertools.count(2):
            if identifier not in self.taken:
                break
            identifier = f"{base}_{n}"
        self.taken.add(identifier)
        return identifier


class Printer:
    """Python source over numpy for one expression, dispatching on its type through
    ``Printer.METHODS``; anything else goes to SymPy's NumPyPrinter (``Fallback``)."""

    def __init__(self, identifiers: Identifiers) -> None:
        self.identifiers = identifiers
        self.names: dict[sp.Basic, str] = {}
        self.fallback = Fallback(self)

    def bind(self, symbol: sp.Expr) -> str:
        """A new identifier for ``symbol``, used wherever it occurs from now on."""
        self.names[symbol] = self.identifiers.new(symbol)
        return self.names[symbol]

    def __call__(self, expr: sp.Expr) -> str:
        return self.piece(expr)[0]

    def piece(self, expr: sp.Basic) -> tuple[str, int]:
        """The source of ``expr`` and how tightly it binds (``ADD`` ... ``ATOM``)."""
        name = self.names.get(expr)
        if name is not None:
            return name, ATOM
        return _method(type(expr))(self, expr)

    def operand(self, expr: sp.Basic, tightness: int) -> str:
        """``expr``'s source, in parentheses unless it binds at least as tightly as needed."""
        name = self.names.get(expr)
        if name is not None:
            return name
        text, binds = _method(type(expr))(self, expr)
        return text if binds >= tightness else f"({text})"

    def symbol(self, expr: sp.Symbol) -> tuple[str, int]:
        raise DerivationError(f"cannot compile: {expr} is neither a quantity of the model "
                              "nor defined before it is used")

    def number(self, expr: sp.Number) -> tuple[str, int]:
        if expr.is_Integer:
            value = int(expr)
        elif expr.is_Rational:
            value = expr.p / expr.q
        else:
            value = float(expr) if expr.is_real else math.nan
        if isinstance(value, float) and not math.isfinite(value):
            return self.fallback.node(expr)
        return repr(value), MUL if value < 0 else ATOM

    def boolean(self, expr: BooleanAtom) -> tuple[str, int]:
        return repr(bool(expr)), ATOM

    def add(self, expr: sp.Add) -> tuple[str, int]:
        terms = []
        for term in expr.args:
            coefficient, factors = term.as_coeff_mul()
            if coefficient.is_negative and terms:
                terms.append((" - ", self.product(-coefficient, factors)[0]))
            else:
                terms.append((" + ", self.operand(term, ADD)))
        return _joined(terms), ADD

    def mul(self, expr: sp.Mul) -> tuple[str, int]:
        return self.product(*expr.as_coeff_mul())

    def product(self, coefficient: sp.Number, factors: Sequence[sp.Expr]) -> tuple[str, int]:
        """coefficient * factors, with factors of negative exponent as one denominator."""
        numerator, denominator = [], []
        for f in factors:
            if f.is_Pow and f.exp.is_Number and f.exp.is_negative and f not in self.names:
                denominator.append(self.power(f.base, -f.exp))
            else:
                numerator.append(self.operand(f, MUL))
        negative = coefficient.is_negative
        if not (coefficient is sp.S.One or coefficient is sp.S.NegativeOne) or not numerator:
            numerator.insert(0, self.operand(-coefficient if negative else coefficient, MUL))
        text = _joined((" * ", t) for t in numerator)
        if denominator:
            below = [t if binds > MUL else f"({t})" for t, binds in denominator]
            joined = _joined((" * ", t) for t in below)
            text += f" / {joined if len(below) == 1 else f'({joined})'}"
        if negative:
            return f"-{text}", MUL
        return text, MUL if len(numerator) + len(denominator) > 1 else POW

    def pow(self, expr: sp.Pow) -> tuple[str, int]:
        if expr.exp.is_Number and expr.exp.is_negative:
            return self.product(sp.S.One, (expr,))
        return self.power(expr.base, expr.exp)

    def power(self, base: sp.Expr, exp: sp.Expr) -> tuple[str, int]:
        """base**exp for an exponent that is not a negative number."""
        if exp == 1:
            return self.piece(base)
        if exp == sp.S.Half:
            return f"numpy.sqrt({self(base)})", ATOM
        exponent = self.operand(exp, ATOM) if exp.is_Integer or not exp.is_Number \
            else repr(float(exp))
        return f"{self.operand(base, ATOM)}**{exponent}", POW

    def call(self, expr: sp.Function) -> tuple[str, int]:
        function = CALLS[type(expr)]
        if function in NUMPY_FUNCTIONS:
            function = f"_{function}"
        return f"{function}({', '.join(self(a) for a in expr.args)})", ATOM

    def piecewise(self, expr: sp.Piecewise) -> tuple[str, int]:
        """Nested numpy.where, first condition outermost; nan where no condition holds."""
        text = "numpy.nan"
        for value, condition in reversed(expr.args):
            if condition == sp.true:
                text = self(value)
            else:
                text = f"numpy.where({self(condition)}, {self(value)}, {text})"
        return text, ATOM

    def relational(self, expr: Relational) -> tuple[str, int]:
        lhs, rhs = (self.operand(side, ADD) for side in expr.args)
        return f"{lhs} {expr.rel_op} {rhs}", 0

    METHODS: ClassVar[dict[type, Callable[[Printer, Any], tuple[str, int]]]] = {
        sp.Symbol: symbol,
        sp.Number: number,
        sp.NumberSymbol: number,
        BooleanAtom: boolean,
        sp.Add: add,
        sp.Mul: mul,
        sp.Pow: pow,
        **dict.fromkeys(CALLS, call),
        sp.Piecewise: piecewise,
        Relational: relational,
    }
    """The printing method for each expression type; subclasses use their first
    ancestor's. Equalities and inequalities give the comparison, which binds least."""


def _method(kind: type) -> Callable[[Printer, Any], tuple[str, int]]:
    """The method for expressions of type ``kind``: its own, its nearest ancestor's, or
    the fallback to NumPyPrinter."""
    method = _METHODS.get(kind)
    if method is None:
        ancestors = (Printer.METHODS.get(k) for k in kind.__mro__)
        method = _METHODS[kind] = next((m for m in ancestors if m), _fallback)
    return method


def _fallback(printer: Printer, expr: sp.Basic) -> tuple[str, int]:
    return printer.fallback.node(expr)


_METHODS: dict[type, Callable[[Printer, Any], tuple[str, int]]] = {}


def _joined(pieces: Iterable[tuple[str, str]]) -> str:
    """Operands joined by their operators (``" + "``, ``" - "`` or ``" * "``; the first
    operator is dropped), grouped in parentheses of ``CHUNK`` operands when there are more."""
    pieces = list(pieces)
    while len(pieces) > CHUNK:
        pieces = [_grouped(pieces[i:i + CHUNK]) for i in range(0, len(pieces), CHUNK)]
    return pieces[0][1] + "".join(op + text for op, text in pieces[1:])


def _grouped(pieces: list[tuple[str, str]]) -> tuple[str, str]:
    """Consecutive operands as one, in parentheses; a subtracted first operand is negated
    inside them, so the group is added."""
    (op, first), rest = pieces[0], pieces[1:]
    if op == " - ":
        op, first = " + ", f"-{first}"
    return op, "(" + first + "".join(o + text for o, text in rest) + ")"


class Fallback(NumPyPrinter):
    """SymPy's NumPyPrinter for one node the ``Printer`` does not know; the node's
    arguments go back to the ``Printer``, so they are named and printed as elsewhere."""

    def __init__(self, printer: Printer) -> None:
        super().__init__({"fully_qualified_modules": True, "inline": True,
                          "allow_unknown_functions": False, "strict": True})
        self.printer = printer
        self.outer: list[sp.Basic] = []

    def node(self, expr: sp.Basic) -> tuple[str, int]:
        """``expr`` printed by NumPyPrinter, in parentheses."""
        self.outer.append(expr)
        try:
            return f"({self._print(expr)})", ATOM
        except PrintMethodNotImplementedError:
            raise DerivationError(f"cannot compile {type(expr).__name__} to numpy: {expr}") from None
        finally:
            self.outer.pop()

    def _print(self, expr: Any, **kwargs: Any) -> str:
        if isinstance(expr, sp.Basic) and not (self.outer and expr is self.outer[-1]):
            return self.printer.operand(expr, ATOM)
        return super()._print(expr, **kwargs)
