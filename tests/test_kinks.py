"""Kinks the worked values hit exactly (z = w x + b = 0 with w = 0.1, x = 3, b = -0.3, while
float64 computes 5.55e-17): the document's numbers against SymPy with exact rationals and the
stated convention, the compiled code against PyTorch and hand-written float64, the sentences in
Markdown and LaTeX, the JSON, and the notebook's own check, executed."""

from __future__ import annotations

import json
import re

import nbformat
import numpy as np
import pytest
import sympy as sp

import symgrad
from render_tools import (compile_latex, katex_available, katex_errors, markdown_math_segments,
                          pdflatex_available, require)
from symgrad.numeric.kinks import kinks
from symgrad.render.document import render
from test_html import compile_in_beamer
from test_notebook import EXECUTION_TIMEOUT, kernel_available

w, x, b, y = sp.symbols("w x b y", real=True)
R = sp.Rational
AT = {"w": 0.1, "x": 3, "b": -0.3, "y": 1}
EXACT = {w: R(1, 10), x: 3, b: R(-3, 10), y: 1}
"""w x + b is 0 in these rationals, 5.55e-17 in float64 (0.1 * 3 is 0.30000000000000004)."""
ALPHA = R(1, 100)


def _heaviside_at_zero(value):
    """Heaviside with the value ``value`` at 0: the convention a kink's derivative takes."""
    return lambda e: e.replace(sp.Heaviside, lambda arg, *_: sp.Heaviside(arg, value))


KINKED = {  # name: (expression, at, sympy reference loss, how to fix the kink's convention)
    "relu": ("(relu(w*x + b) - y)**2", AT, (sp.Max(0, w * x + b) - y)**2,
             _heaviside_at_zero(0)),
    "leaky_relu": ("(leaky_relu(w*x + b) - y)**2", AT,
                   (sp.Piecewise((w * x + b, w * x + b > 0), (ALPHA * (w * x + b), True)) - y)**2,
                   lambda e: e),
    "abs": ("abs(w*x + b - y)", {**AT, "y": 0}, sp.Abs(w * x + b - y), lambda e: e),
    # a tie takes the first argument's derivative (b's, in SymPy's order b, w x): the
    # Heaviside of b - w x (for max; w x - b for min) is 1 there, the other's 0
    "max": ("max(w*x, b)", {"w": 0.1, "x": 3, "b": 0.3}, sp.Max(w * x, b),
            lambda e: e.subs(sp.Heaviside(b - w * x), 1).subs(sp.Heaviside(w * x - b), 0)),
    # (0.7 * 0.1 < 0.07 in float64, so float64 code misses this tie on the side of w x)
    "min": ("min(w*x, b)", {"w": 0.7, "x": 0.1, "b": 0.07}, sp.Min(w * x, b),
            lambda e: e.subs(sp.Heaviside(w * x - b), 1).subs(sp.Heaviside(b - w * x), 0)),
}


def exact_values(at):
    return {s: R(repr(float(at[s.name]))) for s in (w, x, b, y) if s.name in at}


def derived(name):
    expr, at, _, _ = KINKED[name]
    return symgrad.derive(expr, sorted(at), at=at)  # every name: the inputs' gradients too


@pytest.mark.parametrize("name", KINKED)
def test_the_documents_numbers_are_exact_at_the_kink(name):
    """The JSON's gradients are SymPy's derivative of the loss written with Max, Abs and
    Piecewise, at the exact rationals, the kink's convention taken (ReLU'(0) = 0,
    LeakyReLU'(0) = alpha, sign(0) = 0, the first argument of a tied max or min)."""
    expr, at, reference, convention = KINKED[name]
    values = exact_values(at)
    data = json.loads(render(derived(name), "json"))
    for p in values:
        expected = convention(sp.diff(reference, p)).subs(values)
        assert sp.Rational(repr(data["gradients"][p.name])) == sp.nsimplify(expected), p


@pytest.mark.parametrize("name", KINKED)
def test_the_compiled_code_gives_what_the_document_says_float64_gives(name):
    """Float64 misses each kink here; the compiled code's gradients are the JSON's
    float64_gradients, and they differ from the exact ones exactly where it says."""
    expr, at, reference, _ = KINKED[name]
    d = derived(name)
    data = json.loads(render(d, "json"))
    compiled = symgrad.compile(d)(**at).gradients
    stated = data["kinks"]["float64_gradients"]
    assert {k: float(v) for k, v in compiled.items()} == pytest.approx(stated, rel=1e-12)
    differing = [k for k in stated if not np.isclose(stated[k], data["gradients"][k])]
    assert data["kinks"]["float64_differs"] == differing and differing
    assert all(k["float64_difference"] != 0 for k in data["kinks"]["at"])


def test_pytorch_in_float64_agrees_with_the_compiled_code_and_takes_the_stated_conventions():
    torch = pytest.importorskip("torch")
    tw, tx, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.1, 3.0, -0.3))
    loss = (torch.relu(tw * tx + tb) - 1.0)**2
    loss.backward()
    compiled = symgrad.compile(derived("relu"))(**AT).gradients
    assert [float(compiled[k]) for k in "wxb"] == pytest.approx(
        [tw.grad.item(), tx.grad.item(), tb.grad.item()], rel=1e-12)
    zero = torch.zeros((), dtype=torch.float64, requires_grad=True)
    slopes = {}
    for name, f in {"relu": torch.relu, "abs": torch.abs,
                    "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01)}.items():
        zero.grad = None
        f(zero).backward()
        slopes[name] = zero.grad.item()
    assert slopes == {"relu": 0.0, "abs": 0.0, "leaky_relu": pytest.approx(0.01)}
    a, c = (torch.tensor(0.3, dtype=torch.float64, requires_grad=True) for _ in range(2))
    torch.maximum(a, c).backward()
    assert (a.grad.item(), c.grad.item()) == (0.5, 0.5)  # as the document says of PyTorch


def test_the_relu_case_in_float64_by_hand():
    """0.1 * 3 + -0.3 > 0 in float64, so ReLU' = 1 there: dL/dw = 2 (z - y) x."""
    z = 0.1 * 3 + -0.3
    assert z > 0
    compiled = symgrad.compile(derived("relu"))(**AT).gradients
    assert float(compiled["w"]) == pytest.approx(2 * (z - 1) * 3, rel=1e-12)
    assert float(compiled["b"]) == pytest.approx(2 * (z - 1), rel=1e-12)


KINK_SENTENCES = {
    "relu": r"At these values $z = 0$ exactly: that is ReLU's kink, where it has no derivative; "
            r"symgrad takes $\operatorname{ReLU}'(0) = 0$ there, as PyTorch does",
    "leaky_relu": r"that is LeakyReLU's kink, where it has no derivative; symgrad takes "
                  r"$\operatorname{LeakyReLU}'(0) = \alpha$ there ($\alpha = 0.01$)",
    "abs": r"where it has no derivative; symgrad takes the derivative of $|u|$ at $u = 0$ to be "
           r"$\operatorname{sign}(0) = 0$, as PyTorch does",
    "max": r"At these values $b = w x$ exactly: that is the kink of $\max(b, w x)$, where it has "
           r"no derivative; symgrad takes the derivative of its first argument, $b$, there",
    "min": r"that is the kink of $\min(b, w x)$, where it has no derivative",
}


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
@pytest.mark.parametrize("name", KINKED)
def test_the_document_names_the_kink_and_the_convention(name, fmt):
    text = " ".join(render(derived(name), fmt).split())
    assert KINK_SENTENCES[name] in text
    assert "Float64 arithmetic, as the compiled numpy code (symgrad.compile) does it, misses " \
           "the kink" in text


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_the_document_says_what_float64_gives(fmt):
    text = " ".join(render(derived("relu"), fmt).split())
    float_z = latex_number(0.1 * 3 + -0.3)
    assert f"in float64 $z = {float_z}$, not $0$" in text
    assert (r"Float64 code gives $\frac{\partial L}{\partial b} = -2$, "
            r"$\frac{\partial L}{\partial w} = -6$, and $\frac{\partial L}{\partial x} = -0.2$, "
            r"where the exact values are $0$, $0$, and $0$.") in text


def latex_number(value: float) -> str:
    mantissa, exponent = f"{value:.5e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def test_the_latex_document_compiles(tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed")
    path = tmp_path / "kink.tex"
    path.write_text(render(derived("max"), "latex"), encoding="utf-8")
    compile_latex(path)


@pytest.mark.parametrize("name", ["relu", "network"])
def test_the_kink_slides_compile_and_fit(name, tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed")
    frames = tmp_path / f"{name}.tex"
    frames.write_text(render(kink_network() if name == "network" else derived(name), "beamer"),
                      encoding="utf-8")
    log = compile_in_beamer(frames, tmp_path, "43")
    assert not [line for line in log.splitlines() if line.startswith("Overfull")]


def test_the_kink_sections_math_renders_with_katex():
    require("KaTeX", katex_available(), "KaTeX not installed: npm ci --prefix tests/js")
    texts = [render(derived(name), "markdown") for name in KINKED]
    texts.append(render(kink_network(), "markdown"))
    segments = [s for t in texts for s in markdown_math_segments(t[t.index("At a kink"):])]
    errors = katex_errors([(tex_, display) for tex_, display, _ in segments])
    assert not [e for e in errors if e], errors


def test_float64_on_the_kink_agrees():
    """w = 0.5, x = 2, b = -1: float64 computes z = 0 exactly, takes the same convention,
    and the compiled code gives the document's numbers."""
    at = {"w": 0.5, "x": 2, "b": -1, "y": 1}
    d = symgrad.derive("(relu(w*x + b) - y)**2", sorted(at), at=at)
    text = " ".join(render(d, "markdown").split())
    assert "that is ReLU's kink" in text
    assert "Float64 arithmetic lands on this kink too, so the compiled numpy code " \
           "(symgrad.compile) takes the same convention and gives the same gradients." in text
    compiled = symgrad.compile(d)(**at).gradients
    assert {k: float(v) for k, v in compiled.items()} == {"b": 0.0, "w": 0.0, "x": 0.0, "y": 2.0}
    assert json.loads(render(d, "json"))["kinks"]["float64_differs"] == []


@pytest.mark.parametrize("expr, at", [
    ("(relu(w*x + b) - y)**2", {"w": 0.5, "x": 2, "b": -0.5, "y": 1}),
    ("abs(w*x - y) + max(w, x)", {"w": 0.5, "x": 2, "y": 0.3}),
])
def test_no_kink_no_sentence(expr, at):
    d = symgrad.derive(expr, at=at)
    assert kinks(d) is None
    for fmt in ("markdown", "latex"):
        assert "kink" not in render(d, fmt).replace("relu", "")
    assert "kinks" not in json.loads(render(d, "json"))


def kink_network():
    """Units 1 and 2 of layer 1 at z = 0 in rationals (0.1 * 3 - 0.3, 0.2 * 3 - 0.6), off it
    in float64."""
    net = symgrad.with_loss(symgrad.network(2, [(3, "relu"), (1, "identity")]),
                            "half_squared_error")
    return symgrad.derive(net, "all", at={
        "x": [3, 0], "y": [1], "W1": [[0.1, 0.5], [0.2, 0.1], [0.1, 0.3]],
        "b1": [-0.3, -0.6, 0.0], "W2": [[1, 2, 3]], "b2": [0.5]})


def test_a_networks_forward_pass_names_its_kinks():
    d = kink_network()
    text = " ".join(render(d, "markdown").split())
    forward = text[text.index("The numbers: the forward pass"):text.index("### The errors")]
    assert ("At these values $z^{(1)}_{1} = 0$ and $z^{(1)}_{2} = 0$ exactly: each is ReLU's "
            "kink") in forward
    # dL/dW1[0][0] = W2[0][0] (yhat - y) ReLU'(z1) x1, with yhat = 3 relu(0.3) + 0.5 = 1.4
    hit = kinks(d)
    assert hit.gradients[d.graph.element("W1[0][0]")] == pytest.approx(1 * 0.4 * 1 * 3)
    assert float(d.worked.gradients[d.graph.element("W1[0][0]")]) == 0.0


BATCH_AT = {"x": [[1.0, 0.0, 2.0]], "y": [[0.0, 1.0, 1.0]], "W1": [[1.0], [-1.0], [1.0]],
            "b1": [0.0, -3.0, -1.0], "W2": [[0.5, 0.6, 0.7]], "b2": [-1.2]}


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_a_batchs_kinks_name_their_units_and_samples_in_one_sentence(fmt):
    # z1 = W1 x + b1, one column per sample: unit 1 is 0 at sample 2 (x = 0), unit 3 at
    # sample 1 (1 - 1), in float64 as in rationals
    z1 = np.array(BATCH_AT["W1"]) @ np.array(BATCH_AT["x"]) + np.array(BATCH_AT["b1"])[:, None]
    assert {(int(j) + 1, int(n) + 1) for j, n in zip(*np.nonzero(z1 == 0))} == {(1, 2), (3, 1)}
    net = symgrad.with_loss(symgrad.network(1, [(3, "relu"), (1, "relu")], batch=3),
                            "half_squared_error")
    d = symgrad.derive(net, "all", at=BATCH_AT, learning_rate=0.5)
    assert len(kinks(d).hit) == 2
    text = " ".join(render(d, fmt).split())
    assert text.count("At these values") == 1
    assert ("At these values $z = 0$ exactly in layer 1 for unit 1 at sample 2 and unit 3 at "
            "sample 1: each is ReLU's kink") in text


def run_notebook_in_process(derivation, capsys) -> str:
    nb = nbformat.reads(render(derivation, "notebook", detail="brief"), as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            exec(compile(cell.source, f"<{cell.id}>", "exec"), namespace)
    return capsys.readouterr().out


@pytest.mark.parametrize("name", [*KINKED, "network"])
def test_the_notebooks_check_passes_at_a_kink(name, capsys):
    out = run_notebook_in_process(kink_network() if name == "network" else derived(name), capsys)
    assert "agree with the document (with the float64 values it states at a kink)" in out
    assert "(float64 and the exact values differ at a kink: see the document)" in out


def test_the_notebooks_check_compares_with_the_stated_float64_values():
    nb = nbformat.reads(render(derived("relu"), "notebook"), as_version=4)
    check = nb.cells[-1].source
    assert re.search(r"float64 = \{'b': -2\.0, 'w': -6\.0, 'x': -0\.2\}", check)
    assert "document = {'loss': 1.0, 'gradients': {'b': 0.0, 'w': 0.0, 'x': 0.0, 'y': 2.0}}" in check


def test_the_kink_notebook_executes_in_a_kernel():
    require("a Jupyter kernel", kernel_available(),
            "nbclient or the python3 kernel is missing (pip install -e '.[test]', "
            "then python3 -m ipykernel install --user)")
    from nbclient import NotebookClient

    nb = nbformat.reads(render(derived("relu"), "notebook"), as_version=4)
    NotebookClient(nb, timeout=EXECUTION_TIMEOUT, kernel_name="python3").execute()
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                if o.output_type == "error"]
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert "dL/dw: float64 gives -6.0, the exact value is 0.0" in printed
    assert "agree with the document" in printed


NEAR = {"w": 0.1, "x": 3, "b": -0.30000000000000004}
"""w x + b = -4e-17 in these rationals, 0 in float64 (0.1 * 3 is the float -b)."""


def test_float64_on_a_kink_the_exact_values_miss():
    """|w x + b| at -4e-17 exactly: d/dw = sign(-4e-17) x = -3 in the document; float64
    computes w x + b = 0, takes sign(0) = 0, and the document says so."""
    d = symgrad.derive("abs(w*x + b)", sorted(NEAR), at=NEAR)
    values = exact_values(NEAR)
    reference = sp.diff(sp.Abs(w * x + b), w).subs(values)
    assert reference == -3 and float(d.worked.gradients[w]) == -3.0
    compiled = symgrad.compile(d)(**NEAR).gradients
    assert 0.1 * 3 + -0.30000000000000004 == 0.0 and float(compiled["w"]) == 0.0
    text = " ".join(render(d, "markdown").split())
    assert "### Near a kink" in render(d, "markdown")
    assert (r"At these values $w x + b = -4 \times 10^{-17}$, beside the kink of "
            r"$\left|{w x + b}\right|$, but float64 arithmetic, as the compiled numpy code "
            r"(symgrad.compile) does it, gives $w x + b = 0$: the kink itself, where symgrad "
            r"takes $\operatorname{sign}(0) = 0$") in text
    assert (r"Float64 code gives $\frac{\partial L}{\partial b} = 0$, "
            r"$\frac{\partial L}{\partial w} = 0$, and $\frac{\partial L}{\partial x} = 0$, "
            r"where the exact values are $-1$, $-3$, and $-0.1$.") in text
    assert "At a kink" not in text
    at = json.loads(render(d, "json"))["kinks"]["at"]
    assert at == [{"function": "abs", "equation": "w x + b = 0", "derivative": 0.0,
                   "exact_difference": -4e-17, "float64_difference": 0.0}]


def test_the_notebooks_check_passes_near_a_kink(capsys):
    out = run_notebook_in_process(symgrad.derive("abs(w*x + b)", sorted(NEAR), at=NEAR), capsys)
    assert "dL/dw: float64 gives 0.0, the exact value is -3.0" in out
