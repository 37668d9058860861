"""Pictures beside a document: the computational graph (TikZ inside LaTeX, an SVG file
beside Markdown) and the plots of the loss (``symgrad.plots``): the tangent, the contour
over two parameters and the loss over a few steps of gradient descent.

``pictures(derivation, stem)`` says what a document shows and under which file names
(``stem.graph.svg``; ``stem.tangent``, ``stem.contour`` and ``stem.training`` as ``.svg``
beside Markdown and HTML pages and ``.pdf`` beside LaTeX and beamer frames);
``picture_files`` makes those files for one format, as bytes, byte for byte the same on
every run. LaTeX and beamer draw the graph in TikZ, an HTML page holds its SVG inline.
The SVG is hand-written through the template ``svg/graph.svg.j2``: no layout library is
needed for a graph already layered by dependency depth, and the output stays
dependency-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import markupsafe
import sympy as sp

from . import plain

from ..pictures import plots
from ..calculus.derivation import Derivation
from ..pictures.graph import MAX_DRAWN_NODES, Edge, GraphPicture, Node, computational_graph

COLUMN, ROW, RADIUS, MARGIN = 220.0, 96.0, 24.0, 40.0
"""SVG geometry in px: the distance between layers and between rows, a node's radius and
the margin around the drawing."""
COMPACT_COLUMN, COMPACT_ROW = 150.0, 86.0
"""The distances between layers and rows of a compact graph, whose labels are short."""
COMPACT_DIGITS = 3
"""Significant digits of the numbers in a compact graph (see ``GraphPicture.compact``)."""


@dataclass(frozen=True)
class Pictures:
    """What a document shows beside its text: the graph (drawn if small enough; ``size``
    counts its nodes and edges); for a derivation with values and one or two scalar
    parameters the tangent plot, with two the contour plot; with a learning rate the
    loss over a few steps of gradient descent."""

    stem: str
    graph: GraphPicture | None
    size: tuple[int, int]
    tangent: plots.Tangents | None
    contour: plots.Contour | None = None
    training: plots.Training | None = None

    def file(self, picture: str, extension: str) -> str:
        """The file name of ``picture`` (graph, tangent) as ``extension`` (svg, pdf)."""
        return f"{self.stem}.{picture}.{extension}"

    @property
    def drawn_limit(self) -> int:
        """The most nodes a drawn graph has (``MAX_DRAWN_NODES``)."""
        return MAX_DRAWN_NODES

    def svg_graph(self) -> markupsafe.Markup:
        """The graph's SVG, to put inline in an HTML page (markup: not escaped again)."""
        assert self.graph is not None
        return markupsafe.Markup(graph_svg(self.graph))


def pictures(derivation: Derivation, stem: str) -> Pictures:
    """The pictures of ``derivation`` for a document whose files are named after ``stem``:
    the graph laid out only if it is small enough to draw (``MAX_DRAWN_NODES``)."""
    graph = derivation.graph
    known = {s for g in graph.groups for s in g.symbols} | {d.symbol for d in graph.definitions}
    nodes = len(known)
    edges = sum(len(d.expr.free_symbols & known) for d in graph.definitions)
    drawn = computational_graph(derivation) if nodes <= MAX_DRAWN_NODES else None
    return Pictures(stem, drawn, (nodes, edges), plots.tangents(derivation),
                    plots.contour(derivation), plots.training(derivation))


PLOT_FORMATS = {"markdown": "svg", "html": "svg", "latex": "pdf", "latex-fragment": "pdf",
                "beamer": "pdf"}
"""The file type of the plots beside a document in each format that shows pictures."""


def picture_files(shown: Pictures, fmt: str) -> dict[str, bytes]:
    """The files the document in ``fmt`` refers to, by name: for Markdown the graph and
    the plots as SVG, for an HTML page the plots as SVG (its graph is inline), for LaTeX
    and beamer the plots as PDF (their graph is TikZ); none for other formats."""
    files: dict[str, bytes] = {}
    if fmt == "markdown" and shown.graph is not None:
        files[shown.file("graph", "svg")] = graph_svg(shown.graph).encode("utf-8")
    if fmt not in PLOT_FORMATS:
        return files
    extension = PLOT_FORMATS[fmt]
    figures = {"tangent": (shown.tangent, plots.tangent_figure),
               "contour": (shown.contour, plots.contour_figure),
               "training": (shown.training, plots.training_figure)}
    for picture, (data, draw) in figures.items():
        if data is not None:
            files[shown.file(picture, extension)] = draw(data, extension)
    return files


@dataclass(frozen=True)
class SvgNode:
    """A node's centre, name and (with values) its value and gradient, as text."""

    x: float
    y: float
    kind: str
    name: str
    value: str | None
    gradient: str | None
    """The gradient's text: ``∂L/∂name = number`` (the loss in the notation's letter), or
    the number alone."""


@dataclass(frozen=True)
class SvgEdge:
    """An arrow from circle to circle and its label near the middle, turned along it."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    lx: float
    ly: float
    angle: float


def graph_svg(graph: GraphPicture) -> str:
    """The graph as an SVG document (``svg/graph.svg.j2``); a compact graph's labels are
    its numbers alone (see ``GraphPicture.compact``)."""
    from .document import environment

    column, row = (COMPACT_COLUMN, COMPACT_ROW) if graph.compact else (COLUMN, ROW)
    centres = {n.symbol: (MARGIN + 60 + n.column * column, MARGIN + 30 + n.row * row)
               for n in graph.nodes}
    nodes = [_svg_node(n, centres[n.symbol], graph.compact) for n in graph.nodes]
    edges = [_svg_edge(centres[e.source], centres[e.target], _edge_label(e, graph.compact),
                       e.label_at) for e in graph.edges]
    width = 2 * MARGIN + 120 + (graph.columns - 1) * column
    height = 2 * MARGIN + 80 + (graph.rows - 1) * row
    return environment().get_template("svg/graph.svg.j2").render(
        nodes=nodes, edges=edges, width=width, height=height, worked=graph.worked,
        compact=graph.compact)


def _svg_node(node: Node, centre: tuple[float, float], compact: bool) -> SvgNode:
    """A node's text: its name, ``= value`` and ``dL/d(name) = gradient`` (the gradient's
    number alone in a compact graph)."""
    name = plain.name(node.symbol)
    value = None if node.value is None else _number(node.value, compact)
    gradient = None if node.gradient is None else _number(node.gradient, compact)
    if gradient is not None and not compact:
        gradient = f"∂{plain.loss_name()}/∂{name} = {gradient}"
    return SvgNode(*centre, node.kind.replace(" ", "-"), name, value, gradient)


def _edge_label(edge: Edge, compact: bool) -> str:
    """The local derivative and its number (a number shown once); the number alone in a
    compact graph."""
    if edge.value is None or edge.factor.result.is_Number:
        return plain.text(edge.factor.result)
    if compact:
        return _number(edge.value, compact)
    return f"{plain.text(edge.factor.result)} = {plain.number(edge.value)}"


def _number(value: sp.Expr, compact: bool) -> str:
    """A number as the documents write it; in a compact graph to ``COMPACT_DIGITS``."""
    return plain.number(float(f"{float(value):.{COMPACT_DIGITS}g}") if compact else value)


def _svg_edge(start: tuple[float, float], end: tuple[float, float], label: str,
              at: float) -> SvgEdge:
    """The arrow between the circles, its label ``at`` along it (as TikZ's ``pos``)."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = math.hypot(dx, dy)
    ux, uy = dx / length, dy / length
    x1, y1 = start[0] + ux * RADIUS, start[1] + uy * RADIUS
    x2, y2 = end[0] - ux * (RADIUS + 2), end[1] - uy * (RADIUS + 2)
    angle = math.degrees(math.atan2(dy, dx))
    return SvgEdge(x1, y1, x2, y2, label, x1 + at * (x2 - x1), y1 + at * (y2 - y1), angle)
