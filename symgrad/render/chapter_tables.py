"""A network chapter's numbers, each once, and its summary (a mixin of ``chapter.Chapter``).

The forward pass, the errors and the gradients with the step are one table each; a cell
that computes a number shows the numbers it is computed from, so that a student can check
it by hand from the rows before. Every such cell is laid out with ``latex.inline_equation``,
so ``render.displayed_equations`` sees it and the tests check it at the worked values.
Then the backpropagation equations this network uses, for any unit (``equations_used``),
and what the gradient told us (``summary_rows``), every row computed from the numbers.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Callable, Iterable

import sympy as sp

from . import latex
from .columns import Columns, fitted
from .describe import layer_number, matrix_quantity as quantity_matrix, quantity
from .steps import factor_sides
from ..model.graph import Role
from ..model.symbols import Var
from ..numeric.reading import read

TABLE_UNITS = 10
"""A layer with more units than this shows, in the tables, its first ``TABLE_HEAD`` units
and its last, with a row of dots for the others (a LaTeX table breaks across pages)."""
TABLE_HEAD = 4

DOTS = r"\vdots"

WRITTEN_SUM = 8
"""A weighted sum of more inputs than this shows its value alone in the table."""


class ChapterTables:
    """The tables and the summary of a ``Chapter``."""

    # which units a table shows

    def in_table(self, symbol: Var) -> bool:
        """True when the tables show the unit of ``symbol`` (a weighted sum, delta, weight or bias)."""
        layer = self.layer_of(symbol) if symbol.base not in ("W", "b") else self.layers[symbol.layer - 1]
        if not _kept(symbol.index[0], layer.units):
            return False
        return symbol.base != "W" or _kept(symbol.index[1], layer.inputs)

    def _cut(self, items: Iterable[tuple[Var, Callable[[], list[str]]]], width: int) -> list[list[str]]:
        """The rows of the units shown, each made (``items`` give a function that makes
        it) only when shown; one row of dots where a wide layer's are left out."""
        rows: list[list[str]] = []
        dotted: set[Any] = set()
        for symbol, row in items:
            if self.in_table(symbol):
                rows.append(row())
                continue
            key = (symbol.base, symbol.layer)
            if key not in dotted:
                dotted.add(key)
                rows.append([DOTS] * width)
        return rows

    @property
    def tables_cut(self) -> bool:
        """True when some layer is too wide for the tables to show every unit."""
        return any(layer.units > TABLE_UNITS for layer in self.layers)

    @property
    def given_cut(self) -> bool:
        """True when some given vector or matrix is too long for the display to show every
        entry (``numbers.group_value``)."""
        return any(max(layer.units, layer.inputs) > TABLE_UNITS for layer in self.layers)

    # the local derivatives

    def short_sides(self, factor) -> list[latex.Math]:
        """A local derivative's derivation in short: the derivative, the derivative of its
        definition, the line before the result, the result (all of them if that is no
        more)."""
        sides = factor_sides(self.derivation, factor)
        return sides if len(sides) <= 4 else [sides[0], sides[1], sides[-2], sides[-1]]

    # the forward pass

    def forward_rows(self) -> list[list[str]]:
        """Layer, unit, (sample,) the weighted sum in numbers and the activation."""
        items = [(d.symbol, lambda d=d: self._forward_row(d)) for d in self.graph.definitions
                 if d.role is Role.WEIGHTED_SUM]
        return self._cut(items, 5 if self.batch else 4)

    def _forward_row(self, d) -> list[str]:
        worked = self.derivation.worked
        activation = self._activations[d.symbol]
        layer = self.layer_of(d.symbol)
        z = [latex.tex(d.symbol), self.forward_values.subs(d.expr), latex.number(worked.forward[d.symbol])]
        record(z)  # the row's layer and unit name it
        z = z[1:] if layer.inputs <= WRITTEN_SUM else z[2:]
        # a softmax of numbers would repeat the layer's weighted sums: by name instead
        shown = latex.tex(activation.expr) if layer.activation == "softmax" \
            else self.forward_values.subs(activation.expr)
        a = [latex.tex(activation.symbol), shown, latex.number(worked.forward[activation.symbol])]
        sample = [str(d.symbol.sample)] if self.batch else []
        return [str(layer_number(layer.number)), str(d.symbol.index[0]), *sample, cell(z), cell(a)]

    @cached_property
    def _activations(self) -> dict[sp.Symbol, Any]:
        """Each weighted sum's activation (the definition of its unit's activation)."""
        found: dict[sp.Symbol, Any] = {}
        for a in self.graph.definitions:
            if a.role is Role.ACTIVATION:
                for z in a.expr.free_symbols:
                    if isinstance(z, Var) and _same_unit(a.symbol, z):
                        found.setdefault(z, a)
        return found

    def forward_columns(self, header: list[str], rows: list[list[str]], slides: bool = False) -> Columns:
        """layer, unit, (sample,) the weighted sum and the activation."""
        return fitted("r" * (3 if self.batch else 2) + "ll", header, rows, slides)

    # the errors

    def delta_rows(self) -> list[list[str]]:
        """Each named error (output layer first): its name, its formula with the numbers
        put in, its value."""
        items = [(a.node, lambda a=a: self._delta_row(a)) for step in self.adjoint_steps for a in step.adjoints]
        return self._cut(items, 3)

    def _delta_row(self, a) -> list[str]:
        numbers, value = self.numbers_of(a)
        record([latex.tex(a.name), numbers, value])
        return [str(latex.tex(a.name)), str(numbers), str(value)]

    @staticmethod
    def delta_columns(header: list[str], rows: list[list[str]], slides: bool = False) -> Columns:
        """The error, its formula in numbers and its value."""
        return fitted("llr", header, rows, slides)

    # the gradients and the step

    def gradient_columns(self, header: list[str], rows: list[list[str]], slides: bool = False) -> Columns:
        """parameter, value, the gradient and, with a step, the value after it."""
        return fitted("lrl" + ("r" if len(header) > 3 else ""), header, rows, slides)

    def gradient_rows(self) -> list[list[str]]:
        """Every differentiated parameter: its value, its gradient from the errors (in
        symbols, in numbers, its value) and, with a learning rate, its value after the step."""
        worked = self.derivation.worked
        gradients = {g.parameter: g for g in self.derivation.gradients}
        items = [(p, lambda p=p: self._gradient_row(gradients[p])) for group in self.graph.parameters
                 for p in group.symbols if p in worked.gradients]
        return self._cut(items, 4 if worked.learning_rate is not None else 3)

    def _gradient_row(self, gradient) -> list[str]:
        worked, p = self.derivation.worked, gradient.parameter
        row = [str(latex.tex(p)), latex.literal_tex(worked.literals[p]), self.gradient_cell(gradient)]
        if worked.learning_rate is not None:
            if latex.is_recording():  # the step's equation, shown by its value alone
                latex.equations([self.update_chain(p)], rel=r"\leftarrow")
            row.append(latex.num(worked.updated[p]))
        return row

    def data_rows(self) -> list[list[str]]:
        """Each input's or target's gradient asked for (a saliency): name, value, gradient."""
        worked = self.derivation.worked
        return [[str(latex.tex(g.parameter)), latex.literal_tex(worked.literals[g.parameter]),
                 self.gradient_cell(g)] for s in self.data_steps for g in s.gradients]

    def gradient_cell(self, gradient) -> str:
        """The gradient from the errors: the product in symbols, in numbers, and its value
        (the whole chain, from dL/dp, is recorded to be checked)."""
        sides = self.gradient_chain(gradient)
        record(sides)
        start = 3 if any(t.factor.result == 1 for t in gradient.terms) else 2
        return latex.inline_equation(*sides[start:]) if self.values is not None else str(sides[-1])

    # the summary

    def equations_used(self) -> list[str]:
        """The backpropagation equations this network uses, for any unit j (and sample n)
        of the layer named: the output layer's error (BP1), each hidden layer's (BP2), the
        biases' and the weights' gradients (BP3, BP4); rows (label, left, right) in LaTeX."""
        loss = self.notation_letter("L")
        n = ",n" if self.batch else ""
        rows = []
        rows.append(("", *self.forward_rules()[0]))
        output = next(s for s in self.adjoint_steps if s.output).adjoints[0]
        rows.append(("BP1", *self._row(output.name, str(self.generic_error(output)))))
        hidden = []
        for step in self.adjoint_steps:
            if step.output or step.kind != "delta" or self.model_step(step) is not None:
                continue
            a = step.adjoints[0]
            after = layer_number(step.layer + 1)
            slope = self.generic_slope(a)
            sum_ = (rf"\sum_{{i}} {self.q('W', after, 'ij')} {self.q('delta', after, 'i' + n)}")
            hidden.append((("BP2", *self._row(a.name, rf"\left({sum_}\right) {slope}")),
                           self.generic_slope(a, layer=step.layer)))
        slopes = {slope for _, slope in hidden}
        if len(hidden) > 1 and len(slopes) == 1:  # hidden layers alike: BP2 once, for any l
            sum_ = rf"\sum_{{i}} {self.q('W', 'l+1', 'ij')} {self.q('delta', 'l+1', 'i' + n)}"
            rows.append(("BP2", self.q("delta", "l", "j" + n), rf"= \left({sum_}\right) {slopes.pop()}"))
        else:
            rows += [row for row, _ in hidden]
        mean = r"\sum_{n} " if self.batch else ""
        if any(s.kind == "input" for s in self.data_steps):  # a saliency
            rows.append(("", rf"\frac{{\partial {loss}}}{{\partial {self.q('x', None, 'k' + n)}}}",
                         rf"= \sum_{{j}} {self.q('W', 1, 'jk')} {self.q('delta', 1, 'j' + n)}"))
        if not self.gradient_steps:
            return rows
        rows.append(("BP3", rf"\frac{{\partial {loss}}}{{\partial {self.q('b', 'l', 'j')}}}",
                     rf"= {mean}{self.q('delta', 'l', 'j' + n)}"))
        rows.append(("BP4", rf"\frac{{\partial {loss}}}{{\partial {self.q('W', 'l', 'jk')}}}",
                     rf"= {mean}{self.q('delta', 'l', 'j' + n)} {self.q('a', 'l-1', 'k' + n)}"))
        return rows

    @staticmethod
    def _row(name: sp.Expr, right: str) -> tuple[str, str]:
        return str(latex.tex(_generic_index(name))), f"= {right}"

    def generic_error(self, adjoint) -> latex.Math:
        """An output unit's error for any unit j: its simplest form, indices renamed."""
        if adjoint.simplification is not None:
            return latex.tex(_generic_index(adjoint.value))
        return self.terms_results(adjoint.terms, forward=True, rename=_generic_index)

    def generic_slope(self, adjoint, layer: int | None = None) -> str:
        """The activation's slope of a hidden unit's error, for any unit j (and with
        ``layer``, symgrad's number of the unit's layer, for any layer l)."""
        for t in adjoint.terms:
            if self.graph.definition(t.consumer).role is Role.ACTIVATION:
                slope = _generic_index(t.factor.result.xreplace(self.outputs))
                if layer is not None:
                    slope = _generic_layer(slope, layer)
                return str(latex.tex(slope))
        return ""

    def matrix_used(self) -> list[tuple[str, str, str]]:
        """The same equations in matrices: the output layer's and each hidden layer's
        error as the matrix view writes them (a slope by name, f'(Z)), the gradients for
        any layer l; rows (label, left, right)."""
        single = not self.batch
        ones = r" \mathbf{1}^{T}" if self.batch else ""
        forward = (quantity_matrix("z", "l", single), f"= {quantity_matrix('W', 'l')} "
                   f"{quantity_matrix('a', 'l-1', single)} + {quantity_matrix('b', 'l')}{ones}")
        output = self.matrix_output(numbers=False)
        rows = [("", *forward), ("BP1", str(output[0]), f"= {output[-1]}")]
        rows += [("BP2", str(chain[0]), f"= {chain[2] if len(chain) > 3 else chain[-1]}")
                 for _, chain in self.matrix_backward(numbers=False)]
        saliency = self.matrix_input_gradient(numbers=False)
        if saliency is not None:
            rows.append(("", str(saliency[0]), f"= {saliency[1]}"))
        if not self.gradient_steps:
            return rows
        return rows + [(label, left, right)
                       for (left, right), label in zip(self.matrix_gradient_rules(), ("BP3", "BP4"))]

    def matrix_gradient_rules(self) -> list[tuple[str, str]]:
        """dL/db and dL/dW of any layer l in matrices (a batch: one column per sample)."""
        loss, batch = self.notation_letter("L"), bool(self.batch)
        delta, before = quantity_matrix("delta", "l", not batch), quantity_matrix("a", "l-1", not batch)
        bias = rf"= {delta} \mathbf{{1}}" if batch else f"= {delta}"
        return [(rf"\frac{{\partial {loss}}}{{\partial {quantity_matrix('b', 'l')}}}", bias),
                (rf"\frac{{\partial {loss}}}{{\partial {quantity_matrix('W', 'l')}}}", rf"= {delta} ({before})^{{T}}")]

    def summary_rows(self) -> list[list[str]]:
        """What the gradient told us: the loss before and after the step, the largest
        gradient of each layer, how many parameters the step lowers and raises."""
        d = self.derivation
        worked = d.worked
        r = read(d)
        loss = self.notation_letter("L")
        trained = [p for p in d.trained if p in worked.gradients]
        if worked.learning_rate is None or not trained:
            rows = [[r"\text{the loss at the given values}", f"{loss} = {latex.num(worked.loss)}"]]
        else:
            after = r"\text{not a finite number}" if r.after_step is None else latex.num(r.after_step)
            if r.after_step is not None and r.after_step > worked.loss:
                after += r"\text{, higher: the step overshoots}"
            rows = [[r"\text{the loss, before and after the step}",
                     rf"{loss} = {latex.num(worked.loss)} \to {after}"]]
        for layer in reversed(self.layers):
            grads = [(p, worked.gradients[p]) for p in trained if p.layer == layer.number]
            if grads and len(self.layers) > 1:
                p, g = max(grads, key=lambda item: abs(item[1]))
                what = "largest gradient" if len(grads) > 1 else "gradient"
                rows.append([rf"\text{{{what} in layer {layer_number(layer.number)}}}",
                             f"{latex.tex(sp.Derivative(d.loss, p))} = {latex.num(g)}"])
        if worked.learning_rate is not None and trained:
            down = sum(1 for p in trained if worked.updated[p] < worked.given[p])
            up = sum(1 for p in trained if worked.updated[p] > worked.given[p])
            total = len(trained)
            rows.append([r"\text{parameters the step lowers, raises}", rf"{down}, {up} \text{{ (of {total})}}"])
        return rows

    def forward_rules(self) -> list[tuple[str, str]]:
        """The forward pass for any unit j (and sample n): the weighted sum of every layer,
        then each layer's activation; rows ``left & right``."""
        n = ",n" if self.batch else ""
        rows = [(self.q("z", "l", "j" + n),
                 rf"= \sum_{{k}} {self.q('W', 'l', 'jk')} {self.q('a', 'l-1', 'k' + n)} + {self.q('b', 'l', 'j')}")]
        for layer in self.layers:
            first = next(d for d in self.graph.definitions if d.role is Role.ACTIVATION
                         and self.layer_of(d.symbol) == layer and d.symbol.index[0] == 1)
            left = str(latex.tex(_generic_index(first.symbol)))
            if layer.activation == "softmax":
                right = rf"= \operatorname{{softmax}}_{{j}}({self.q('z', layer.number, 'n' if self.batch else '')})"
            else:
                right = f"= {latex.tex(_generic_index(first.expr))}"
            rows.append((left, right))
        return rows

    # displays written out

    @staticmethod
    def written(rows: list[tuple[str, str]]) -> latex.Display:
        """Display math of rows ``left & right`` written out: general statements, not
        equations at the values (not recorded)."""
        return latex.Display(tuple((str(left), str(right)) for left, right in rows))

    @staticmethod
    def boxed(index: list[tuple[str, str, str]], matrix: list[tuple[str, str, str]]) -> latex.Display:
        """The equations (rows of label, left, right) framed in one display: each label,
        then the index form and, beside it, the matrix form."""
        if index and matrix and [r[0] for r in index] == [r[0] for r in matrix]:
            rows = [rf"{_label(label)} & \quad {left} {right} & & \qquad {mleft} {mright}"
                    for (label, left, right), (_, mleft, mright) in zip(index, matrix)]
        else:
            rows = [rf"{_label(label)} & \quad {left} {right}" for label, left, right in index + matrix]
        body = r" \\ ".join(rows)
        return latex.Display(((r"\boxed{\begin{aligned} " + body + r" \end{aligned}}", ""),))

    # notation

    @staticmethod
    def q(name: str, layer: Any = None, index: str = "") -> str:
        return quantity(name, layer, index)

    @staticmethod
    def notation_letter(name: str) -> str:
        return quantity(name)


def cell(sides: list[Any]) -> str:
    """``sides`` joined by ``=`` for a table's cell (recorded, so it is checked)."""
    return latex.inline_equation(*sides)


def record(sides: list[Any]) -> None:
    """Record ``sides`` as an equation the document shows in part (a row shows its
    numbers), for a check of the document (``latex.recording``); outside one, nothing."""
    if latex.is_recording():
        latex.inline_equation(*sides)


def _kept(index: int, count: int) -> bool:
    """Whether a table shows entry ``index`` (from 1) of ``count``."""
    return count <= TABLE_UNITS or index <= TABLE_HEAD or index == count


def _label(label: str) -> str:
    return rf"\text{{({label})}}" if label else ""


def _generic_index(expr: sp.Basic) -> sp.Basic:
    """``expr`` for any unit j (and sample n): each quantity of one unit renamed."""
    renamed = {v: Var(f"{v.name}~j", v.base, v.layer, ("j",), "n" if v.sample else None)
               for v in sp.sympify(expr).atoms(Var) if len(v.index) == 1}
    with sp.evaluate(False):
        return expr.xreplace(renamed)


def _generic_layer(expr: sp.Basic, layer: int) -> sp.Basic:
    """``expr`` of symgrad's layer ``layer`` for any layer l: its quantities renamed."""
    renamed = {v: Var(f"{v.name}~l", v.base, "l", v.index, v.sample)
               for v in sp.sympify(expr).atoms(Var) if v.layer == layer}
    with sp.evaluate(False):
        return expr.xreplace(renamed)


def _same_unit(a: Var, z: Var) -> bool:
    return a.index == z.index and getattr(a, "sample", None) == getattr(z, "sample", None)
