"""The computational graph as drawn, in points, shared by TikZ and SVG: where each node sits,
the texts under it, and where along each edge its label goes so that no label overlaps a
node, a node's text or another label.

The sizes are those of an 11pt article: labels and the texts under the nodes in
``\\scriptsize`` (8 pt), nodes as circles of 8 mm. Widths are measured in DejaVu Sans (the
SVG's font, wider than LaTeX's Computer Modern, so the TikZ picture has room to spare).
The distances between columns and between rows start at a comfortable size; the gaps
between columns that a crowded label spans widen, then the rows grow apart, until every
label has a clear place (``drawing``); the drawing stays within
``WIDTH`` points, the article's line, so that it prints at its natural size and its
labels at 8 pt. ``svg.py`` draws it in pixels (``SVG_PX`` a point), the TikZ template
(``latex/figures.j2``) in centimetres.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sympy as sp

from . import plain
from ..pictures import layout
from ..pictures.boxes import Polygon, bounds, upright
from ..pictures.graph import Edge, GraphPicture, Node
from ..pictures.layout import Label

if TYPE_CHECKING:  # imported when first measuring (``_measurer``)
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

TEXT_PT = 8.0
"""The size of the labels and of the texts under the nodes (``\\scriptsize`` at 11 pt)."""
LINE_PT = 9.5
"""The distance between two lines of that text (its baseline skip)."""
SEP = 1.5
"""The room around a text (TikZ's ``inner sep``)."""
ASCENT, DESCENT = 6.2, 2.2
"""How far the text of a label reaches above and below its baseline (digits, parentheses
and hats), in points at ``TEXT_PT``."""
RADIUS = 12.0
"""A node's radius: an 8 mm circle (11.4 pt) and its line, with a little to spare."""
WIDTH, HEIGHT = 450.0, 540.0
"""The most room the drawing takes: within an 11pt A4 article's line (455 pt) and its
pictures' height (0.8 of the text's, 562 pt)."""
STEPS = {False: (102.4, 56.9), True: (82.5, 44.1)}
"""The distances between columns and between rows to start from (3.6 cm by 2 cm; for a
compact graph 2.9 cm by 1.55 cm)."""
GROWTH = (1.0, 1.15, 1.3, 1.5, 1.75, 2.0, 2.3)
"""Factors by which the distance between rows grows until every label has a clear place."""
PT_PER_CM = 72.27 / 2.54
DIGITS = 3
"""Significant digits of the numbers in a compact graph (see ``GraphPicture.compact``)."""


@dataclass(frozen=True)
class DrawnNode:
    """A node's centre (points, y down), its name and the lines of text under it."""

    node: Node
    x: float
    y: float
    name: str
    lines: tuple[str, ...]

    def text_box(self) -> Polygon | None:
        """The rectangle of the text under the circle, if any."""
        if not self.lines:
            return None
        half = max(text_width(t) for t in self.lines) / 2 + SEP
        top = self.y + RADIUS
        return upright((self.x, top + (len(self.lines) * LINE_PT + 2 * SEP) / 2), half,
                       (len(self.lines) * LINE_PT + 2 * SEP) / 2)


@dataclass(frozen=True)
class DrawnEdge:
    """An edge from circle to circle (``start`` and ``end`` on their borders), its label
    ``at`` along it: ``above`` the edge the local derivative (or its number), ``below`` it
    ``= number`` (or nothing)."""

    edge: Edge
    centres: tuple[tuple[float, float], tuple[float, float]]
    at: float
    above: str
    below: str | None

    @property
    def label(self) -> Label:
        """The room the label takes around its anchor."""
        half = max(text_width(t) for t in (self.above, self.below or "")) / 2 + SEP
        height = ASCENT + DESCENT + 2 * SEP
        return Label(half, height, height if self.below else 0.0)

    def label_box(self) -> Polygon:
        """The label's rectangle, turned along the edge."""
        return layout.label_polygon(*self.centres, RADIUS, self.at, self.label)


@dataclass(frozen=True)
class Drawing:
    """The graph as drawn: ``width`` by ``height`` points, its columns ``gaps`` apart and
    its rows ``row``; ``crowded``: the edges whose labels found no clear place (none: no
    label overlaps a node, a node's text or another label)."""

    graph: GraphPicture
    nodes: tuple[DrawnNode, ...]
    edges: tuple[DrawnEdge, ...]
    width: float
    height: float
    gaps: tuple[float, ...]
    row: float
    crowded: tuple[int, ...]


def drawing(graph: GraphPicture) -> Drawing:
    """The graph laid out for drawing (in the notation in use, whose letters it prints):
    for each distance between rows (growing), the columns start evenly apart, at most the
    width allows, and the gaps a crowded label spans widen while the width allows; the
    first drawing whose labels are all clear, else the least crowded."""
    column, row = STEPS[graph.compact]
    texts = {n.symbol: _lines(n, graph.compact) for n in graph.nodes}
    labels = {(e.source, e.target): _label(e, graph.compact) for e in graph.edges}
    last = max(n.column for n in graph.nodes)
    half = {n.symbol: max([RADIUS] + [text_width(t) / 2 + SEP for t in texts[n.symbol]])
            for n in graph.nodes}
    left = max(half[n.symbol] for n in graph.nodes if n.column == 0)
    room = WIDTH - left - max(half[n.symbol] for n in graph.nodes if n.column == last)
    bottom = RADIUS + 2 * SEP + LINE_PT * max(len(t) for t in texts.values())
    tallest = (HEIGHT - RADIUS - bottom) / max(graph.rows - 1, 1)
    best = None
    for dy in sorted({min(row * b, tallest) for b in GROWTH}):
        gaps = [min(column, room / max(last, 1))] * last
        for _ in range(WIDENINGS):
            made = _laid(graph, texts, labels, left, gaps, dy, bottom)
            if best is None or len(made.crowded) < len(best.crowded):
                best = made
            if not made.crowded:
                return made
            wider = _widened(gaps, {k for i in made.crowded for k in _spanned(graph.edges[i], graph)}, room)
            if wider == gaps:
                break
            gaps = wider
    return best


WIDENINGS = 12
"""How many times the gaps a crowded label spans widen (by a seventh) at one row distance."""


def _spanned(edge: Edge, graph: GraphPicture) -> range:
    """The gaps between columns an edge spans."""
    return range(graph.node(edge.source).column, graph.node(edge.target).column)


def _widened(gaps: list[float], spanned: set[int], room: float) -> list[float]:
    """``gaps`` with those in ``spanned`` a seventh wider, as far as ``room`` allows."""
    spare = room - sum(gaps)
    grow = sum(gaps[k] for k in spanned) / 7
    factor = min(grow, max(spare, 0.0)) / grow if grow else 0.0
    return [g * (1 + factor / 7) if k in spanned else g for k, g in enumerate(gaps)]


def _laid(graph: GraphPicture, texts, labels, left: float, gaps: list[float], dy: float,
          bottom: float) -> Drawing:
    """The drawing with its columns ``gaps`` apart and rows ``dy``, its labels placed."""
    xs = [left + sum(gaps[:k]) for k in range(len(gaps) + 1)]
    nodes = tuple(DrawnNode(n, xs[n.column], RADIUS + SEP + n.row * dy,
                            plain.name(n.symbol), texts[n.symbol]) for n in graph.nodes)
    centres = {d.node.symbol: (d.x, d.y) for d in nodes}
    edges = [DrawnEdge(e, (centres[e.source], centres[e.target]), 0.5, *labels[(e.source, e.target)])
             for e in graph.edges]
    obstacles = [box for d in nodes if (box := d.text_box()) is not None]
    at, crowded = layout.place_labels(centres, [(e.source, e.target) for e in graph.edges],
                                      RADIUS, obstacles, [e.label for e in edges])
    edges = tuple(DrawnEdge(e.edge, e.centres, t, e.above, e.below) for e, t in zip(edges, at))
    right = max(d.x + max([RADIUS] + [text_width(t) / 2 + SEP for t in d.lines]) for d in nodes)
    low = max(d.y for d in nodes) + bottom
    reach = [bounds(e.label_box()) for e in edges]
    width = max([right] + [r[2] for r in reach])
    height = max([low] + [r[3] for r in reach])
    return Drawing(graph, nodes, edges, width, height, tuple(gaps), dy, crowded)


def _lines(node: Node, compact: bool) -> tuple[str, ...]:
    """The text under a node: ``= value`` and ``∂L/∂name = gradient`` (the gradient's
    number alone in a compact graph)."""
    lines = []
    if node.value is not None:
        lines.append(f"= {number(node.value, compact)}")
        if node.gradient is not None:
            gradient = number(node.gradient, compact)
            lines.append(gradient if compact else
                         f"∂{plain.loss_name()}/∂{plain.name(node.symbol)} = {gradient}")
    return tuple(lines)


def _label(edge: Edge, compact: bool) -> tuple[str, str | None]:
    """The local derivative above the edge and ``= number`` below it (a number shown once);
    the number alone in a compact graph."""
    if edge.value is None or edge.factor.result.is_Number:
        return plain.text(edge.factor.result), None
    if compact:
        return number(edge.value, compact), None
    return plain.text(edge.factor.result), f"= {plain.number(edge.value)}"


def number(value: sp.Expr, compact: bool) -> str:
    """A number as the documents write it; in a compact graph to ``DIGITS`` (a number
    beyond a double's range as the documents write it)."""
    try:
        rounded = float(f"{float(value):.{DIGITS}g}") if compact else math.inf
    except OverflowError:  # an exact integer past the largest double
        rounded = math.inf
    return plain.number(rounded if math.isfinite(rounded) else value)


@functools.lru_cache(maxsize=4096)
def text_width(text: str, size: float = TEXT_PT) -> float:
    """How wide ``text`` is in DejaVu Sans at ``size`` points."""
    if not text:
        return 0.0
    measure, font = _measurer()
    width, _, _ = measure.get_text_width_height_descent(text, font, ismath=False)
    return width * size / font.get_size_in_points()


@functools.cache
def _measurer() -> tuple[TextToPath, FontProperties]:
    """matplotlib's text measurer and DejaVu Sans at 100 pt, made at the first width asked
    for: importing matplotlib takes a fifth of a second that a document without a drawn
    graph should not pay."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    return TextToPath(), FontProperties(family="DejaVu Sans", size=100)
