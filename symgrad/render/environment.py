"""The Jinja environment the documents are rendered in, with the template folder and
the filters and globals the templates use (gathered from the helper modules).

One Jinja environment per template search path, made by ``environment``. The templates
read the data model and use the filters and helpers registered here, which only print
(``symgrad.render.latex``) or select parts of the model. Explanations are written in
the templates.

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
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import jinja2.bccache
import markupsafe

from . import flavours, latex
from .frames import COLUMN, split_frames
from .chains import (adjoints_of, chain_numbers, chain_results, chain_symbols, earlier_adjoints,
                     earlier_factors, factors_of, path_tex, terms_numbers, terms_results,
                     simplification_sides, terms_symbols, together_sides)
from .describe import (activations, count_ops, function_name, has_activation, is_composite,
                       layer_number, leaky_slopes, loss_formula, loss_title, matrix_quantity,
                       noun, quantity, title)
from .notation import current
from .numbers import (backward_values, beyond_float64, forward_chain, forward_values, given_display, given_groups,
                      given_values, group_tex, group_value, sign, subs, update_chain,
                      worked_factors)
from .steps import (constant_terms, derivative, explained_steps, factor_chain, factor_symbol,
                    held_fixed, held_names, is_inline, kink, operator, outline, step_equation)
from ..calculus.backward import Factor, tidy
from ..calculus.written import term_guides, written
from ..numeric.kinks import kinks
from ..numeric.reading import read

if TYPE_CHECKING:
    from .drawn import Drawing
    from ..pictures.graph import GraphPicture


EXPANDED_MAX_OPS = 40
"""The gradient written in inputs and parameters alone is shown up to this many operations."""
PATHS_WRITTEN_MAX = 4
"""The chain rule is written out path by path up to this many paths."""


def _template_dir() -> Path:
    installed = importlib.resources.files("symgrad") / "templates"
    if installed.is_dir():
        return Path(str(installed))
    return Path(__file__).resolve().parent.parent.parent / "templates"


TEMPLATE_DIR = _template_dir()
KATEX_DIR = Path(__file__).resolve().parent / "static" / "katex"
"""KaTeX's distribution files (its CSS, script, auto-render and fonts, with its licence):
an HTML page loads them from a folder ``katex`` beside it."""


class TemplateCache(jinja2.FileSystemBytecodeCache):
    """Jinja's compiled templates kept in a folder between runs (compiling them is about a
    quarter of a small document's time). Jinja recompiles a template whose source or
    version changed (it checks a checksum and its own version); a folder that cannot be
    read or written makes every template compile afresh, silently."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # an unreadable or damaged file (pickle, marshal): compiled again
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def cache_dir() -> Path:
    """Where the compiled templates are kept: symgrad/templates in the user's cache folder
    ($XDG_CACHE_HOME, else ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "symgrad" / "templates"


def template_cache(escaped: bool = False) -> TemplateCache | None:
    """The cache of compiled templates, or None where its folder cannot be made or written.
    Jinja keys a template by its name and file alone, and a template compiles differently
    with HTML autoescape on (``escaped``): those are kept in files of their own."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK | os.X_OK):
        return None
    return TemplateCache(str(folder), "__jinja2_escaped_%s.cache" if escaped else "__jinja2_%s.cache")


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
        bytecode_cache=template_cache(),
    )
    env.filters.update(FILTERS)
    env.globals.update(GLOBALS)
    env.globals["flavour"] = flavour
    return env


@functools.lru_cache(maxsize=None)
def escaping(env: jinja2.Environment) -> jinja2.Environment:
    """``env`` with HTML autoescape on, for HTML pages: every value a template prints is
    escaped unless it is markup already (a macro's output)."""
    return env.overlay(autoescape=True, bytecode_cache=template_cache(escaped=True))


def svg_graph(graph: GraphPicture) -> markupsafe.Markup:
    """The graph's SVG (from the default templates), to put inline in an HTML page
    (markup: not escaped again)."""
    from . import svg  # deferred: the drawing code only for a document that shows its graph
    return markupsafe.Markup(svg.drawing(environment(), graph))


def graph_drawing(graph: GraphPicture) -> Drawing:
    """The graph laid out for drawing (``drawn.drawing``), for LaTeX's TikZ picture."""
    from . import drawn  # deferred, as for svg_graph
    return drawn.drawing(graph)


BLOCK_SEPARATOR = re.compile(r"\n[ \t]*\n")
EMPTY_FRAME = re.compile(r"\\def\\symgradtitle\{[^\n]*\}% heading level \d+\s*\\begin\{frame\}\[shrink\]\{\\symgradtitle\}"
                         r"\s*\\par\\vspace\{[^}]*\}\s*\\end\{frame\}\s*")


def paragraphs(html: str) -> markupsafe.Markup:
    """HTML whose blocks are set apart by blank lines, with every block that is not an
    element (a run of text) made a paragraph."""
    blocks = [b.strip() for b in BLOCK_SEPARATOR.split(str(html)) if b.strip()]
    return markupsafe.Markup("\n\n".join(b if b.startswith("<") else f"<p>{b}</p>" for b in blocks))


def short_factor(factor: Factor, detail: str) -> bool:
    """True when a local derivative is derived by one rule at ``detail`` (its rule
    and one line): on slides, two such share a frame."""
    if detail == "full":
        return not outline(factor.step)
    return len(explained_steps(factor.step)) == 1


def column_kinds(align: str) -> list[str]:
    """The letter of each column of a LaTeX tabular's ``align`` (``lrp{0.3\\textwidth}r``
    gives l, r, p, r): a table sets the text of a p column ragged right, as a narrow
    column of equations reads best."""
    return [column[0] for column in COLUMN.findall(str(align))]


def drop_empty_frames(tex: str) -> str:
    """Beamer frames without the frames that hold nothing but a title."""
    return EMPTY_FRAME.sub("", str(tex))


FILTERS = {
    "paragraphs": paragraphs,
    "drop_empty_frames": drop_empty_frames,
    "column_kinds": column_kinds,
    "split_frames": split_frames,
    "tex": latex.tex,
    "num": latex.num,
    "function_tex": latex.function_tex,
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
    "toc_label": flavours.toc_label,
}


GLOBALS = {
    "q": quantity,
    "Q": matrix_quantity,
    "layer_number": layer_number,
    "title": title,
    "notation_in_use": current,
    "read": read,
    "kinks_hit": kinks,
    "beyond_float64": beyond_float64,
    "equation": latex.equation,
    "equations": latex.equations,
    "inline_equation": latex.inline_equation,
    "written": written,
    "term_guides": term_guides,
    "derivative": derivative,
    "operator": operator,
    "factor_chain": factor_chain,
    "factor_symbol": factor_symbol,
    "held_fixed": held_fixed,
    "factors_of": factors_of,
    "earlier_factors": earlier_factors,
    "adjoints_of": adjoints_of,
    "earlier_adjoints": earlier_adjoints,
    "explained_steps": explained_steps,
    "outline": outline,
    "short_factor": short_factor,
    "step_equation": step_equation,
    "is_inline": is_inline,
    "kink": kink,
    "held_names": held_names,
    "constant_terms": constant_terms,
    "activations": activations,
    "noun": noun,
    "leaky_slopes": leaky_slopes,
    "loss_formula": loss_formula,
    "loss_title": loss_title,
    "is_composite": is_composite,
    "terms_symbols": terms_symbols,
    "terms_results": terms_results,
    "terms_numbers": terms_numbers,
    "chain_symbols": chain_symbols,
    "chain_results": chain_results,
    "together_sides": together_sides,
    "simplification_sides": simplification_sides,
    "chain_numbers": chain_numbers,
    "given_values": given_values,
    "forward_values": forward_values,
    "forward_chain": forward_chain,
    "backward_values": backward_values,
    "given_groups": given_groups,
    "given_display": given_display,
    "worked_factors": worked_factors,
    "update_chain": update_chain,
    "group_value": group_value,
    "svg_graph": svg_graph,
    "graph_drawing": graph_drawing,
    "EXPANDED_MAX_OPS": EXPANDED_MAX_OPS,
    "PATHS_WRITTEN_MAX": PATHS_WRITTEN_MAX,
    "PROSE_WIDTH": None,
    "HEADING_SHIFT": 0,
    "slides": False,
    "NUMBERED_HEADINGS": False,
}
