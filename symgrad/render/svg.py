"""The computational graph as SVG: the drawing of ``drawn`` (in points) in pixels (``SvgNode``,
``SvgEdge``), through the template ``svg/graph.svg.j2`` (``drawing``).

The SVG is hand-written: no layout library is needed for a graph already layered by
dependency depth, and the output stays dependency-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jinja2

from . import drawn
from ..pictures import layout
from ..pictures.graph import GraphPicture

SVG_PX = 1.4
"""Pixels a point: the drawing (``drawn``, in points) at this scale, its labels 11.2 px."""
MARGIN = 12.0
"""The margin around the drawing, in px."""


@dataclass(frozen=True)
class SvgNode:
    """A node's centre, name and (with values) its value and gradient, as text; the
    baselines of those texts."""

    x: float
    y: float
    kind: str
    name: str
    lines: tuple[tuple[str, float], ...]
    """The texts under the node (``= value``, the gradient) and their baselines' y."""


@dataclass(frozen=True)
class SvgEdge:
    """An arrow from circle to circle and its label, turned along it: ``above`` the edge
    and ``below`` it (the template puts their baselines the text's room above and below
    the anchor ``lx``, ``ly``)."""

    x1: float
    y1: float
    x2: float
    y2: float
    above: str
    below: str | None
    lx: float
    ly: float
    angle: float


def drawing(env: jinja2.Environment, graph: GraphPicture) -> str:
    """The graph as an SVG document, from ``svg/graph.svg.j2`` in ``env`` (see ``graph_svg``)."""
    laid = drawn.drawing(graph)
    nodes = [_svg_node(n) for n in laid.nodes]
    edges = [_svg_edge(e) for e in laid.edges]
    return env.get_template("svg/graph.svg.j2").render(
        nodes=nodes, edges=edges, width=_px(laid.width) + 2 * MARGIN,
        height=_px(laid.height) + 2 * MARGIN, worked=graph.worked, compact=graph.compact,
        radius=_px(drawn.RADIUS) - 1, text=_px(drawn.TEXT_PT), rise=_px(drawn.SEP + drawn.DESCENT),
        drop=_px(drawn.SEP + drawn.ASCENT))


def _px(points: float) -> float:
    return points * SVG_PX


def _svg_node(node: drawn.DrawnNode) -> SvgNode:
    """A node's centre and texts in px, each line's baseline under the circle."""
    x, y = MARGIN + _px(node.x), MARGIN + _px(node.y)
    top = node.y + drawn.RADIUS + drawn.SEP + drawn.ASCENT
    lines = tuple((text, MARGIN + _px(top + i * drawn.LINE_PT)) for i, text in enumerate(node.lines))
    return SvgNode(x, y, node.node.kind.replace(" ", "-"), node.name, lines)


def _svg_edge(edge: drawn.DrawnEdge) -> SvgEdge:
    """The arrow between the circles, its label ``at`` along it (as TikZ's ``pos``)."""
    start, end = layout.border_points(*edge.centres, drawn.RADIUS)
    (x1, y1), (x2, y2) = [(MARGIN + _px(x), MARGIN + _px(y)) for x, y in (start, end)]
    angle = math.degrees(math.atan2(y2 - y1, x2 - x1))
    at = edge.at
    return SvgEdge(x1, y1, x2, y2, edge.above, edge.below, x1 + at * (x2 - x1),
                   y1 + at * (y2 - y1), angle)
