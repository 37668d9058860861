"""The index view's numbered steps: one per unit's delta and one per unit's weights and
bias, each with its chain-rule sides (a mixin of ``chapter.Chapter``)."""

from __future__ import annotations

from functools import cached_property
from typing import Any, Iterable, Mapping, Sequence

import sympy as sp

from . import latex
from .chains import simplification_sides, terms_symbols
from ..calculus.backward import Adjoint, Gradient, Term
from ..calculus.derivation import Derivation
from ..model.graph import Role
from ..model.symbols import Var
from .chapter_pieces import ETA, UNITS_WRITTEN, AdjointStep, GradientStep, Reuse, Values


class ChapterSteps:
    """The numbered steps of a ``Chapter`` and the chains each one shows."""

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
        trained = [g for g in self.derivation.gradients if self.graph.is_parameter(g.parameter)]
        gradients = sorted(trained, key=lambda g: (-g.parameter.layer, g.parameter.index[0]))
        for key, group in _grouped(gradients, lambda g: self._group_key(g.parameter, False)):
            steps.append(self._gradient_step(len(steps) + 1, key[0], group, derived))
        data = [g for g in self.derivation.gradients if not self.graph.is_parameter(g.parameter)]
        for role, group in _grouped(data, lambda g: self.graph.role_of(g.parameter)):
            layer = 0 if role == "input" else len(self.layers)
            steps.append(self._gradient_step(len(steps) + 1, layer, group, derived, role))
        return tuple(steps)

    def _gradient_step(self, number: int, layer: int, group: list[Gradient],
                       derived: Mapping[sp.Expr, int], kind: str = "gradients") -> GradientStep:
        """A step reading ``group``'s gradients off the deltas (``kind``: "gradients" for
        parameters, "input" or "target" for the data, a saliency)."""
        names = [s for g in group for s in _ordered_symbols(g.result) if s in derived]
        return GradientStep(number, layer, _units([g.parameter for g in group]), tuple(group),
                            self._reuses(names, derived), kind)

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

    @property
    def adjoint_steps(self) -> list[AdjointStep]:
        return [s for s in self.steps if isinstance(s, AdjointStep)]

    @property
    def gradient_steps(self) -> list[GradientStep]:
        """The steps of the parameters' gradients (not of the inputs' or targets')."""
        return [s for s in self.steps if isinstance(s, GradientStep) and s.kind == "gradients"]

    @property
    def data_steps(self) -> list[GradientStep]:
        """The steps of the inputs' and targets' gradients, if asked for (a saliency)."""
        return [s for s in self.steps if isinstance(s, GradientStep) and s.kind != "gradients"]

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
        sides += simplification_sides(adjoint)
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
        return terms_symbols(self.derivation, terms)

    def terms_results(self, terms: Sequence[Term], forward: bool = False,
                      values: Values | None = None, rename=None) -> latex.Math:
        """Sum over consumers c of (dL/dc) * (dc/dv as derived): dL/dc by name; with
        ``forward``, local derivatives of the loss by their value and activations by the
        quantity they define (sigma(z) as a); with ``values``, in numbers; with ``rename``
        (a function of an expression), each part renamed first (for any unit j)."""
        show = values.subs if values is not None else latex.tex
        if rename is not None:
            show = lambda e, show=show: show(rename(e))  # noqa: E731
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

    def model_step(self, step: AdjointStep) -> AdjointStep | None:
        """The earlier step that derives the same kind of adjoint in the same layer, which
        ``step`` repeats for another unit (None for the first of its kind)."""
        for other in self.adjoint_steps:
            if other.number < step.number and other.layer == step.layer and other.kind == step.kind:
                return other
        return None

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
