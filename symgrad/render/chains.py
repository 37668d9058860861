"""The chain rule as the documents show it: the local derivatives and adjoints each
gradient uses, and its sums of products in symbols, results and numbers."""

from __future__ import annotations

from typing import Any, Sequence

import sympy as sp

from . import latex
from .steps import factor_symbol
from ..calculus.backward import Adjoint, Factor, Gradient, Term
from ..calculus.derivation import Derivation
from ..calculus.backward import Path as GraphPath
from ..calculus.together import cancelling_guides


def factors_of(gradient: Gradient) -> list[Factor]:
    """The distinct local derivatives on the gradient's paths, in the order met."""
    return list(dict.fromkeys(f for p in gradient.paths for f in p.factors))


def document_factors(derivation: Derivation) -> list[Factor]:
    """Every local derivative the document derives, each once, in document order."""
    return list(dict.fromkeys(f for g in derivation.gradients for f in factors_of(g)))


def earlier_factors(derivation: Derivation, gradient: Gradient) -> list[Factor]:
    """The local derivatives already derived for the gradients before ``gradient``."""
    before = derivation.gradients[:derivation.gradients.index(gradient)]
    return [f for g in before for f in factors_of(g)]


def adjoints_of(derivation: Derivation, gradient: Gradient) -> list[Adjoint]:
    """The adjoints the gradient uses (quantities on its paths), in backward order."""
    nodes = {n for p in gradient.paths for n in p.nodes[1:-1]}
    return [a for a in derivation.adjoints if a.node in nodes]


def earlier_adjoints(derivation: Derivation, gradient: Gradient) -> list[Adjoint]:
    """The adjoints already derived for the gradients before ``gradient``."""
    before = derivation.gradients[:derivation.gradients.index(gradient)]
    return [a for g in before for a in adjoints_of(derivation, g)]


def _reference(derivation: Derivation, consumer: sp.Symbol) -> sp.Expr | None:
    adjoint = derivation.backward.adjoints.get(consumer)
    return None if adjoint is None else adjoint.reference


def terms_symbols(derivation: Derivation, terms: Sequence[Term]) -> latex.Math:
    """Sum over consumers c of dL/dc * dc/dv in Leibniz notation (dL/dc by its name,
    such as delta, when it has one)."""
    parts = []
    for t in terms:
        adjoint = derivation.backward.adjoints.get(t.consumer)
        local = factor_symbol(derivation, t.factor)
        if adjoint is None:
            parts.append(local)
        else:
            outer = adjoint.name if adjoint.named else sp.Derivative(derivation.loss, t.consumer)
            parts.append(latex.join_math([outer, local], r"\cdot"))
    return latex.join_math(parts, "+")


def terms_results(derivation: Derivation, terms: Sequence[Term]) -> latex.Math:
    """Sum over consumers c of (dL/dc by name or value) * (dc/dv as derived)."""
    parts = []
    for t in terms:
        reference = _reference(derivation, t.consumer)
        parts.append(latex.join_math([t.factor.result] if reference is None
                                     else [reference, t.factor.result], r"\cdot"))
    return latex.join_math(parts, "+")


def terms_numbers(derivation: Derivation, terms: Sequence[Term]) -> latex.Math:
    """The worked numbers of ``terms_results``."""
    worked = derivation.worked
    parts = []
    for t in terms:
        numbers = [worked.factors[(t.factor.of, t.factor.wrt)]]
        if t.consumer in worked.adjoints:
            numbers.insert(0, worked.adjoints[t.consumer])
        parts.append(_numbers_product(numbers))
    return latex.join_math(parts, "+")


def _numbers_product(numbers: Sequence[Any]) -> latex.Math:
    texts = [latex.num(n) for n in numbers]
    if len(texts) == 1:
        return latex.Math.atom(texts[0])
    return latex.Math(tuple(latex.Piece(r"\cdot" if i else "", latex.number_factor(t))
                            for i, t in enumerate(texts)))


def chain_symbols(derivation: Derivation, gradient: Gradient) -> latex.Math:
    """The chain rule in Leibniz notation: a product of factors per path, summed."""
    return latex.join_math([latex.join_math([factor_symbol(derivation, f) for f in p.factors], r"\cdot")
                            for p in gradient.paths], "+")


def chain_results(gradient: Gradient) -> latex.Math:
    """The chain rule with each factor replaced by its derived result."""
    return latex.join_math([latex.join_math([f.result for f in p.factors], r"\cdot")
                            for p in gradient.paths], "+")


def together_sides(gradient: Gradient) -> list[latex.Math]:
    """The forms from the chain-rule product to the simplified gradient (``Gradient.together``),
    each sum of cancelled terms in the order of the bracket it comes from."""
    guides = cancelling_guides(gradient.product) if gradient.together else {}
    return [latex.tex(f, guides=guides) for f in gradient.together]


def simplification_sides(adjoint: Adjoint) -> list[latex.Math]:
    """The forms of an adjoint's simplification to its textbook form, each sum of cancelled
    terms in the order of the bracket it comes from."""
    step = adjoint.simplification
    if step is None:
        return []
    guides = cancelling_guides(step.expr)
    return [latex.tex(f, guides=guides) for f in step.forms]


def chain_numbers(derivation: Derivation, gradient: Gradient) -> latex.Math:
    """The chain rule with each factor replaced by its worked value."""
    worked = derivation.worked
    return latex.join_math([_numbers_product([worked.factors[(f.of, f.wrt)] for f in p.factors])
                            for p in gradient.paths], "+")


def path_tex(path: GraphPath) -> str:
    """A path from L down to a parameter: ``L \\leftarrow \\hat{y} \\leftarrow z``."""
    return r" \leftarrow ".join(str(latex.tex(n)) for n in path.nodes)
