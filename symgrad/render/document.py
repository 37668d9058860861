"""Rendering a ``Derivation`` as Markdown, LaTeX (a document or a fragment), HTML,
beamer, JSON or a notebook: ``render``, its formats and levels of detail."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import sympy as sp

from . import latex
from .chapter import VIEWS, Chapter, resolve_view  # noqa: F401 (VIEWS is part of this API)
from .environment import environment, escaping
from .flavours import FLAVOURS, inline_math
from .json_output import to_json
from .notation import QUANTITIES, Notation, current, resolve, using
from .notebook import notebook_text
from .numbers import given_display
from .steps import factor_chain, step_equation
from ..calculus.derivation import Derivation
from ..errors import SpecError, UnknownNameError
from ..model.graph import Graph
from ..model.symbols import Var

if TYPE_CHECKING:  # the caller computes the pictures (symgrad.pictures.pictures)
    from ..pictures import Pictures


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


DETAILS = ("brief", "standard", "full")
"""Levels of detail: the local derivatives' results only; each with the rules that give
it; every elementary step, down to constants, simplifications and activation definitions."""


SLIDE_WIDTH = 52.0
"""How wide a line of display math may be on a beamer slide, in ``latex.width`` units:
a 4:3 slide's text is about two thirds as wide as an article's (``latex.WIDTH``)."""
SLIDE_PROSE_WIDTH = 36.0
"""On a slide, the gradient that ends a derivation's sentence (``So ...``) goes inline up
to this ``latex.width``; a wider one is displayed. In other formats any width goes inline
(``PROSE_WIDTH`` is None): their lines are wide enough to wrap around it."""


def render(derivation: Derivation, fmt: str = "markdown", *, detail: str = "standard",
           view: str | None = None, template_dirs: Iterable[str | Path] = (),
           flavour: str = "github", pictures: Pictures | None = None,
           notation: Notation | str | None = None, heading_level: int = 1,
           numbered: bool = False, embedded: bool = False) -> str:
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

    ``heading_level`` is the level of the document's title, its sections one below: in
    LaTeX 0 (``\\chapter``), 1 (``\\section``, the default), 2 or 3; in Markdown, HTML and
    notebooks 1 (``#``) to 6. LaTeX's headings are unnumbered unless ``numbered``.
    Raises SpecError for a level out of range, or headings asked of beamer or JSON.

    A LaTeX fragment opens with the packages it needs and a check of each (``\\input``
    into a document without one, pdflatex stops with a message naming it); ``embedded``
    leaves that out, for a fragment placed inside a document that symgrad writes.
    """
    _check_headings(fmt, heading_level, numbered)
    chosen = written_in(derivation.graph, notation)
    with using(chosen):
        _check_letters(derivation.graph)
        return _render(derivation, fmt, detail=detail, view=view, template_dirs=template_dirs,
                       flavour=flavour, pictures=pictures, notation=chosen,
                       settings={"HEADING_SHIFT": heading_level - 1, "NUMBERED_HEADINGS": numbered,
                                 **({"standalone": True} if embedded else {})})


HEADING_LEVELS = {"latex": range(0, 4), "latex-fragment": range(0, 4), "markdown": range(1, 7),
                  "html": range(1, 7), "notebook": range(1, 7)}
"""The levels a document's title may take, by format: LaTeX's \\chapter (0) to
\\subsubsection (3), Markdown's and HTML's 1 to 6. Beamer frames and JSON have no headings."""


def _check_headings(fmt: str, level: int, numbered: bool) -> None:
    if level == 1 and not numbered or fmt not in FORMATS:
        return
    if fmt not in HEADING_LEVELS:
        raise SpecError(f"heading level: {fmt} has no headings to set (only "
                        f"{', '.join(HEADING_LEVELS)})")
    levels = HEADING_LEVELS[fmt]
    if isinstance(level, bool) or not isinstance(level, int) or level not in levels:
        raise SpecError(f"heading level {level!r} for {fmt}: give {levels.start} to {levels.stop - 1}")
    if numbered and not fmt.startswith("latex"):
        raise SpecError(f"numbered headings are for LaTeX (latex, latex-fragment), not {fmt}")


def written_in(graph: Graph, notation: Notation | str | None) -> Notation:
    """``notation`` (a Notation, a preset's name or None) set up for ``graph``'s layers,
    printing sums and numbers as the author wrote them (``graph.written``)."""
    layers = [s.layer for s in _symbols(graph) if isinstance(s, Var) and isinstance(s.layer, int)]
    chosen = resolve(notation).for_layers(max(layers) if graph.kind == "network" and layers else None)
    return chosen.as_written(graph.written)


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
            notation: Notation, settings: dict[str, Any]) -> str:
    if fmt not in FORMATS:
        raise UnknownNameError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if detail not in DETAILS:
        raise UnknownNameError(f"unknown level of detail {detail!r} (known: {', '.join(DETAILS)})")
    if flavour not in FLAVOURS:
        raise UnknownNameError(f"unknown Markdown flavour {flavour!r} (known: {', '.join(FLAVOURS)})")
    view = resolve_view(derivation, view)
    if fmt == "notebook":
        return notebook_text(derivation, render(derivation, "markdown", detail=detail, view=view,
                                                template_dirs=template_dirs, notation=notation,
                                                heading_level=settings["HEADING_SHIFT"] + 1))
    if fmt == "json":
        return json.dumps(to_json(derivation), indent=2, allow_nan=False)
    chapter = Chapter(derivation, view) if derivation.graph.kind == "network" else None
    env = environment(tuple(str(Path(d)) for d in template_dirs), flavour)
    if fmt == "html":
        env = escaping(env)
    text = env.get_template(TEMPLATES[fmt]).render(derivation=derivation, detail=detail,
                                                   chapter=chapter, pictures=pictures, **settings,
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
