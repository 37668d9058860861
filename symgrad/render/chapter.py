"""The network document: backpropagation laid out as a textbook chapter.

From a dense network's ``Derivation`` (and its matrix view, ``Derivation.matrix``) a
``Chapter`` selects what ``templates/common/network.j2`` shows: the few kinds of local
derivative, each derived once; numbered steps, one per unit's delta (output layer first)
and then one per unit's weights and bias, each naming the deltas it reuses and the step
that derived them; and the matrix view's equations. With values, every side is also
given in numbers.

Each side is a ``latex.Math`` that keeps the SymPy expression it shows; a side in numbers
keeps its expression with the exact values put in (the display rounds them, the
expression does not), so every displayed equation can be checked at the worked values
(``render.displayed_equations``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Iterable, Mapping, Sequence

import sympy as sp

from . import latex
from ..calculus.backward import Adjoint, Factor, Gradient, Term
from ..calculus.derivation import Derivation
from ..errors import DerivationError, UnknownNameError
from ..calculus.matrix import Z_SCALAR, Layer, MatrixForm, entrywise
from ..model.losses import LOSSES
from ..model.graph import Graph, Role
from ..model.symbols import Var

VIEWS = ("index", "matrix", "both")
"""The views of a network's derivation: per unit with the sums written out, in matrices
and vectors, or both (the default for networks; other losses have the index view only)."""

UNITS_WRITTEN = 4
"""A layer with more units than this gets one step for all its units: the derivation is
written for its first unit and the result listed for every unit."""

KIND_ORDER = ("loss", "activation", "softmax other", "weight", "bias", "input")
"""The kinds of local derivative, in the order the document derives them."""


class ColumnSoftmax(sp.Function):
    """The softmax of each column of a matrix (a softmax layer's outputs in the matrix view)."""

    nargs = 1


def resolve_view(derivation: Derivation, view: str | None) -> str:
    """The view to render: ``view`` if given and possible, else "both" for a network whose
    matrix view exists and "index" otherwise. Raises UnknownNameError for an unknown view
    and DerivationError for a matrix view of something that is not a dense network."""
    if view is not None and view not in VIEWS:
        raise UnknownNameError(f"unknown view {view!r} (known: {', '.join(VIEWS)})")
    if derivation.graph.kind != "network":
        if view not in (None, "index"):
            raise DerivationError("the matrix view is for dense networks (model with layers)")
        return "index"
    if view is None:
        return "both" if derivation.has_matrix_view else "index"
    return view


# --- the pieces of the network ------------------------------------------------------------


@dataclass(frozen=True)
class LayerInfo:
    """Layer ``number`` (from 1): ``units`` units fed by ``inputs`` quantities."""

    number: int
    units: int
    inputs: int
    activation: str
    output: bool


@dataclass(frozen=True)
class Kind:
    """One kind of local derivative (``KIND_ORDER``), derived for one representative unit;
    ``generic`` is the same for any unit, written with letters for indices (a schema, not
    an equation at the given values)."""

    name: str
    factor: Factor
    activation: str | None = None
    generic: tuple[sp.Expr, sp.Expr] | None = None


@dataclass(frozen=True)
class Reuse:
    """Quantities derived in an earlier step (by number) that a step uses by name."""

    names: tuple[sp.Expr, ...]
    step: int


@dataclass(frozen=True)
class AdjointStep:
    """A numbered step deriving named adjoints: one unit's delta for every sample (or, in
    a wide layer, every unit's), from the later deltas in ``reused``."""

    number: int
    layer: int
    units: tuple[int, ...]
    adjoints: tuple[Adjoint, ...]
    output: bool
    reused: tuple[Reuse, ...]
    kind: str = "delta"


@dataclass(frozen=True)
class GradientStep:
    """A numbered step reading one unit's weights and bias (or a wide layer's) off its
    deltas, which earlier steps derived."""

    number: int
    layer: int
    units: tuple[int, ...]
    gradients: tuple[Gradient, ...]
    reused: tuple[Reuse, ...]
    kind: str = "gradients"


@dataclass(frozen=True)
class Values:
    """Numbers in place of quantities: ``text`` as shown (rounded), ``exact`` as computed."""

    text: Mapping[sp.Basic, str]
    exact: Mapping[sp.Basic, Any]

    def subs(self, expr: sp.Basic, **extra: "Values") -> latex.Math:
        """``expr`` printed with numbers; its ``expr`` is ``expr`` with the exact numbers."""
        text, exact = dict(self.text), dict(self.exact)
        for more in extra.values():
            text.update(more.text)
            exact.update(more.exact)
        return replace(latex.tex(expr, text), expr=expr.xreplace(exact))

    def number(self, key: sp.Basic) -> latex.Math:
        """The number (or matrix of numbers) of ``key`` on its own."""
        return latex.Math.atom(self.text[key], self.exact[key])

    def __or__(self, other: "Values") -> "Values":
        return Values({**self.text, **other.text}, {**self.exact, **other.exact})


# --- the chapter ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Chapter:
    """What a network document shows, selected from ``derivation`` for ``view``."""

    derivation: Derivation
    view: str

    @property
    def graph(self) -> Graph:
        return self.derivation.graph

    @property
    def index(self) -> bool:
        """True when the document has the index view (per unit)."""
        return self.view in ("index", "both")

    @property
    def matrix(self) -> bool:
        """True when the document has the matrix view."""
        return self.view in ("matrix", "both")

    @property
    def batch(self) -> int | None:
        return self.graph.batch

    @cached_property
    def form(self) -> MatrixForm | None:
        """The matrix view, when shown."""
        return self.derivation.matrix if self.matrix else None

    @cached_property
    def layers(self) -> tuple[LayerInfo, ...]:
        """Every layer, from the first to the output layer."""
        weights = [g for g in self.graph.groups if g.role == "parameter" and g.name.startswith("W")]
        activations = {d.symbol.layer if d.symbol.layer else len(weights): d.activation
                       for d in self.graph.definitions if d.role is Role.ACTIVATION}
        return tuple(LayerInfo(n, w.shape[0], w.shape[1], activations[n], n == len(weights))
                     for n, w in enumerate(weights, start=1))

    @property
    def inputs(self) -> int:
        return self.layers[0].inputs

    @property
    def every_parameter(self) -> bool:
        """True when every weight and bias is differentiated."""
        return len(self.derivation.parameters) == sum(len(g.symbols) for g in self.graph.parameters)

    # the model

    def shown_definitions(self) -> list[list[Any]]:
        """[symbol, definition] for each forward step shown: the first sample's, each unit of
        a narrow layer and the first and last of a wide one; then the loss."""
        chains = [[d.symbol, d.expr] for d in self.graph.definitions[:-1] if self._shown(d.symbol)]
        return chains + [[self.derivation.loss, self.graph.definitions[-1].expr]]

    def _shown(self, symbol: sp.Symbol) -> bool:
        if getattr(symbol, "sample", None) not in (None, 1):
            return False
        layer = self.layer_of(symbol)
        unit = symbol.index[0]
        return layer.units <= UNITS_WRITTEN or unit in (1, layer.units)

    def layer_of(self, symbol: sp.Symbol) -> LayerInfo:
        """The layer a weighted sum, activation or delta belongs to."""
        return self.layers[(symbol.layer or len(self.layers)) - 1]

    @property
    def wide(self) -> bool:
        """True when some layer has more than ``UNITS_WRITTEN`` units."""
        return any(layer.units > UNITS_WRITTEN for layer in self.layers)

    @property
    def definitions_cut(self) -> bool:
        """True when ``shown_definitions`` leaves some out."""
        return len(self.shown_definitions()) < len(self.graph.definitions)

    def loss_formula(self) -> sp.Expr | None:
        """The loss's general definition; for a batch, the mean over the samples n of each
        sample's loss."""
        loss = LOSSES.get(self.graph.loss_name)
        if loss is None:
            return None
        outputs = self.layers[-1].units
        if outputs == 1 and not self.batch:  # in the network's own quantities
            return loss.formula(1).xreplace(self._single_output())
        k, n = sp.symbols("k n", integer=True, positive=True)
        yhat, y = sp.IndexedBase("yhat", real=True), sp.IndexedBase("y", real=True)
        at = (lambda base: base[k, n]) if self.batch else (lambda base: base[k])
        per_sample = sp.Sum(loss.per_output(at(yhat), at(y)), (k, 1, outputs))
        if loss.mean:
            per_sample = per_sample / outputs
        if not self.batch:
            return per_sample
        return sp.Sum(per_sample, (n, 1, self.batch)) / self.batch

    def _single_output(self) -> dict[sp.Symbol, sp.Symbol]:
        """The general formula's yhat and y as the network's only output and target."""
        output = next(d.symbol for d in self.graph.definitions if d.symbol.name == "yhat[0]")
        target = self.graph.group("y").symbols[0]
        return {Var("yhat"): output, Var("y"): target}

    # the local derivatives

    @cached_property
    def kinds(self) -> tuple[Kind, ...]:
        """One representative of each kind of local derivative in the derivation: from the
        latest layer, its first unit and first sample."""
        found: dict[tuple[str, str | None], list[Factor]] = {}
        for f in self.derivation.factors:
            kind = self._kind(f)
            if kind is not None:
                found.setdefault(kind, []).append(f)
        kinds = []
        for (name, activation), factors in found.items():
            factor = min(factors, key=_representative)
            kinds.append(Kind(name, factor, activation, self._generic(name, factor)))
        return tuple(sorted(kinds, key=lambda k: (KIND_ORDER.index(k.name), -_layer(k.factor.wrt))))

    def _kind(self, factor: Factor) -> tuple[str, str | None] | None:
        if factor.of == self.derivation.loss:
            return "loss", None
        definition = self.graph.definition(factor.of)
        if definition.role is Role.ACTIVATION:
            if definition.activation == "softmax" and factor.of.index != factor.wrt.index:
                return "softmax other", "softmax"
            return "activation", definition.activation
        base = getattr(factor.wrt, "base", "")
        return {"W": ("weight", None), "b": ("bias", None)}.get(base, ("input", None))

    def _generic(self, name: str, factor: Factor) -> tuple[sp.Expr, sp.Expr] | None:
        """The local derivative for any unit j of any layer l (sample n)."""
        sample = "n" if self.batch else None
        if name in ("loss", "activation"):
            renamed = {v: Var(f"{v.name}~", v.base, None if v.layer is None else "l", ("j",), sample)
                       for v in factor.symbol.atoms(Var) | factor.result.atoms(Var) if v.index}
            with sp.evaluate(False):  # keep the form: 1/2 (yhat - y), not yhat/2 - y/2
                return factor.symbol.xreplace(renamed), factor.result.xreplace(renamed)
        z = _letters("z", "l", ("j",), sample)
        if name == "weight":
            before = _letters("a", "l-1", ("k",), sample)
            return sp.Derivative(z, _letters("W", "l", ("j", "k"))), before
        if name == "bias":
            return sp.Derivative(z, _letters("b", "l", ("j",))), sp.S.One
        if name == "input":
            after = _letters("z", "l+1", ("i",), sample)
            return sp.Derivative(after, _letters("a", "l", ("j",), sample)), _letters("W", "l+1", ("i", "j"))
        return None

    def kind(self, name: str) -> Kind | None:
        """The representative of a kind of local derivative, if the derivation has one."""
        return next((k for k in self.kinds if k.name == name), None)

    # the numbered steps

    @cached_property
    def steps(self) -> tuple[AdjointStep | GradientStep, ...]:
        """The delta steps from the output layer back, then the gradient steps."""
        steps: list[AdjointStep | GradientStep] = []
        derived: dict[sp.Expr, int] = {}
        for key, adjoints in _grouped(self._stepped_adjoints(), lambda a: self._group_key(a.node, True)):
            number = len(steps) + 1
            reused = self._reuses(_named_inputs(self.derivation, adjoints), derived)
            steps.append(AdjointStep(number, key[0], _units(adjoints), tuple(adjoints),
                                     key[0] == len(self.layers), reused,
                                     "delta" if _is_delta(adjoints[0]) else "adjoint"))
            derived.update({a.name: number for a in adjoints})
        gradients = sorted(self.derivation.gradients, key=lambda g: (-g.parameter.layer,
                                                                     g.parameter.index[0]))
        for key, group in _grouped(gradients, lambda g: self._group_key(g.parameter, False)):
            names = [s for g in group for s in _ordered_symbols(g.result) if s in derived]
            steps.append(GradientStep(len(steps) + 1, key[0], _units([g.parameter for g in group]),
                                      tuple(group), self._reuses(names, derived)))
        return tuple(steps)

    def _stepped_adjoints(self) -> list[Adjoint]:
        """The named adjoints a step derives: every delta, and any other named adjoint that
        is more than a local derivative of the loss."""
        loss = self.derivation.loss
        return [a for a in self.derivation.adjoints
                if a.named and not all(t.consumer == loss for t in a.terms)]

    def _group_key(self, node: Var, by_kind: bool) -> tuple:
        """Steps group one unit's quantities (of one kind, with ``by_kind``): every sample's,
        or in a wide layer, every unit's."""
        layer = self.layer_of(node)
        key = (layer.number, node.base) if by_kind else (layer.number,)
        return key if layer.units > UNITS_WRITTEN else key + (node.index[0],)

    @staticmethod
    def _reuses(names: Iterable[sp.Expr], derived: Mapping[sp.Expr, int]) -> tuple[Reuse, ...]:
        by_step: dict[int, list[sp.Expr]] = {}
        for name in dict.fromkeys(names):
            if name in derived:
                by_step.setdefault(derived[name], []).append(name)
        return tuple(Reuse(tuple(names_), step) for step, names_ in sorted(by_step.items()))

    def step_of(self, name: sp.Expr) -> int | None:
        """The number of the step that derives the named adjoint ``name``."""
        for step in self.steps:
            if isinstance(step, AdjointStep) and any(a.name == name for a in step.adjoints):
                return step.number
        return None

    @property
    def adjoint_steps(self) -> list[AdjointStep]:
        return [s for s in self.steps if isinstance(s, AdjointStep)]

    @property
    def gradient_steps(self) -> list[GradientStep]:
        return [s for s in self.steps if isinstance(s, GradientStep)]

    # the chains of an adjoint step

    def through(self, adjoint: Adjoint) -> list[Adjoint]:
        """The unnamed adjoints an adjoint is computed through (dL/da of a hidden unit,
        which sums over the units it feeds), each written out on its own line."""
        out = []
        for t in adjoint.terms:
            inner = self.derivation.backward.adjoints.get(t.consumer)
            if inner is not None and not inner.named and not self._from_loss(inner):
                out.extend(self.through(inner) + [inner])
        return out

    def _from_loss(self, adjoint: Adjoint) -> bool:
        return all(t.consumer == self.derivation.loss for t in adjoint.terms)

    def adjoint_chain(self, adjoint: Adjoint, numbers: bool = True) -> list[latex.Math]:
        """dL/dv by name, in Leibniz notation, as the chain-rule sum of the named
        quantities, in forward quantities, simplified; then (``numbers``, with values) the
        simplest form in numbers and the value."""
        d = self.derivation
        sides = [latex.tex(adjoint.name)] if adjoint.named else []
        sides += [latex.tex(sp.Derivative(d.loss, adjoint.node)), self.terms_symbols(adjoint.terms),
                  self.terms_results(adjoint.terms)]
        forward = self.terms_results(adjoint.terms, forward=True)
        if str(forward) != str(sides[-1]):
            sides.append(forward)
        step = adjoint.simplification
        if step is not None:
            sides += [latex.tex(f) for f in (step.expr, step.inner, step.result) if f is not None]
        return sides + (self.numbers_of(adjoint) if numbers else [])

    def numbers_of(self, adjoint: Adjoint) -> list[latex.Math]:
        """With values: the adjoint's simplest form in numbers, and its value."""
        if self.values is None:
            return []
        value = latex.number(self.derivation.worked.adjoints[adjoint.node])
        if adjoint.simplification is not None:
            return [self.values.subs(adjoint.value), value]
        return [self.terms_results(adjoint.terms, forward=True, values=self.values), value]

    def terms_symbols(self, terms: Sequence[Term]) -> latex.Math:
        """Sum over consumers c of dL/dc * dc/dv in Leibniz notation (dL/dc by its name)."""
        from .document import terms_symbols  # the render module builds on this one

        return terms_symbols(self.derivation, terms)

    def terms_results(self, terms: Sequence[Term], forward: bool = False,
                      values: Values | None = None) -> latex.Math:
        """Sum over consumers c of (dL/dc) * (dc/dv as derived): dL/dc by name; with
        ``forward``, local derivatives of the loss by their value and activations by the
        quantity they define (sigma(z) as a); with ``values``, in numbers."""
        show = values.subs if values is not None else latex.tex
        parts = []
        for t in terms:
            adjoint = self.derivation.backward.adjoints.get(t.consumer)
            result = show(t.factor.result.xreplace(self.outputs) if forward else t.factor.result)
            if adjoint is None:
                parts.append(result)
                continue
            reference = adjoint.value if forward and self._from_loss(adjoint) else adjoint.reference
            parts.append(latex.join_math([show(reference), result], r"\cdot"))
        return latex.join_math(parts, "+")

    @cached_property
    def outputs(self) -> dict[sp.Expr, sp.Symbol]:
        """Each activation call by the quantity it defines: sigma(z^(1)_1) is a^(1)_1."""
        return {d.expr: d.symbol for d in self.graph.definitions
                if d.role is Role.ACTIVATION and isinstance(d.expr, sp.Function)}

    def others(self, step: AdjointStep) -> list[Adjoint]:
        """The adjoints of a step after the first, derived the same way."""
        return list(step.adjoints[1:])

    def model_step(self, step: AdjointStep) -> AdjointStep | None:
        """The earlier step that derives the same kind of adjoint in the same layer, which
        ``step`` repeats for another unit (None for the first of its kind)."""
        for other in self.adjoint_steps:
            if other.number < step.number and other.layer == step.layer and other.kind == step.kind:
                return other
        return None

    def short_chain(self, adjoint: Adjoint) -> list[latex.Math]:
        """For an adjoint derived like one shown in full: its name, its simplest form and
        (with values) that form in numbers and the value."""
        name = adjoint.name if adjoint.named else sp.Derivative(self.derivation.loss, adjoint.node)
        last = latex.tex(adjoint.value) if adjoint.simplification is not None \
            else self.terms_results(adjoint.terms, forward=True)
        return [latex.tex(name), last] + self.numbers_of(adjoint)

    # gradients

    def gradient_chain(self, gradient: Gradient) -> list[latex.Math]:
        """dL/dp in Leibniz notation, in named deltas, and (with values) in numbers."""
        d = self.derivation
        sides = [latex.tex(sp.Derivative(d.loss, gradient.parameter)), self.terms_symbols(gradient.terms),
                 self.terms_results(gradient.terms)]
        ones = any(t.factor.result == 1 for t in gradient.terms)
        if ones:  # delta * 1 is delta
            sides.append(latex.tex(gradient.result))
        if self.values is not None:
            numbers = self.values.subs(gradient.result) if ones \
                else self.terms_results(gradient.terms, values=self.values)
            sides += [numbers, latex.number(d.worked.gradients[gradient.parameter])]
        return sides

    def update_chain(self, parameter: sp.Symbol) -> list[latex.Math]:
        """p, p - eta dL/dp, the same in numbers, and the updated value (``rel=\\leftarrow``)."""
        worked = self.derivation.worked
        rule = parameter - ETA * sp.Derivative(self.derivation.loss, parameter)
        rate = Values({ETA: latex.num(worked.learning_rate),
                       sp.Derivative(self.derivation.loss, parameter): latex.num(worked.gradients[parameter])},
                      {ETA: worked.learning_rate,
                       sp.Derivative(self.derivation.loss, parameter): worked.gradients[parameter]})
        return [latex.tex(parameter), latex.tex(rule), self.values.subs(rule, rate=rate),
                latex.number(worked.updated[parameter])]

    # numbers

    @cached_property
    def values(self) -> Values | None:
        """Every quantity's number: given ones as written, computed ones rounded."""
        worked = self.derivation.worked
        if worked is None:
            return None
        text: dict[sp.Basic, str] = {}
        exact: dict[sp.Basic, Any] = {}
        for symbol, literal in worked.literals.items():
            text[symbol], exact[symbol] = latex.literal_tex(literal), worked.given[symbol]
        for symbol, value in worked.forward.items():
            text[symbol], exact[symbol] = latex.num(value), value
        for call, symbol in self.outputs.items():
            text[call], exact[call] = latex.num(worked.forward[symbol]), worked.forward[symbol]
        for a in self.derivation.adjoints:
            if a.named:
                text[a.name], exact[a.name] = latex.num(worked.adjoints[a.node]), worked.adjoints[a.node]
        return Values(text, exact)

    @cached_property
    def forward_values(self) -> Values:
        """The given and computed quantities alone (sigma(z) shown as sigma of a number)."""
        worked = self.derivation.worked
        keys = list(worked.literals) + list(worked.forward)
        return Values({k: self.values.text[k] for k in keys}, {k: self.values.exact[k] for k in keys})

    def forward_chains(self, layer: LayerInfo) -> list[list[latex.Math]]:
        """Each weighted sum and activation of ``layer`` (every unit and sample) with its
        definition, in numbers, and its value."""
        chains = []
        for role in (Role.WEIGHTED_SUM, Role.ACTIVATION):
            for d in self.graph.definitions:
                if d.role is role and self.layer_of(d.symbol) == layer:
                    chains.append([latex.tex(d.symbol), latex.tex(d.expr), self.forward_values.subs(d.expr),
                                   latex.number(self.derivation.worked.forward[d.symbol])])
        return chains

    def loss_chain(self) -> list[latex.Math]:
        """The loss, in numbers, and its value."""
        d = self.graph.definitions[-1]
        return [latex.tex(d.symbol), latex.tex(d.expr), self.forward_values.subs(d.expr),
                latex.number(self.derivation.worked.loss)]

    def forward_rows(self) -> list[list[str]]:
        """The forward pass as table rows: layer, unit, (sample,) z and a."""
        worked = self.derivation.worked
        rows = []
        for d in self.graph.definitions:
            if d.role is not Role.WEIGHTED_SUM:
                continue
            activation = next(a for a in self.graph.definitions
                              if a.role is Role.ACTIVATION and a.expr.has(d.symbol)
                              and _same_unit(a.symbol, d.symbol))
            sample = [str(d.symbol.sample)] if self.batch else []
            rows.append([str(self.layer_of(d.symbol).number), str(d.symbol.index[0]), *sample,
                         f"{latex.tex(d.symbol)} = {latex.num(worked.forward[d.symbol])}",
                         f"{latex.tex(activation.symbol)} = {latex.num(worked.forward[activation.symbol])}"])
        return rows

    def parameter_rows(self) -> list[list[str]]:
        """Every differentiated parameter as a table row: name, value, gradient, updated."""
        worked = self.derivation.worked
        rows = []
        for group in self.graph.parameters:
            for p in group.symbols:
                if p in worked.gradients:
                    row = [str(latex.tex(p)), latex.literal_tex(worked.literals[p]),
                           latex.num(worked.gradients[p])]
                    if worked.learning_rate is not None:
                        row.append(latex.num(worked.updated[p]))
                    rows.append(row)
        return rows

    # the matrix view

    def matrix_forward(self, layer: Layer) -> list[list[latex.Math]]:
        """Z = W A + b 1^T and A = f(Z) for one layer, and with values their numbers."""
        activated = layer.activated if layer.activated is not None else ColumnSoftmax(layer.Z)
        chains = [[latex.tex(layer.Z), latex.tex(layer.weighted_sum)], [latex.tex(layer.A), latex.tex(activated)]]
        numbers = self.matrix_values
        if numbers is not None:
            chains[0] += [numbers.subs(layer.weighted_sum), numbers.number(layer.Z)]
            chains[1] += [numbers.subs(activated), numbers.number(layer.A)]
        return chains

    def matrix_output(self) -> list[latex.Math]:
        """The output layer's delta, entry by entry, and with values its numbers."""
        last = self.form.layers[-1]
        chain = [latex.tex(last.delta), latex.tex(self.gradient_matrix(last.Z)),
                 latex.tex(self.form.output.matrix)]
        numbers = self.matrix_values
        if numbers is not None:
            chain += [numbers.subs(self.form.output.matrix), numbers.number(last.delta)]
        return chain

    def matrix_backward(self) -> list[tuple[Layer, list[latex.Math]]]:
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
            numbers = self.matrix_values
            if numbers is not None:
                products = self.matrix_products
                chain += [numbers.subs(recursion), numbers.subs(recursion, products=products),
                          numbers.number(delta)]
            out.append((layer, chain))
        return out

    def matrix_gradients(self, layer: Layer) -> list[list[latex.Math]]:
        """dL/dW = Delta A^T and dL/db = Delta 1 for one layer, and with values their numbers."""
        chains = []
        for of, rule in ((layer.W, layer.weight_gradient), (layer.b, layer.bias_gradient)):
            gradient = self.gradient_matrix(of)
            chain = [latex.tex(gradient), latex.tex(rule)]
            if self.matrix_values is not None:
                chain += [self.matrix_values.subs(rule), self.matrix_values.number(gradient)]
            chains.append(chain)
        return chains

    def matrix_updates(self) -> list[list[latex.Math]]:
        """W <- W - eta dL/dW for each weight matrix and bias vector, in numbers."""
        chains = []
        for layer in self.form.layers:
            for of in (layer.W, layer.b):
                rule = of - ETA * self.gradient_matrix(of)
                chains.append([latex.tex(of), latex.tex(rule), self.matrix_values.subs(rule),
                               self.matrix_values.number(_updated(of))])
        return chains

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


ETA = sp.Symbol("eta", positive=True)
"""The learning rate, printed eta."""


def _updated(of: sp.MatrixSymbol) -> sp.MatrixSymbol:
    """A key for the values of M after the update (never printed)."""
    return sp.MatrixSymbol(f"{of.name}'", *of.shape)


class _MatrixNumbers:
    """The matrices of a chapter's matrix view, entry by entry from the worked numbers:
    given ones as written, computed ones rounded (``text``), and exactly (``exact``)."""

    def __init__(self, chapter: Chapter):
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
        self.put(Chapter.gradient_matrix(layer.Z), Z, adjoint)
        for of in (layer.W, layer.b):
            entries = self.entries(of.name, of.shape)
            self.put(Chapter.gradient_matrix(of), entries, lambda s: self.computed(worked.gradients[s]))
            if worked.learning_rate is not None:
                self.put(_updated(of), entries, lambda s: self.computed(worked.updated[s]))
        slope = Chapter.slope_matrix(layer)
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


# --- helpers --------------------------------------------------------------------------------


def _letters(base: str, layer: str, index: tuple[str, ...], sample: str | None = None) -> Var:
    """A quantity with letters for its layer and indices (z^(l)_j), for statements that
    hold for every unit."""
    return Var(f"{base}~{layer}~{''.join(index)}~{sample}", base, layer, index, sample)


def _transposed(rows: list[list[Any]]) -> list[list[Any]]:
    return [list(column) for column in zip(*rows)]


def _layer(symbol: sp.Symbol) -> int:
    return getattr(symbol, "layer", None) or 0


def _representative(factor: Factor) -> tuple:
    """The latest layer first, then the first unit, input and sample."""
    of, wrt = factor.of, factor.wrt
    return (-_layer(of) - _layer(wrt), getattr(of, "index", ()), getattr(wrt, "index", ()),
            getattr(of, "sample", None) or 0)


def _grouped(items: Iterable[Any], key) -> list[tuple[Any, list[Any]]]:
    """Items in runs of equal ``key``, keeping the order of first appearance."""
    groups: dict[Any, list[Any]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return list(groups.items())


def _units(items: Sequence[Any]) -> tuple[int, ...]:
    symbols = [i.node if isinstance(i, Adjoint) else i for i in items]
    return tuple(dict.fromkeys(s.index[0] for s in symbols))


def _is_delta(adjoint: Adjoint) -> bool:
    return isinstance(adjoint.name, Var) and adjoint.name.base == "delta"


def _same_unit(a: Var, z: Var) -> bool:
    return a.index == z.index and getattr(a, "sample", None) == getattr(z, "sample", None)


def _ordered_symbols(expr: sp.Expr) -> list[sp.Symbol]:
    return sorted(expr.free_symbols, key=lambda s: s.sort_key())


def _named_inputs(derivation: Derivation, adjoints: Sequence[Adjoint]) -> list[sp.Expr]:
    """The named adjoints the given ones use, directly or through unnamed ones."""
    names: list[sp.Expr] = []
    todo = list(adjoints)
    while todo:
        adjoint = todo.pop(0)
        for t in adjoint.terms:
            inner = derivation.backward.adjoints.get(t.consumer)
            if inner is None:
                continue
            if inner.named:
                names.append(inner.name)
            else:
                todo.append(inner)
    return names
