"""Compile a derivation to numpy (or jax, torch): the loss and its gradients over arrays,
batches included.

The index form is the derivation's own straight-line program: one line per forward
definition, then one per named adjoint (the backprop deltas), then the gradient
expressions, returned with the loss, printed as Python by ``source`` and turned into a
function by Python's ``compile``; so the code, and the time to make it, grow like the
network, not like the composed expression.

That is the index form. A dense network's gradients of whole layers compile by default to its
matrix form instead (``dense``: a matmul per layer over the batch), and either runs on one of
the ``backends``; ``Compiled.prepared()`` is the call without checks.
"""

from __future__ import annotations

import builtins
import functools
import linecache
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from ..calculus.derivation import Derivation
from ..calculus.matrix import MatrixForm
from ..errors import DerivationError, UnknownNameError, ValuesError
from ..model.functions import numbers_refused
from ..model.values import arrange
from .backends import Backend, get_backend
from .dense import arguments as dense_arguments
from .dense import dense_source
from .source import Identifiers, Printer, python_source
from .stable import stable_program


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

    def __call__(self, /, **values: Any) -> Evaluation:  # any name, ``self`` too, is a value's
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
    other derivation, or ``form="index"``, gives the per-scalar program; both run on every
    backend, a call one cannot translate being a DerivationError naming it. jax computes in
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
    return _compile_index(derivation, chosen)


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


def _compile_index(derivation: Derivation, backend: Backend) -> Compiled:
    """The per-scalar program: one line per definition, named adjoint and gradient; on a
    backend other than numpy its source translated (and, for jax, jit-compiled)."""
    graph = derivation.graph
    leaves = [s for g in graph.groups for s in g.symbols]
    program = [(d.symbol, d.expr) for d in graph.definitions]
    program += [(a.name, a.value) for a in derivation.adjoints if a.named]
    outputs = [graph.loss] + [g.result for g in derivation.gradients]
    program, outputs = stable_program(program, outputs)
    if graph.kind != "network":  # a network's named deltas already share its common parts
        program, outputs = shared(program, outputs)
    source = python_source(leaves, program, outputs)
    text = source.text
    if backend.name == "numpy":
        function = source.load(f"<symgrad: {derivation.title}>")
    else:
        text = backend.translate(source.text, source.modules)
        function = backend.finish(_loaded(text, source.name, backend.namespace(),
                                          derivation.title))
    names = tuple(arrange(graph, derivation.parameters, dict.fromkeys(derivation.parameters)))
    evaluate = functools.partial(_evaluate_index, derivation, function, backend)
    arguments = tuple(g.name for g in _data_first(graph.groups))
    fast = functools.partial(_prepared_index, derivation, evaluate, arguments, names)
    return Compiled(derivation, function, text, "index", backend.name, arguments, names,
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


def _evaluate_index(derivation: Derivation, function: Callable, backend: Backend,
                    values: Mapping[str, Any]) -> Evaluation:
    graph, xp = derivation.graph, backend.library()
    arguments = [a for g in graph.groups for a in _elements(g, values, backend, xp)]
    loss, *grads = function(*arguments)
    as_array = functools.partial(backend.array, xp)
    broadcast = getattr(xp, backend.broadcast)
    shaped = dict(zip(derivation.parameters, broadcast(*map(as_array, [*grads, loss]))))
    arranged = arrange(graph, derivation.parameters, shaped)
    return Evaluation(as_array(loss), {k: _stacked(xp, v) for k, v in arranged.items()})


def _stacked(xp: Any, nested: Any) -> Any:
    """A number, or nested lists of equally shaped arrays, as one array of the library."""
    if isinstance(nested, list):
        return xp.stack([_stacked(xp, v) for v in nested])
    return nested


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


def _summed(array: Any, dimensions: int) -> Any:
    axes = tuple(range(dimensions, array.ndim))
    return array.sum(axis=axes) if axes else array  # torch sums everything over dim=()


def _elements(group, values: Mapping[str, Any], backend: Backend, xp: Any) -> list[Any]:
    if group.name not in values:
        raise ValuesError(f"missing value for {group.name}")
    array = backend.array(xp, values[group.name])
    if tuple(array.shape[:len(group.shape)]) != group.shape:
        raise ValuesError(f"{group.name} should have shape {group.shape} (then any batch "
                          f"dimensions), got {tuple(array.shape)}")
    return [array[position] for position in group.positions()]
