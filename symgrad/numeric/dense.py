"""A dense network's loss and gradients as straight-line Python over whole matrices: the
matrix view (``symgrad.calculus.matrix``) written as one would write it by hand.

Columns are samples. One line per layer forward, ``A2 = _sigmoid(W2 @ A1 + b2[:, None])``
(after ``Z2 = W2 @ A1 + b2[:, None]`` where f'(z) reads it); the loss and the output delta,
from one unit's derivation, with their common subexpressions shared (``sympy.cse``); then
per layer backward its gradients (``dW2 = Delta2 @ A1.T``, ``db2 = Delta2.sum(axis=1)``) and
the delta before it, ``Delta1 = W2.T @ Delta2``, ``Delta1 *= A1 * (1 - A1)``, the derivative written from the
forward values where the rules give it so. Nothing is computed twice and nothing is looped
over. At thousands of columns new arrays cost more than the arithmetic, so a fresh product is
updated in place and an array read once is not kept.

The loss is summed over the columns, or averaged for a network with a batch (whose loss is
the mean over its samples). ``per_sample`` writes instead each column's loss and gradients,
with the sample as the last dimension (``dW2[j, k, n]``), as ``Compiled.__call__`` returns
a batch.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import sympy as sp

from ..calculus.matrix import A_SCALAR, Z_SCALAR, Layer, MatrixForm
from ..model.losses import get_loss
from .stable import COLUMN_LOGSUMEXP, stable_output

Printing = Callable[[sp.Expr, Mapping[sp.Symbol, str]], str]
"""Python source of a scalar formula applied entry by entry, its symbols named as given."""


def arguments(form: MatrixForm) -> tuple[str, ...]:
    """The generated function's parameters: the data, then each layer's weights and bias."""
    return ("x", "y", *(f"{n}{layer.number}" for layer in form.layers for n in "Wb"))


def dense_source(form: MatrixForm, wanted: Sequence[str], printing: Printing,
                 per_sample: bool = False, name: str = "gradients") -> str:
    """The source of ``def name(x, y, W1, b1, ...)`` returning the loss and the gradients
    of the groups ``wanted`` (names such as ``W1``, ``b2``), in that order."""
    lines = [f"def {name}({', '.join(arguments(form))}):"]
    if form.batch:
        lines.append("    N = x.shape[1]")
    activations = _forward(form, printing, lines)
    _output(form, activations, printing, per_sample, lines)
    lowest = min(int(w[1:]) for w in wanted)
    for layer in reversed(form.layers[lowest - 1:]):
        before = activations[layer.number - 1]
        if per_sample:
            lines.append(f"    dW{layer.number} = Delta{layer.number}[:, None, :] * {before}[None, :, :]")
            lines.append(f"    db{layer.number} = Delta{layer.number}")
        else:
            lines.append(f"    dW{layer.number} = Delta{layer.number} @ {before}.T")
            lines.append(f"    db{layer.number} = Delta{layer.number}.sum(axis=1)")
        if layer.number > lowest:
            lines.append(_backward(form.layers[layer.number - 2], layer, activations, printing))
    lines.append(f"    return L, ({', '.join(f'd{w}' for w in wanted)},)")
    return "\n".join(lines) + "\n"


def _forward(form: MatrixForm, printing: Printing, lines: list[str]) -> list[str]:
    """Append each layer's weighted sum and activation; the name of each layer's activation,
    ``x`` first (an identity activation is its weighted sum, not a copy of it). A weighted
    sum read only by its activation is not named, so its array is freed at once."""
    names = ["x"]
    for layer in form.layers:
        Z = f"Z{layer.number}"
        weighted = f"W{layer.number} @ {names[-1]} + b{layer.number}[:, None]"
        if layer.slope is not None and layer.slope.expr == Z_SCALAR:  # the identity
            lines.append(f"    {Z} = {weighted}")
            names.append(Z)
            continue
        kept = _read_again(form, layer)
        if kept:
            lines.append(f"    {Z} = {weighted}")
        argument = Z if kept else weighted
        value = f"_softmax_columns({argument})" if layer.slope is None \
            else printing(layer.slope.expr, {Z_SCALAR: argument})
        A = "Yhat" if layer is form.layers[-1] else f"A{layer.number}"
        lines.append(f"    {A} = {value}")
        names.append(A)
    return names


def _read_again(form: MatrixForm, layer: Layer) -> bool:
    """Whether ``layer``'s weighted sum is read after its activation: by f'(z), or by the
    output delta."""
    if layer is not form.layers[-1]:
        return layer.slope_written[0] == Z_SCALAR
    z = next(s for s, m in form.output.unit.items() if m == layer.Z)
    return z in (form.output.outer or form.output.adjoint).value.free_symbols or \
        z in output_terms(form).free_symbols


def output_terms(form: MatrixForm) -> sp.Expr:
    """One output unit's loss in its yhat, y and z, in stable forms (``stable_output``):
    binary cross-entropy after a sigmoid from z, log-softmax as z - logsumexp."""
    last, output = form.layers[-1], form.output
    scalar = {matrix: symbol for symbol, matrix in output.unit.items()}
    z = scalar[last.Z]
    activation = None if last.slope is None else last.slope.expr.xreplace({Z_SCALAR: z})
    loss = get_loss(form.loss_name).per_output(scalar[last.A], scalar[form.Y])
    return stable_output(loss, scalar[last.A], z, activation)


def _output(form: MatrixForm, activations: list[str], printing: Printing, per_sample: bool,
            lines: list[str]) -> None:
    """Append the loss ``L`` and the output layer's delta, sharing what they have in common."""
    last, output = form.layers[-1], form.output
    scalar = {matrix: symbol for symbol, matrix in output.unit.items()}
    yhat, y = scalar[last.A], scalar[form.Y]
    names = {yhat: activations[-1], y: "y", scalar[last.Z]: f"Z{last.number}"}
    loss = get_loss(form.loss_name)
    entry = (output.outer or output.adjoint).value
    terms = output_terms(form)
    if COLUMN_LOGSUMEXP in terms.free_symbols:  # log-softmax: Z - LSE
        lines.append(f"    LSE = _logsumexp_columns(Z{last.number})")
        names[COLUMN_LOGSUMEXP] = "LSE"
    shared, (terms, delta) = sp.cse([terms, entry], symbols=sp.numbered_symbols("S", real=True))
    for symbol, expr in shared:
        lines.append(f"    {symbol} = {printing(expr, names)}")
        names[symbol] = str(symbol)
    reduced = ".sum(axis=0)" if per_sample else ".sum()"
    scale = (f" / {last.Z.shape[0]}" if loss.mean else "") + (" / N" if form.batch else "")
    lines.append(f"    L = ({printing(terms, names)}){reduced}{scale}")
    D, text = f"Delta{last.number}", printing(delta, names)
    if output.outer is not None:  # a softmax couples its units: Yhat o (G - 1 1^T (Yhat o G))
        A = activations[-1]
        lines.append(f"    G = {text}")
        text = f"{A} * (G - ({A} * G).sum(axis=0, keepdims=True))"
    lines.append(f"    {D} = ({text}) / N" if form.batch else f"    {D} = {text}")


def _backward(layer: Layer, after: Layer, activations: list[str], printing: Printing) -> str:
    """Delta^(l) = ((W^(l+1))^T Delta^(l+1)) o f_l'(Z^(l)), f' of A^(l) where it can be."""
    D = f"Delta{layer.number}"
    propagated = f"    {D} = W{after.number}.T @ Delta{after.number}"
    symbol, slope = layer.slope_written
    if slope == 1:
        return propagated
    value = activations[layer.number] if symbol == A_SCALAR else f"Z{layer.number}"
    return f"{propagated}\n    {D} *= {printing(slope, {symbol: value})}"
