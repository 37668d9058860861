"""Tests of the render layer: the LaTeX printer, numbers and escaping, the templates,
and the rendered documents as the real tools read them (KaTeX for Markdown math,
pdflatex for LaTeX documents and fragments).

The seed document is compared with a golden copy (``SEED_MARKDOWN`` below); when the
templates change on purpose, regenerate it with::

    PYTHONPATH=.:tests python -c "from test_render import seed_markdown; print(seed_markdown(), end='')"

and paste the output over ``SEED_MARKDOWN``.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from render_tools import (compile_latex, katex_available, katex_errors, markdown_math_segments,
                          pdflatex_available, require)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from symgrad.render.chapter_matrix import ColumnSoftmax
from symgrad.calculus.engine import derive
from symgrad.errors import DerivationError, UnknownNameError
from symgrad.model.functions import leaky_relu, relu, sigmoid, softmax, softplus
from symgrad.render.latex import (equation, latex_escape, literal_tex, markdown_escape, num, tex,
                           width, WIDTH)
from symgrad.model.graph import network, neuron, with_loss
from symgrad.render.chapter import VIEWS
from symgrad.render.document import DETAILS, EXTENSIONS, FORMATS, displayed_equations, render
from symgrad.render.environment import TEMPLATE_DIR, environment
from symgrad.render.json_output import to_json
from symgrad.spec import load_spec
from symgrad.calculus.rules import Rule
from symgrad.model.symbols import Var, layered

# --- the derivations every document test uses -------------------------------------------

NETWORK_VALUES = dict(x=[0.5, -0.2], y=[0.0, 1.0], W1=[[0.1, 0.2], [0.3, 0.4]], b1=[0.0, 0.1],
                      W2=[[0.5, 0.6], [0.7, 0.8]], b2=[0.2, 0.3])
SOFTMAX_VALUES = dict(x=[0.5, -0.2], y=[0.0, 1.0, 0.0], W1=[[0.1, 0.2], [0.3, 0.4]], b1=[0.0, 0.1],
                      W2=[[0.5, 0.6], [0.7, 0.8], [-0.3, 0.2]], b2=[0.2, 0.3, -0.1])


def seed():
    """The source document's MSE example: L = 1/2 (yhat - y)^2 at yhat = 0.8, y = 1.0."""
    return derive("1/2*(yhat - y)**2", "yhat", at={"yhat": 0.8, "y": 1.0})


def sigmoid_neuron():
    """The chain rule through one neuron, yhat = sigma(w x), with an update step."""
    return derive(with_loss(neuron("sigmoid", bias=False), "squared_error"), "w",
                  at={"x": 1.5, "w": 0.8, "y": 1.0}, learning_rate=0.1)


def two_layer(wrt=("W2[0][0]", "W1[0][0]")):
    """A 2-2-2 sigmoid network: W1[0][0] reaches the loss along two paths."""
    model = with_loss(network(2, [(2, "sigmoid"), (2, "sigmoid")]), "half_squared_error")
    return derive(model, list(wrt), at=NETWORK_VALUES, learning_rate=0.5)


def two_paths():
    """A free expression in which w reaches the loss along two paths."""
    return derive("sigmoid(w*x) + tanh(w*x)**2 - y", "w", at={"w": 0.5, "x": 1.2, "y": 0.3})


def softmax_network():
    """tanh then softmax with categorical cross-entropy, every parameter."""
    model = with_loss(network(2, [(2, "tanh"), (3, "softmax")]), "categorical_cross_entropy")
    return derive(model, "all", at=SOFTMAX_VALUES, learning_rate=0.1)


def dead_relu():
    """A ReLU neuron below zero: every gradient is exactly zero."""
    return derive(with_loss(neuron("relu"), "half_squared_error"), "all",
                  at={"x": 1.0, "w": -0.5, "b": 0.1, "y": 1.0}, learning_rate=0.1)


def held_fixed():
    """w reaches E directly and through a = sigma(w): the local dE/dw holds a fixed."""
    return derive("L*w**2 + sigmoid(w)", "w", at={"L": 2, "w": 0.5})


EXAMPLES = {"seed": seed, "neuron": sigmoid_neuron, "network": two_layer, "paths": two_paths,
            "softmax": softmax_network, "relu": dead_relu, "held": held_fixed}


@pytest.fixture(scope="module")
def derivations():
    """Each example derived once for the module."""
    return {name: make() for name, make in EXAMPLES.items()}


# --- the printer ----------------------------------------------------------------------

z, w, x, y, b = (sp.Symbol(n, real=True) for n in ("z", "w", "x", "y", "b"))
yhat, L = sp.Symbol("yhat", real=True), Var("L")
u = sp.Dummy("u")
z2 = [layered("z", 2, (i,)) for i in range(3)]

PRINTED = [
    (Var("W1[0][1]", "W", 1, (1, 2)), r"W^{(1)}_{12}"),
    (Var("W1[0][9]", "W", 1, (1, 10)), r"W^{(1)}_{1,10}"),
    (Var("yhat"), r"\hat{y}"),
    (layered("yhat", None, (0,)), r"\hat{y}_{1}"),
    (Var("delta_z2[0]", "delta", 2, (1,)), r"\delta^{(2)}_{1}"),
    (sigmoid(z), r"\sigma(z)"),
    (sigmoid(z) ** 2, r"\sigma^{2}(z)"),
    (relu(z), r"\operatorname{ReLU}(z)"),
    (leaky_relu(z, sp.Rational(1, 100)), r"\operatorname{LeakyReLU}(z)"),
    (softplus(z), r"\operatorname{softplus}(z)"),
    (sp.tanh(z), r"\tanh(z)"),
    (1 - sp.tanh(z) ** 2, r"1 - \tanh^{2}(z)"),
    (softmax(2, *z2), r"\operatorname{softmax}_{2}(z^{(2)})"),
    (softmax(1, z, w), r"\operatorname{softmax}_{1}(z, w)"),
    (relu(z).fdiff(), r"\begin{cases} 1 & \text{if } z > 0 \\ 0 & \text{otherwise} \end{cases}"),
    (sp.Derivative(L, yhat), r"\frac{\partial L}{\partial \hat{y}}"),
    (sp.Derivative(w * x, w), r"\frac{\partial}{\partial w} (w x)"),
    (sp.Derivative(sigmoid(z), z), r"\frac{\partial}{\partial z} \sigma(z)"),
    (sp.Derivative(u ** 2, u), r"\frac{d}{d u} u^{2}"),
    (-y + yhat, r"\hat{y} - y"),
    (b + w * x, r"w x + b"),
    ((1 - sigmoid(z)) * sigmoid(z), r"\sigma(z) (1 - \sigma(z))"),
    (sp.Rational(1, 2) * (yhat - y) ** 2, r"\frac{1}{2} (\hat{y} - y)^{2}"),
    (-y / yhat, r"- \frac{y}{\hat{y}}"),
    (sp.Mul(x, 1, evaluate=False), r"x \cdot 1"),
    (sp.Mul(x, -2, evaluate=False), r"- x \cdot 2"),
    (sp.Mul(sp.exp(z), -1, evaluate=False), r"- e^{z}"),
    (sp.Float(0.02), "0.02"),
    (sp.sign(z), r"\operatorname{sign}(z)"),
    (sp.Abs(w * x), r"\left|{w x}\right|"),
    (sp.log(z) / sp.log(2), r"\log_{2}(z)"),
    (sp.log(w * x) / sp.log(b), r"\log_{b}(w x)"),
    (1 / (z * sp.log(2)), r"\frac{1}{z \log(2)}"),
    (sp.Max(0, z), r"\max(0, z)"),
    (sp.Min(w, x), r"\min(w, x)"),
    (sp.Dummy("v") ** 2, r"v^{2}"),
    (sp.Derivative(sp.exp(sp.Dummy("w")), sp.Dummy("w")), r"\frac{d}{d w} e^{w}"),
    (sp.Pow(w * x + 1, 2, evaluate=False), r"(w x + 1)^{2}"),
    (sp.Mul(sp.Add(1, sp.Mul(-1, w, evaluate=False), evaluate=False),
            sp.Pow(sp.Pow(x, 2, evaluate=False), -1, evaluate=False), evaluate=False),
     r"\frac{1 - w}{x^{2}}"),
    (sp.Piecewise((1, w > x), (0, True), evaluate=False),
     r"\begin{cases} 1 & \text{if } w > x \\ 0 & \text{otherwise} \end{cases}"),
]


@pytest.mark.parametrize("expr, expected", PRINTED, ids=[e for _, e in PRINTED])
def test_printer(expr, expected):
    assert str(tex(expr)) == expected


SUBSTITUTED = [
    (sp.Rational(1, 2) * (yhat - y) ** 2, {yhat: "0.8", y: "1.0"}, r"\frac{1}{2} (0.8 - 1.0)^{2}"),
    (w * x, {w: "0.8", x: "1.5"}, r"0.8 \cdot 1.5"),
    (w * x, {w: "-0.2", x: "1.5"}, r"(-0.2) \cdot 1.5"),
    (yhat - y, {yhat: "0.8", y: "-1.0"}, r"0.8 - (-1.0)"),
    (sp.Mul(2, yhat - y, evaluate=False), {yhat: "0.8", y: "1.0"}, r"2 (0.8 - 1.0)"),
    (sigmoid(z), {z: "-0.4"}, r"\sigma(-0.4)"),
    (sp.tanh(z) ** 2, {sp.tanh(z): "0.5"}, r"0.5^{2}"),
    (relu(z).fdiff(), {z: "-0.4"},
     r"\begin{cases} 1 & \text{if } -0.4 > 0 \\ 0 & \text{otherwise} \end{cases}"),
]


@pytest.mark.parametrize("expr, values, expected", SUBSTITUTED, ids=[e for *_, e in SUBSTITUTED])
def test_substituted(expr, values, expected):
    assert str(tex(expr, values)) == expected


NUMBERS = [
    (0.02, "0.02"),
    (-0.2, "-0.2"),
    (0.0743, "0.0743"),
    (1e-5, r"1 \times 10^{-5}"),
    (-1.23456789e-5, r"-1.23457 \times 10^{-5}"),
    (123456.7, "123457"),
    (1234567, r"1.23457 \times 10^{6}"),
    (sp.Float("0.0200000000000000000000000000000", 30), "0.02"),
    (sp.Rational(1, 3), "0.333333"),
    (0, "0"),
    (2, "2"),
]


@pytest.mark.parametrize("value, expected", NUMBERS, ids=[e for _, e in NUMBERS])
def test_num(value, expected):
    assert num(value) == expected


@pytest.mark.parametrize("literal, expected", [("1.0", "1.0"), ("-0.2", "-0.2"), ("3", "3"),
                                               ("1e-05", r"1 \times 10^{-5}")])
def test_given_numbers_print_as_written(literal, expected):
    assert literal_tex(literal) == expected


TITLE = "Loss & gradients: 100% of x_1 #1 {test} ~ ^ \\"


def test_latex_escape():
    assert latex_escape(TITLE) == (r"Loss \& gradients: 100\% of x\_1 \#1 \{test\} "
                                   r"\textasciitilde{} \^{} \textbackslash{}")


def test_markdown_escape():
    assert markdown_escape("a_b *c* $d$ [e]") == r"a\_b \*c\* \$d\$ \[e\]"
    assert markdown_escape("<b>a & b</b>") == "&lt;b&gt;a &amp; b&lt;/b&gt;"


def test_printed_math_is_accepted_by_katex():
    require("KaTeX", katex_available(), "KaTeX not installed: npm ci --prefix tests/js")
    formulas = [e for _, e in PRINTED] + [e for *_, e in SUBSTITUTED] + [n for _, n in NUMBERS]
    errors = katex_errors([(f, True) for f in formulas])
    assert [(f, e) for f, e in zip(formulas, errors) if e] == []


def test_printed_math_is_accepted_by_pdflatex(tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex not installed (texlive-latex-base)")
    formulas = [e for _, e in PRINTED] + [e for *_, e in SUBSTITUTED] + [n for _, n in NUMBERS]
    body = "\n".join(rf"\[ {f} \]" for f in formulas)
    path = tmp_path / "printed.tex"
    path.write_text("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n"
                    f"\\begin{{document}}\n{body}\n\\end{{document}}\n")
    compile_latex(path)


def test_long_equation_is_broken_into_rows():
    terms = sp.Add(*(Var(f"w{i}", "w", None, (i,)) * Var(f"x{i}", "x", None, (i,)) for i in range(1, 30)))
    display = equation(Var("z"), terms)
    assert len(display.rows) > 2
    assert all(width(right) <= WIDTH for _, right in display.rows)
    assert " + ".join(f"w_{{{i}}} x_{{{i}}}" for i in range(1, 30)) in str(tex(terms))


# --- the seed example, to the digit ---------------------------------------------------


def test_seed_markdown_has_the_worked_numbers(derivations):
    text = render(derivations["seed"], "markdown")
    # as the seed: (0.8 - 1.0)^2 = 0.04, half of it 0.02
    assert (r"L = \frac{1}{2} (\hat{y} - y)^{2} = \frac{1}{2} (0.8 - 1.0)^{2} = \frac{1}{2} \cdot 0.04"
            r" = 0.02") in text
    assert r"\frac{\partial L}{\partial \hat{y}} = \hat{y} - y = 0.8 - 1.0 = -0.2" in text
    assert "increasing $\\hat{y}$ decreases the loss, so gradient descent increases $\\hat{y}$" in text


def test_seed_latex_has_the_worked_numbers(derivations):
    for fmt in ("latex", "latex-fragment"):
        text = render(derivations["seed"], fmt)
        assert r"\frac{1}{2} (0.8 - 1.0)^{2} = \frac{1}{2} \cdot 0.04 = 0.02" in text
        assert r"= 0.8 - 1.0 = -0.2" in text


def seed_markdown() -> str:
    """The seed example as Markdown (what ``SEED_MARKDOWN`` holds)."""
    return render(seed(), "markdown")


def test_seed_markdown_matches_golden_copy():
    assert seed_markdown() == SEED_MARKDOWN, (
        "the seed document changed; if on purpose, regenerate SEED_MARKDOWN as the module "
        "docstring says")


def test_neuron_update_and_chain(derivations):
    text = render(derivations["neuron"], "markdown")
    assert (r"\frac{\partial L}{\partial w} = \frac{\partial L}{\partial \hat{y}} \cdot "
            r"\frac{\partial \hat{y}}{\partial z} \cdot \frac{\partial z}{\partial w}") in text
    assert (r"w \leftarrow w - \eta \frac{\partial L}{\partial w} = 0.8 - 0.1 \cdot (-0.123534)"
            r" = 0.812353") in text
    assert r"(-0.46295) \cdot 0.177894 \cdot 1.5 = -0.123534" in text


def test_factors_and_adjoints_are_derived_once(derivations):
    text = render(derive(with_loss(neuron("sigmoid"), "half_squared_error"), "all"), "markdown")
    assert text.count(r"#### $\frac{\partial \hat{y}}{\partial z}$") == 1
    assert "Derived above: " in text
    assert r"Reusing $\frac{\partial L}{\partial \hat{y}}$ and $\delta$ from above." in text
    network = render(derivations["network"], "markdown")
    for kind in ("**The loss.** Here", "**The sigmoid.** Here", "**The weighted sums.**"):
        assert network.count(kind) == 1, kind


def test_sign_readings(derivations):
    assert "The gradient is negative: increasing $w$ decreases the loss" in render(
        derivations["neuron"], "markdown")
    dead = render(derivations["relu"], "markdown")
    assert "no change in $w$ changes the loss to first order (a flat point)" in dead
    assert "we take it to be $0$ there" in dead


def test_local_derivative_holding_a_quantity_fixed(derivations):
    text = render(derivations["held"], "markdown")
    assert (r"\frac{\partial E}{\partial w} = \frac{\partial E}{\partial a} \cdot \frac{\partial a}{\partial w}"
            r" + \left.\frac{\partial E}{\partial w}\right|_{a}") in text
    assert r"+ \left.\frac{\partial a}{\partial w}\right|_{a} \\" in text
    assert "with $a$ held fixed" in text


# --- every rule, at every level of detail -----------------------------------------------

PHRASES = {
    Rule.CONSTANT: "(constant rule)",
    Rule.IDENTITY: "(identity rule)",
    Rule.CONSTANT_MULTIPLE: "(constant multiple rule)",
    Rule.SUM: "(sum rule)",
    Rule.POWER: "By the power rule",
    Rule.PRODUCT: "By the product rule",
    Rule.QUOTIENT: "By the quotient rule with $f = \\log(1 + w^{2})$ and $g = 1 + w x$",
    Rule.CHAIN: "By the chain rule with $u = w x + 1$",
    Rule.EXPONENTIAL: "By the exponential rule for the constant base $a = 2$",
    Rule.LOGARITHM: "By the logarithm rule for the base $a = 2$",
    Rule.TRIGONOMETRIC: "The derivative of $\\cot$ is",
    Rule.HYPERBOLIC: "The derivative of $\\cosh$ is $\\sinh$",
    Rule.ABSOLUTE_VALUE: "at $w = 0$ the absolute value has no derivative",
    Rule.PIECEWISE: "where the pieces meet, at $w = x$,",
    Rule.ACTIVATION: "The derivative of the sigmoid",
    Rule.UNSPECIFIED: "is left unspecified, so its derivative is written with a prime",
    Rule.SIMPLIFY: "Simplifying",
    Rule.FALLBACK: "computed by SymPy (sympy.diff), not derived by a rule",
}
"""A sentence only that rule's explanation writes (in both formats)."""

RULE_CASES = [
    # (rule, expression in w, whether the standard level explains that step)
    (Rule.CONSTANT, "x + w", False),
    (Rule.IDENTITY, "x + w", False),
    (Rule.CONSTANT_MULTIPLE, "3*w", True),
    (Rule.SUM, "x + w", True),
    (Rule.POWER, "w**3", True),
    (Rule.PRODUCT, "w*sin(w)", True),
    (Rule.QUOTIENT, "log(1 + w**2)/(1 + w*x)", True),
    (Rule.CHAIN, "(w*x + 1)**2", True),
    (Rule.EXPONENTIAL, "2**w", True),
    (Rule.LOGARITHM, "log(w, 2)", True),
    (Rule.TRIGONOMETRIC, "cot(w) + sec(w) + csc(w)", True),
    (Rule.HYPERBOLIC, "cosh(w)", True),
    (Rule.ABSOLUTE_VALUE, "abs(w)", True),
    (Rule.PIECEWISE, "max(w, x)", True),
    (Rule.ACTIVATION, "sigmoid(w)", True),
    (Rule.UNSPECIFIED, "f(w*x)", True),
    (Rule.SIMPLIFY, "3*w", False),
    (Rule.FALLBACK, "w**w", True),
]


def test_every_rule_has_a_case():
    assert {rule for rule, *_ in RULE_CASES} == set(Rule) == set(PHRASES)


@pytest.fixture(scope="module")
def rule_documents():
    """Each rule's expression derived (and verified) once, rendered in each format and level."""
    out = {}
    for rule, text, _ in RULE_CASES:
        d = derive(text, "w", verify=True)
        out[rule] = (d, {(fmt, level): render(d, fmt, detail=level)
                         for fmt in ("markdown", "latex-fragment") for level in DETAILS})
    return out


@pytest.mark.parametrize("rule, text, in_standard", RULE_CASES, ids=[r.name for r, *_ in RULE_CASES])
def test_each_rule_is_used_and_explained_at_each_level(rule_documents, rule, text, in_standard):
    d, documents = rule_documents[rule]
    assert rule in {s.rule for f in d.factors for s in f.step.walk(expansions=True)}
    for fmt in ("markdown", "latex-fragment"):
        assert PHRASES[rule] in documents[(fmt, "full")], fmt
        assert (PHRASES[rule] in documents[(fmt, "standard")]) == in_standard, fmt
        assert not any(p in documents[(fmt, "brief")] for p in PHRASES.values()), fmt


@pytest.mark.parametrize("level", DETAILS)
def test_every_rule_document_renders_with_katex(rule_documents, level):
    require("KaTeX", katex_available(), "KaTeX not installed: npm ci --prefix tests/js")
    segments = [seg for _, docs in rule_documents.values()
                for seg in markdown_math_segments(docs[("markdown", level)])]
    errors = katex_errors([(tex_, display) for tex_, display, _ in segments])
    assert [(tex_[:80], e) for (tex_, _, _), e in zip(segments, errors) if e] == []


@pytest.mark.parametrize("level", DETAILS)
def test_every_rule_document_compiles_with_pdflatex(rule_documents, level, tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex not installed (texlive-latex-base)")
    body = "\n".join(docs[("latex-fragment", level)] for _, docs in rule_documents.values())
    path = tmp_path / f"rules_{level}.tex"
    path.write_text("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n"
                    f"\\begin{{document}}\n{body}\n\\end{{document}}\n")
    compile_latex(path)


def test_kinks_are_stated_with_their_values():
    relu_doc = render(derive("relu(z)", "z"), "markdown", detail="full")
    assert "at $z = 0$, we take the derivative of the piece whose condition holds there: " \
           "$z > 0$ fails, so it is $0$" in relu_doc
    leaky_doc = render(derive("leaky_relu(z)", "z"), "markdown", detail="full")
    assert "$z > 0$ fails, so it is $\\frac{1}{100}$" in leaky_doc


ACTIVATION_DEFINITIONS = [
    ("sigmoid(z)", r"From the definition $\sigma(z) = \frac{1}{1 + e^{- z}}$",
     r"\frac{e^{- z}}{(1 + e^{- z})^{2}} = \frac{1}{1 + e^{- z}} \cdot \frac{e^{- z}}{1 + e^{- z}} = \sigma(z) (1 - \sigma(z))"),
    ("tanh(z)", r"From the definition $\tanh(z) = \frac{e^{z} - e^{- z}}{e^{z} + e^{- z}}$",
     r"= 1 - \tanh^{2}(z)"),
    ("softplus(z)", r"From the definition $\operatorname{softplus}(z) = \log(1 + e^{z})$",
     r"\frac{e^{z}}{1 + e^{z}} = \sigma(z)"),
    ("relu(z)", r"From the definition $\operatorname{ReLU}(z) = \max(0, z)$", "(piecewise rule)"),
    ("leaky_relu(z)", r"From the definition $\operatorname{LeakyReLU}(z) = \begin{cases}",
     "(piecewise rule)"),
]


@pytest.mark.parametrize("text, definition, shortcut", ACTIVATION_DEFINITIONS,
                         ids=[t for t, *_ in ACTIVATION_DEFINITIONS])
def test_full_detail_derives_activations_from_their_definitions(text, definition, shortcut):
    d = derive(text, "z")
    full, standard = (render(d, "markdown", detail=level) for level in ("full", "standard"))
    assert definition in full and shortcut in full
    assert "From the definition" not in standard


def test_softmax_from_its_definition():
    z1, z2 = sp.Symbol("z1", real=True), sp.Symbol("z2", real=True)
    d = derive(softmax(1, z1, z2), ["z1", "z2"])
    full = render(d, "markdown", detail="full")
    assert r"From the definition $\operatorname{softmax}_{1}(z_{1}, z_{2}) = " \
           r"\frac{e^{z_{1}}}{e^{z_{1}} + e^{z_{2}}}$" in full
    assert "By the quotient rule" in full


def step_lhs(step) -> str:
    return str(tex(sp.Derivative(step.expr, step.var)))


def test_levels_of_detail_nest(derivations):
    d = derivations["neuron"]
    brief, standard, full = (render(d, "markdown", detail=level) for level in DETAILS)
    assert len(brief) < len(standard) < len(full)
    sentences = ["By the chain rule with", PHRASES[Rule.POWER], PHRASES[Rule.SUM],
                 PHRASES[Rule.ACTIVATION], PHRASES[Rule.CONSTANT_MULTIPLE]]
    assert all(p in standard and p in full and p not in brief for p in sentences)
    assert all(p not in standard and p in full for p in (PHRASES[Rule.CONSTANT],
                                                          PHRASES[Rule.IDENTITY], "Simplifying"))
    assert r"\frac{\partial L}{\partial \hat{y}} &= 2 (\hat{y} - y) \\" in brief
    steps = [s for f in d.factors for s in f.step.walk(expansions=True) if s.rule is not Rule.SIMPLIFY]
    assert [step_lhs(s) for s in steps if step_lhs(s) not in full] == []
    assert any(step_lhs(s) not in standard for s in steps)


def test_the_same_derivation_renders_at_every_level(derivations):
    d = derivations["network"]
    before = repr(d)
    documents = {level: render(d, "latex", detail=level) for level in DETAILS}
    assert len(set(documents.values())) == 3 and repr(d) == before
    assert render(d, "markdown") == render(d, "markdown", detail="standard")


def test_unknown_level_of_detail(derivations):
    with pytest.raises(UnknownNameError, match=r"^unknown level of detail 'verbose' "
                                               r"\(known: brief, standard, full\)$"):
        render(derivations["seed"], "markdown", detail="verbose")


def test_verification_sentence_only_when_verified(derivations):
    checked = derive(with_loss(neuron("sigmoid", bias=False), "squared_error"), "w", verify=True)
    v = checked.verification
    assert v is not None and v.passed and v.equations > 0
    sentence = (f"its {v.equations} step equations and the three local derivatives they give hold "
                f"at each of {v.points} random points")
    for fmt in ("markdown", "latex"):
        assert sentence in render(checked, fmt)
        assert "checked numerically" not in render(derivations["neuron"], fmt)


# --- the documents, read by KaTeX and pdflatex ----------------------------------------


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_markdown_math_renders_with_katex(derivations, name):
    require("KaTeX", katex_available(), "KaTeX not installed: npm ci --prefix tests/js")
    segments = markdown_math_segments(render(derivations[name], "markdown"))
    assert segments
    errors = katex_errors([(tex_, display) for tex_, display, _ in segments])
    failed = [(line, tex_[:80], e) for (tex_, _, line), e in zip(segments, errors) if e]
    assert failed == []


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_latex_document_compiles(derivations, name, tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex not installed (texlive-latex-base)")
    path = tmp_path / f"{name}.tex"
    path.write_text(render(derivations[name], "latex"))
    compile_latex(path)


@pytest.mark.parametrize("name", ["seed", "network"])
def test_latex_fragment_compiles_when_input(derivations, name, tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex not installed (texlive-latex-base)")
    fragment = render(derivations[name], "latex-fragment")
    (tmp_path / "body.tex").write_text(fragment)
    # the packages its first line names (a network's tables need longtable)
    named = re.fullmatch(r"% symgrad: \\input this fragment into a document that loads (.*)\.",
                         fragment.splitlines()[0]).group(1)
    packages = re.split(r", | and ", named)
    assert ("longtable" in packages) == (name == "network")
    wrapper = tmp_path / "wrapper.tex"
    wrapper.write_text(f"\\documentclass{{article}}\n\\usepackage{{{','.join(packages)},amssymb}}\n"
                       "\\begin{document}\n\\input{body}\n\\end{document}\n")
    compile_latex(wrapper)


def test_document_includes_the_fragment(derivations):
    document = render(derivations["neuron"], "latex")
    fragment = render(derivations["neuron"], "latex-fragment", embedded=True)
    assert fragment.strip() in document
    assert document.startswith("\\documentclass")


def test_escaped_title(tmp_path):
    d = derive("1/2*(yhat - y)**2", "yhat", title=TITLE)
    assert latex_escape(TITLE) in render(d, "latex")
    assert render(d, "markdown").startswith("# " + markdown_escape(TITLE) + "\n")
    if pdflatex_available():
        path = tmp_path / "title.tex"
        path.write_text(render(d, "latex"))
        compile_latex(path)


# --- the environment and template overrides -------------------------------------------


def test_formats_and_templates():
    assert FORMATS[:4] == ("markdown", "latex", "latex-fragment", "json")
    assert {k: EXTENSIONS[k] for k in FORMATS[:4]} == {"markdown": ".md", "latex": ".tex",
                                                       "latex-fragment": ".tex", "json": ".json"}
    assert EXTENSIONS["html"] == ".html" and EXTENSIONS["beamer"] == ".tex"
    for name in ("markdown/derivation.md.j2", "latex/document.tex.j2", "latex/fragment.tex.j2",
                 "common/rules.j2", "html/page.html.j2", "beamer/fragment.tex.j2"):
        assert (Path(TEMPLATE_DIR) / name).is_file()


def test_unknown_format(derivations):
    with pytest.raises(UnknownNameError, match="markdown, latex, latex-fragment, json"):
        render(derivations["seed"], "docx")


def test_environment_settings():
    env = environment(())
    assert env is environment(())
    assert env.autoescape is False
    assert env.from_string("{#1} {## a comment ##}& <b>").render() == "{#1} & <b>"


def test_user_template_overrides_a_block(derivations, tmp_path):
    (tmp_path / "markdown").mkdir()
    (tmp_path / "markdown" / "derivation.md.j2").write_text(
        '{% extends "default:markdown/derivation.md.j2" %}\n'
        '{% block title %}# My notes on {{ derivation.title }}{% endblock %}\n'
        '{% block backprop %}(backpropagation left as an exercise for ${{ g.parameter|tex }}$){% endblock %}\n')
    d = derivations["neuron"]
    default = render(d, "markdown")
    custom = render(d, "markdown", template_dirs=[tmp_path])
    assert custom.startswith("# My notes on Gradient of L with respect to w\n")
    assert "(backpropagation left as an exercise for $w$)" in custom
    assert "The backpropagation view" not in custom and "The backpropagation view" in default
    assert custom.count("## With numbers") == 1


def test_user_partial_is_used_by_the_defaults(derivations, tmp_path):
    (tmp_path / "common").mkdir()
    prose = (Path(TEMPLATE_DIR) / "common" / "prose.j2").read_text()
    (tmp_path / "common" / "prose.j2").write_text(prose.replace("The gradient is negative:", "NEGATIVE:"))
    text = render(derivations["seed"], "markdown", template_dirs=[str(tmp_path)])
    assert "NEGATIVE: increasing" in text


# --- JSON -----------------------------------------------------------------------------


def test_json_shapes_and_values():
    d = two_layer(["W2", "W1[0][0]"])
    data = to_json(d)
    assert isinstance(data["loss"], float) and math.isclose(data["loss"], float(d.worked.loss))
    W2 = data["gradients"]["W2"]
    assert len(W2) == 2 and all(len(row) == 2 and all(isinstance(v, float) for v in row) for row in W2)
    assert isinstance(data["gradients"]["W1[0][0]"], float)
    assert [len(row) for row in data["updated"]["W2"]] == [2, 2]
    assert set(data["symbolic"]) == {p.name for p in d.parameters}
    assert all(set(step) == {"rule", "equation", "explanation", "substeps", "factors"}
               for step in data["steps"])
    covered = [tuple(f) for step in data["steps"] for f in step["factors"]]
    assert sorted(covered) == sorted((f.of.name, f.wrt.name) for f in d.factors)
    assert set(data["deltas"]) == {str(tex(a.name)) for a in d.adjoints if a.named} != set()
    assert data["verification"] is None
    assert render(d, "json") == json.dumps(data, indent=2)


def test_json_step_trees_and_verification():
    d = derive("(w*x + 1)**2", "w", verify=True)
    data = to_json(d)
    (step,) = data["steps"]
    assert step["rule"] == "chain"
    outer, inner = step["substeps"]
    assert outer == {"rule": "power", "equation": r"\frac{d}{d u} u^{2} = 2 u", "substeps": []}
    assert inner["rule"] == "sum" and [s["rule"] for s in inner["substeps"]] == [
        "constant multiple", "constant", "simplify"]
    assert inner["substeps"][-1]["equation"] == "x + 0 = x"
    v = d.verification
    assert data["verification"] == {"equations": v.equations, "references": 1, "points": v.points,
                                    "undefined": v.undefined, "kinds": 1, "numbers": 0,
                                    "passed": True}
    assert v.equations > 0 and v.points > 0


def test_json_gradient_agrees_with_finite_differences():
    data = to_json(sigmoid_neuron())

    def loss(w_: float) -> float:
        return (1 / (1 + math.exp(-w_ * 1.5)) - 1.0) ** 2

    h = 1e-6
    numeric = (loss(0.8 + h) - loss(0.8 - h)) / (2 * h)
    assert math.isclose(data["gradients"]["w"], numeric, rel_tol=1e-8)
    assert math.isclose(data["updated"]["w"], 0.8 - 0.1 * numeric, rel_tol=1e-8)
    assert data["steps"][0]["rule"] == "chain"


def test_json_without_numbers():
    data = to_json(derive("1/2*(yhat - y)**2", "yhat"))
    assert data["loss"] is None
    assert data["gradients"] == {"yhat": r"\hat{y} - y"}
    assert "updated" not in data
    assert data["symbolic"] == {"yhat": r"\hat{y} - y"}


# --- the matrix view's printing -----------------------------------------------------------

W1, W2 = sp.MatrixSymbol("W1", 2, 3), sp.MatrixSymbol("W2", 2, 2)
X2, Y2, Yhat2 = (sp.MatrixSymbol(n, 2, 4) for n in ("X", "Y", "Yhat"))
A1, Z1, D2 = sp.MatrixSymbol("A1", 2, 4), sp.MatrixSymbol("Z1", 2, 4), sp.MatrixSymbol("Delta2", 2, 4)
d2, z1, b1 = sp.MatrixSymbol("Delta2", 2, 1), sp.MatrixSymbol("Z1", 2, 1), sp.MatrixSymbol("b1", 2, 1)
zs = sp.Symbol("z", real=True)

MATRIX_PRINTED = [
    (W1, r"W^{(1)}"),
    (D2, r"\Delta^{(2)}"),
    (d2, r"\delta^{(2)}"),
    (Yhat2, r"\hat{Y}"),
    (sp.MatrixSymbol("Yhat", 2, 1), r"\hat{y}"),
    (A1, r"A^{(1)}"),
    (X2, "X"),
    (Y2, "Y"),
    (b1, r"b^{(1)}"),
    (W2.T, r"(W^{(2)})^{T}"),
    (X2.T, r"X^{T}"),
    (sp.MatMul(W2.T, D2), r"(W^{(2)})^{T} \Delta^{(2)}"),
    (Yhat2 - Y2, r"\hat{Y} - Y"),
    (sp.HadamardProduct(Yhat2 - Y2, Yhat2), r"(\hat{Y} - Y) \odot \hat{Y}"),
    (sp.MatMul(sp.Rational(1, 4), Yhat2 - Y2), r"\frac{1}{4} (\hat{Y} - Y)"),
    (sp.OneMatrix(2, 4), r"\mathbf{1}"),
    (sp.MatMul(b1, sp.OneMatrix(1, 4)), r"b^{(1)} \mathbf{1}^{T}"),
    (sp.MatMul(b1, sp.OneMatrix(1, 1)), r"b^{(1)}"),
    (ElementwiseApplyFunction(sp.Lambda(zs, sigmoid(zs)), Z1), r"\sigma(Z^{(1)})"),
    (ElementwiseApplyFunction(sp.Lambda(zs, sigmoid(zs) * (1 - sigmoid(zs))), z1),
     r"\sigma(z^{(1)}) \odot (1 - \sigma(z^{(1)}))"),
    (sp.MatAdd(sp.OneMatrix(2, 4), ElementwiseApplyFunction(sp.Lambda(zs, -sp.tanh(zs) ** 2), Z1)),
     r"1 - \tanh^{2}(Z^{(1)})"),
    (sp.MatrixSymbol("dL/dW1", 2, 3), r"\frac{\partial L}{\partial W^{(1)}}"),
    (W2 - sp.Symbol("eta") * sp.MatrixSymbol("dL/dW2", 2, 2),
     r"W^{(2)} - \eta \frac{\partial L}{\partial W^{(2)}}"),
    (ColumnSoftmax(Z1), r"\operatorname{softmax}(Z^{(1)})"),
    (sp.ImmutableMatrix([[sp.Float("0.5"), -1], [sp.Float(1 / 3), 0]]),
     r"\begin{bmatrix} 0.5 & -1 \\ 0.333333 & 0 \end{bmatrix}"),
    (sp.Sum(sp.Indexed("y", sp.Symbol("k"), sp.Symbol("n")), (sp.Symbol("k"), 1, 2), (sp.Symbol("n"), 1, 3)),
     r"\sum_{n=1}^{3} \sum_{k=1}^{2} y_{k,n}"),
    (Var("z~", "z", "l", ("j",), "n"), r"z^{(l)}_{j,n}"),
    (Var("W~", "W", "l+1", ("i", "j")), r"W^{(l+1)}_{ij}"),
]


@pytest.mark.parametrize("expr, expected", MATRIX_PRINTED, ids=[e for _, e in MATRIX_PRINTED])
def test_matrix_printer(expr, expected):
    assert str(tex(expr)) == expected


def test_matrices_with_numbers_keep_their_shape():
    values = {W2.T: r"\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}", d2: r"\begin{bmatrix} 5 \\ -6 \end{bmatrix}"}
    rule = sp.HadamardProduct(sp.MatMul(W2.T, d2), ElementwiseApplyFunction(sp.Lambda(zs, sigmoid(zs)), z1))
    assert str(tex(rule, {**values, z1: r"\begin{bmatrix} 0.1 \\ 0.2 \end{bmatrix}"})) == (
        r"\left(\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix} \begin{bmatrix} 5 \\ -6 \end{bmatrix}\right)"
        r" \odot \sigma\left(\begin{bmatrix} 0.1 \\ 0.2 \end{bmatrix}\right)")


def test_matrix_math_is_accepted_by_katex_and_pdflatex(tmp_path):
    formulas = [e for _, e in MATRIX_PRINTED]
    if katex_available():
        assert [(f, e) for f, e in zip(formulas, katex_errors([(f, True) for f in formulas])) if e] == []
    require("pdflatex", pdflatex_available(), "pdflatex not installed (texlive-latex-base)")
    path = tmp_path / "matrices.tex"
    path.write_text("\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
                    + "\n".join(rf"\[ {f} \]" for f in formulas) + "\n\\end{document}\n")
    compile_latex(path)


# --- networks: backpropagation as a textbook chapter -------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def every_parameter():
    """The 2-2-2 sigmoid network, every parameter, with an update step."""
    return two_layer(["all"])


def batch_network():
    """The 2-2-2 network on a batch of two samples (a column each)."""
    model = with_loss(network(2, [(2, "sigmoid"), (2, "sigmoid")], batch=2), "half_squared_error")
    values = {**NETWORK_VALUES, "x": [[0.5, 1.0], [-0.2, 0.3]], "y": [[0.0, 1.0], [1.0, 0.0]]}
    return derive(model, "all", at=values, learning_rate=0.5)


def wide_network():
    """Five hidden units: one step for the whole layer."""
    model = with_loss(network(2, [(5, "tanh"), (1, "sigmoid")]), "binary_cross_entropy")
    values = dict(x=[0.5, -1.0], y=[1.0], W1=[[0.1 * i, -0.2 * i] for i in range(1, 6)],
                  b1=[0.0, 0.1, 0.0, -0.1, 0.2], W2=[[0.3, -0.1, 0.2, 0.4, -0.5]], b2=[0.1])
    return derive(model, "all", at=values, learning_rate=0.1)


def gallery_networks():
    """The gallery's network specs, derived as the gallery derives them."""
    specs = {p.stem: load_spec(p) for p in sorted((ROOT / "examples").glob("*.yaml"))}
    return {name: derive(s.graph, s.wrt, at=s.at, learning_rate=s.learning_rate, title=s.title)
            for name, s in specs.items() if s.graph.kind == "network"}


NETWORKS = {"every parameter": every_parameter, "subset": two_layer, "softmax": softmax_network,
            "batch": batch_network, "wide": wide_network}


@pytest.fixture(scope="module")
def networks():
    """Each network derivation (the gallery's and the ones above) derived once."""
    return {**{name: make() for name, make in NETWORKS.items()}, **gallery_networks()}


def test_the_gallery_has_networks(networks):
    assert {"03_two_layer_network", "12_tanh_softmax_network", "13_batch_network"} <= set(networks)


VIEW_CASES = [
    # (view, present, absent)
    ("index", ["## Backpropagation", "### The output layer's error (BP1)", "### The hidden layers' errors (BP2)",
               "### The gradients (BP3, BP4)", "### The gradients and one step of gradient descent", "## Summary"],
     ["### The equations in matrix form", r"\odot"]),
    ("matrix", ["### The equations in matrix form", "(BP2) are",
                r"\delta^{(1)} = \frac{\partial L}{\partial z^{(1)}} = ((W^{(2)})^{T} \delta^{(2)}) \odot \sigma'(z^{(1)})",
                "## The numbers: the forward pass", "## Summary"],
     ["### The output layer's error (BP1)", "### The hidden layers' errors (BP2)"]),
    ("both", ["### The output layer's error (BP1)", "and on the right the same in matrices, a layer at a time",
              r"\qquad \delta^{(2)} = (\hat{y} - y) \odot \hat{y} \odot (1 - \hat{y})"],
     ["### The equations in matrix form"]),
]


@pytest.mark.parametrize("view, present, absent", VIEW_CASES, ids=[v for v, *_ in VIEW_CASES])
def test_views(networks, view, present, absent):
    text = render(networks["every parameter"], "markdown", view=view)
    assert [p for p in present if p not in text] == []
    assert [a for a in absent if a in text] == []
    assert "## The network" in text and "Vectors are columns" in text


def test_default_views(networks, derivations):
    d = networks["every parameter"]
    assert render(d, "markdown") == render(d, "markdown", view="both")
    assert render(derivations["neuron"], "markdown") == render(derivations["neuron"], "markdown", view="index")
    assert seed_markdown() == SEED_MARKDOWN


@pytest.mark.parametrize("name, view, error, message", [
    ("neuron", "matrix", DerivationError, "the matrix view is for dense networks"),
    ("seed", "both", DerivationError, "the matrix view is for dense networks"),
    ("network", "tensor", UnknownNameError, r"unknown view 'tensor' \(known: index, matrix, both\)"),
])
def test_view_errors(derivations, name, view, error, message):
    with pytest.raises(error, match=message):
        render(derivations[name], "markdown", view=view)


def test_delta_and_the_recursion_are_said_once(networks):
    """delta is defined once, BP2's reason is given once, and no sentence is repeated per unit."""
    text = render(networks["12_tanh_softmax_network"], "markdown")
    assert text.count("Backpropagation works with the error of each unit") == 1
    assert text.count("reaches the loss only through its activation") == 1
    assert "As in step" not in text and "### Step" not in text
    sentences = [s.strip() for s in re.split(r"(?<=[.:])\s", re.sub(r"\$[^$]*\$", "$", text))
                 if len(s.strip()) > 40]
    repeated = {s for s in sentences if sentences.count(s) > 1}
    assert repeated == set()


def test_output_deltas_in_textbook_form_with_their_assumption(networks):
    text = render(networks["softmax"], "markdown", view="index")
    assert text.count("the last step uses that the targets sum to one, $y_{1} + y_{2} + y_{3} = 1$, "
                      "as one-hot labels or probabilities do") == 1
    assert ("&= y_{2} \\hat{y}_{1} + y_{3} \\hat{y}_{1} - y_{1} (1 - \\hat{y}_{1}) \\\\\n"
            "&= y_{1} \\hat{y}_{1} + y_{2} \\hat{y}_{1} + y_{3} \\hat{y}_{1} - y_{1} \\\\\n"
            "&= \\hat{y}_{1} (y_{1} + y_{2} + y_{3}) - y_{1} \\\\\n&= \\hat{y}_{1} - y_{1}") in text
    assert "The same holds for every output unit $j$ (BP1): $\\delta^{(2)}_{j} = \\hat{y}_{j} - y_{j}$." in text
    matrix = render(networks["softmax"], "markdown", view="matrix")
    assert "(the last step uses that the targets sum to one, $y_{1} + y_{2} + y_{3} = 1$)" in matrix
    assert "\\delta^{(2)} = \\frac{\\partial L}{\\partial z^{(2)}} = \\hat{y} - y" in matrix
    sigmoid_text = render(networks["every parameter"], "markdown")
    assert "targets sum to one" not in sigmoid_text
    assert "= (\\hat{y}_{1} - y_{1}) \\cdot \\hat{y}_{1} (1 - \\hat{y}_{1})\n" in sigmoid_text


def test_local_derivatives_once_each_at_every_level(networks):
    d = networks["every parameter"]
    linear = (r"\frac{\partial z^{(l)}_{j}}{\partial W^{(l)}_{jk}} = a^{(l-1)}_{k}, \qquad "
              r"\frac{\partial z^{(l)}_{j}}{\partial b^{(l)}_{j}} = 1, \qquad "
              r"\frac{\partial z^{(l+1)}_{i}}{\partial a^{(l)}_{j}} = W^{(l+1)}_{ij}")
    for level in DETAILS:
        text = render(d, "markdown", detail=level)
        assert text.count("**The loss.** Here") == 1 and text.count("**The sigmoid.** Here") == 1, level
        assert linear in text, level
        # the weighted sum's kinds are one line each below full detail
        assert (text.count("**A weighted sum and a weight.**") == 1) == (level == "full"), level
    standard = render(d, "markdown", detail="standard").split("### The output layer's error")[0]
    loss = standard.split("**The loss.**")[1].split("**The sigmoid.**")[0]
    assert loss.count(r"\\") == 0 and "(sum rule)" in loss  # one short line, with its first rule
    assert "(sum rule)" not in render(d, "markdown", detail="brief")
    assert "(identity rule)" in render(d, "markdown", detail="full")


def test_every_unit_and_parameter_in_numbers_once(networks):
    d = networks["softmax"]
    text = render(d, "markdown")
    worked = d.worked
    for p in d.parameters:
        grad, after = num(worked.gradients[p]), num(worked.updated[p])
        rows = [line for line in text.splitlines() if line.startswith(f"| ${tex(p)}$ | ${worked.literals[p]}$ |")]
        assert len(rows) == 1, p
        assert rows[0].endswith(f"= {grad}$ | ${after}$ |"), rows[0]
        assert text.count(f"${after}$") == 1, p  # each update printed once
    for a in d.adjoints:
        if isinstance(a.name, Var):  # every delta, once, in its row
            assert text.count(f"| ${tex(a.name)}$ |") == 1
            assert f"| ${num(worked.adjoints[a.node])}$ |" in text
    for s, v in worked.forward.items():
        if s != d.loss:  # a weighted sum's row names it by layer and unit; an activation by name
            assert f"= {num(v)}$ |" in text and (s.base == "z" or f"| ${tex(s)} = " in text), s
    assert r"\leftarrow" not in text  # the update rule is stated once, in words and one formula


def numpy_backprop(values, activations, loss):
    """Backpropagation written from the maths in numpy: the deltas of every layer."""
    f = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh}
    df = {"sigmoid": lambda a: a * (1 - a), "tanh": lambda a: 1 - a ** 2}
    a, zs, acts = np.array(values["x"], float), [], []
    acts.append(a)
    n = len(activations)
    for l, name in enumerate(activations, start=1):
        z = np.array(values[f"W{l}"], float) @ a + np.array(values[f"b{l}"], float)
        a = np.exp(z) / np.exp(z).sum() if name == "softmax" else f[name](z)
        zs.append(z)
        acts.append(a)
    y = np.array(values["y"], float)
    if loss == "half_squared_error":
        deltas = [(a - y) * df[activations[-1]](a)]
    else:  # softmax with cross-entropy, the targets summing to one
        deltas = [a - y]
    for l in range(n - 1, 0, -1):
        deltas.insert(0, (np.array(values[f"W{l + 1}"], float).T @ deltas[0]) * df[activations[l - 1]](acts[l]))
    return deltas


@pytest.mark.parametrize("name, activations, loss, values", [
    ("every parameter", ["sigmoid", "sigmoid"], "half_squared_error", NETWORK_VALUES),
    ("softmax", ["tanh", "softmax"], "categorical_cross_entropy", SOFTMAX_VALUES),
])
def test_the_delta_table_holds_an_independent_backprop(networks, name, activations, loss, values):
    text = render(networks[name], "markdown")
    table = text.split("### The errors")[1].split("###")[0]
    rows = {r.split("|")[1].strip(): r.split("|")[3].strip().strip("$") for r in table.splitlines()
            if r.startswith("| $\\delta")}
    for l, deltas in enumerate(numpy_backprop(values, activations, loss), start=1):
        for j, value in enumerate(deltas, start=1):
            shown = float(rows[f"$\\delta^{{({l})}}_{{{j}}}$"])
            assert shown == pytest.approx(value, rel=1e-5, abs=1e-12), (l, j)


@pytest.mark.parametrize("fmt", ["markdown", "latex", "latex-fragment", "html", "beamer", "notebook"])
def test_the_summary_box_in_every_format(networks, fmt):
    text = render(networks["every parameter"], fmt)
    if fmt == "notebook":
        text = "".join("".join(c["source"]) for c in json.loads(text)["cells"])
    assert text.count(r"\boxed{\begin{aligned}") == 1
    box = text.split(r"\boxed{")[1].split(r"\end{aligned}}")[0]
    for label in ("BP1", "BP2", "BP3", "BP4"):
        assert box.count(rf"\text{{({label})}}") == 1, label
    assert r"\delta^{(1)}_{j} = \left(\sum_{i} W^{(2)}_{ij} \delta^{(2)}_{i}\right) a^{(1)}_{j} (1 - a^{(1)}_{j})" in box
    assert r"\frac{\partial L}{\partial W^{(l)}} = \delta^{(l)} (a^{(l-1)})^{T}" in box
    assert "what the gradient told us" in text


def test_what_the_gradient_told_us_is_read_off_the_numbers(networks):
    d = networks["every parameter"]
    text = render(d, "markdown")
    worked = d.worked
    summary = text.split("## Summary")[1]
    # loss before, and after the step computed here from the updated values by hand-free numpy
    values = {str(p): float(worked.updated[p]) for p in d.trained}
    W1 = np.array([[values["W1[0][0]"], values["W1[0][1]"]], [values["W1[1][0]"], values["W1[1][1]"]]])
    W2 = np.array([[values["W2[0][0]"], values["W2[0][1]"]], [values["W2[1][0]"], values["W2[1][1]"]]])
    b1, b2 = np.array([values["b1[0]"], values["b1[1]"]]), np.array([values["b2[0]"], values["b2[1]"]])
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    yhat = sig(W2 @ sig(W1 @ np.array([0.5, -0.2]) + b1) + b2)
    after = 0.5 * ((yhat - np.array([0.0, 1.0])) ** 2).sum()
    assert f"L = {num(worked.loss)} \\to {num(after)}" in summary
    gradients = {p: float(worked.gradients[p]) for p in d.trained}
    for layer in (1, 2):
        p = max((p for p in gradients if p.layer == layer), key=lambda p: abs(gradients[p]))
        assert f"largest gradient in layer {layer}}}$ | $\\frac{{\\partial L}}{{\\partial {tex(p)}}} = " \
               f"{num(gradients[p])}$" in summary
    lowered = sum(1 for p in d.trained if worked.updated[p] < worked.given[p])
    assert f"${lowered}, {len(d.trained) - lowered} \\text{{ (of {len(d.trained)})}}$" in summary


def test_batch_document(networks):
    text = render(networks["batch"], "markdown")
    assert r"L &= \frac{1}{2} \sum_{n=1}^{2} \sum_{k=1}^{2} \frac{1}{2} (\hat{y}_{k,n} - y_{k,n})^{2}" in text
    assert r"z^{(l)}_{j,n} &= \sum_{k} W^{(l)}_{jk} a^{(l-1)}_{k,n} + b^{(l)}_{j}" in text
    assert "| layer | unit | sample | weighted sum | activation |" in text
    assert r"\frac{\partial L}{\partial b^{(l)}} = \Delta^{(l)} \mathbf{1}" in text
    assert r"&X = \begin{bmatrix} 0.5 & 1.0 \\ -0.2 & 0.3 \end{bmatrix}" in text
    assert r"where $\frac{1}{2} = \frac{1}{N}$ comes from the mean over the samples" in text
    assert r"\frac{\partial L}{\partial b^{(l)}_{j}} = \sum_{n} \delta^{(l)}_{j,n}" in text


def test_wide_layer_tables_stay_bounded():
    """A layer of 12 units: the tables show its first four units and its last."""
    model = with_loss(network(2, [(12, "tanh"), (1, "sigmoid")]), "binary_cross_entropy")
    values = dict(x=[0.5, -1.0], y=[1.0], W1=[[0.1, -0.2]] * 12, b1=[0.0] * 12, W2=[[0.1] * 12], b2=[0.1])
    d = derive(model, "all", at=values, learning_rate=0.1)
    text = render(d, "markdown")
    assert "of a wide layer, its first four units and its last" in text
    for shown in ("a^{(1)}_{4} = ", "a^{(1)}_{12} = ", r"| $\delta^{(1)}_{12}$ |", r"| $W^{(2)}_{1,12}$ |"):
        assert shown in text, shown
    for cut in ("a^{(1)}_{5} = ", r"| $\delta^{(1)}_{5}$ |", r"| $W^{(2)}_{15}$ |", r"| $W^{(1)}_{51}$ |"):
        assert cut not in text, cut
    assert text.count(r"| $\vdots$ | $\vdots$ |") == 5  # the forward pass, the errors, W1, b1 and W2
    assert len(text.splitlines()) < 200


# The equation check: every equation a network document shows holds at the worked values.
# Each displayed side keeps its SymPy expression (sides in numbers with the exact numbers
# put in); here each is evaluated independently of the renderer, from the Worked numbers.

FREE = sp.Rational(3, 10)
"""A value for symbols a side keeps free, such as the u of a chain rule (d/du u^2 = 2u holds
for every u) or the scalar z of sigma'(z): both sides must agree at any value."""


def worked_environment(d):
    """The worked numbers by symbol and by derivative (dL/dv, d(of)/d(wrt), dL/dp)."""
    w = d.worked
    values = {**w.given, **w.forward}
    derivatives = {}
    for a in d.adjoints:
        values[a.name] = derivatives[sp.Derivative(d.loss, a.node)] = w.adjoints[a.node]
    derivatives.update({sp.Derivative(of, wrt): v for (of, wrt), v in w.factors.items()})
    derivatives.update({sp.Derivative(d.loss, p): v for p, v in w.gradients.items()})
    symbols = {s.name: s for g in d.graph.groups for s in g.symbols}
    symbols.update({x.symbol.name: x.symbol for x in d.definitions})
    return values, derivatives, symbols


def worked_matrix(d, symbols, matrix):
    """The numbers of a matrix of the matrix view, read off its name (W1, Z2, Delta1,
    dL/dW1, ...), from the index form's numbers."""
    w = d.worked
    rows, columns = matrix.shape

    def entries(group, number):
        def element(j, k):
            two = f"{group}[{j}][{k}]"
            return symbols[two] if two in symbols else symbols[f"{group}[{j}]"]
        return sp.ImmutableMatrix([[number(element(j, k)) for k in range(columns)] for j in range(rows)])

    name = matrix.name
    if name.startswith("dL/d"):
        of = name[4:]
        if of[0] in "Wb" or of == "X":  # dL/dX: the inputs' gradient, a saliency
            return entries("x" if of == "X" else of, lambda s: w.gradients[s])
        return entries("z" + of[1:], lambda s: w.adjoints[s])
    base, layer = re.fullmatch(r"([A-Za-z]+?)(\d*)", name).groups()
    tables = {"X": ("x", w.given), "Y": ("y", w.given), "W": (name, w.given), "b": (name, w.given),
              "Z": (f"z{layer}", w.forward), "A": (f"a{layer}", w.forward), "Yhat": ("yhat", w.forward),
              "Delta": (f"z{layer}", w.adjoints)}
    group, table = tables[base]
    return entries(group, lambda s: table[s])


def column_softmax(matrix):
    matrix = sp.ImmutableMatrix(matrix)
    columns = [[sp.exp(v) / sum(sp.exp(u) for u in matrix.col(c)) for v in matrix.col(c)]
               for c in range(matrix.cols)]
    return sp.ImmutableMatrix(columns).T


def evaluate_side(d, expr, environment):
    """A displayed side's value at the worked numbers (an explicit matrix for a matrix)."""
    values, derivatives, symbols = environment
    expr = sp.sympify(expr).xreplace(derivatives).doit().xreplace(derivatives)
    expr = expr.replace(lambda e: isinstance(e, sp.Indexed),
                        lambda e: symbols[str(e.base) + "".join(f"[{int(i) - 1}]" for i in e.indices)])
    matrices = {m: worked_matrix(d, symbols, m) for m in expr.atoms(sp.MatrixSymbol)}
    rate = {} if d.worked.learning_rate is None else {sp.Symbol("eta", positive=True): d.worked.learning_rate}
    expr = expr.xreplace({**values, **matrices, **rate})
    expr = expr.replace(lambda e: isinstance(e, ColumnSoftmax), lambda e: column_softmax(e.args[0])).doit()
    expr = expr.xreplace({s: FREE for s in expr.free_symbols})
    if getattr(expr, "is_Matrix", False):
        return sp.ImmutableMatrix(expr.as_explicit()).evalf(30)
    return sp.sympify(expr).evalf(30)


def agree(a, b) -> bool:
    if getattr(a, "is_Matrix", False) or getattr(b, "is_Matrix", False):
        return getattr(a, "shape", None) == getattr(b, "shape", None) and all(map(agree, a, b))
    return abs(complex(a) - complex(b)) <= 1e-20 * max(1.0, abs(complex(a)))


def equation_failures(d, shown) -> list[str]:
    """Every side that has no expression or disagrees with the first side of its chain
    (for an update, ``p <- ...``, with the first side after the arrow)."""
    environment = worked_environment(d)
    failures = []
    for chain in shown:
        if any(e is None for e in chain.exprs):
            failures.append(f"not checkable: {' = '.join(chain.texts)[:120]}")
            continue
        texts, exprs = (chain.texts, chain.exprs) if chain.rel == "=" else (chain.texts[1:], chain.exprs[1:])
        first = evaluate_side(d, exprs[0], environment)
        for text, expr in zip(texts[1:], exprs[1:]):
            if not agree(first, evaluate_side(d, expr, environment)):
                failures.append(f"{texts[0][:60]} = {text[:80]}")
    return failures


CHECKED = [(name, view, level) for name in list(NETWORKS) + ["03_two_layer_network", "12_tanh_softmax_network",
                                                            "13_batch_network"]
           for view in VIEWS for level in ("brief", "full") if name != "subset" or view == "index"]
"""The matrix view's equations are checked against every delta and gradient, so only for
derivations with respect to every parameter (the subset has its index view checked)."""


@pytest.mark.parametrize("name, view, level", CHECKED, ids=["-".join(c) for c in CHECKED])
def test_every_displayed_equation_holds_at_the_worked_values(networks, name, view, level):
    d = networks[name]
    shown = displayed_equations(d, "markdown", view=view, detail=level)
    assert len(shown) > 20
    assert equation_failures(d, shown) == []


def test_the_equation_check_finds_a_wrong_number(networks):
    d = networks["every parameter"]
    worked = d.worked
    p = d.parameters[3]
    wrong = replace(d, worked=replace(worked, gradients={**worked.gradients, p: worked.gradients[p] * 1.001}))
    failures = equation_failures(wrong, displayed_equations(wrong, "markdown"))
    assert any(f.startswith(str(tex(sp.Derivative(d.loss, p)))) for f in failures)
    assert any(r"\eta" in f for f in failures)  # the step's value, from the gradient, is checked too
    shown = displayed_equations(d, "markdown")
    chain = next(c for c in shown if c.texts[0] == r"\delta^{(1)}_{1}")
    broken = replace(chain, exprs=chain.exprs[:-1] + (chain.exprs[-1] + sp.Float("1e-6"),))
    assert equation_failures(d, [broken]) != []


def test_displayed_numbers_are_rounded_but_checked_exactly(networks):
    d = networks["every parameter"]
    chain = next(c for c in displayed_equations(d, "markdown")
                 if c.texts[0] == r"\delta^{(1)}_{1}" and c.texts[-1][0].isdigit())
    assert chain.texts[-1] == "0.0101391"
    exact = chain.exprs[-1]
    assert exact == d.worked.adjoints[d.graph.definitions[0].symbol] and exact != sp.Float("0.0101391")


@pytest.mark.parametrize("name", list(NETWORKS))
def test_network_documents_render_with_katex_and_compile(networks, name, tmp_path):
    d = networks[name]
    if katex_available():
        segments = markdown_math_segments(render(d, "markdown", detail="full"))
        errors = katex_errors([(t, display) for t, display, _ in segments])
        assert [(line, e) for (_, _, line), e in zip(segments, errors) if e] == []
    require("pdflatex", pdflatex_available(), "pdflatex not installed (texlive-latex-base)")
    path = tmp_path / "network.tex"
    path.write_text(render(d, "latex"))
    compile_latex(path)
    (tmp_path / "body.tex").write_text(render(d, "latex-fragment", view="matrix"))
    wrapper = tmp_path / "wrapper.tex"
    wrapper.write_text("\\documentclass{article}\n\\usepackage{amsmath,amssymb,longtable}\n"
                       "\\begin{document}\n\\input{body}\n\\end{document}\n")
    compile_latex(wrapper)


SEED_MARKDOWN = r'''# Gradient of L with respect to yhat

## The model

The loss is

$$
L = \frac{1}{2} (\hat{y} - y)^{2}
$$

We want the gradient of $L$ with respect to $\hat{y}$: how fast the loss changes as $\hat{y}$ changes, everything else held fixed.

## The gradient with respect to $\hat{y}$

$L$ depends on $\hat{y}$ directly, so the gradient is a single local derivative.

### The local derivative

Here $L = \frac{1}{2} (\hat{y} - y)^{2}$.

- The constant factor $\frac{1}{2}$ carries through the derivative (constant multiple rule).
- By the chain rule with $u = \hat{y} - y$, the derivative of the outer function $u^{2}$ with respect to $u$ is multiplied by the derivative of $u$: $\frac{\partial}{\partial \hat{y}} (\hat{y} - y)^{2} = 2 (\hat{y} - y) \cdot \frac{\partial}{\partial \hat{y}} (\hat{y} - y) = 2 (\hat{y} - y)$.
- By the power rule, $\frac{d}{d u} u^{n} = n u^{n-1}$: $\frac{d}{d u} u^{2} = 2 u$.
- The derivative of a sum is the sum of the derivatives of its terms (sum rule); the term $- y$ does not contain $\hat{y}$ and contributes $0$: $\frac{\partial}{\partial \hat{y}} (\hat{y} - y) = \frac{\partial \hat{y}}{\partial \hat{y}} + \frac{\partial}{\partial \hat{y}} (- y) = 1$.

Step by step:

$$
\begin{aligned}
\frac{\partial L}{\partial \hat{y}} &= \frac{\partial}{\partial \hat{y}} \left(\frac{1}{2} (\hat{y} - y)^{2}\right) \\
&= \frac{1}{2} \cdot \frac{\partial}{\partial \hat{y}} (\hat{y} - y)^{2} \\
&= \frac{1}{2} \cdot 2 (\hat{y} - y) \cdot \frac{\partial}{\partial \hat{y}} (\hat{y} - y) \\
&= \frac{1}{2} \cdot 2 (\hat{y} - y) \left(\frac{\partial \hat{y}}{\partial \hat{y}} + \frac{\partial}{\partial \hat{y}} (- y)\right) \\
&= \frac{1}{2} \cdot 2 (\hat{y} - y) (1 + 0) \\
&= \hat{y} - y
\end{aligned}
$$

So $\frac{\partial L}{\partial \hat{y}} = \hat{y} - y$.

## With numbers

### Given values

$$
y = 1.0, \qquad \hat{y} = 0.8
$$

### Forward pass

Each quantity in turn, with the numbers substituted (computed values are shown to 6 significant digits; the calculation keeps full precision):

$$
L = \frac{1}{2} (\hat{y} - y)^{2} = \frac{1}{2} (0.8 - 1.0)^{2} = \frac{1}{2} \cdot 0.04 = 0.02
$$

So the loss is $L = 0.02$.

### Gradients

$$
\frac{\partial L}{\partial \hat{y}} = \hat{y} - y = 0.8 - 1.0 = -0.2
$$

The gradient is negative: increasing $\hat{y}$ decreases the loss, so gradient descent increases $\hat{y}$.
'''


# --- a written line keeps the order of the line before it --------------------------------

ORDER_CASES = {
    "seed mse": ("1/2*(yhat - y)**2", "yhat"),
    "sum": ("w*x + b", "b"),
    "difference": ("x**3 - 2*x - y", "x"),
    "quotient with exp": ("(x + 1)/(exp(-x) + 1)", "x"),
    "cross-entropy": ("-(y*log(yhat) + (1 - y)*log(1 - yhat))", "yhat"),
}


def _sum_pairs(before, after):
    """The sums of ``before`` that hold a derivative, each with the sum at the same place
    in ``after`` (which writes the derivatives taken), term for term."""
    if isinstance(before, sp.Derivative) or before == after:
        return []
    if isinstance(before, sp.Add) and isinstance(after, sp.Add) and before.has(sp.Derivative) \
            and len(before.args) == len(after.args):
        pairs = [(before, after)]
    elif before.func == after.func and len(before.args) == len(after.args):
        pairs = []
    else:
        return []
    return pairs + [p for a, b in zip(before.args, after.args) for p in _sum_pairs(a, b)]


def _printed_orders(text, terms):
    """Every order of ``terms`` in which their sum, printed term by term, is in ``text``."""
    printed = [str(tex(t)) for t in terms]
    found = set()
    for order in itertools.permutations(range(len(terms))):
        joined = printed[order[0]]
        for i in order[1:]:
            joined += f" - {printed[i][1:].lstrip()}" if printed[i].startswith("-") else f" + {printed[i]}"
        if joined in text:
            found.add(order)
    return found


def _taken(term):
    """A term with every derivative in it taken by sympy.diff."""
    return term.replace(lambda e: isinstance(e, sp.Derivative), lambda e: sp.diff(e.expr, *e.variables))


@pytest.mark.parametrize("level", ["standard", "full"])
@pytest.mark.parametrize("case", list(ORDER_CASES))
def test_each_result_is_written_where_its_derivative_was(case, level):
    expr, wrt = ORDER_CASES[case]
    shown = displayed_equations(derive(expr, wrt), "markdown", detail=level)
    checked = 0
    for chain in shown:
        for k in range(len(chain.exprs) - 1):
            for before, after in _sum_pairs(chain.exprs[k], chain.exprs[k + 1]):
                for term, result in zip(before.args, after.args):
                    assert sp.simplify(_taken(term) - _taken(result)) == 0, (chain.texts[k], term)
                if any(isinstance(n, sp.Add) for t in before.args + after.args
                       for n in sp.preorder_traversal(t)):
                    continue  # a sum inside a term is a pair of its own
                orders_before = _printed_orders(chain.texts[k], before.args)
                orders_after = _printed_orders(chain.texts[k + 1], after.args)
                assert orders_before & orders_after, (chain.texts[k], chain.texts[k + 1])
                checked += 1
    assert checked >= 1


def test_the_seed_writes_one_plus_zero_under_its_derivatives():
    text = render(seed(), "markdown")
    assert r"\left(\frac{\partial \hat{y}}{\partial \hat{y}} + \frac{\partial}{\partial \hat{y}} (- y)\right)" in text
    assert r"(1 + 0)" in text and r"(0 + 1)" not in text


# --- the derivations every course teaches, each line shown ------------------------------

def _by_name(expr):
    """``expr`` with its symbols replaced by plain symbols of the same names."""
    expr = sp.sympify(expr)
    with sp.evaluate(False):
        return expr.xreplace({s: sp.Symbol(s.name) for s in expr.free_symbols})


def _evaluated(expr):
    """``expr`` rebuilt as SymPy evaluates it (every unevaluated node evaluated)."""
    expr = _by_name(expr)
    if not expr.args or isinstance(expr, (sp.Symbol, sp.Number)):
        return expr
    return expr.func(*(_evaluated(a) for a in expr.args))


def _unevaluated_fractions(expr):
    """The terms of the sums in ``expr`` that still hold a fraction as written."""
    return [t for n in sp.preorder_traversal(expr) if isinstance(n, sp.Add) for t in n.args
            if any(isinstance(f, sp.Pow) and f.exp.is_negative for f in sp.preorder_traversal(t))]


def bce_neuron():
    return derive(with_loss(neuron("sigmoid", bias=False), "binary_cross_entropy"), "w",
                  at={"x": 1.5, "w": 0.8, "y": 1.0})


def test_sigmoid_with_cross_entropy_cancels_to_yhat_minus_y_line_by_line():
    d = bce_neuron()
    shown = displayed_equations(d, "markdown")
    chain = next(c for c in shown if c.texts[0] == r"\frac{\partial L}{\partial w}" and len(c.exprs) > 4)
    x, y, yhat = sp.symbols("x y yhat")
    product = -((y - 1) / (1 - yhat) + y / yhat) * yhat * (1 - yhat) * x
    sides = [_by_name(e) for e in chain.exprs[1:]]
    assert sp.simplify(_evaluated(sides[0]) - product) == 0
    distributed = [t for t in _unevaluated_fractions(sides[1])]
    assert {sp.factor(_evaluated(t)) for t in distributed} == {sp.factor(yhat * (y - 1)), sp.factor(y * (1 - yhat))}
    written = [_evaluated(s) for s in sides]
    assert -x * (yhat * (y - 1) + y * (1 - yhat)) in written  # each term cancelled
    assert -x * (y - yhat) in written                          # collected
    assert written[-1] == (yhat - y) * x
    symbolic = [c for c in shown if all(e is not None for e in c.exprs)]
    assert chain in symbolic and equation_failures(d, symbolic) == []


def test_sigmoid_derivative_shows_the_split_and_the_identity_it_uses():
    shown = displayed_equations(derive("sigmoid(z)", "z"), "markdown", detail="full")
    z = sp.Symbol("z")
    e, s = sp.exp(-z), 1 / (1 + sp.exp(-z))
    chain = next(c for c in shown if len(c.exprs) >= 3 and _evaluated(c.exprs[0]) == e / (1 + e) ** 2)
    split = _by_name(chain.exprs[-2])
    assert isinstance(split, sp.Mul) and sorted(map(_evaluated, split.args), key=str) == sorted([s, e / (1 + e)], key=str)
    assert _evaluated(chain.exprs[-1]) == sigmoid(z) * (1 - sigmoid(z))
    uses = next(c for c in shown if _evaluated(c.exprs[0]) == e / (1 + e) and len(c.exprs) == 3)
    assert _evaluated(uses.exprs[-1]) == 1 - sigmoid(z)
    for chain in (chain, uses):
        values = [_evaluated(x).replace(lambda f: isinstance(f, sigmoid), lambda f: 1 / (1 + sp.exp(-f.args[0])))
                  for x in chain.exprs]
        assert all(sp.simplify(v - values[0]) == 0 for v in values)


def test_softmax_with_cross_entropy_collects_the_targets_before_their_sum_goes_in(networks):
    d = networks["softmax"]
    shown = displayed_equations(d, "markdown", view="index")
    chain = next(c for c in shown if c.texts[0] == r"\delta^{(2)}_{1}")
    y1, y2, y3, yhat1 = sp.symbols("y[0] y[1] y[2] yhat[0]")
    sides = [_by_name(e) for e in chain.exprs]
    k = next(i for i, s in enumerate(sides) if (y1 + y2 + y3) in sp.preorder_traversal(s))
    assert sp.expand(sides[k] - (yhat1 * (y1 + y2 + y3) - y1)) == 0
    assert _evaluated(sides[k + 1]) == yhat1 - y1
    step = sp.expand(sides[k] - sides[k + 1])
    assert step != 0 and sp.expand(step.subs(y3, 1 - y1 - y2)) == 0  # holds where the targets sum to 1
    assert "the targets sum to one, $y_{1} + y_{2} + y_{3} = 1$" in render(d, "markdown", view="index")
    assert equation_failures(d, shown) == []


@pytest.mark.parametrize("fmt, lead", [("markdown", "**The loss.**"), ("latex", r"\textbf{The loss.}"),
                                       ("html", "<strong>The loss.</strong>")])
def test_a_network_documents_first_local_derivative_opens_its_own_paragraph(fmt, lead):
    """"The loss." is a run-in heading: it starts a paragraph, not the middle of the one that
    says what backpropagation does (on slides a \\par, as the frame is one block)."""
    text = render(two_layer(), fmt)
    before = text.split(lead, 1)[0]
    assert before.endswith(("\n\n", "<p>")), before[-120:]
    slides = render(two_layer(), "beamer")
    assert "derived first.\\par\n" + r"\textbf{The loss.}" in slides
