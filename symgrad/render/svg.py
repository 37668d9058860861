"""The computational graph as SVG: its geometry (``SvgNode``, ``SvgEdge``), drawn through the
template ``svg/graph.svg.j2`` (``drawing``).

The SVG is hand-written: no layout library is needed for a graph already layered by
dependency depth, and the output stays dependency-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jinja2
import sympy as sp

from . import plain
from ..pictures.graph import Edge, GraphPicture, Node

COLUMN, ROW, RADIUS, MARGIN = 220.0, 96.0, 24.0, 40.0
"""SVG geometry in px: the distance between layers and between rows, a node's radius and
the margin around the drawing."""
COMPACT_COLUMN, COMPACT_ROW = 150.0, 86.0
"""The distances between layers and rows of a compact graph, whose labels are short."""
COMPACT_DIGITS = 3
"""Significant digits of the numbers in a compact graph (see ``GraphPicture.compact``)."""


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


def drawing(env: jinja2.Environment, graph: GraphPicture) -> str:
    """The graph as an SVG document, from ``svg/graph.svg.j2`` in ``env`` (see ``graph_svg``)."""
    column, row = (COMPACT_COLUMN, COMPACT_ROW) if graph.compact else (COLUMN, ROW)
    centres = {n.symbol: (MARGIN + 60 + n.column * column, MARGIN + 30 + n.row * row)
               for n in graph.nodes}
    nodes = [_svg_node(n, centres[n.symbol], graph.compact) for n in graph.nodes]
    edges = [_svg_edge(centres[e.source], centres[e.target], _edge_label(e, graph.compact),
                       e.label_at) for e in graph.edges]
    width = 2 * MARGIN + 120 + (graph.columns - 1) * column
    height = 2 * MARGIN + 80 + (graph.rows - 1) * row
    return env.get_template("svg/graph.svg.j2").render(
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
