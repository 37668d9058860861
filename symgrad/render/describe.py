"""What the documents say about the model: its activations and loss, its title, the
size of an expression, and its quantities in the document's notation."""

from __future__ import annotations

from typing import Any

import sympy as sp

from . import plain
from .notation import current
from ..calculus.derivation import Derivation
from ..calculus.engine import default_title
from ..model.functions import Activation
from ..model.graph import Graph, Role
from ..model.losses import LOSSES


def activations(derivation: Derivation) -> list[str]:
    """The names of the activations the model uses, in order of first use."""
    return list(dict.fromkeys(d.activation for d in derivation.definitions if d.activation))


def leaky_slopes(derivation: Derivation) -> list[sp.Expr]:
    """The slopes of the LeakyReLU calls in the model."""
    calls = (d.expr for d in derivation.definitions if d.activation == "leaky_relu")
    return list(dict.fromkeys(c.args[1] for c in calls if len(c.args) > 1))


def loss_formula(graph: Graph) -> sp.Expr | None:
    """The general definition of the graph's named loss, or None for a free expression."""
    if graph.loss_name not in LOSSES:
        return None
    targets = graph.group("y")
    outputs = 1 if targets is None or not targets.shape else targets.shape[0]
    return LOSSES[graph.loss_name].formula(outputs)


def loss_title(graph: Graph) -> str | None:
    """The one-line name of the graph's named loss, if any."""
    return LOSSES[graph.loss_name].title if graph.loss_name in LOSSES else None


def is_composite(derivation: Derivation) -> bool:
    """True when the loss is written with intermediate quantities (more than L = ...)."""
    return len(derivation.definitions) > 1


def has_activation(expr: sp.Expr) -> bool:
    """True when ``expr`` applies an activation (sigma, softplus, softmax, tanh, ...)."""
    return expr.has(Activation, sp.tanh)


def function_name(expr: sp.Expr) -> str:
    """The name of the function an expression applies: ``sigmoid``, ``tanh``, ``log``."""
    return type(expr).__name__


def count_ops(expr: sp.Expr) -> int:
    """SymPy's operation count, the measure of when an expression is too long to show."""
    return int(sp.count_ops(expr))


def quantity(name: str, layer: Any = None, index: str = "") -> str:
    """A quantity as the document's notation writes it (``Notation.quantity``)."""
    return current().quantity(name, layer, index)


def matrix_quantity(name: str, layer: Any = None, single: bool = False) -> str:
    """A quantity as a matrix (a column per sample) or, ``single``, one sample's vector,
    in the document's notation, with the layer superscript when ``layer`` is given."""
    return current().matrix(name, single, layer)


DEFAULT_START = "Gradient of "
"""How every title symgrad gives a derivation begins (``default_title``)."""


def title(derivation: Derivation) -> str:
    """The document's title: the derivation's, with the loss in the notation's letter when
    the title is the one symgrad gave it."""
    graph, parameters = derivation.graph, derivation.parameters
    # a title of the user's own needs no default worked out (over every parameter) to tell
    if not derivation.title.startswith(DEFAULT_START) or derivation.title != default_title(graph, parameters):
        return derivation.title
    return default_title(graph, parameters, plain.loss_name())


ROLE_NOUNS = {Role.LOSS: "the loss", Role.WEIGHTED_SUM: "the weighted sum",
              Role.ARGUMENT: "the argument", Role.ACTIVATION: "the activation"}
LEAF_NOUNS = {"input": "the input", "target": "the target", "parameter": "the parameter"}
PARAMETER_NOUNS = {"w": "the weight", "W": "the weight", "b": "the bias"}


def noun(derivation: Derivation, symbol: sp.Symbol) -> str:
    """What ``symbol`` is, in words, for a sentence that then names it: "the prediction"
    (a model's output), "the weighted sum", "the weight", "the input"; "" for a quantity
    with no name but its letter (a free expression's variable)."""
    graph = derivation.graph
    definition = graph.definition(symbol)
    if definition is not None:
        if definition.role is Role.ACTIVATION and graph.kind != "expression" \
                and getattr(symbol, "base", None) == "yhat":
            return "the prediction"
        return ROLE_NOUNS.get(definition.role, "")
    if symbol == graph.loss:
        return "the loss"
    role = graph.role_of(symbol)
    if role == "parameter":
        return PARAMETER_NOUNS.get(getattr(symbol, "base", symbol.name), "the parameter")
    return LEAF_NOUNS.get(role or "", "")


def layer_number(layer: int) -> int:
    """The number the document's notation gives symgrad's layer ``layer``."""
    return current().number(layer)
