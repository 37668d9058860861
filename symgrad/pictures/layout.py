"""Rows for a graph whose nodes already have columns, and where its edge labels sit.

The classic layered drawing (Sugiyama et al.) without its library: nodes in each column
are ordered by the barycenter heuristic (each node at the mean row of its neighbours in
the column just swept, a few sweeps each way, the order with fewest crossings kept);
then each node moves towards the mean row of its neighbours, keeping a row between nodes
of a column (an isotonic regression per column, a few passes). A *companion* (a target
beside the prediction it is compared with) is left out of the ordering and placed right
below its partner. Edge labels sit at the first of a few fractions along their edge where
their rectangle (turned along the edge, ``boxes``) overlaps no node, no node's text and
no label placed before (``place_labels``; the drawing's sizes come from the renderer).

Everything here works on hashable node keys and (source, target) pairs, so it can be
tested on small graphs of strings; ``symgrad.graph_picture`` applies it to a derivation.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from statistics import fmean

from . import boxes
from .boxes import Point, Polygon

Key = Hashable
Pair = tuple[Key, Key]

SWEEPS = 4
"""Barycenter sweeps (each left to right, then right to left) when ordering."""
PASSES = 8
"""Passes over the columns (alternately each way) when moving nodes towards neighbours."""
GRID = 4
"""Rows are rounded to 1/GRID of a row, so that coordinates stay short and stable."""
LABEL_AT = (0.42, 0.32, 0.52, 0.62, 0.25, 0.7, 0.18, 0.78)
"""Candidate fractions along an edge for its label (0 at the source's border, 1 at the
target's), best first: a little before the middle, so that labels of edges meeting at a
node part."""
CROSSING = 3.0
"""Half the side of the square kept clear, if there is room, around a point where two
edges cross (in the drawing's unit)."""


@dataclass(frozen=True)
class Label:
    """The room an edge's label takes around its anchor on the edge, turned along it:
    ``half`` along the edge each way, ``above`` and ``below`` it."""

    half: float
    above: float
    below: float


def layout_rows(columns: dict[Key, int], order: Sequence[Key], pairs: Sequence[Pair],
                companions: dict[Key, Key]) -> dict[Key, float]:
    """A row for every node of ``columns``: ``order`` is the initial order (ties keep
    it), ``pairs`` the edges, ``companions`` maps a node to the partner it sits below."""
    height = max(sum(1 for c in columns.values() if c == k) for k in set(columns.values()))
    layers = _ordered_layers(columns, order, pairs, companions, height)
    return _settled_rows(layers, pairs, companions, height)


def crossings(points: dict[Key, tuple[float, float]], pairs: Sequence[Pair]) -> int:
    """How many pairs of edges cross, drawn as straight segments between ``points``
    (edges that share an end do not count)."""
    count = 0
    for (a, b), (c, d) in itertools.combinations(pairs, 2):
        if len({a, b, c, d}) == 4 and _segments_cross(points[a], points[b], points[c], points[d]):
            count += 1
    return count


def place_labels(centres: dict[Key, Point], pairs: Sequence[Pair], radius: float,
                 obstacles: Sequence[Polygon], labels: Sequence[Label]
                 ) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """Where along each edge its label sits (``centres`` of the nodes, drawn as circles of
    ``radius``, on a screen): the first candidate of ``LABEL_AT`` whose label overlaps no
    node, none of ``obstacles`` (the nodes' text) and no label placed so far, preferring one
    that is also clear of the other edges' lines, else of the points where edges cross.
    Steep edges, which pass most others, go first. Also which edges' labels found no clear
    place (none: no label overlaps a node, a node's text or another label)."""
    crossing = [boxes.upright(_meeting(centres[a], centres[b], centres[c], centres[d]), CROSSING, CROSSING)
                for (a, b), (c, d) in itertools.combinations(pairs, 2)
                if len({a, b, c, d}) == 4 and _segments_cross(centres[a], centres[b], centres[c], centres[d])]
    lines = [_line(*border_points(centres[a], centres[b], radius)) for a, b in pairs]
    fixed = [*obstacles]
    placed: dict[int, float] = {}
    crowded = []
    for i in sorted(range(len(pairs)), key=lambda i: (-abs(_slope(centres, pairs[i])), i)):
        start, end = centres[pairs[i][0]], centres[pairs[i][1]]
        shapes = {t: label_polygon(start, end, radius, t, labels[i]) for t in LABEL_AT}
        clear = [t for t in LABEL_AT if _clear(shapes[t], centres.values(), radius, fixed)]
        roomy = [t for t in clear if _clear(shapes[t], (), radius, crossing)]
        free = [t for t in roomy if _clear(shapes[t], (), radius, lines[:i] + lines[i + 1:])]
        if not clear:
            crowded.append(i)
        placed[i] = (free or roomy or clear or LABEL_AT)[0]
        fixed.append(shapes[placed[i]])
    return tuple(placed[i] for i in range(len(pairs))), tuple(sorted(crowded))


def _line(start: Point, end: Point) -> Polygon:
    """A drawn edge as a thin rectangle."""
    length = math.hypot(end[0] - start[0], end[1] - start[1])
    return boxes.turned(start, math.atan2(end[1] - start[1], end[0] - start[0]), 0.0, length, -0.4, 0.4)


def label_polygon(start: Point, end: Point, radius: float, at: float, label: Label) -> Polygon:
    """The label's rectangle: anchored ``at`` along the edge from circle to circle (as TikZ's
    ``pos``), turned along it, ``label.above`` above and ``label.below`` below it."""
    (x1, y1), (x2, y2) = border_points(start, end, radius)
    anchor = (x1 + at * (x2 - x1), y1 + at * (y2 - y1))
    angle = math.atan2(y2 - y1, x2 - x1)
    return boxes.turned(anchor, angle, -label.half, label.half, -label.above, label.below)


def border_points(start: Point, end: Point, radius: float) -> tuple[Point, Point]:
    """Where the edge between two circles of ``radius`` leaves the one and meets the other."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = math.hypot(dx, dy)
    ux, uy = dx / length, dy / length
    return (start[0] + ux * radius, start[1] + uy * radius), (end[0] - ux * radius, end[1] - uy * radius)


def _clear(shape: Polygon, centres, radius: float, fixed: Sequence[Polygon]) -> bool:
    """Whether ``shape`` overlaps no circle and none of ``fixed``."""
    left, top, right, bottom = boxes.bounds(shape)
    for x, y in centres:
        if left - radius < x < right + radius and top - radius < y < bottom + radius \
                and boxes.circle_overlaps((x, y), radius, shape):
            return False
    for other in fixed:
        l2, t2, r2, b2 = boxes.bounds(other)
        if l2 < right and left < r2 and t2 < bottom and top < b2 and boxes.polygons_overlap(shape, other):
            return False
    return True


def _ordered_layers(columns: dict[Key, int], order: Sequence[Key], pairs: Sequence[Pair],
                    companions: dict[Key, Key], height: int) -> list[list[Key]]:
    """Each column's nodes in order: barycenter sweeps over the nodes that are not
    companions, the order with fewest crossings kept; then each companion below its
    partner."""
    layers = [[k for k in order if columns[k] == c and k not in companions]
              for c in range(max(columns.values()) + 1)]
    ordered = [p for p in pairs if p[0] not in companions]
    best, fewest = [list(layer) for layer in layers], _layer_crossings(layers, ordered, height)
    for _ in range(SWEEPS):
        for forward in (True, False):
            _sweep(layers, ordered, height, forward)
            count = _layer_crossings(layers, ordered, height)
            if count < fewest:
                best, fewest = [list(layer) for layer in layers], count
    for companion, partner in companions.items():
        layer = best[columns[companion]]
        layer.insert(layer.index(partner) + 1, companion)
    return best


def _sweep(layers: list[list[Key]], pairs: Sequence[Pair], height: int, forward: bool) -> None:
    """Reorder each column (left to right or back) by the mean row of its neighbours on
    the side already swept; a node without such neighbours keeps its row."""
    rows = _centred(layers, height)
    side = {k: [] for layer in layers for k in layer}
    for source, target in pairs:
        if forward:
            side[target].append(source)
        else:
            side[source].append(target)
    for layer in (layers[1:] if forward else layers[-2::-1]):
        def key(k: Key) -> tuple[float, float]:
            return (fmean(rows[n] for n in side[k]) if side[k] else rows[k], rows[k])
        layer.sort(key=key)
        rows.update(_centred([layer], height))


def _centred(layers: list[list[Key]], height: int) -> dict[Key, float]:
    """Rows 0, 1, ... of each layer, the layer centred in ``height`` rows."""
    return {k: (height - len(layer)) / 2 + i for layer in layers for i, k in enumerate(layer)}


def _layer_crossings(layers: list[list[Key]], pairs: Sequence[Pair], height: int) -> int:
    """Crossings of ``pairs`` with each layer centred in its column."""
    rows = _centred(layers, height)
    column = {k: c for c, layer in enumerate(layers) for k in layer}
    return crossings({k: (column[k], rows[k]) for k in rows}, pairs)


def _settled_rows(layers: list[list[Key]], pairs: Sequence[Pair], companions: dict[Key, Key],
                  height: int) -> dict[Key, float]:
    """Rows that keep each column's order and a row between its nodes, each node near
    the mean of the rows of its sources and of its targets (a companion one row below
    its partner); a neighbour shared with others counts less (an input feeding every
    unit pulls each less than the unit's own weights)."""
    rows = _centred(layers, height)
    sources = {k: [s for s, t in pairs if t == k] for k in rows}
    targets = {k: [t for s, t in pairs if s == k] for k in rows}

    def wanted(k: Key) -> float:
        if k in companions:
            return rows[companions[k]] + 1
        sides = [_shared_mean(ns, rows, fan) for ns, fan in ((sources[k], targets), (targets[k], sources)) if ns]
        return fmean(sides) if sides else rows[k]

    for i in range(PASSES):
        for layer in (layers if i % 2 == 0 else layers[::-1]):
            rows.update(zip(layer, _packed([wanted(k) for k in layer], height)))
    return rows


def _shared_mean(neighbours: list[Key], rows: dict[Key, float],
                 fan: dict[Key, list[Key]]) -> float:
    """The mean row of ``neighbours``, each weighted by one over how many nodes on this
    side it is shared with (``fan``)."""
    weights = [1 / len(fan[n]) for n in neighbours]
    return sum(w * rows[n] for w, n in zip(weights, neighbours)) / sum(weights)


def _packed(wanted: list[float], height: int) -> list[float]:
    """Rows as close to ``wanted`` as can be (least squares), in the same order, at least
    one apart, between 0 and ``height - 1``, on a grid of 1/GRID: with u_i = row_i - i
    the rows one apart are the nondecreasing u, so this is an isotonic regression (pool
    adjacent violators) clipped to its bounds."""
    blocks: list[list[float]] = []  # [mean, count]
    for i, w in enumerate(wanted):
        blocks.append([w - i, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m1, n1), (m2, n2) = blocks.pop(-2), blocks.pop()
            blocks.append([(m1 * n1 + m2 * n2) / (n1 + n2), n1 + n2])
    top = height - len(wanted)
    offsets = [min(max(m, 0.0), top) for m, n in blocks for _ in range(int(n))]
    return [round(u * GRID) / GRID + i for i, u in enumerate(offsets)]


def _segments_cross(p1: tuple[float, float], p2: tuple[float, float],
                    q1: tuple[float, float], q2: tuple[float, float]) -> bool:
    """Whether the open segments p1p2 and q1q2 cross (touching or overlapping does not
    count)."""
    def side(a, b, c) -> int:
        v = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        return (v > 1e-9) - (v < -1e-9)

    return side(p1, p2, q1) * side(p1, p2, q2) < 0 and side(q1, q2, p1) * side(q1, q2, p2) < 0


def _meeting(p1: tuple[float, float], p2: tuple[float, float], q1: tuple[float, float],
             q2: tuple[float, float]) -> tuple[float, float]:
    """Where the lines p1p2 and q1q2 meet (they are known to cross)."""
    (x1, y1), (x2, y2), (x3, y3), (x4, y4) = p1, p2, q1, q2
    t = ((x1 - x3) * (y3 - y4) - (y1 - y3) * (x3 - x4)) / ((x1 - x2) * (y3 - y4) - (y1 - y2) * (x3 - x4))
    return _along(p1, p2, t)


def _slope(points: dict[Key, tuple[float, float]], pair: Pair) -> float:
    (x1, y1), (x2, y2) = points[pair[0]], points[pair[1]]
    return (y2 - y1) / (x2 - x1) if x2 != x1 else math.inf


def _along(start: tuple[float, float], end: tuple[float, float], t: float) -> tuple[float, float]:
    return start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1])
