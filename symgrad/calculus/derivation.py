"""The derivation model: immutable data, independent of any renderer.

A ``Derivation`` holds the forward definitions and the backward pass (``backward``), one
``Gradient`` per requested parameter, given values the ``Worked`` numbers, after a check
its ``Verification``, and for a dense network its matrix view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Mapping

import sympy as sp

from ..errors import DerivationError
from ..model.graph import Definition, Graph
from .backward import Adjoint, Backward, Factor, Gradient
from .matrix import MatrixForm, matrix_form

DISPLAYS: dict[str, Callable[["Derivation"], str]] = {}
"""How a derivation shows itself in Jupyter, by kind (``markdown``): filled in by the
render package when it is imported, so that this data model never imports a renderer."""


@dataclass(frozen=True)
class Verification:
    """How a derivation's checks went: counts, and one line per failure.

    ``equations`` counts the step equations and ``references`` the results checked against
    ``sympy.diff``, as if every local derivative were checked: each kind of local
    derivative is checked once (``kinds`` of them) and counts for every factor it stands
    for. ``points`` is the random points per equation, ``undefined`` the equations (and
    central differences) defined at none of them, ``numbers`` the worked values compared
    with an independent float64 evaluation.
    """

    equations: int = 0
    references: int = 0
    points: int = 0
    undefined: int = 0
    failures: tuple[str, ...] = ()
    witnesses: tuple[tuple[str, sp.Expr], ...] = ()
    """Each unspecified function and the function of u that stood in for it."""
    kinds: int = 0
    numbers: int = 0

    @property
    def passed(self) -> bool:
        """True when no equation failed."""
        return not self.failures

    def __add__(self, other: "Verification") -> "Verification":
        return Verification(self.equations + other.equations, self.references + other.references,
                            max(self.points, other.points), self.undefined + other.undefined,
                            self.failures + other.failures,
                            tuple(dict.fromkeys(self.witnesses + other.witnesses)),
                            self.kinds + other.kinds, self.numbers + other.numbers)



@dataclass(frozen=True)
class Worked:
    """The numbers: given values, the forward pass, every factor, adjoint and gradient."""

    given: Mapping[sp.Symbol, sp.Expr]
    literals: Mapping[sp.Symbol, str]
    forward: Mapping[sp.Symbol, sp.Float]
    factors: Mapping[tuple[sp.Symbol, sp.Symbol], sp.Float]
    adjoints: Mapping[sp.Symbol, sp.Float]
    gradients: Mapping[sp.Symbol, sp.Float]
    learning_rate: sp.Expr | None = None
    updated: Mapping[sp.Symbol, sp.Float] = field(default_factory=dict)
    """With a learning rate, each differentiated parameter after one step; inputs and
    targets, which are data, have a gradient but no update."""

    @property
    def loss(self) -> sp.Float:
        """The value of the loss."""
        return list(self.forward.values())[-1]


@dataclass(frozen=True)
class Derivation:
    """A complete worked derivation of dL/d(parameter) for each requested parameter."""

    title: str
    graph: Graph
    parameters: tuple[sp.Symbol, ...]
    backward: Backward
    gradients: tuple[Gradient, ...]
    worked: Worked | None = None
    verification: Verification | None = None

    @property
    def loss(self) -> sp.Symbol:
        """The loss symbol, L."""
        return self.graph.loss

    @property
    def trained(self) -> tuple[sp.Symbol, ...]:
        """The differentiated parameters that gradient descent updates: ``parameters``
        without the inputs and targets (data, whose gradient is a saliency)."""
        return tuple(p for p in self.parameters if self.graph.is_parameter(p))

    @property
    def definitions(self) -> tuple[Definition, ...]:
        """The forward definitions, ending with the loss."""
        return self.graph.definitions

    @property
    def adjoints(self) -> tuple[Adjoint, ...]:
        """The adjoints in the order they are derived (from the loss backwards)."""
        return tuple(self.backward.adjoints.values())

    @property
    def factors(self) -> tuple[Factor, ...]:
        """Every local derivative used, each once."""
        return tuple(self.backward.factors.values())

    def gradient(self, parameter: sp.Symbol | str) -> Gradient:
        """The gradient for ``parameter`` (a symbol or its name)."""
        for g in self.gradients:
            if g.parameter == parameter or g.parameter.name == parameter:
                return g
        raise KeyError(parameter)

    @property
    def matrix(self) -> MatrixForm:
        """The matrix view of a dense network's derivation (``symgrad.calculus.matrix``),
        derived when first asked for; DerivationError when the loss has none."""
        form = self._matrix
        if isinstance(form, DerivationError):
            raise DerivationError(str(form))
        return form

    @property
    def has_matrix_view(self) -> bool:
        """True for a dense network whose matrix view exists."""
        return not isinstance(self._matrix, DerivationError)

    @cached_property
    def _matrix(self) -> MatrixForm | DerivationError:
        try:
            return matrix_form(self.graph)
        except DerivationError as error:
            return error

    def _repr_markdown_(self) -> str | None:
        """The Markdown document, so that a notebook shows the derivation itself (Jupyter's
        rich display, with its math rendered): written by the display that the render
        package registers (``DISPLAYS``), None without one."""
        show = DISPLAYS.get("markdown")
        return None if show is None else show(self)
