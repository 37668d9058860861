"""Rows for a graph whose nodes already have columns, and where its edge labels sit.

The classic layered drawing (Sugiyama et al.) without its library: nodes in each column
are ordered by the barycenter heuristic (each node at the mean row of its neighbours in
the column just swept, a few sweeps each way, the order with fewest crossings kept);
then each node moves towards the mean row of its neighbours, keeping a row between nodes
of a column (an isotonic regression per column, a few passes). A *companion* (a target
beside the prediction it is compared with) is left out of the ordering and placed right
below its partner. Edge labels sit at the fraction along their edge that keeps them
furthest from the labels already placed and from the nodes' text.

Everything here works on hashable node keys and (source, target) pairs, so it can be
tested on small graphs of strings; ``symgrad.graph_picture`` applies it to a derivation.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from statistics import fmean

Key = Hashable
Pair = tuple[Key, Key]

SWEEPS = 4
"""Barycenter sweeps (each left to right, then right to left) when ordering."""
PASSES = 8
"""Passes over the columns (alternately each way) when moving nodes towards neighbours."""
GRID = 4
"""Rows are rounded to 1/GRID of a row, so that coordinates stay short and stable."""
ASPECT = 1.8
"""How many rows wide a column is drawn (TikZ and SVG both draw close to this): the
label placement measures distances in rows."""
LABEL_AT = (0.42, 0.32, 0.52, 0.62, 0.25, 0.7)
"""Candidate fractions along an edge for its label (0 at the source, 1 at the target),
best first: a little before the middle, so that labels of edges meeting at a node part."""


@dataclass(frozen=True)
class Room:
    """What the text of a drawing takes, in rows, as half-widths and half-heights of
    boxes: an edge's label around its anchor, a node's circle, and the value and
    gradient under a node (whose centre is ``text_below`` rows under the node's)."""

    label: tuple[float, float] = (0.4, 0.2)
    node: tuple[float, float] = (0.22, 0.22)
    text: tuple[float, float] = (0.62, 0.16)
    text_below: float = 0.4


FULL = Room()
"""A graph labelled with formulas and numbers (TikZ 3.6 cm by 2 cm a cell)."""
COMPACT = Room(label=(0.27, 0.12), node=(0.28, 0.28), text=(0.36, 0.18), text_below=0.45)
"""A compact graph, labelled with short numbers (TikZ about 2.9 cm by 1.55 cm a cell)."""
CROSSING = (0.08, 0.08)
"""The box kept clear around a point where two edges cross."""


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


def label_fractions(points: dict[Key, tuple[float, float]], pairs: Sequence[Pair],
                    room: Room = FULL) -> tuple[float, ...]:
    """For each edge, where along it its label sits (``points`` in (column, row)): the
    first candidate of ``LABEL_AT`` whose label is clear of the labels placed so far, of
    the nodes and their text and of the points where edges cross, else the candidate
    with most room. Steep edges, which pass most others, go first."""
    drawn = {k: (x * ASPECT, y) for k, (x, y) in points.items()}
    boxes = [box for x, y in drawn.values()
             for box in (((x, y), room.node), ((x, y + room.text_below), room.text))]
    boxes += [(_meeting(drawn[a], drawn[b], drawn[c], drawn[d]), CROSSING)
              for (a, b), (c, d) in itertools.combinations(pairs, 2)
              if len({a, b, c, d}) == 4 and _segments_cross(drawn[a], drawn[b], drawn[c], drawn[d])]
    placed: dict[int, float] = {}
    for i in sorted(range(len(pairs)), key=lambda i: -abs(_slope(drawn, pairs[i]))):
        start, end = drawn[pairs[i][0]], drawn[pairs[i][1]]
        clear = {t: _clearance(_along(start, end, t), room.label, boxes) for t in LABEL_AT}
        placed[i] = next((t for t in LABEL_AT if clear[t] >= 1), max(LABEL_AT, key=clear.get))
        boxes.append((_along(start, end, placed[i]), room.label))
    return tuple(placed[i] for i in range(len(pairs)))


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


def _clearance(centre: tuple[float, float], size: tuple[float, float],
               boxes: list[tuple[tuple[float, float], tuple[float, float]]]) -> float:
    """How clear a box of half-sizes ``size`` at ``centre`` is of ``boxes``: at least 1
    if it overlaps none (the larger of the gaps along x and along y, in the sum of the
    half-sizes), the least over the boxes."""
    return min((max(abs(centre[0] - x) / (size[0] + w), abs(centre[1] - y) / (size[1] + h))
                for (x, y), (w, h) in boxes), default=math.inf)
