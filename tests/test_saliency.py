"""A network's gradient with respect to its inputs (a saliency map), in every format.

The numbers are checked against PyTorch autograd (tests/torch_reference.py) and against
central differences of the loss, both computed without symgrad.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import symgrad
from symgrad import network, with_loss
from symgrad.cli.main import main
from symgrad.render.document import displayed_equations, render
from render_tools import (compile_latex, katex_available, katex_errors, markdown_math_segments,
                          pdflatex_available, require)
from test_render import equation_failures
from test_torch import require_reference

AT = {"x": [0.5, -0.2], "y": [0.0, 1.0], "W1": [[0.1, 0.2], [0.3, 0.4]], "b1": [0.0, 0.1],
      "W2": [[0.5, 0.6], [0.7, 0.8]], "b2": [0.2, 0.3]}
ACTIVATIONS = ("sigmoid", "sigmoid")
FORMATS = ("markdown", "latex", "latex-fragment", "html", "beamer", "notebook")
SPEC = """\
model:
  inputs: 2
  layers:
    - {units: 2, activation: sigmoid}
    - {units: 2, activation: sigmoid}
loss: half_squared_error
wrt: WRT
at:
  x: [0.5, -0.2]
  y: [0.0, 1.0]
  W1: [[0.1, 0.2], [0.3, 0.4]]
  b1: [0.0, 0.1]
  W2: [[0.5, 0.6], [0.7, 0.8]]
  b2: [0.2, 0.3]
learning_rate: 0.5
"""


def graph(batch=None):
    return with_loss(network(2, [(2, a) for a in ACTIVATIONS], batch=batch), "half_squared_error")


@pytest.fixture(scope="module")
def saliency():
    return symgrad.derive(graph(), "x", at=AT, learning_rate=0.5, verify=True)


@pytest.fixture(scope="module")
def mixed():
    return symgrad.derive(graph(), ["x", "all"], at=AT, learning_rate=0.5)


def torch_input_gradient(values=AT):
    reference = require_reference()
    arrays = {k: np.asarray(v, dtype=float) for k, v in values.items()}
    loss, grads = reference.loss_and_gradients(arrays, ACTIVATIONS, "half_squared_error", wrt=["x"])
    return loss, grads["x"]


def central_differences(h=1e-6):
    """dL/dx_k by central differences of the loss, written here from the maths."""
    def loss(x):
        a = x
        for l in (1, 2):
            a = 1 / (1 + np.exp(-(np.asarray(AT[f"W{l}"]) @ a + np.asarray(AT[f"b{l}"]))))
        return 0.5 * float(np.sum((a - np.asarray(AT["y"])) ** 2))
    x = np.asarray(AT["x"], dtype=float)
    return np.array([(loss(x + h * e) - loss(x - h * e)) / (2 * h) for e in np.eye(len(x))])


def test_input_gradient_matches_torch_autograd_and_differences(saliency):
    loss, expected = torch_input_gradient()
    got = np.array([float(saliency.worked.gradients[p]) for p in saliency.parameters])
    assert abs(float(saliency.worked.loss) - loss) < 1e-12
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(got, central_differences(), rtol=1e-6)


def test_batch_input_gradient_matches_torch_autograd():
    values = {"x": [[0.5, 0.1], [-0.2, 0.3]], "y": [[0.0, 1.0], [1.0, 0.0]],
              **{k: v for k, v in AT.items() if k not in ("x", "y")}}
    d = symgrad.derive(graph(batch=2), "x", at=values)
    _, expected = torch_input_gradient(values)
    got = np.array([float(d.worked.gradients[p]) for p in d.parameters]).reshape(2, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14)
    for view in ("index", "matrix", "both"):
        text = render(d, "markdown", view=view)
        assert r"\frac{\partial L}{\partial x" in text or r"\frac{\partial L}{\partial X}" in text
    mixed = symgrad.derive(graph(batch=2), ["x", "all"], at=values)
    shown = displayed_equations(mixed, "markdown", view="both")
    # every input of every sample has its gradient from the errors, in numbers, in the table
    inputs = [c for c in shown if c.texts[0].startswith(r"\frac{\partial L}{\partial x_{") and len(c.texts) >= 4]
    assert len({c.texts[0] for c in inputs}) == 4
    assert equation_failures(mixed, shown) == []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("view", ("index", "matrix", "both"))
def test_every_format_and_view_renders_the_input_gradient(saliency, mixed, fmt, view):
    _, expected = torch_input_gradient()
    for d in (saliency, mixed):
        text = render(d, fmt, view=view)
        if fmt == "notebook":
            text = "".join("".join(c["source"]) for c in json.loads(text)["cells"])
        shown = [f"{v:.6g}" for v in expected]
        if view != "matrix" or d is mixed:  # the matrix view's numbers need every parameter
            assert all(s in text for s in shown), (fmt, view, shown)


CHECKED = [("saliency", "index"), ("mixed", "index"), ("mixed", "matrix"), ("mixed", "both")]
"""The matrix view's equations are checked only with every parameter's gradient (without
them the view shows no numbers)."""


@pytest.mark.parametrize("which, view", CHECKED)
def test_every_displayed_equation_holds(saliency, mixed, which, view):
    d = saliency if which == "saliency" else mixed
    shown = displayed_equations(d, "markdown", view=view, detail="full")
    inputs = [c for c in shown if c.texts[0].startswith(r"\frac{\partial L}{\partial x")]
    assert inputs  # the inputs' gradient is shown in each view
    assert equation_failures(d, shown) == []


def test_inputs_are_never_updated(saliency, mixed):
    assert saliency.worked.updated == {} and saliency.trained == ()
    assert set(mixed.worked.updated) == {s for g in mixed.graph.parameters for s in g.symbols}
    for d in (saliency, mixed):
        text = render(d, "markdown", view="both")
        assert r"x_{1} &\leftarrow" not in text and r"x &\leftarrow" not in text
        assert "x_{1}$ has the gradient largest" not in text
        data = json.loads(render(d, "json"))
        assert "x" in data["gradients"] and "x" not in data.get("updated", {})
    assert "One step of gradient descent" not in render(saliency, "markdown")


@pytest.mark.parametrize("suffix", (".md", ".tex", ".html", ".ipynb"))
def test_cli_writes_the_input_gradient_with_pictures(tmp_path, suffix):
    spec = tmp_path / "saliency.yaml"
    spec.write_text(SPEC.replace("WRT", "x"), encoding="utf-8")
    out = tmp_path / f"saliency{suffix}"
    assert main(["derive", str(spec), "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    _, expected = torch_input_gradient()
    assert all(f"{v:.6g}" in text for v in expected)
    if suffix == ".md":
        assert (tmp_path / "saliency.graph.svg").exists()


@pytest.mark.parametrize("which", ("saliency", "mixed"))
def test_input_gradient_documents_typeset_with_katex_and_compile(saliency, mixed, which, tmp_path):
    d = saliency if which == "saliency" else mixed
    if katex_available():
        segments = markdown_math_segments(render(d, "markdown", detail="full"))
        errors = katex_errors([(t, display) for t, display, _ in segments])
        assert [(line, e) for (_, _, line), e in zip(segments, errors) if e] == []
    require("pdflatex", pdflatex_available(), "pdflatex not installed (texlive-latex-base)")
    path = tmp_path / "saliency.tex"
    path.write_text(render(d, "latex"))
    compile_latex(path)
