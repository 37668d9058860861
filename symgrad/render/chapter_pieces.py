"""The pieces of a network chapter: its layers, kinds of local derivative, numbered
steps and the numbers put in place of quantities."""

from __future__ import annotations

from collections import ChainMap
from dataclasses import dataclass, replace
from typing import Any, Mapping

import sympy as sp

from . import latex
from ..calculus.backward import Adjoint, Factor, Gradient

UNITS_WRITTEN = 4
"""A layer with more units than this gets one step for all its units: the derivation is
written for its first unit and the result listed for every unit."""

ETA = sp.Symbol("eta", positive=True)
"""The learning rate, printed eta."""


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
    deltas, which earlier steps derived; of ``kind`` "input" or "target", the gradients of
    the data (``layer`` 0 for the inputs)."""

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
        """``expr`` printed with numbers; its ``expr`` is ``expr`` with the exact numbers
        while equations are recorded to be checked, else None (a wide network's tables
        would evaluate thousands of them for nobody)."""
        text, exact = self.text, self.exact
        if extra:  # the extra ones looked up first, nothing copied: a wide network's
            # values are thousands, and a table row adds two
            text = ChainMap(*(m.text for m in reversed(extra.values())), text)
            exact = ChainMap(*(m.exact for m in reversed(extra.values())), exact)
        # the exact numbers matter only to a check of the sides (``latex.recording``)
        return replace(latex.tex(expr, text),
                       expr=expr.xreplace(exact) if latex.is_recording() else None)

    def number(self, key: sp.Basic) -> latex.Math:
        """The number (or matrix of numbers) of ``key`` on its own."""
        return latex.Math.atom(self.text[key], self.exact[key])

    def __or__(self, other: "Values") -> "Values":
        return Values({**self.text, **other.text}, {**self.exact, **other.exact})
