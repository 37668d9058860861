"""A ``Derivation`` as plain JSON data: title, loss, gradients, the symbolic gradients,
one step per local derivative and the verification."""

from __future__ import annotations

from typing import Any

from . import latex
from .chains import document_factors
from .environment import environment
from .steps import explained_steps, factor_sides, step_children, step_sides
from ..calculus.backward import Factor
from ..calculus.derivation import Derivation
from ..calculus.rules import Step
from ..calculus.derivation import Verification
from ..model.values import arrange


def to_json(derivation: Derivation) -> dict[str, Any]:
    """The derivation as plain data: title, loss, gradients (shaped like the parameters;
    numbers when worked, else LaTeX), ``updated`` (with a learning rate), the symbolic
    gradients as LaTeX, and one step per local derivative."""
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
    out["symbolic"] = {g.parameter.name: str(latex.tex(g.intermediate)) for g in d.gradients}
    out["steps"] = [_json_factor(d, f) for f in document_factors(d)]
    out["verification"] = _json_verification(d.verification)
    return out


def _json_factor(derivation: Derivation, factor: Factor) -> dict[str, Any]:
    rules = environment(()).get_template("common/rules.j2").module
    explanation = " ".join(str(rules.explain(s)) for s in explained_steps(factor.step))
    return {
        "rule": factor.step.rule.label,
        "equation": latex.inline_equation(*factor_sides(derivation, factor)),
        "explanation": " ".join(explanation.split()),
        "substeps": [_json_step(s) for s, _ in step_children(factor.step, expansions=False)],
    }


def _json_step(step: Step) -> dict[str, Any]:
    """A step as plain data: its rule, its equation as LaTeX, and its sub-steps (the
    simplification last, as in the documents at full detail)."""
    return {
        "rule": step.rule.label,
        "equation": latex.inline_equation(*step_sides(step)),
        "substeps": [_json_step(s) for s, _ in step_children(step, expansions=False)],
    }


def _json_verification(v: Verification | None) -> dict[str, Any] | None:
    if v is None:
        return None
    return {"equations": v.equations, "references": v.references, "points": v.points,
            "undefined": v.undefined, "passed": v.passed}
