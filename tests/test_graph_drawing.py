"""The computational graph as printed: no edge label overlaps a node, a node's text or another
label, measured on the drawings themselves (the SVG's texts measured in its font with
Pillow, rasterised; the TikZ picture's label and text boxes read back from pdflatex), and
the labels print at least 7.5 pt on an 11pt article's page."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from matplotlib import font_manager

from render_tools import pdflatex_available, require
from symgrad.cli.main import derive_spec, using, written_in
from symgrad.pictures import pictures
from symgrad.render.document import render
from symgrad.render.pictures import graph_svg
from symgrad.spec import load_spec

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SVG = "{http://www.w3.org/2000/svg}"
GALLERY = ["02_seed_neuron", "03_two_layer_network", "14_neuron_weight_and_bias"]
"""The gallery's examples that draw their graph (``GALLERY_PICTURES``)."""
OTHERS = ["15_neuron_cross_entropy", "05_quotient_with_log", "16_nielsen_network",
          "11_softmax", "04_softplus_squared", "08_relu", "13_batch_network"]
"""Other networks and expressions, with longer formulas or more nodes."""
SCALE = 3
"""Raster pixels a pixel of the SVG."""


def graph_of(name):
    spec = load_spec(EXAMPLES / f"{name}.yaml")
    derivation = derive_spec(spec, source=name)
    written = using(written_in(derivation.graph, spec.notation))
    return derivation, spec, written


def svg_of(name):
    derivation, spec, written = graph_of(name)
    with written:
        return graph_svg(pictures(derivation, name).graph)


def _font(size):
    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size * SCALE)


def _text_polygon(element, size):
    """The ink box of an SVG text (anchored at its middle), turned by its transform."""
    x, y = float(element.get("x")) * SCALE, float(element.get("y")) * SCALE
    left, top, right, bottom = _font(size).getbbox(element.text, anchor="ms")
    corners = [(x + left, y + top), (x + right, y + top), (x + right, y + bottom), (x + left, y + bottom)]
    turn = re.match(r"rotate\(([-\d.]+) ([-\d.]+) ([-\d.]+)\)", element.get("transform") or "")
    if turn is None:
        return corners
    angle, cx, cy = np.radians(float(turn[1])), float(turn[2]) * SCALE, float(turn[3]) * SCALE
    c, s = np.cos(angle), np.sin(angle)
    return [(cx + (px - cx) * c - (py - cy) * s, cy + (px - cx) * s + (py - cy) * c) for px, py in corners]


def svg_shapes(svg):
    """The SVG's circles, node texts and labels (a label: its texts above and below one
    edge) as rasters, and the size of the drawing."""
    root = ET.fromstring(svg)
    sizes = {m[1]: float(m[2]) for m in re.finditer(r"\.(\w+) \{ font-size: ([\d.]+)px", svg)}
    size = (int(float(root.get("width")) * SCALE), int(float(root.get("height")) * SCALE))
    circles, texts, labels = [], [], {}
    for element in root.iter():
        if element.tag == SVG + "circle":
            x, y, r = (float(element.get(k)) * SCALE for k in ("cx", "cy", "r"))
            circles.append([(x - r, y - r), (x + r, y + r)])
        elif element.tag == SVG + "text" and element.get("class") in ("value", "gradient"):
            texts.append(_text_polygon(element, sizes[element.get("class")]))
        elif element.tag == SVG + "text" and element.get("class") == "label":
            labels.setdefault(element.get("transform"), []).append(
                _text_polygon(element, sizes["label"]))
    return circles, texts, list(labels.values()), size


def _mask(size, polygons=(), ellipses=()):
    image = Image.new("1", size)
    draw = ImageDraw.Draw(image)
    for p in polygons:
        draw.polygon(p, fill=1)
    for e in ellipses:
        draw.ellipse(e, fill=1)
    return np.asarray(image, dtype=np.int32)


@pytest.mark.parametrize("name", GALLERY + OTHERS)
def test_no_svg_label_overlaps_a_node_its_text_or_another_label(name):
    circles, texts, labels, size = svg_shapes(svg_of(name))
    assert labels and circles
    nodes = _mask(size, ellipses=circles) + _mask(size, polygons=texts)
    count = sum(_mask(size, polygons=label) for label in labels)
    # A pixel of the raster is a third of the SVG's: a shared pixel row where two boxes
    # touch is tolerated, no more.
    assert int(((count > 0) & (nodes > 0)).sum()) <= 3 * SCALE, "a label covers a node or its text"
    assert int((count > 1).sum()) <= 3 * SCALE, "two labels overlap"


TIKZ = re.compile(r"\\sbox\{\\symgradgraph\}\{(\\begin\{tikzpicture\}.*?\\end\{tikzpicture\})\}%",
                  re.DOTALL)
PAGE = r"""\documentclass[11pt]{article}
\usepackage{amsmath}
\usepackage{amssymb}
\usepackage{tikz}
\usepackage[a4paper, margin=2.5cm]{geometry}
\newsavebox{\graph}
\begin{document}
\sbox{\graph}{%s}
\typeout{BOX \the\wd\graph\space\the\ht\graph\space\the\dp\graph\space\the\linewidth\space\the\textheight}
\end{document}
"""
REPORT = r"""\pgfpointanchor{%s}{%s}\pgfgetlastxy{\ax}{\ay}\typeout{AT %s %s \ax\space\ay}"""
ANCHORS = ("north west", "north east", "south east", "south west")


def tikz_measured(name, tmp_path):
    """The graph's TikZ, compiled alone in the gallery's page: its label boxes and node text
    boxes (corners, pt, less TikZ's inner sep), its circles (centre, radius), the size of
    the picture and of the page, and the size of a label's font."""
    derivation, spec, written = graph_of(name)
    with written:
        document = render(derivation, "latex", detail=spec.detail, pictures=pictures(derivation, name))
    picture = TIKZ.search(document)[1]
    count = iter(range(10_000))
    picture = re.sub(r"node\[pos=", lambda m: f"node[name=l{next(count)}, pos=", picture)
    picture = re.sub(r"\\node\[anchor=north,", lambda m: f"\\node[name=t{next(count)}, anchor=north,", picture)
    picture = picture.replace("text=blue!50!black] {", r"text=blue!50!black] {\typeout{SIZE \csname f@size\endcsname}", 1)
    names = re.findall(r"name=([lt]\d+)", picture) + re.findall(r"\] \((n\d+)\) at", picture)
    reports = "".join(REPORT % (n, a, n, a.replace(" ", "-")) for n in names
                      for a in (ANCHORS if n[0] != "n" else ("center", "east")))
    picture = picture.replace(r"\end{tikzpicture}", reports + r"\end{tikzpicture}")
    (tmp_path / "g.tex").write_text(PAGE % picture)
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "g.tex"],
                         cwd=tmp_path, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                         timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    log = (tmp_path / "g.log").read_text()
    at = {}
    for node, anchor, x, y in re.findall(r"AT (\w+) ([\w-]+) ([-\d.]+)pt ([-\d.]+)pt", log):
        at.setdefault(node, {})[anchor] = (float(x), float(y))
    box = [float(v) for v in re.search(r"BOX ([\d.]+)pt ([\d.]+)pt ([\d.]+)pt ([\d.]+)pt ([\d.]+)pt", log).groups()]
    size = float(re.search(r"SIZE ([\d.]+)", log)[1])
    shrink = lambda corners: _shrunk([corners[a] for a in ("north-west", "north-east", "south-east", "south-west")], 1.5)
    labels = [shrink(v) for k, v in at.items() if k[0] == "l"]
    texts = [shrink(v) for k, v in at.items() if k[0] == "t"]
    circles = [(v["center"], v["east"][0] - v["center"][0]) for k, v in at.items() if k[0] == "n"]
    return labels, texts, circles, box, size


def _shrunk(corners, by):
    """A rectangle ``by`` smaller on every side (TikZ's inner sep is room, not text)."""
    c = np.mean(corners, axis=0)
    out = []
    for p in corners:
        d = np.array(p) - c
        u = np.array(corners[1]) - np.array(corners[0])
        u /= np.linalg.norm(u)
        v = np.array([-u[1], u[0]])
        a, b = d @ u, d @ v
        out.append(tuple(c + (a - np.sign(a) * by) * u + (b - np.sign(b) * by) * v))
    return out


def _apart(p, q):
    """Whether two convex polygons are apart: some edge's normal separates them."""
    for poly in (p, q):
        for i in range(len(poly)):
            (x1, y1), (x2, y2) = poly[i], poly[(i + 1) % len(poly)]
            n = (y1 - y2, x2 - x1)
            a = [x * n[0] + y * n[1] for x, y in p]
            b = [x * n[0] + y * n[1] for x, y in q]
            if max(a) <= min(b) + 1e-6 or max(b) <= min(a) + 1e-6:
                return True
    return False


def _clear_of_circle(poly, centre, radius):
    """Whether no point of the polygon is inside the circle (sampled along its sides and
    at its middle)."""
    points = [tuple(np.add(poly[i], np.multiply(t, np.subtract(poly[(i + 1) % 4], poly[i]))))
              for i in range(4) for t in np.linspace(0, 1, 21)] + [tuple(np.mean(poly, axis=0))]
    return all(np.hypot(x - centre[0], y - centre[1]) >= radius - 0.2 for x, y in points)


@pytest.mark.parametrize("name", GALLERY + ["15_neuron_cross_entropy", "05_quotient_with_log",
                                            "16_nielsen_network"])
def test_no_tikz_label_overlaps_and_labels_print_at_least_7_5_pt(name, tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed")
    labels, texts, circles, (wd, ht, dp, line, text_height), size = tikz_measured(name, tmp_path)
    assert labels and texts and circles
    # The local derivative above an edge and its number below are two boxes, apart by
    # their inner seps.
    for i, label in enumerate(labels):
        for centre, radius in circles:
            assert _clear_of_circle(label, centre, radius), (name, i)
        for text in texts:
            assert _apart(label, text), (name, i)
        for j in range(i + 1, len(labels)):
            assert _apart(label, labels[j]), (name, i, j)
    # Printed size: the font's, times the scale the figure is shrunk by to fit the line
    # and 0.8 of the text's height (latex/figures.j2).
    scale = min(1.0, line / wd, 0.8 * text_height / (ht + dp))
    assert size * scale >= 7.5, (name, size, scale)
