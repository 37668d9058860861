"""The pictures: the computational graph (data, TikZ, SVG) and the tangent plot."""

from __future__ import annotations

import re
from statistics import fmean
import unicodedata
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import sympy as sp

import symgrad
from render_tools import compile_latex, pdflatex_available, require
from symgrad.render import latex, plain
from symgrad.cli.main import main
from symgrad.model.functions import expand_activations
from symgrad.pictures.graph import computational_graph
from symgrad.pictures import pictures
from symgrad.render.pictures import graph_svg, picture_files

SVG = "{http://www.w3.org/2000/svg}"


def seed_neuron(**options):
    graph = symgrad.with_loss(symgrad.neuron("sigmoid", bias=False), "squared_error")
    return symgrad.derive(graph, wrt="w", at={"x": 1.5, "w": 0.8, "y": 1.0}, learning_rate=0.1,
                          **options)


def names(symbols):
    return {s.name for s in symbols}


def test_the_neuron_graph_has_its_quantities_and_edges_in_layers():
    picture = computational_graph(seed_neuron())
    assert [n.symbol.name for n in picture.nodes] == ["x", "w", "y", "z", "yhat", "L"]
    assert {(e.source.name, e.target.name) for e in picture.edges} == {
        ("x", "z"), ("w", "z"), ("z", "yhat"), ("yhat", "L"), ("y", "L")}
    columns = {n.symbol.name: n.column for n in picture.nodes}
    assert columns == {"x": 0, "w": 0, "z": 1, "yhat": 2, "y": 2, "L": 3}
    assert picture.drawn


def test_edge_labels_are_the_factors_and_their_numbers():
    d = seed_neuron()
    picture = computational_graph(d)
    for e in picture.edges:
        composed = d.graph.definition(e.target).expr
        assert sp.simplify(expand_activations(e.factor.result.xreplace(
            {d.graph.definition(e.target).symbol: composed})) - sp.diff(expand_activations(composed),
                                                                        e.source)) == 0 \
            or (e.target, e.source) in d.backward.factors
        if (e.target, e.source) in d.backward.factors:
            assert e.factor is d.backward.factors[(e.target, e.source)]
            assert e.value == d.worked.factors[(e.target, e.source)]
    y_edge = next(e for e in picture.edges if e.source.name == "y")
    yhat = d.worked.forward[next(n.symbol for n in picture.nodes if n.symbol.name == "yhat")]
    assert float(y_edge.value) == pytest.approx(-2 * (float(yhat) - 1.0))


def test_nodes_carry_forward_values_and_gradients():
    d = seed_neuron()
    picture = computational_graph(d)
    w = picture.node(d.parameters[0])
    assert w.value == sp.Rational(4, 5) and w.gradient == d.worked.gradients[d.parameters[0]]
    assert picture.node(d.loss).gradient == 1 and picture.node(d.loss).value == d.worked.loss
    z = next(n for n in picture.nodes if n.symbol.name == "z")
    assert float(z.value) == pytest.approx(1.2)


def test_the_two_layer_network_graph():
    net = symgrad.with_loss(symgrad.network(2, [(2, "sigmoid"), (2, "sigmoid")]), "half_squared_error")
    d = symgrad.derive(net, wrt="all")
    picture = computational_graph(d)
    assert len(picture.nodes) == 16 + 9 and picture.drawn and not picture.compact
    edges = {(e.source.name, e.target.name) for e in picture.edges}
    assert ("W1[0][1]", "z1[0]") in edges and ("a1[1]", "z2[0]") in edges
    assert ("z2[1]", "yhat[1]") in edges and ("yhat[0]", "L") in edges and ("y[1]", "L") in edges
    assert len(edges) == 2 * 5 + 2 + 2 * 5 + 2 + 4
    factor = next(e.factor for e in picture.edges if (e.source.name, e.target.name) == ("a1[1]", "z2[0]"))
    assert factor.result.name == "W2[0][1]"
    assert pictures(d, "net").graph is not None and pictures(d, "net").size == (25, 28)


def worked_network(units: int = 2):
    net = symgrad.with_loss(symgrad.network(2, [(units, "sigmoid"), (2, "sigmoid")]), "half_squared_error")
    at = {"x": [0.5, -0.2], "y": [0.0, 1.0], "W1": [[0.1, 0.2]] * units, "b1": [0.1] * units,
          "W2": [[0.5] * units, [0.7] * units], "b2": [0.2, 0.3]}
    return symgrad.derive(net, wrt="all", at=at, learning_rate=0.5)


def test_a_graph_above_twelve_nodes_is_drawn_compact_and_its_tikz_compiles(tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-pictures)")
    d = worked_network()
    shown = pictures(d, "net")
    assert shown.graph.compact and len(shown.graph.nodes) == 25
    text = symgrad.render(d, "latex", pictures=shown)
    assert text.count(r"\node[circle") == 25 and text.count(r"\draw[->]") == 28
    assert r"\resizebox{\linewidth}{!}" in text and r"\partial L/\partial" not in text.split("tikzpicture")[1]
    gradients = re.findall(r"\\textcolor\{red!60!black\}\{\$([^$]+)\$\}", text)
    assert len(gradients) == 25 - 4 and all(latex.num(float(g), 3) == g for g in gradients)
    svg = ET.fromstring(graph_svg(shown.graph))
    z = next(n for n in shown.graph.nodes if n.symbol.name == "z1[0]")
    assert plain.number(float(latex.num(z.gradient, 3))) in {t.text for t in svg.iter(SVG + "text")}
    for name, data in picture_files(shown, "latex").items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "net.tex").write_text(text, encoding="utf-8")
    compile_latex(tmp_path / "net.tex")


def test_a_graph_above_the_limit_is_described_instead():
    d = worked_network(units=5)
    shown = pictures(d, "net")
    assert shown.size[0] == 2 + 2 + 10 + 5 + 10 + 2 + 5 + 5 + 2 + 2 + 1 == 46 and shown.graph is None
    text = symgrad.render(d, "markdown", pictures=shown)
    assert "too many to draw legibly (a graph is drawn up to 40 quantities)" in text
    assert "net.graph.svg" not in text and "net.graph.svg" not in picture_files(shown, "markdown")


def test_svg_parses_and_shows_the_labels():
    svg = graph_svg(computational_graph(seed_neuron()))
    root = ET.fromstring(svg)
    texts = [unicodedata.normalize("NFC", t.text) for t in root.iter(SVG + "text")]
    assert {"x", "w", "y", "z", "ŷ", "L"} <= set(texts)
    # The local derivative above its edge, its number below.
    assert {"ŷ (1 − ŷ)", "= 0.177894", "2 (ŷ − y)", "= −0.46295"} <= set(texts)
    assert "∂L/∂w = −0.123534" in texts
    assert len(list(root.iter(SVG + "line"))) == 5


def test_plain_names():
    net = symgrad.network(2, [(2, "sigmoid")])
    w = next(s for g in net.groups for s in g.symbols if s.name == "W1[0][1]")
    assert plain.name(w) == "W⁽¹⁾₁₂" and plain.number(-0.5) == "−0.5"


def test_the_tangent_slope_is_the_gradient_and_a_central_difference():
    d = seed_neuron()
    (tangent,) = pictures(d, "seed").tangent
    assert tangent.slope == float(d.worked.gradients[d.parameters[0]])
    h = 1e-6
    central = (tangent.loss_at(tangent.value + h) - tangent.loss_at(tangent.value - h)) / (2 * h)
    assert central == pytest.approx(tangent.slope, rel=1e-6)
    assert tangent.loss_at(tangent.value) == pytest.approx(float(d.worked.loss))
    assert tangent.step_to == pytest.approx(0.8 - 0.1 * tangent.slope)
    assert tangent.step_loss < tangent.loss
    assert np.all(np.isfinite(tangent.losses))


def test_two_parameters_give_two_panels_and_more_give_none():
    d = symgrad.derive("softplus(w*x + b)**2", wrt=["w", "b"], at={"w": 0.5, "x": 2, "b": 0.1})
    assert len(pictures(d, "s").tangent) == 2
    # x is an input: "all" is w and b, and x has no panel (no step moves it)
    d2 = symgrad.derive("softplus(w*x + b)**2", wrt="all", at={"w": 0.5, "x": 2, "b": 0.1})
    assert [t.parameter.name for t in pictures(d2, "s").tangent] == ["b", "w"]
    d3 = symgrad.derive("softplus(w*x + b + c)**2", wrt="all", at={"w": 0.5, "x": 2, "b": 0.1, "c": 1})
    assert pictures(d3, "s").tangent is None
    assert pictures(symgrad.derive("(w*x)**2", wrt="w"), "s").tangent is None


def test_picture_files_are_deterministic():
    first = picture_files(pictures(seed_neuron(), "seed"), "markdown")
    second = picture_files(pictures(seed_neuron(), "seed"), "markdown")
    assert set(first) == {"seed.graph.svg", "seed.tangent.svg", "seed.training.svg"}
    assert first == second
    pdf = picture_files(pictures(seed_neuron(), "seed"), "latex")
    assert set(pdf) == {"seed.tangent.pdf", "seed.training.pdf"}
    assert picture_files(pictures(seed_neuron(), "seed"), "beamer") == pdf
    html = picture_files(pictures(seed_neuron(), "seed"), "html")
    assert html == {k: v for k, v in first.items() if k != "seed.graph.svg"}
    assert picture_files(pictures(seed_neuron(), "seed"), "json") == {}
    assert pdf["seed.tangent.pdf"].startswith(b"%PDF")
    assert pdf == picture_files(pictures(seed_neuron(), "seed"), "latex")
    ET.fromstring(first["seed.tangent.svg"])


def test_markdown_refers_to_its_pictures():
    d = seed_neuron()
    text = symgrad.render(d, "markdown", pictures=pictures(d, "seed"))
    assert "![computational graph](seed.graph.svg)" in text and "(seed.tangent.svg)" in text
    assert "seed.graph.svg" not in symgrad.render(d, "markdown")


@pytest.mark.parametrize("fmt", ["latex", "latex-fragment"])
def test_tikz_documents_compile(tmp_path, fmt):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-pictures)")
    d = seed_neuron()
    shown = pictures(d, "seed")
    text = symgrad.render(d, fmt, pictures=shown)
    assert r"\begin{tikzpicture}" in text and r"\includegraphics" in text
    for name, data in picture_files(shown, fmt).items():
        (tmp_path / name).write_bytes(data)
    if fmt == "latex-fragment":
        text = ("\\documentclass{article}\\usepackage{amsmath,amssymb,tikz,graphicx}"
                "\\begin{document}\n" + text + "\\end{document}\n")
    (tmp_path / "seed.tex").write_text(text, encoding="utf-8")
    compile_latex(tmp_path / "seed.tex")


def test_cli_writes_the_pictures_beside_the_document(capsys, tmp_path):
    spec = tmp_path / "seed.yaml"
    spec.write_text("model: {activation: sigmoid, bias: false}\nloss: squared_error\nwrt: w\n"
                    "at: {x: 1.5, w: 0.8, y: 1.0}\nlearning_rate: 0.1\n", encoding="utf-8")
    assert main(["derive", str(spec), "--no-verify", "-o", str(tmp_path / "doc.md")]) == 0
    assert {"doc.md", "doc.graph.svg", "doc.tangent.svg"} <= {p.name for p in tmp_path.iterdir()}
    assert main(["derive", str(spec), "--no-verify", "-o", str(tmp_path / "doc.tex")]) == 0
    assert (tmp_path / "doc.tangent.pdf").exists()


def test_the_gallery_has_the_seed_pictures():
    from pathlib import Path
    output = Path(__file__).resolve().parent.parent / "output"
    assert (output / "02_seed_neuron.graph.svg").exists()
    assert (output / "02_seed_neuron.tangent.pdf").exists()


def weight_and_bias():
    graph = symgrad.with_loss(symgrad.neuron("sigmoid"), "squared_error")
    return symgrad.derive(graph, wrt=["w", "b"], at={"x": 1.5, "w": 0.8, "b": -0.4, "y": 1.0},
                          learning_rate=1.0)


def test_the_contour_has_the_gradient_and_the_step():
    d = weight_and_bias()
    shown = pictures(d, "n").contour
    w, b = d.parameters
    assert shown.gradient == (float(d.worked.gradients[w]), float(d.worked.gradients[b]))
    assert shown.step_to == pytest.approx((float(d.worked.updated[w]), float(d.worked.updated[b])))
    middle = len(shown.xs) // 2
    assert (shown.xs[middle], shown.ys[middle]) == pytest.approx(shown.point)
    assert shown.losses[middle, middle] == pytest.approx(float(d.worked.loss))
    d_dy, d_dx = np.gradient(shown.losses, shown.ys, shown.xs)
    assert (d_dx[middle, middle], d_dy[middle, middle]) == pytest.approx(shown.gradient, rel=1e-2)
    assert pictures(seed_neuron(), "s").contour is None


def test_training_steps_follow_the_updates():
    d = weight_and_bias()
    shown = pictures(d, "n").training
    assert len(shown.losses) == 21 and shown.losses[0] == pytest.approx(float(d.worked.loss))
    composed = d.graph.composed()
    after_one = composed.xreplace({**d.worked.given, **d.worked.updated})
    assert shown.losses[1] == pytest.approx(float(after_one.evalf(30)))
    assert all(a > b for a, b in zip(shown.losses, shown.losses[1:]))
    assert pictures(symgrad.derive("(w*x)**2", wrt="w", at={"w": 1, "x": 2}), "s").training is None


def test_two_parameters_get_every_plot_and_deterministic_files():
    shown = pictures(weight_and_bias(), "n")
    markdown = picture_files(shown, "markdown")
    assert set(markdown) == {f"n.{p}.svg" for p in ("graph", "tangent", "contour", "training")}
    assert markdown == picture_files(pictures(weight_and_bias(), "n"), "markdown")
    text = symgrad.render(weight_and_bias(), "markdown", pictures=shown)
    for name in markdown:
        assert f"]({name})" in text
    latex = picture_files(shown, "latex")
    assert set(latex) == {f"n.{p}.pdf" for p in ("tangent", "contour", "training")}


# --- the layout: few crossings, no overlaps, units together, labels apart ---------------


def segments_cross(p1, p2, q1, q2) -> bool:
    """Whether the segments p1p2 and q1q2 cross at a point inside both."""
    def side(a, b, c):
        v = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        return (v > 1e-9) - (v < -1e-9)
    return side(p1, p2, q1) * side(p1, p2, q2) < 0 and side(q1, q2, p1) * side(q1, q2, p2) < 0


def edge_crossings(picture, rows) -> int:
    """Pairs of edges (with four distinct ends) that cross, drawn straight at ``rows``."""
    at = {n.symbol: (n.column, rows[n.symbol]) for n in picture.nodes}
    segments = [(e.source, e.target) for e in picture.edges]
    return sum(1 for i, (a, b) in enumerate(segments) for c, d in segments[i + 1:]
               if len({a, b, c, d}) == 4 and segments_cross(at[a], at[b], at[c], at[d]))


def fixed_order_rows(picture):
    """The layout before ordering: each column's nodes in the graph's order (inputs,
    weights, biases, then the definitions), one row apart, centred on the tallest."""
    rows = {}
    for column in {n.column for n in picture.nodes}:
        members = [n.symbol for n in picture.nodes if n.column == column]
        rows.update({s: (picture.rows - len(members)) / 2 + i for i, s in enumerate(members)})
    return rows


def test_the_network_graph_has_far_fewer_crossings_than_the_fixed_order():
    picture = computational_graph(worked_network())
    ordered = edge_crossings(picture, {n.symbol: n.row for n in picture.nodes})
    fixed = edge_crossings(picture, fixed_order_rows(picture))
    assert fixed == 18
    # Both inputs feed both hidden units and both activations both outputs: two K2,2,
    # each of which crosses once however it is drawn; so 2 is the least possible.
    assert ordered == 2 and ordered < fixed / 4


@pytest.mark.parametrize("make", [seed_neuron, weight_and_bias, worked_network,
                                  lambda: worked_network(units=3)])
def test_nodes_never_overlap_and_stay_in_the_picture(make):
    picture = computational_graph(make())
    for column in range(picture.columns):
        rows = sorted(n.row for n in picture.nodes if n.column == column)
        assert rows and all(b - a >= 1 for a, b in zip(rows, rows[1:]))
        assert 0 <= rows[0] and rows[-1] <= picture.rows - 1
    assert {n.column for n in picture.nodes} == set(range(picture.columns))


@pytest.mark.parametrize("units", [2, 3])
def test_a_units_weights_and_bias_sit_together_and_a_target_below_its_prediction(units):
    picture = computational_graph(worked_network(units))
    row = {n.symbol.name: n.row for n in picture.nodes}
    for layer, outputs, inputs in ((1, units, 2), (2, 2, units)):
        blocks = {j: sorted([row[f"W{layer}[{j}][{k}]"] for k in range(inputs)] + [row[f"b{layer}[{j}]"]])
                  for j in range(outputs)}
        for j, block in blocks.items():
            assert block == [block[0] + i for i in range(inputs + 1)]
            nearest = min(blocks, key=lambda u: abs(fmean(blocks[u]) - row[f"z{layer}[{j}]"]))
            # With three hidden units the middle of the next column (the activations)
            # pulls the last unit's sum up to the block before: only its order is kept.
            assert nearest == j or units == 3
        sums = [row[f"z{layer}[{j}]"] for j in range(outputs)]
        assert sums == sorted(sums) and [blocks[j][0] for j in range(outputs)] == sorted(blocks[j][0] for j in range(outputs))
    for k in range(2):
        assert row[f"y[{k}]"] == row[f"yhat[{k}]"] + 1




def test_a_small_step_is_shown_enlarged_in_an_inset_and_said_so():
    d = seed_neuron()
    (tangent,) = pictures(d, "seed").tangent
    # The step: 0.1 * 0.123534 = 0.0123534, on a plot 1 wide (w from 0.3 to 1.3): 1.2% of
    # it, too short to see; the inset reaches 2.5 steps either side, 0.061767 wide, so it
    # enlarges w 1 / 0.061767 = 16.19 times and the step takes a fifth of its width.
    step = abs(tangent.step_to - tangent.value)
    assert step == pytest.approx(0.1 * abs(float(d.worked.gradients[d.parameters[0]])))
    low, high = tangent.inset
    assert low < min(tangent.value, tangent.step_to) and max(tangent.value, tangent.step_to) < high
    assert step / (high - low) == pytest.approx(0.2)
    assert tangent.magnified == pytest.approx((tangent.xs[-1] - tangent.xs[0]) / (5 * step))
    svg = picture_files(pictures(d, "seed"), "markdown")["seed.tangent.svg"].decode()
    assert svg.count('<g id="axes_') == 2
    text = symgrad.render(d, "markdown", pictures=pictures(d, "seed"))
    assert f"an inset shows it with $w$ enlarged {tangent.magnified:.0f} times" in text
    # A step long enough to see (learning rate 5: 0.62, half the plot) has no inset.
    big = symgrad.derive(symgrad.with_loss(symgrad.neuron("sigmoid", bias=False), "squared_error"),
                         wrt="w", at={"x": 1.5, "w": 0.8, "y": 1.0}, learning_rate=5)
    (tangent,) = pictures(big, "s").tangent
    assert tangent.inset is None and tangent.magnified is None
    assert "inset" not in symgrad.render(big, "markdown", pictures=pictures(big, "s"))


def test_each_picture_follows_what_it_illustrates():
    d = seed_neuron()
    text = symgrad.render(d, "markdown", pictures=pictures(d, "seed"))
    headings = [line for line in text.splitlines() if line.startswith("#")]
    at = {h.lstrip("# "): i for i, h in enumerate(headings)}
    # The graph carries the values and gradients, the plots the step: each comes after.
    assert at["Backward pass"] < at["Gradients"] < at["The computational graph"]
    assert at["The computational graph"] < at["One step of gradient descent"] \
        < at["The gradient as a slope"] < at["A few steps of gradient descent"]
    assert headings[at["The computational graph"]].startswith("### ")
    # Without numbers the graph (formulas alone) follows the derivation, as a section.
    plain_d = symgrad.derive(symgrad.with_loss(symgrad.neuron("sigmoid", bias=False), "squared_error"), wrt="w")
    text = symgrad.render(plain_d, "markdown", pictures=pictures(plain_d, "seed"))
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings[-1] == "## The computational graph"
    assert "The gradient as a slope" not in text
