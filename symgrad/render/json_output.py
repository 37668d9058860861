"""A ``Derivation`` as plain JSON data: title, loss, gradients, the symbolic gradients,
one step per local derivative and the verification."""

from __future__ import annotations

from typing import Any

import sympy as sp

from . import latex
from .chains import document_factors
from .environment import environment
from .steps import explained_steps, factor_sides, step_children, step_maths
from ..calculus.backward import Factor
from ..calculus.derivation import Derivation
from ..calculus.rules import Step
from ..calculus.derivation import Verification
from ..calculus.written import term_guides
from ..model.values import arrange
from ..numeric.kinks import Kinks, kinks


def to_json(derivation: Derivation) -> dict[str, Any]:
    """The derivation as plain data: title, loss, gradients (shaped like the parameters;
    numbers when worked, else LaTeX), ``updated`` (with a learning rate), the symbolic
    gradients as LaTeX, and one step per local derivative; with an unspecified function,
    ``unspecified`` lists them (f, whose derivative the LaTeX writes f')."""
    d, worked = derivation, derivation.worked
    if worked is None:
        grads = {g.parameter: str(latex.tex(g.intermediate)) for g in d.gradients}
    else:
        grads = {p: float(v) for p, v in worked.gradients.items()}
    out: dict[str, Any] = {
        "title": d.title,
        "loss": None if worked is None else float(worked.loss),
        "gradients": arrange(d.graph, d.parameters, grads),
    }
    if worked is not None and worked.learning_rate is not None:
        out["updated"] = arrange(d.graph, d.trained, {p: float(v) for p, v in worked.updated.items()})
    hit = kinks(d)
    if hit is not None:
        out["kinks"] = _json_kinks(d, hit)
    if d.graph.unspecified:
        out["unspecified"] = d.graph.unspecified
    out["symbolic"] = {g.parameter.name: str(latex.tex(g.intermediate)) for g in d.gradients}
    out["steps"] = [_json_factor(d, f) for f in document_factors(d)]
    out["verification"] = _json_verification(d.verification)
    return out


def _json_kinks(derivation: Derivation, hit: Kinks) -> dict[str, Any]:
    """The kinks the worked values hit exactly: each with the derivative symgrad takes there
    and its sides' difference in float64; the float64 gradients (as the compiled code gives
    them) and the parameters whose float64 gradient differs from the exact one."""
    return {
        "at": [{"function": k.function, "equation": latex.inline_equation(*k.sides),
                "derivative": float(k.slope), "exact_difference": float(k.exact),
                "float64_difference": float(k.computed)}
               for k in hit.kinks],
        "float64_gradients": arrange(derivation.graph, derivation.parameters, hit.gradients),
        "float64_differs": [p.name for p in hit.differing],
    }


def _json_factor(derivation: Derivation, factor: Factor) -> dict[str, Any]:
    rules = environment(()).get_template("common/rules.j2").module
    explanation = " ".join(str(rules.explain(s)) for s in explained_steps(factor.step))
    return {
        "rule": factor.step.rule.label,
        "equation": latex.inline_equation(*factor_sides(derivation, factor)),
        "explanation": " ".join(explanation.split()),
        "substeps": [_json_step(s, term_guides(factor.step))
                     for s, _ in step_children(factor.step, expansions=False)],
    }


def _json_step(step: Step, guides: dict[sp.Basic, sp.Basic] | None = None) -> dict[str, Any]:
    """A step as plain data: its rule, its equation as LaTeX, and its sub-steps (the
    simplification last, as in the documents at full detail); ``guides`` those of the
    factor's whole tree (``term_guides``)."""
    guides = term_guides(step) if guides is None else guides
    return {
        "rule": step.rule.label,
        "equation": latex.inline_equation(*step_maths(step, guides=guides)),
        "substeps": [_json_step(s, guides) for s, _ in step_children(step, expansions=False)],
    }


def _json_verification(v: Verification | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {"equations": v.equations, "references": v.references, "points": v.points,
            "undefined": v.undefined, "passed": v.passed}
