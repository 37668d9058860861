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

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import sympy as sp

from . import latex
from ..calculus.backward import Factor
from ..calculus.derivation import Derivation
from ..errors import DerivationError, UnknownNameError
from ..calculus.matrix import MatrixForm
from ..model.losses import LOSSES
from ..model.graph import Graph, Role
from ..model.symbols import Var
from .chapter_matrix import ChapterMatrix
from .chapter_pieces import Kind, LayerInfo, Values
from .chapter_steps import ChapterSteps
from .chapter_tables import ChapterTables

VIEWS = ("index", "matrix", "both")
"""The views of a network's derivation: per unit with the sums written out, in matrices
and vectors, or both (the default for networks; other losses have the index view only)."""

KIND_ORDER = ("loss", "activation", "softmax other", "weight", "bias", "input")
"""The kinds of local derivative, in the order the document derives them."""


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


# --- the chapter ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Chapter(ChapterSteps, ChapterMatrix, ChapterTables):
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
        return set(self.derivation.trained) == {s for g in self.graph.parameters for s in g.symbols}

    # the model

    def layer_of(self, symbol: sp.Symbol) -> LayerInfo:
        """The layer a weighted sum, activation or delta belongs to."""
        return self.layers[(symbol.layer or len(self.layers)) - 1]

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

    def loss_chain(self) -> list[latex.Math]:
        """The loss in numbers (its formula is the model's), and its value."""
        d = self.graph.definitions[-1]
        return [latex.tex(d.symbol), self.forward_values.subs(d.expr),
                latex.number(self.derivation.worked.loss)]


# --- helpers --------------------------------------------------------------------------------


def _letters(base: str, layer: str, index: tuple[str, ...], sample: str | None = None) -> Var:
    """A quantity with letters for its layer and indices (z^(l)_j), for statements that
    hold for every unit."""
    return Var(f"{base}~{layer}~{''.join(index)}~{sample}", base, layer, index, sample)


def _layer(symbol: sp.Symbol) -> int:
    return getattr(symbol, "layer", None) or 0


def _representative(factor: Factor) -> tuple:
    """The latest layer first, then the first unit, input and sample."""
    of, wrt = factor.of, factor.wrt
    return (-_layer(of) - _layer(wrt), getattr(of, "index", ()), getattr(wrt, "index", ()),
            getattr(of, "sample", None) or 0)
