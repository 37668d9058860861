"""A ``Derivation`` as plain JSON data: title, loss, gradients, the symbolic gradients,
one step per kind of local derivative and the verification.

The output is strict JSON (``json.dumps(..., allow_nan=False)`` accepts it): a number that
float64 cannot hold is written ``null``, and a ``notes`` list (present only then) has one
entry per such number: ``{"path": "gradients.W1[0][1]", "value": "2.72637e+347",
"note": "overflows float64"}``, ``path`` the keys and list indexes that lead to it and
``value`` the exact worked value to 6 significant digits as a string. A float64 result that
is not finite (the kinks' float64 gradients) is ``null`` with the note "not finite in
float64" and ``value`` "inf", "-inf" or "nan". A nonzero value too small for float64 is
written 0.0, with the note "underflows float64 to 0.0". A true zero is 0.0 with no note.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import mpmath
import sympy as sp

from . import latex
from .environment import environment
from .steps import explained_steps, factor_sides, step_children, step_maths
from ..calculus.backward import Adjoint
from ..calculus.derivation import Derivation, Verification
from ..calculus.kinds import Kind, factor_kinds
from ..calculus.rules import Step
from ..calculus.written import term_guides
from ..model.values import arrange
from ..numeric.kinks import Kinks, kinks


def to_json(derivation: Derivation) -> dict[str, Any]:
    """The derivation as plain data: title, loss, gradients (shaped like the parameters;
    numbers when worked, else LaTeX), ``updated`` (with a learning rate), the symbolic
    gradients as LaTeX (for a network in its deltas, whose own expressions ``deltas``
    gives once each), and one step per kind of local derivative, which lists the factors
    it stands for; with an unspecified function, ``unspecified`` lists them (f, whose
    derivative the LaTeX writes f'). Its size grows like the network's parameters."""
    d, worked, tex = derivation, derivation.worked, _printer()
    symbolic, deltas = _symbolic(d, tex)
    if worked is None:
        grads = {g.parameter: symbolic[g.parameter.name] for g in d.gradients}
    else:
        grads = dict(worked.gradients)
    out: dict[str, Any] = {
        "title": d.title,
        "loss": None if worked is None else worked.loss,
        "gradients": arrange(d.graph, d.parameters, grads),
    }
    if worked is not None and worked.learning_rate is not None:
        out["updated"] = arrange(d.graph, d.trained, dict(worked.updated))
    hit = kinks(d)
    if hit is not None:
        out["kinks"] = _json_kinks(d, hit)
    if d.graph.unspecified:
        out["unspecified"] = d.graph.unspecified
    out["symbolic"] = symbolic
    if deltas is not None:
        out["deltas"] = deltas
    kinds = factor_kinds(d.backward.factors_met(d.parameters))
    out["steps"] = [_json_kind(d, k) for k in kinds]
    out["verification"] = _json_verification(d.verification)
    notes: list[dict[str, str]] = []
    out = _finite(out, "", notes)
    if notes:
        out["notes"] = notes
    return out


FLOAT64_MAX = 1.7976931348623157e308


def _finite(data: Any, path: str, notes: list[dict[str, str]]) -> Any:
    """``data`` with every number a finite float (a worked number that float64 cannot
    hold ``null``, or 0.0 when it underflows), each such number noted in ``notes`` by its
    path; strings, booleans and integers as they are."""
    if isinstance(data, dict):
        return {k: _finite(v, f"{path}.{k}" if path else str(k), notes) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(v, f"{path}[{i}]", notes) for i, v in enumerate(data)]
    if isinstance(data, (bool, int, str)) or data is None:
        return data
    if isinstance(data, sp.Expr) and not data.is_Number:
        return data  # never met: symbolic values are written as LaTeX strings
    exact = sp.Float(data, 30) if isinstance(data, sp.Expr) else None
    try:
        number = float(data)
    except OverflowError:
        number = float("inf") if exact > 0 else float("-inf")
    if math.isfinite(number) and abs(number) <= FLOAT64_MAX:
        if number == 0.0 and exact is not None and not exact.is_zero:
            notes.append({"path": path, "value": _text(exact), "note": "underflows float64 to 0.0"})
        return number
    if exact is not None and exact.is_finite:
        notes.append({"path": path, "value": _text(exact), "note": "overflows float64"})
    else:
        notes.append({"path": path, "value": repr(number), "note": "not finite in float64"})
    return None


def _text(value: sp.Float) -> str:
    """An exact value beyond float64 as text, to 6 significant digits: ``2.72637e+347``;
    past 10^(+-10^9), as ``latex.num`` writes it, a power of ten whose exponent is rounded:
    ``10^(-4.40475e+303)``."""
    number = mpmath.mpf(value._mpf_)
    if not latex.text.beyond_written(number):
        return mpmath.nstr(number, 6, min_fixed=1, max_fixed=0)
    with mpmath.workdps(30):
        exponent = mpmath.nstr(mpmath.log10(abs(number)), 6, min_fixed=1, max_fixed=0)
    return f"{'-' if number < 0 else ''}10^({exponent})"


def _printer() -> Callable[[sp.Expr], str]:
    """``latex.tex`` as a string, each expression printed once (a delta's name recurs in
    every gradient that uses it)."""
    return functools.lru_cache(maxsize=None)(lambda expr: str(latex.tex(expr)))


def _symbolic(derivation: Derivation, tex: Callable[[sp.Expr], str]
              ) -> tuple[dict[str, str], dict[str, str] | None]:
    """Each gradient as LaTeX; for a network, written with the deltas (delta^(1)_j x_k),
    and each delta's own expression once (a first-layer weight of a deep network has
    exponentially many paths, so its gradient in forward quantities is no answer), else
    simplified in forward quantities (``Gradient.intermediate``)."""
    if derivation.graph.kind != "network":
        return {g.parameter.name: tex(g.intermediate) for g in derivation.gradients}, None
    deltas = {tex(a.name): str(_chain(derivation, a)) for a in derivation.adjoints if a.named}
    return {g.parameter.name: tex(g.result) for g in derivation.gradients}, deltas


def _chain(derivation: Derivation, adjoint: Adjoint) -> latex.Math:
    """An adjoint's value as its chain-rule sum over the consumers in their order, each
    dL/dc by its name or, inlined, written the same way (a wide layer's sum of W delta
    terms printed as it stands, not sorted term by term); a textbook form as it is."""
    if adjoint.simplification is not None:
        return latex.tex(adjoint.value)
    parts = []
    for t in adjoint.terms:
        outer = derivation.backward.adjoints.get(t.consumer)
        if outer is None:
            parts.append(latex.tex(t.factor.result))
        else:
            reference = latex.tex(outer.name) if outer.named else _chain(derivation, outer)
            parts.append(latex.join_math([_first_factor(reference), t.factor.result], r"\cdot"))
    return latex.join_math(parts, "+")


def _first_factor(math: latex.Math) -> latex.Math:
    """``math`` as a product's first factor: a sum in brackets (``join_math`` brackets the
    sums after the first only)."""
    if isinstance(math.expr, sp.Add) or any(p.op in ("+", "-") for p in math.pieces[1:]):
        return latex.Math((latex.Piece("", math, paren=True),), math.expr)
    return math


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


def _json_kind(derivation: Derivation, kind: Kind) -> dict[str, Any]:
    """A kind of local derivative: its first factor derived step by step, and every
    factor it stands for (``factors``, as [quantity, variable] names), the same
    derivative up to the names of their symbols."""
    factor = kind.representative
    explanation = " ".join(str(_rules().explain(s)) for s in explained_steps(factor.step))
    return {
        "rule": factor.step.rule.label,
        "equation": latex.inline_equation(*factor_sides(derivation, factor)),
        "explanation": " ".join(explanation.split()),
        "substeps": [_json_step(s, term_guides(factor.step))
                     for s, _ in step_children(factor.step, expansions=False)],
        "factors": [[f.of.name, f.wrt.name] for f in kind.factors],
    }


@functools.lru_cache(maxsize=1)
def _rules() -> Any:
    """The rules' explanations (``common/rules.j2``), loaded once."""
    return environment(()).get_template("common/rules.j2").module


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
            "undefined": v.undefined, "kinds": v.kinds, "numbers": v.numbers,
            "passed": v.passed}
