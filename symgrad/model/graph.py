"""Expression builders: a loss as a graph of named quantities.

A ``Graph`` is a straight-line program: leaves (inputs, targets, parameters) grouped by
name and shape, then definitions in forward order (z = w x + b, yhat = sigma(z), L = ...).
Builders make graphs for a neuron, for dense networks, and from a free expression string.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from enum import Enum
from itertools import product
from typing import Iterable, Sequence

import sympy as sp

from ..errors import DerivationError, UnknownNameError, quoted, unknown
from .functions import (ACTIVATION_FUNCTIONS, LEAKY_RELU_SLOPE, Activation, Unspecified,
                        leaky_relu, softmax, specify, unspecified, unspecified_names)
from .authored import NOTHING, AsWritten
from .limits import DEFAULT_LIMITS, Limits
from .losses import Loss, get_loss
from .parse import declared_functions, parse_written
from .names import data_roles, fresh, numbered
from .symbols import Var, layered

PARAMETER_ROLES = ("parameter", "variable")
"""The roles of the leaves gradient descent updates; the others ("input", "target") are data."""

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity", "softmax")


class Role(Enum):
    """What a defined quantity is, which decides how derivations name and explain it."""

    WEIGHTED_SUM = "weighted sum"
    ARGUMENT = "argument"
    ACTIVATION = "activation"
    INTERMEDIATE = "intermediate"
    LOSS = "loss"


@dataclass(frozen=True)
class Definition:
    """One forward step: ``symbol = expr``."""

    symbol: sp.Symbol
    expr: sp.Expr
    role: Role
    activation: str | None = None


@dataclass(frozen=True)
class Group:
    """A named leaf quantity (scalar, vector or matrix) and its element symbols, row-major."""

    name: str
    role: str
    shape: tuple[int, ...]
    symbols: tuple[sp.Symbol, ...]

    def positions(self) -> Iterable[tuple[int, ...]]:
        """0-based positions of the elements, in the order of ``symbols``."""
        return product(*(range(n) for n in self.shape))


@dataclass(frozen=True)
class Model:
    """A model before its loss: leaves, forward definitions and the output symbols."""

    groups: tuple[Group, ...]
    definitions: tuple[Definition, ...]
    outputs: tuple[sp.Symbol, ...]
    targets: Group
    kind: str
    batch: int | None = None


@dataclass(frozen=True)
class Graph:
    """A loss as named quantities: leaves in groups, definitions in forward order, L last."""

    groups: tuple[Group, ...]
    definitions: tuple[Definition, ...]
    kind: str
    loss_name: str | None = None
    batch: int | None = None
    written: AsWritten = field(default=NOTHING, compare=False, repr=False)
    """How the author wrote the loss (the order of its sums' terms, its decimals), for a
    loss parsed from text; else ``authored.NOTHING``."""

    @property
    def loss(self) -> sp.Symbol:
        """The symbol of the loss (the last definition)."""
        return self.definitions[-1].symbol

    @property
    def parameters(self) -> tuple[Group, ...]:
        """The groups ``wrt: all`` differentiates with respect to: the parameters, never
        the inputs or targets (the data)."""
        return tuple(g for g in self.groups if g.role in PARAMETER_ROLES)

    def is_parameter(self, symbol: sp.Symbol) -> bool:
        """True when ``symbol`` is a parameter, which gradient descent updates; an input
        or target may be differentiated (a saliency) but is never updated."""
        return self._leaves[0].get(symbol) in PARAMETER_ROLES

    def role_of(self, symbol: sp.Symbol) -> str | None:
        """The role of the group a leaf symbol belongs to ("input", "target", "parameter",
        "variable"); None for a defined quantity."""
        return self._leaves[0].get(symbol)

    def group(self, name: str) -> Group | None:
        """The leaf group called ``name``, if any."""
        return next((g for g in self.groups if g.name == name), None)

    def definition(self, symbol: sp.Symbol) -> Definition | None:
        """The definition of ``symbol``, if it is an intermediate quantity."""
        return self._definitions.get(symbol)

    @cached_property
    def _definitions(self) -> dict[sp.Symbol, Definition]:
        return {d.symbol: d for d in self.definitions}

    @cached_property
    def activation_names(self) -> dict[sp.Expr, sp.Symbol]:
        """Each activation call and the quantity that names it (sigma(z) -> yhat), so that
        derivatives can be written with the values the forward pass computes."""
        return {d.expr: d.symbol for d in self.definitions
                if d.role is Role.ACTIVATION and isinstance(d.expr, sp.Function)}

    @property
    def unspecified(self) -> list[str]:
        """The names of the unspecified functions the loss uses (the seed's f), sorted."""
        return unspecified_names(sp.Tuple(*(d.expr for d in self.definitions)))

    def specified(self, choices: dict[str, str]) -> "Graph":
        """The graph with each unspecified function named in ``choices`` given its concrete
        activation ({"f": "sigmoid"}); UnknownNameError for a name the loss has not."""
        for name in choices:
            if name not in self.unspecified:
                known = ", ".join(self.unspecified) or "none"
                raise UnknownNameError(f"{name!r} is not an unspecified function of this loss "
                                       f"(its unspecified functions: {known})")
        definitions = tuple(replace(d, expr=specify(d.expr, choices),
                                    activation=choices.get(d.activation, d.activation))
                            for d in self.definitions)
        return replace(self, definitions=definitions)

    def element(self, name: str) -> sp.Symbol | None:
        """The leaf symbol called ``name`` (``w``, ``W1[0][1]``), if any."""
        return self._leaves[1].get(name)

    @cached_property
    def _leaves(self) -> tuple[dict[sp.Symbol, str], dict[str, sp.Symbol]]:
        """Each leaf's role and each leaf by name, the first group's where two hold it:
        look-ups that stay constant-time for the thousands of weights of a wide network."""
        pairs = [(s, g.role) for g in reversed(self.groups) for s in reversed(g.symbols)]
        return dict(pairs), {s.name: s for s, _ in pairs}  # the later pair wins: the first

    def composed(self) -> sp.Expr:
        """The loss with every intermediate substituted: the naive composed expression."""
        expr = self.definitions[-1].expr
        for d in reversed(self.definitions[:-1]):
            expr = expr.xreplace({d.symbol: d.expr})
        return expr

    def resolve(self, wrt: str | Sequence[str] | None) -> tuple[sp.Symbol, ...]:
        """The symbols named by ``wrt``: ``all``, a group name, an element name, or a list."""
        names = ["all"] if wrt is None else [wrt] if isinstance(wrt, str) else wrt
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise DerivationError(f"wrt must be a name or a list of names, got {quoted(wrt)}")
        if not names:
            raise DerivationError("wrt is empty: name at least one parameter")
        symbols: dict[sp.Symbol, None] = {}
        for name in names:
            symbols.update(dict.fromkeys(self._resolve_one(str(name).replace(" ", ""))))
        return tuple(symbols)

    def _resolve_one(self, name: str) -> tuple[sp.Symbol, ...]:
        if name == "all":
            every = tuple(s for g in self.parameters for s in g.symbols)
            if not every:
                data = ", ".join(g.name for g in self.groups)
                raise DerivationError(f"wrt all: the expression has no parameters ({data} are "
                                      f"inputs or targets); name what to differentiate by in wrt")
            return every
        group = self.group(name)
        if group is not None:
            return group.symbols
        symbol = self.element(name)
        if symbol is not None:
            return (symbol,)
        known = ", ".join(g.name for g in self.groups)
        raise DerivationError(f"wrt {name!r} is not in the expression (its quantities: {known})")


def activate(name: str, zs: Sequence[sp.Symbol], j: int) -> sp.Expr:
    """Activation ``name`` of unit j of a layer whose weighted sums are ``zs``."""
    if name == "identity":
        return zs[j]
    if name == "softmax":
        return softmax(j + 1, *zs)
    if name == "leaky_relu":
        return leaky_relu(zs[j], LEAKY_RELU_SLOPE)
    if name not in ACTIVATION_FUNCTIONS:  # checked by check_activation: unspecified
        return unspecified(name)(zs[j])
    return ACTIVATION_FUNCTIONS[name](zs[j])


def check_activation(name: str, functions: Sequence[str] = ()) -> str:
    """Return ``name`` if it is a known activation, ``f`` or a name declared in
    ``functions`` (an unspecified activation); raise UnknownNameError otherwise."""
    if not isinstance(name, str) or (name not in ACTIVATIONS
                                      and name not in declared_functions(functions)):
        raise unknown("activation", name, ACTIVATIONS,
                      "f, or a name declared in functions, is an unspecified one")
    return name


def _group(name: str, role: str, base: str, layer: int | None, shape: tuple[int, ...],
           batch: int | None = None) -> Group:
    """A leaf group; with ``batch``, one more dimension: a column per sample."""
    if shape == ():
        return Group(name, role, (), (Var(name),))
    if batch is not None:
        positions = product(*(range(n) for n in shape), range(batch))
        return Group(name, role, shape + (batch,),
                     tuple(layered(base, layer, p[:-1], p[-1]) for p in positions))
    positions = product(*(range(n) for n in shape))
    return Group(name, role, shape, tuple(layered(base, layer, p) for p in positions))


def neuron(activation: str = "sigmoid", bias: bool = True, functions: Sequence[str] = ()
           ) -> Model:
    """One neuron, yhat = f(w x + b), or yhat = f(w x) without the bias (as in the seed);
    ``activation`` ``f`` (or a name declared in ``functions``) leaves it unspecified."""
    check_activation(activation, functions)
    if activation == "softmax":
        raise UnknownNameError("softmax needs several outputs: use it on a dense layer")
    x, w, b, z, yhat = (Var(n) for n in ("x", "w", "b", "z", "yhat"))
    groups = [_group("x", "input", "x", None, ()), _group("w", "parameter", "w", None, ())]
    if bias:
        groups.append(_group("b", "parameter", "b", None, ()))
    definitions = (
        Definition(z, w * x + b if bias else w * x, Role.WEIGHTED_SUM),
        Definition(yhat, activate(activation, [z], 0), Role.ACTIVATION, activation),
    )
    return Model(tuple(groups), definitions, (yhat,), _group("y", "target", "y", None, ()), "neuron")


@dataclass(frozen=True)
class Dense:
    """A dense layer: ``units`` outputs, each f(sum_k W_jk a_k + b_j)."""

    units: int
    activation: str


def network(inputs: int, layers: Sequence[Dense | tuple[int, str]], batch: int | None = None,
            functions: Sequence[str] = (), limits: Limits = DEFAULT_LIMITS) -> Model:
    """Dense layers stacked: layer l has W<l> of shape (units, inputs) and b<l>; outputs yhat.

    With ``batch`` = N, the inputs x and targets y have one column per sample (shape
    inputs x N, outputs x N) and every weighted sum and activation is computed per sample.
    A layer's activation ``f`` (or a name declared in ``functions``) is refused: the
    network's documents need a concrete one. A network over ``limits`` (its parameters,
    its inputs times its samples) raises LimitError before it is built.
    """
    layers = network_size(inputs, layers, batch, limits)
    samples = range(batch or 1)
    x = _group("x", "input", "x", None, (inputs,), batch)
    groups, definitions = [x], []
    previous = [x.symbols[n::len(samples)] for n in samples]
    for l, layer in enumerate(layers, start=1):
        if layer.activation not in ACTIVATIONS:
            check_activation(layer.activation, functions)
            raise UnknownNameError(f"the unspecified activation {layer.activation!r} is for a "
                                   f"neuron or an expression; a network's layers need a concrete "
                                   f"one ({', '.join(ACTIVATIONS)})")
        last = l == len(layers)
        W = _group(f"W{l}", "parameter", "W", l, (layer.units, inputs if l == 1 else layers[l - 2].units))
        b = _group(f"b{l}", "parameter", "b", l, (layer.units,))
        groups += [W, b]
        zs = [_per_sample("z", l, layer.units, n, batch) for n in samples]
        outs = [_per_sample("yhat" if last else "a", None if last else l, layer.units, n, batch)
                for n in samples]
        rows = [W.symbols[j * W.shape[1]:(j + 1) * W.shape[1]] for j in range(layer.units)]
        sums = [weighted_sums(rows, previous[n], b.symbols) for n in samples]
        definitions += [Definition(zs[n][j], sums[n][j], Role.WEIGHTED_SUM)
                        for j in range(layer.units) for n in samples]
        for j in range(layer.units):
            definitions += [Definition(outs[n][j], activate(layer.activation, zs[n], j),
                                       Role.ACTIVATION, layer.activation) for n in samples]
        previous = outs
    y = _group("y", "target", "y", None, (layers[-1].units,), batch)
    outputs = tuple(o for j in range(layers[-1].units) for o in (p[j] for p in previous))
    return Model(tuple(groups), tuple(definitions), outputs, y, "network", batch)


def network_size(inputs: int, layers: Sequence, batch: int | None, limits: Limits) -> list[Dense]:
    """The layers as ``Dense``, after checking the sizes' types and ``limits``."""
    if not isinstance(layers, (list, tuple)) or not layers:
        raise DerivationError(f"a network's layers must be a non-empty list of (units, "
                              f"activation), got {quoted(layers)}")
    layers = [layer if isinstance(layer, Dense) else Dense(*layer)
              if isinstance(layer, (list, tuple)) and len(layer) == 2 else _bad_layer(layer)
              for layer in layers]
    for what, size in [("inputs", inputs), ("batch", batch)] + [("units", l.units) for l in layers]:
        if size is None and what == "batch":
            continue
        if isinstance(size, bool) or not hasattr(size, "__index__") or size < 1:
            raise DerivationError(f"a network's {what} must be a whole number of at least 1, "
                                  f"got {quoted(size)}")
    limits.check("max_inputs", inputs * (batch or 1), "a network of {} input values")
    widths = [inputs] + [layer.units for layer in layers]
    limits.check("max_parameters", sum((a + 1) * b for a, b in zip(widths, widths[1:])),
                 "a network of {} parameters")
    return layers


def _bad_layer(layer: object) -> Dense:
    raise DerivationError(f"a network's layer must be Dense(units, activation) or a pair "
                          f"(units, activation), got {quoted(layer)}")


def weighted_sums(rows: Sequence[Sequence[sp.Symbol]], inputs: Sequence[sp.Symbol],
                  biases: Sequence[sp.Symbol]) -> list[sp.Expr]:
    """Each unit's sum_k W_jk a_k + b_j, exactly as SymPy builds it, for one layer.

    SymPy orders a sum's terms by comparing them, which for a wide layer costs more than
    the rest of building it. Units differ only in their row of W (names that order alike
    in every row, ``W1[j][k]`` by k) and their b_j, so the first unit's sum is built by
    SymPy and the others put their terms and factors in the same places.
    """
    first = sp.Add(*(w * a for w, a in zip(rows[0], inputs))) + biases[0]
    column = {w: k for k, w in enumerate(rows[0])}
    places = [None if t == biases[0] else (column[t.args[0]], 1) if t.args[0] in column
              else (column[t.args[1]], -1) for t in first.args]  # (k, 1: W_jk first; -1: a_k)
    return [first] + [sp.Add._from_args([b if p is None else sp.Mul._from_args(
        (row[p[0]], inputs[p[0]])[::p[1]]) for p in places]) for row, b in zip(rows[1:], biases[1:])]


def _per_sample(base: str, layer: int | None, units: int, n: int, batch: int | None) -> list[Var]:
    return [layered(base, layer, (j,), None if batch is None else n) for j in range(units)]


def with_loss(model: Model, loss: str | Loss) -> Graph:
    """The graph of ``loss`` applied to the model's outputs and targets; for a batch, the
    mean over the samples of each sample's loss."""
    if not isinstance(model, Model):
        raise DerivationError(f"with_loss takes a model (neuron(...) or network(...)), got "
                              f"a {type(model).__name__}")
    loss = loss if isinstance(loss, Loss) else get_loss(loss)
    L = Var("L")
    if model.batch is None:
        expr = loss.build(model.outputs, model.targets.symbols)
    else:
        columns = [slice(n, None, model.batch) for n in range(model.batch)]
        expr = sp.Add(*(loss.build(model.outputs[c], model.targets.symbols[c]) for c in columns))
        expr = expr / model.batch
    definitions = model.definitions + (Definition(L, expr, Role.LOSS),)
    return Graph(model.groups + (model.targets,), definitions, model.kind, loss.name, model.batch)


def from_expression(text: str | sp.Expr, inputs: Sequence[str] | None = None,
                    targets: Sequence[str] | None = None, functions: Sequence[str] = ()) -> Graph:
    """A graph for a free loss expression; each activation call gets named quantities z, a.

    ``inputs`` and ``targets`` name the data among its names (each must occur in it); left
    out, the inputs are x, x1, x_1, ... and the targets y, y1, y_1, ... (those that occur),
    unless the expression has no other name (``sin(x)`` is a function of its variable x).
    Every other name is a parameter, which ``wrt: all`` differentiates and gradient descent
    updates. A call of ``f`` or of a name in ``functions`` is an unspecified function.
    """
    expr, written = (parse_written(text, functions) if isinstance(text, str)
                     else (text, NOTHING))
    leaves = sorted(expr.free_symbols, key=lambda s: s.name)
    if not leaves:
        raise DerivationError(f"expression {str(text)!r} has no symbols to differentiate by")
    taken = {s.name for s in leaves}
    roles = data_roles(taken, {"input": inputs, "target": targets})
    definitions, named = _decompose(expr, taken)
    loss = Var(fresh(("L", "E", "J", "loss"), taken, "the loss"))
    definitions.append(Definition(loss, expr.xreplace(named), Role.LOSS))
    groups = tuple(Group(s.name, roles.get(s.name, "variable"), (), (s,)) for s in leaves)
    return Graph(groups, tuple(definitions), "expression", written=written.xreplace(named))


def _is_named_call(e: sp.Expr) -> bool:
    return isinstance(e, (Activation, sp.tanh, Unspecified)) and not isinstance(e, softmax) and bool(e.free_symbols)


def _decompose(expr: sp.Expr, taken: set[str]) -> tuple[list[Definition], dict]:
    """Definitions z = argument, a = f(z) for each activation call, innermost first."""
    calls = list(dict.fromkeys(e for e in sp.postorder_traversal(expr) if _is_named_call(e)))
    arguments = list(dict.fromkeys(c.args[0] for c in calls if not c.args[0].is_Symbol))
    z_base = fresh(("z", "u", "s", "v"), taken, "an argument", indexed=True)
    a_base = fresh(("a", "h", "g", "q"), taken | {z_base}, "an activation", indexed=True)
    zs = {arg: numbered(z_base, i, len(arguments)) for i, arg in enumerate(arguments)}
    definitions: list[Definition] = []
    named: dict[sp.Expr, sp.Symbol] = {}
    for i, call in enumerate(calls):
        arg = call.args[0]
        if arg in zs and arg not in named:
            definitions.append(Definition(zs[arg], arg.xreplace(named), Role.ARGUMENT))
            named[arg] = zs[arg]
        a = numbered(a_base, i, len(calls))
        name = "tanh" if call.func is sp.tanh else call.func.__name__
        definitions.append(Definition(a, call.xreplace(named), Role.ACTIVATION, name))
        named[call] = a
    return definitions, named
