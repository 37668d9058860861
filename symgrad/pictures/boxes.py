"""Plane geometry for a drawing's text: rectangles (turned along an edge or not) and circles,
and whether two of them overlap.

Coordinates are a screen's (x to the right, y down), in any one unit. A rectangle is its four
corners in order; two convex polygons overlap when no axis separates them (the separating
axis theorem), a circle and a polygon when the circle's centre is nearer the polygon than
the radius. Shapes that only touch (within ``TOUCH``) do not overlap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = tuple[float, float]
Polygon = tuple[Point, ...]

TOUCH = 1e-6
"""How far two shapes may reach into each other and still count as apart."""


def turned(origin: Point, angle: float, left: float, right: float, top: float,
           bottom: float) -> Polygon:
    """The rectangle from ``left`` to ``right`` along the direction ``angle`` (radians, on
    the screen) and from ``top`` to ``bottom`` across it (negative: to the left of the
    direction, which is above for a direction to the right), around ``origin``."""
    cos, sin = math.cos(angle), math.sin(angle)
    return tuple((origin[0] + u * cos - v * sin, origin[1] + u * sin + v * cos)
                 for u, v in ((left, top), (right, top), (right, bottom), (left, bottom)))


def upright(centre: Point, half_width: float, half_height: float) -> Polygon:
    """The rectangle of half-sizes ``half_width`` and ``half_height`` around ``centre``."""
    return turned(centre, 0.0, -half_width, half_width, -half_height, half_height)


def polygons_overlap(a: Sequence[Point], b: Sequence[Point]) -> bool:
    """Whether the convex polygons ``a`` and ``b`` overlap (more than touch)."""
    for polygon in (a, b):
        for (x1, y1), (x2, y2) in zip(polygon, [*polygon[1:], polygon[0]]):
            axis = (y1 - y2, x2 - x1)
            low_a, high_a = _spread(a, axis)
            low_b, high_b = _spread(b, axis)
            norm = math.hypot(*axis) or 1.0
            if min(high_a, high_b) - max(low_a, low_b) <= TOUCH * norm:
                return False
    return True


def circle_overlaps(centre: Point, radius: float, polygon: Sequence[Point]) -> bool:
    """Whether the circle overlaps the convex ``polygon`` (more than touches)."""
    if _inside(centre, polygon):
        return True
    return min(_distance(centre, p, q) for p, q in zip(polygon, [*polygon[1:], polygon[0]])) \
        < radius - TOUCH


def bounds(polygon: Sequence[Point]) -> tuple[float, float, float, float]:
    """The least upright box around ``polygon``: left, top, right, bottom."""
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    return min(xs), min(ys), max(xs), max(ys)


def _spread(polygon: Sequence[Point], axis: Point) -> tuple[float, float]:
    values = [x * axis[0] + y * axis[1] for x, y in polygon]
    return min(values), max(values)


def _inside(point: Point, polygon: Sequence[Point]) -> bool:
    signs = {(q[0] - p[0]) * (point[1] - p[1]) - (q[1] - p[1]) * (point[0] - p[0]) > 0
             for p, q in zip(polygon, [*polygon[1:], polygon[0]])}
    return len(signs) == 1


def _distance(point: Point, p: Point, q: Point) -> float:
    """The distance from ``point`` to the segment pq."""
    dx, dy = q[0] - p[0], q[1] - p[1]
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((point[0] - p[0]) * dx + (point[1] - p[1]) * dy) / length))
    return math.hypot(point[0] - p[0] - t * dx, point[1] - p[1] - t * dy)
