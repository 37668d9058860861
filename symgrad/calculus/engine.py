"""The chain-rule engine's pipeline, ``derive``: graph, parameters, backward pass,
gradients, numbers, and on request the check of every step.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any, Mapping, Sequence

import sympy as sp

from ..errors import DerivationError, SymgradWarning, ValuesError, quoted
from ..model.functions import numbers_refused, read_functions
from ..model.graph import Graph, Model, Role, from_expression
from ..model.limits import Limits, check_expression, check_graph, read_limits
from ..model.values import read_rate, read_values
from .backprop import backpropagate, gradient
from .backward import Backward
from .derivation import Derivation
from .verify import verify as verify_derivation
from .written import with_results
from .worked import evaluate


def derive(loss: Graph | str | sp.Expr, wrt: str | Sequence[str] | None = None, *,
           at: Mapping[str, Any] | None = None, learning_rate: Any = None,
           title: str | None = None, verify: bool = False, functions: Any = None,
           limits: Limits | None = None) -> Derivation:
    """Derive dL/dp for each parameter p named by ``wrt`` (default: all), step by step.

    ``loss`` is a graph (``with_loss(network(...), "mse")``), an expression string such
    as ``"1/2*(yhat - y)**2"``, or a SymPy expression. With ``at`` (values by name) the
    derivation becomes a worked example; with ``learning_rate`` it ends with the update.
    With ``verify`` every step of every local derivative is checked (``symgrad.verify``)
    and the outcome kept in ``Derivation.verification``; a step that fails raises
    ``DerivationError``. A learning rate that is not positive raises ``SpecError``; a
    cross-entropy loss on outputs that are not probabilities issues a ``SymgradWarning``
    (and raises ``ValuesError`` if the values put its log out of its domain).

    ``functions`` names the unspecified functions of an expression besides ``f`` (``["g"]``),
    or maps each to the activation it stands for (``{"f": "sigmoid"}``): left unspecified,
    a function's derivative is written f' and the loss has no numbers (``at`` raises
    ``ValuesError``); given one, the derivation is that activation's.

    ``limits`` (a ``symgrad.Limits``) raises or lowers the limits of work: a loss with more
    parameters or nodes than they allow raises ``LimitError`` before anything is derived.
    """
    limits = read_limits(limits)
    _check_options(title, verify)
    declared, choices = read_functions(functions)
    graph = as_graph(loss, declared)
    check_graph(graph, limits)
    if choices:
        graph = graph.specified(choices)
    if at is not None and graph.unspecified:
        raise ValuesError(numbers_refused(graph.unspecified[0]))
    parameters = graph.resolve(wrt)
    backward = backpropagate(graph, parameters)
    defined(backward)
    if graph.written.orders:  # sums derived from the author's keep their order
        steps = [f.step for f in backward.factors.values()]
        graph = replace(graph, written=with_results(graph.written, steps))
    gradients = tuple(gradient(backward, p) for p in parameters)
    rate = None if learning_rate is None else read_rate(learning_rate)
    if rate is not None and at is None:
        raise ValuesError("learning_rate needs values in at for the update step")
    caution = probability_caution(graph)
    if caution is not None:
        warnings.warn(caution, SymgradWarning, stacklevel=2)
    worked = None if at is None else _worked(backward, gradients, _values(graph, backward, at),
                                             rate, caution)
    derivation = Derivation(title or default_title(graph, parameters), graph, parameters,
                            backward, gradients, worked)
    return checked(derivation) if verify else derivation


UNDEFINED = (sp.zoo, sp.nan, sp.oo, -sp.oo)
"""What no derivative may hold: complex infinity (``log(0)`` is ``zoo``), NaN, infinities."""


def defined(backward: Backward) -> None:
    """DerivationError if a local derivative is undefined everywhere (d/dw 0**w holds
    log(0), complex infinity): nothing could compute, check or write it."""
    for factor in backward.factors.values():
        if factor.result.has(*UNDEFINED):
            raise DerivationError(f"d{factor.of}/d{factor.wrt} of {quoted(str(factor.expr))} is "
                                  f"undefined everywhere (it holds {factor.result.atoms(*UNDEFINED).pop()}, "
                                  f"as log(0) does)")


def _check_options(title: Any, verify: Any) -> None:
    if title is not None and not isinstance(title, str):
        raise DerivationError(f"title must be a string, got {quoted(title)}")
    if not isinstance(verify, bool):
        raise DerivationError(f"verify must be True or False, got {quoted(verify)}")


def checked(derivation: Derivation) -> Derivation:
    """The derivation with its verification, after checking every step."""
    verification = verify_derivation(derivation)
    if not verification.passed:
        raise DerivationError(f"verification failed: {verification.failures[0]}")
    return replace(derivation, verification=verification)


def _worked(backward: Backward, gradients: tuple, values: tuple[dict, dict], rate: Any,
            caution: str | None):
    """The worked numbers; where the loss is undefined on outputs that are not
    probabilities, the error says why."""
    try:
        return evaluate(backward, gradients, values, rate)
    except ValuesError as error:
        if caution is None:
            raise
        raise ValuesError(f"{error.message}; {caution}") from None


def _values(graph: Graph, backward: Backward, at: Mapping[str, Any]) -> tuple[dict, dict]:
    """The given values, checked against what the derivation assumes of them."""
    values = read_values(graph, at)
    if graph.loss_name == "binary_cross_entropy":
        targets = [s for g in graph.groups if g.role == "target" for s in g.symbols]
        for target in targets:
            if not 0 <= values[0][target] <= 1:
                raise ValuesError(f"binary_cross_entropy needs targets between 0 and 1 (a label "
                                  f"or a probability); {target} = {float(values[0][target]):g}")
    given = {a.given for a in backward.adjoints.values() if a.given is not None}
    for equation in sorted(given, key=str):
        total = equation.lhs.xreplace(values[0])
        if abs(total - equation.rhs) > sp.Rational(1, 10**12):
            raise ValuesError(f"{graph.loss_name} needs targets y that sum to 1 (one-hot or "
                              f"probabilities) for each sample; {equation.lhs} = {float(total):g}")
    return values


def as_graph(loss: Graph | Model | str | sp.Expr, functions: Sequence[str] = ()) -> Graph:
    """The graph of a loss given as a graph, an expression string or a SymPy expression
    (with ``functions`` the names of its unspecified functions besides f)."""
    if isinstance(loss, Graph):
        return loss
    if isinstance(loss, Model):
        raise DerivationError("a model needs a loss: use with_loss(model, 'half_squared_error')")
    if isinstance(loss, sp.Expr):
        check_expression(loss)
        if loss.has(*UNDEFINED):
            raise DerivationError(f"the loss {quoted(str(loss))} is undefined: it holds zoo, "
                                  f"nan or an infinity")
    if isinstance(loss, (str, sp.Expr)):
        return from_expression(loss, functions=functions)
    raise DerivationError(f"cannot derive a {type(loss).__name__}: give a graph or an expression")


def default_title(graph: Graph, parameters: Sequence[sp.Symbol], loss: str | None = None) -> str:
    """A title naming the loss (``loss``, else its name) and the parameters, for
    derivations given none; every parameter of a network is "every weight and bias"
    rather than a list of them all."""
    loss = loss or str(graph.loss)
    names = [p.name for p in parameters]
    if graph.kind == "network":  # whole groups by what they are
        every = {s for g in graph.parameters for s in g.symbols}
        groups = [("every weight and bias", every)] if every <= set(parameters) else []
        groups += [(f"the {g.role}s {g.name}", set(g.symbols)) for g in graph.groups
                   if g.role in ("input", "target") and set(g.symbols) <= set(parameters)]
        for text, symbols in groups:
            gone = {s.name for s in symbols}
            first = next(i for i, n in enumerate(names) if n in gone)
            names = [n for n in names if n not in gone]
            names.insert(first, text)
    joined = " and ".join(names) if all(" " in n for n in names) else ", ".join(names)
    return f"Gradient of {loss} with respect to {joined}"


PROBABILITY_OUTPUTS = {"binary_cross_entropy": "sigmoid", "categorical_cross_entropy": "softmax"}
"""Each cross-entropy loss and the output activation that makes its predictions probabilities."""
UNIT_INTERVAL_OUTPUTS = {"sigmoid", "softmax"}
"""The output activations whose every output lies between 0 and 1."""


def probability_caution(graph: Graph) -> str | None:
    """One line if ``graph`` puts a cross-entropy loss on outputs whose activation is not
    the one that gives probabilities (a sigmoid for binary, a softmax for categorical
    cross-entropy); None otherwise, and for free expressions."""
    wanted = PROBABILITY_OUTPUTS.get(graph.loss_name or "")
    if wanted is None:
        return None
    loss = graph.definitions[-1].expr.free_symbols
    found = sorted({d.activation or "identity" for d in graph.definitions
                    if d.symbol in loss and d.role is Role.ACTIVATION})
    if not found or found == [wanted]:
        return None
    if set(found) <= UNIT_INTERVAL_OUTPUTS:
        if graph.loss_name == "binary_cross_entropy":
            return None  # each output lies between 0 and 1, all the loss needs
        return (f"{graph.loss_name} takes predicted probabilities that sum to 1, as a softmax's "
                f"do; outputs from {' and '.join(found)} lie between 0 and 1 but need not sum to 1")
    return (f"{graph.loss_name} takes the log of predicted probabilities, but the outputs come "
            f"from {' and '.join(found)}, not {wanted}: they need not lie between 0 and 1")
