"""Rendering a ``Derivation`` as Markdown, LaTeX (a document or a fragment) or JSON.

One Jinja environment per template search path, made by ``environment``. Render
functions hand the derivation to a template; the templates read the data model and
use the filters and helpers registered here, which only print (``symgrad.latex``) or
select parts of the model. Explanations are written in the templates.

Users override a template by passing ``template_dirs``: their folders come first on the
search path, so a file there with a default template's name replaces it. The defaults
stay reachable under the prefix ``default:``, so an override can extend the template it
replaces and change one block::

    {% extends "default:markdown/derivation.md.j2" %}
    {% block title %}# My own title{% endblock %}
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import jinja2
import markupsafe
import sympy as sp

from . import latex

from . import plain
from .chapter import VIEWS, Chapter, resolve_view  # noqa: F401 (VIEWS is part of this API)
from ..calculus.backward import Adjoint, Factor, Gradient, Term, tidy
from ..calculus.derivation import Derivation
from ..calculus.backward import Path as GraphPath
from ..calculus.engine import default_title
from ..errors import SpecError, UnknownNameError
from .flavours import FLAVOURS, inline_math
from ..model.functions import Activation
from ..model.losses import LOSSES
from ..model.graph import Graph, Group, Role
from .pictures import Pictures
from .notation import QUANTITIES, Notation, current, resolve, upper, using
from ..model.values import arrange
from ..numeric.reading import read
from ..calculus.rules import Rule, Step
from ..calculus.written import lines, written
from ..model.symbols import Var
from ..calculus.derivation import Verification

FORMATS = ("markdown", "latex", "latex-fragment", "json", "notebook", "html", "beamer")
EXTENSIONS = {"markdown": ".md", "latex": ".tex", "latex-fragment": ".tex", "json": ".json",
              "notebook": ".ipynb",
              "html": ".html", "beamer": ".tex"}
TEMPLATES = {
    "markdown": "markdown/derivation.md.j2",
    "latex": "latex/document.tex.j2",
    "latex-fragment": "latex/fragment.tex.j2",
    "html": "html/page.html.j2",
    "beamer": "beamer/fragment.tex.j2",
}
EXPANDED_MAX_OPS = 40
"""The gradient written in inputs and parameters alone is shown up to this many operations."""
PATHS_WRITTEN_MAX = 4
"""The chain rule is written out path by path up to this many paths."""
ZERO = 1e-20
"""A gradient smaller than this in magnitude reads as zero (a flat point)."""
DETAILS = ("brief", "standard", "full")
"""Levels of detail: the local derivatives' results only; each with the rules that give
it; every elementary step, down to constants, simplifications and activation definitions."""
INLINE_WIDTH = 32.0
"""At full detail, a step's equation up to this ``latex.width`` goes inline, after its
sentence; a wider one is displayed."""
STEP_INDENT, STEP_MARGIN = 3.2, 6.0
"""How much narrower (in ``latex.width`` units) a displayed step equation is per level of
nesting, and at the first level, so that it fits beside the list's indentation."""
SLIDE_WIDTH = 52.0
"""How wide a line of display math may be on a beamer slide, in ``latex.width`` units:
a 4:3 slide's text is about two thirds as wide as an article's (``latex.WIDTH``)."""
SLIDE_PROSE_WIDTH = 36.0
"""On a slide, the gradient that ends a derivation's sentence (``So ...``) goes inline up
to this ``latex.width``; a wider one is displayed. In other formats any width goes inline
(``PROSE_WIDTH`` is None): their lines are wide enough to wrap around it."""


def _template_dir() -> Path:
    installed = importlib.resources.files("symgrad") / "templates"
    if installed.is_dir():
        return Path(str(installed))
    return Path(__file__).resolve().parent.parent.parent / "templates"


TEMPLATE_DIR = _template_dir()
KATEX_DIR = Path(__file__).resolve().parent / "static" / "katex"
"""KaTeX's distribution files (its CSS, script, auto-render and fonts, with its licence):
an HTML page loads them from a folder ``katex`` beside it."""


def render(derivation: Derivation, fmt: str = "markdown", *, detail: str = "standard",
           view: str | None = None, template_dirs: Iterable[str | Path] = (),
           flavour: str = "github", pictures: Pictures | None = None,
           notation: Notation | str | None = None) -> str:
    """``derivation`` as text in format ``fmt`` (one of ``FORMATS``), at level of ``detail``
    (one of ``DETAILS``: ``brief``, ``standard`` or ``full``; JSON is the same at each).

    A dense network's derivation is written as a textbook's backpropagation chapter, in
    ``view`` (one of ``VIEWS``): ``index`` (per unit, the sums over units written out),
    ``matrix`` (vectors and matrices) or ``both``; the default is ``both`` for networks
    and ``index`` for everything else, which has no other view.

    ``template_dirs`` are searched before the default templates (see the module docs).
    Markdown's math is written for one of ``FLAVOURS`` (``flavour``: ``github``, the
    default, ``mkdocs`` or ``gitbook``). A ``notebook`` is the Markdown document in cells,
    with code cells that recompute its numbers (see ``symgrad.notebook``).
    Raises UnknownNameError for an unknown format, level of detail, view or flavour, and
    DerivationError for a matrix view of a loss that is not a dense network.

    With ``pictures`` (``symgrad.pictures.pictures(derivation, stem)``), Markdown and LaTeX
    documents show the computational graph and the tangent plot, from the files that
    ``symgrad.pictures.picture_files`` makes (LaTeX draws the graph in TikZ).

    ``notation`` is a ``symgrad.notation.Notation`` or a preset's name (``symgrad``, the
    default, ``nielsen``, ``goodfellow`` or ``ng``): the letters the document writes.
    Raises SpecError when a letter it sets is one the loss already uses for something else.
    """
    chosen = written_in(derivation.graph, notation)
    with using(chosen):
        _check_letters(derivation.graph)
        return _render(derivation, fmt, detail=detail, view=view, template_dirs=template_dirs,
                       flavour=flavour, pictures=pictures, notation=chosen)


def written_in(graph: Graph, notation: Notation | str | None) -> Notation:
    """``notation`` (a Notation, a preset's name or None) set up for ``graph``'s layers."""
    layers = [s.layer for s in _symbols(graph) if isinstance(s, Var) and isinstance(s.layer, int)]
    return resolve(notation).for_layers(max(layers) if graph.kind == "network" and layers else None)


def _check_letters(graph: Graph) -> None:
    """Refuse a notation that writes one of its quantities with a letter the loss's own
    names are already written with (the cost C of Nielsen's notation in a loss of C)."""
    own = {str(latex.tex(s)) for s in _symbols(graph) if not isinstance(s, Var)}
    used = {s.base for s in _symbols(graph) if isinstance(s, Var) and s.base in QUANTITIES}
    for quantity in sorted(used):
        letter = current().letter(quantity)
        if letter in own:
            raise SpecError(f"notation: {QUANTITIES[quantity]} would be written {letter}, "
                            f"which the loss already uses; name it differently (names.{quantity})")


def _symbols(graph: Graph) -> list[sp.Symbol]:
    """Every quantity of ``graph``: its leaves and what its definitions compute."""
    return [s for g in graph.groups for s in g.symbols] + [d.symbol for d in graph.definitions]


def _render(derivation: Derivation, fmt: str, *, detail: str, view: str | None,
            template_dirs: Iterable[str | Path], flavour: str, pictures: Pictures | None,
            notation: Notation) -> str:
    if fmt not in FORMATS:
        raise UnknownNameError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if detail not in DETAILS:
        raise UnknownNameError(f"unknown level of detail {detail!r} (known: {', '.join(DETAILS)})")
    if flavour not in FLAVOURS:
        raise UnknownNameError(f"unknown Markdown flavour {flavour!r} (known: {', '.join(FLAVOURS)})")
    view = resolve_view(derivation, view)
    if fmt == "notebook":
        from .notebook import notebook_text  # nbformat is loaded only for notebooks
        return notebook_text(derivation, render(derivation, "markdown", detail=detail, view=view,
                                                template_dirs=template_dirs, notation=notation))
    if fmt == "json":
        return json.dumps(to_json(derivation), indent=2)
    chapter = Chapter(derivation, view) if derivation.graph.kind == "network" else None
    env = environment(tuple(str(Path(d)) for d in template_dirs), flavour)
    if fmt == "html":
        env = escaping(env)
    text = env.get_template(TEMPLATES[fmt]).render(derivation=derivation, detail=detail,
                                                   chapter=chapter, pictures=pictures,
                                                   **(slide_globals() if fmt == "beamer" else {}))
    if fmt == "markdown":
        opening, closing = env.get_template("markdown/markup.j2").module.INLINE[flavour]
        text = inline_math(text, opening, closing)
    return tidy_text(text)


def displayed_equations(derivation: Derivation, fmt: str = "markdown",
                        **options: Any) -> list[latex.Shown]:
    """Every equation chain the document of ``derivation`` lays out (``render``'s
    arguments), in order, each with its sides' SymPy expressions: what a test needs to
    check that each holds at the worked values. Sides in numbers carry the exact numbers."""
    with latex.recording() as shown:
        render(derivation, fmt, **options)
    return shown


def tidy_text(text: str) -> str:
    """No trailing spaces, at most one blank line in a row, one final newline."""
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


@functools.lru_cache(maxsize=None)
def environment(template_dirs: tuple[str, ...] = (), flavour: str = "github") -> jinja2.Environment:
    """The Jinja environment for this search path: ``template_dirs``, then the defaults
    (also reachable as ``default:NAME``); Markdown's math is written for ``flavour``."""
    defaults = jinja2.FileSystemLoader(str(TEMPLATE_DIR))
    loader = jinja2.ChoiceLoader([
        jinja2.FileSystemLoader(list(template_dirs)),
        defaults,
        jinja2.PrefixLoader({"default": defaults}, delimiter=":"),
    ])
    env = jinja2.Environment(
        loader=loader, autoescape=False, keep_trailing_newline=True, trim_blocks=True,
        lstrip_blocks=True, undefined=jinja2.StrictUndefined,
        comment_start_string="{##", comment_end_string="##}", extensions=["jinja2.ext.do"],
    )
    env.filters.update(FILTERS)
    env.globals.update(GLOBALS)
    env.globals["flavour"] = flavour
    return env



@functools.lru_cache(maxsize=None)
def escaping(env: jinja2.Environment) -> jinja2.Environment:
    """``env`` with HTML autoescape on, for HTML pages: every value a template prints is
    escaped unless it is markup already (a macro's output)."""
    return env.overlay(autoescape=True)


# --- JSON -----------------------------------------------------------------------------


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
        out["updated"] = arrange(d.graph, d.parameters, {p: float(v) for p, v in worked.updated.items()})
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


# --- selecting parts of the model -----------------------------------------------------


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


def explained_steps(step: Step) -> list[Step]:
    """The steps of a derivation worth a sentence, depth first: all but the constant and
    identity steps inside a larger rule (the rule's own sentence covers those)."""
    out = [step]
    for sub in step.substeps:
        if sub.rule not in (Rule.CONSTANT, Rule.IDENTITY):
            out.extend(explained_steps(sub))
    return out


@dataclass(frozen=True)
class Outlined:
    """A step in the full-detail outline: numbered by position (``2.1`` is the first
    sub-step of the second), at a depth of nesting; ``expands`` is the activation step
    whose derivative this step works out again from the activation's definition."""

    step: Step
    label: str
    depth: int
    expands: Step | None = None


def outline(step: Step) -> list[Outlined]:
    """Every step below ``step`` in reading order: each step's sub-steps, then (for an
    activation shortcut) its derivation from the definition, then its simplification."""
    out: list[Outlined] = []
    _outline(step, "", 0, out)
    return out


def _outline(step: Step, prefix: str, depth: int, out: list[Outlined]) -> None:
    for i, (child, expands) in enumerate(step_children(step), start=1):
        out.append(Outlined(child, f"{prefix}{i}", depth, expands))
        _outline(child, f"{prefix}{i}.", depth + 1, out)


def step_children(step: Step, expansions: bool = True) -> list[tuple[Step, Step | None]]:
    """The steps a step is made of, each with the activation step it expands (or None):
    sub-steps, the derivation from the definition, and a simplification that changes
    how the result is written."""
    children: list[tuple[Step, Step | None]] = [(s, None) for s in _in_printed_order(step)]
    if expansions and step.expansion is not None:
        children.append((step.expansion, step))
    if step.simplification is not None and rewrites(step.simplification):
        children.append((step.simplification, None))
    return children


def _in_printed_order(step: Step) -> list[Step]:
    """A sum's sub-steps in the order its terms are printed (``w x + b``), others as they are."""
    if step.rule is not Rule.SUM:
        return list(step.substeps)
    order = {t: i for i, t in enumerate(latex.Printer().ordered_terms(step.expr))}
    return sorted(step.substeps, key=lambda s: order.get(s.expr, len(order)))


def rewrites(simplification: Step) -> bool:
    """True when a simplification step's forms print differently (an equal form SymPy
    merely built differently is no step for a reader)."""
    printed = {re.sub(r"\s+", "", str(latex.tex(f))) for f in step_sides(simplification)}
    return len(printed) > 1


def step_sides(step: Step) -> list[sp.Expr]:
    """A step's equation as a reader follows it: d/dx(expr), the rule's formula with the
    sub-derivatives still to take (when it has sub-steps), and the raw result; for a
    simplification, the forms it passes through. (``Step.equation`` without the middle.)"""
    if step.rule is Rule.SIMPLIFY:
        return [f for f in (step.expr, step.inner, step.result) if f is not None]
    sides: list[sp.Expr] = [sp.Derivative(step.expr, step.var, evaluate=False)]
    if step.substeps:
        sides.append(written(step, 1))
    return sides + [step.raw]


def step_equation(step: Step, depth: int = 0, names: dict[sp.Basic, str] | None = None,
                  width: float = latex.WIDTH, stack: bool = False) -> latex.Display:
    """A step's equation laid out for a list nested ``depth`` levels deep in a text
    ``width`` wide (``latex.width`` units); ``stack`` as for ``latex.equation``."""
    limit = width - (STEP_MARGIN + STEP_INDENT * depth if depth else 0)
    sides = [latex.tex(side, names=names) for side in step_sides(step)]
    return latex.equation(*sides, limit=limit, stack=stack)


def is_inline(display: latex.Display, limit: float | None = INLINE_WIDTH) -> bool:
    """True when an equation is short and flat enough to go inline, after a sentence:
    one line, no wider than ``limit`` (None: any width), no cases, no fraction inside
    a fraction."""
    text = display.lines()[0]
    flat = r"\begin" not in text and not latex.nested_fraction(text)
    return display.single and flat and (limit is None or latex.width(text) <= limit)


@dataclass(frozen=True)
class Kink:
    """Where the two pieces of a piecewise derivative meet (``at``, such as z = 0): the
    first piece's ``condition``, whether it ``holds`` there, and the derivative taken there."""

    at: sp.Expr
    condition: sp.Expr
    holds: bool
    value: sp.Expr


def kink(step: Step) -> Kink | None:
    """The kink of a two-piece derivative whose first condition is an inequality, else None."""
    pieces = step.result if isinstance(step.result, sp.Piecewise) else step.raw
    if not isinstance(pieces, sp.Piecewise) or len(pieces.args) != 2:
        return None
    (first, condition), (second, _) = pieces.args
    if getattr(condition, "rel_op", None) not in (">", "<", ">=", "<="):
        return None
    holds = condition.rel_op in (">=", "<=")
    value = first if holds else second
    if condition.lhs == step.var and not condition.rhs.has(step.var):
        value = value.subs(step.var, condition.rhs)
    return Kink(sp.Eq(condition.lhs, condition.rhs, evaluate=False), condition, holds, value)


def constant_terms(step: Step) -> list[sp.Expr]:
    """The terms of a sum step that do not contain the variable, in printed order."""
    constants = {s.expr for s in step.substeps if s.rule is Rule.CONSTANT}
    return [t for t in latex.Printer().ordered_terms(step.expr) if t in constants]


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


def sign(value: Any) -> int:
    """-1, 0 or 1: the sign of a worked number, zero when below ``ZERO`` in magnitude."""
    number = float(value)
    return 0 if abs(number) < ZERO else (1 if number > 0 else -1)


# --- formulas built from the model ----------------------------------------------------


def derivative(of: sp.Expr, wrt: sp.Symbol) -> latex.Math:
    """The unevaluated derivative d(of)/d(wrt)."""
    return latex.tex(sp.Derivative(of, wrt, evaluate=False))


def held_fixed(derivation: Derivation, factor: Factor) -> list[sp.Symbol]:
    """The quantities a local derivative of the loss holds fixed although they change with
    its variable: when L = f(a, w) and a depends on w, dL/dw differs from its local factor."""
    if factor.of != derivation.loss:
        return []
    after = _descendants(derivation, factor.wrt)
    used = derivation.graph.definition(factor.of).expr.free_symbols
    return [d.symbol for d in derivation.definitions if d.symbol in used and d.symbol in after]


def _descendants(derivation: Derivation, node: sp.Symbol) -> set[sp.Symbol]:
    consumers = derivation.backward.consumers
    found, todo = set(), list(consumers.get(node, ()))
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(consumers.get(current, ()))
    return found


def factor_symbol(derivation: Derivation, factor: Factor) -> latex.Math:
    """d(of)/d(wrt) in Leibniz notation, marked ``|_{a}`` with what it holds fixed."""
    held = held_names(derivation, factor)
    if factor.symbol in held:
        return latex.Math.atom(held[factor.symbol])
    return latex.tex(factor.symbol)


def held_names(derivation: Derivation, factor: Factor) -> dict[sp.Basic, str]:
    """How a held-fixed local derivative writes d(of)/d(wrt) and d(a)/d(wrt) (zero) for
    each quantity a it holds fixed."""
    held = held_fixed(derivation, factor)
    if not held:
        return {}
    fixed = ", ".join(str(latex.tex(h)) for h in held)
    return {d: rf"\left.{latex.tex(d)}\right|_{{{fixed}}}"
            for d in [factor.symbol] + [sp.Derivative(h, factor.wrt) for h in held]}


def factor_sides(derivation: Derivation, factor: Factor) -> list[latex.Math]:
    """d(of)/d(wrt), each written form of its derivation, and the simplified result."""
    names = held_names(derivation, factor)
    written_forms = [latex.tex(line, names=names) for line in lines(factor.step)]
    return [factor_symbol(derivation, factor), *written_forms, latex.tex(factor.result)]


def factor_chain(derivation: Derivation, factor: Factor, limit: float = latex.WIDTH,
                 stack: bool = False) -> latex.Display:
    """The derivation of a local derivative as one chain of equalities, laid out as
    ``latex.equation`` does."""
    return latex.equation(*factor_sides(derivation, factor), limit=limit, stack=stack)


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


def chain_numbers(derivation: Derivation, gradient: Gradient) -> latex.Math:
    """The chain rule with each factor replaced by its worked value."""
    worked = derivation.worked
    return latex.join_math([_numbers_product([worked.factors[(f.of, f.wrt)] for f in p.factors])
                            for p in gradient.paths], "+")


def path_tex(path: GraphPath) -> str:
    """A path from L down to a parameter: ``L \\leftarrow \\hat{y} \\leftarrow z``."""
    return r" \leftarrow ".join(str(latex.tex(n)) for n in path.nodes)


# --- the worked numbers ---------------------------------------------------------------


def given_values(derivation: Derivation) -> dict[sp.Basic, str]:
    """Each given quantity as the user wrote it."""
    return {s: latex.literal_tex(text) for s, text in derivation.worked.literals.items()}


def forward_values(derivation: Derivation) -> dict[sp.Basic, str]:
    """Given quantities as written and computed ones rounded: for the forward pass."""
    values = given_values(derivation)
    values.update({s: latex.num(v) for s, v in derivation.worked.forward.items()})
    return values


def backward_values(derivation: Derivation) -> dict[sp.Basic, str]:
    """The forward values, plus each activation call (sigma(z) is yhat's value) and each
    named adjoint, so derivatives evaluate in the numbers already computed."""
    worked = derivation.worked
    values = forward_values(derivation)
    for d in derivation.definitions:
        if d.role is Role.ACTIVATION and isinstance(d.expr, sp.Function):
            values[d.expr] = latex.num(worked.forward[d.symbol])
    for a in derivation.adjoints:
        if a.named:
            values[a.name] = latex.num(worked.adjoints[a.node])
    return values


def subs(expr: sp.Expr, values: dict[sp.Basic, str]) -> latex.Math:
    """``expr`` with numbers in place of quantities, keeping its shape."""
    return latex.tex(expr, values)


def group_tex(group: Group) -> str:
    """The name of a whole vector or matrix: W^{(1)} for the group W1, x for x."""
    first = group.symbols[0]
    if group.shape and hasattr(first, "base"):
        return str(latex.tex(type(first)(group.name, first.base, first.layer)))
    return str(latex.tex(first))


def group_value(derivation: Derivation, group: Group) -> str:
    """A given group's values as written: a number, a column vector or a matrix."""
    literals = [latex.literal_tex(derivation.worked.literals[s]) for s in group.symbols]
    if not group.shape:
        return literals[0]
    columns = group.shape[1] if len(group.shape) > 1 else 1
    rows = [" & ".join(literals[i:i + columns]) for i in range(0, len(literals), columns)]
    return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"


def given_groups(derivation: Derivation) -> list[Group]:
    """The groups with given values, in the model's order (inputs, parameters, targets)."""
    literals = derivation.worked.literals
    return [g for g in derivation.graph.groups if all(s in literals for s in g.symbols)]


def given_display(derivation: Derivation, limit: float = latex.WIDTH) -> latex.Display:
    """The given values, ``name = value`` for each group, packed into rows no wider than
    ``limit`` (a batch's inputs and targets as the matrices X and Y)."""
    batch = derivation.graph.batch
    items = [f"{upper(group_tex(g)) if batch and g.name in ('x', 'y') else group_tex(g)} = "
             f"{group_value(derivation, g)}" for g in given_groups(derivation)]
    rows: list[str] = []
    for item in items:
        if rows and latex.width(rows[-1] + item) + 4 <= limit:
            rows[-1] += r", \qquad " + item
        else:
            rows.append(item)
    return latex.Display(tuple(("", row) for row in rows))


def worked_factors(derivation: Derivation) -> list[Factor]:
    """The local derivatives to evaluate on their own: all of them, unless every gradient
    is a single local derivative (then evaluating the gradients says it all)."""
    if all(len(p.factors) == 1 for g in derivation.gradients for p in g.paths):
        return []
    return document_factors(derivation)


def update_chain(derivation: Derivation, parameter: sp.Symbol) -> list[Any]:
    """p, p - eta dL/dp, the same in numbers, and the updated value (for ``rel=\\leftarrow``)."""
    worked = derivation.worked
    name = str(latex.tex(parameter))
    symbolic = rf"{name} - \eta {derivative(derivation.loss, parameter)}"
    given = latex.literal_tex(worked.literals[parameter])
    gradient = latex.number_factor(latex.num(worked.gradients[parameter]))
    numbers = rf"{given} - {latex.num(worked.learning_rate)} \cdot {gradient}"
    return [name, symbolic, numbers, latex.num(worked.updated[parameter])]



BLOCK_SEPARATOR = re.compile(r"\n[ \t]*\n")
EMPTY_FRAME = re.compile(r"\\begin\{frame\}\[allowframebreaks\]\{[^\n]*\}\s*\\end\{frame\}\s*")


def paragraphs(html: str) -> markupsafe.Markup:
    """HTML whose blocks are set apart by blank lines, with every block that is not an
    element (a run of text) made a paragraph."""
    blocks = [b.strip() for b in BLOCK_SEPARATOR.split(str(html)) if b.strip()]
    return markupsafe.Markup("\n\n".join(b if b.startswith("<") else f"<p>{b}</p>" for b in blocks))


def slide_globals() -> dict[str, Any]:
    """The template globals that lay out display math, narrowed to ``SLIDE_WIDTH`` for
    beamer frames, and the width of a formula in prose (``SLIDE_PROSE_WIDTH``); passed
    to the template, they override the defaults."""
    return {"equation": functools.partial(latex.equation, limit=SLIDE_WIDTH, stack=True),
            "equations": functools.partial(latex.equations, limit=SLIDE_WIDTH, stack=True),
            "step_equation": functools.partial(step_equation, width=SLIDE_WIDTH, stack=True),
            "factor_chain": functools.partial(factor_chain, limit=SLIDE_WIDTH, stack=True),
            "given_display": functools.partial(given_display, limit=SLIDE_WIDTH),
            "PROSE_WIDTH": SLIDE_PROSE_WIDTH}


def drop_empty_frames(tex: str) -> str:
    """Beamer frames without the frames that hold nothing but a title."""
    return EMPTY_FRAME.sub("", str(tex))


FILTERS = {
    "paragraphs": paragraphs,
    "drop_empty_frames": drop_empty_frames,
    "tex": latex.tex,
    "num": latex.num,
    "literal": latex.literal_tex,
    "latex_escape": latex.latex_escape,
    "markdown_escape": latex.markdown_escape,
    "subs": subs,
    "count_ops": count_ops,
    "sign": sign,
    "path_tex": path_tex,
    "group_tex": group_tex,
    "function_name": function_name,
    "has_activation": has_activation,
    "tidy": tidy,
}

def quantity(name: str, layer: Any = None, index: str = "") -> str:
    """A quantity as the document's notation writes it (``Notation.quantity``)."""
    return current().quantity(name, layer, index)


def matrix_quantity(name: str, layer: Any = None, single: bool = False) -> str:
    """A quantity as a matrix (a column per sample) or, ``single``, one sample's vector,
    in the document's notation, with the layer superscript when ``layer`` is given."""
    return current().matrix(name, single, layer)


def title(derivation: Derivation) -> str:
    """The document's title: the derivation's, with the loss in the notation's letter when
    the title is the one symgrad gave it."""
    graph, parameters = derivation.graph, derivation.parameters
    if derivation.title != default_title(graph, parameters):
        return derivation.title
    return default_title(graph, parameters, plain.loss_name())


def layer_number(layer: int) -> int:
    """The number the document's notation gives symgrad's layer ``layer``."""
    return current().number(layer)


GLOBALS = {
    "q": quantity,
    "Q": matrix_quantity,
    "layer_number": layer_number,
    "title": title,
    "notation_in_use": current,
    "read": read,
    "equation": latex.equation,
    "equations": latex.equations,
    "inline_equation": latex.inline_equation,
    "written": written,
    "derivative": derivative,
    "factor_chain": factor_chain,
    "factor_symbol": factor_symbol,
    "held_fixed": held_fixed,
    "factors_of": factors_of,
    "earlier_factors": earlier_factors,
    "adjoints_of": adjoints_of,
    "earlier_adjoints": earlier_adjoints,
    "explained_steps": explained_steps,
    "outline": outline,
    "step_equation": step_equation,
    "is_inline": is_inline,
    "kink": kink,
    "held_names": held_names,
    "constant_terms": constant_terms,
    "activations": activations,
    "leaky_slopes": leaky_slopes,
    "loss_formula": loss_formula,
    "loss_title": loss_title,
    "is_composite": is_composite,
    "terms_symbols": terms_symbols,
    "terms_results": terms_results,
    "terms_numbers": terms_numbers,
    "chain_symbols": chain_symbols,
    "chain_results": chain_results,
    "chain_numbers": chain_numbers,
    "given_values": given_values,
    "forward_values": forward_values,
    "backward_values": backward_values,
    "given_groups": given_groups,
    "given_display": given_display,
    "worked_factors": worked_factors,
    "update_chain": update_chain,
    "group_value": group_value,
    "EXPANDED_MAX_OPS": EXPANDED_MAX_OPS,
    "PATHS_WRITTEN_MAX": PATHS_WRITTEN_MAX,
    "PROSE_WIDTH": None,
}
