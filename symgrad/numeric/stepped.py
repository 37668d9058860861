"""The loss after the gradient-descent step of a worked derivation: the forward pass again
at the updated values, worked as the derivation's own numbers are (``worked.loss_at``), for
the reading's sentence on whether the step lowered the loss.
"""

from __future__ import annotations

import sympy as sp

from ..calculus.derivation import Derivation
from ..calculus.worked import loss_at
from ..errors import ValuesError


def loss_after_step(derivation: Derivation) -> sp.Expr | None:
    """The loss at the updated values (to PRECISION digits), with a learning rate; None
    without one, or where the loss is not a finite number after the step."""
    worked = derivation.worked
    if worked is None or worked.learning_rate is None:
        return None
    try:
        return loss_at(derivation.graph.definitions, {**worked.given, **worked.updated})
    except ValuesError:
        return None
