"""Order and shape as the author wrote them: a sum's terms in the written order
(``1 + w^2``, not SymPy's ``w^2 + 1``), decimals as written (``0.01 w^2``, not
``1/100 w^2``) while the arithmetic stays exact, the seed's intermediate
``1/2 (0.8 - 1.0)^2 = 1/2 . 0.04 = 0.02``, and rules stated in the variable at hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

import sympy as sp

from symgrad import derive, neuron, render, with_loss
from symgrad.cli.main import derive_spec, main
from symgrad.model.parse import parse_written
from symgrad.render import plain
from symgrad.render.document import written_in
from symgrad.render.notation import using
from symgrad.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
w, x, y = sp.symbols("w x y", real=True)


def run(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_the_parser_records_the_written_order_and_decimals():
    expr, written = parse_written("1 + w**2 - 0.25*y")
    assert expr == 1 + w**2 - sp.Rational(1, 4) * y  # exact inside
    assert written.terms(expr) == (sp.S.One, w**2, -sp.Rational(1, 4) * y)
    assert written.decimal(sp.Rational(1, 4)) == "0.25"
    # written as a fraction: stays a fraction, even beside decimals
    _, mixed = parse_written("1/2*w**2 + 0.5*x")
    assert mixed.decimal(sp.Rational(1, 2)) == "0.5"
    _, fraction = parse_written("1/2*w**2")
    assert fraction.decimal(sp.Rational(1, 2)) is None


def test_a_number_times_a_sum_keeps_the_sums_order():
    # SymPy distributes 0.01 (1 + w^2) into 1/100 + w^2/100; the written order survives
    expr, written = parse_written("0.01*(1 + w**2)")
    assert written.terms(expr) == (sp.Rational(1, 100), w**2 / 100)


def test_merged_terms_sit_where_first_written():
    expr, written = parse_written("w + 1 + 2*w")
    assert expr == 3 * w + 1
    assert written.terms(expr) == (3 * w, sp.S.One)


def test_one_plus_w_squared_prints_as_written_in_latex(capsys):
    out = run(capsys, "derive", "--expr", "(1 + w**2)", "--format", "latex")
    assert r"1 + w^{2}" in out
    assert r"w^{2} + 1" not in out
    # the sum rule's line keeps the order: d/dw (1) + d/dw w^2 = 0 + 2 w
    assert r"\frac{\partial}{\partial w} (1) + \frac{\partial}{\partial w} w^{2} = 0 + 2 w" in out


def test_written_order_in_markdown_json_and_plain():
    derivation = derive("log(1 + w**2)/(1 + w*x)", "w")
    markdown = render(derivation, "markdown")
    assert r"\frac{\log(1 + w^{2})}{1 + w x}" in markdown
    assert "w^{2} + 1" not in markdown and "w x + 1" not in markdown
    data = json.loads(render(derivation, "json"))
    texts = json.dumps(data)
    assert "1 + w^{2}" in texts and "w^{2} + 1" not in texts
    with using(written_in(derivation.graph, None)):
        assert plain.text(1 + w**2) == "1 + w²"
    assert plain.text(1 + w**2) == "w² + 1"  # outside the author's document: textbook order


def test_decimals_print_as_written_and_the_arithmetic_stays_exact():
    derivation = derive("0.01*w**2", "w", at={"w": "0.8"})
    gradient = derivation.gradients[0].result
    assert gradient == sp.diff(sp.Rational(1, 100) * w**2, w)  # w/50, exactly
    assert derivation.worked.given[w] == sp.Rational(4, 5)
    # 2 * 0.01 * 0.8 = 0.016, to the worked numbers' 30 digits
    assert abs(derivation.worked.gradients[w] - sp.Rational(16, 1000)) < sp.Rational(1, 10**28)
    text = render(derivation, "latex")
    assert r"0.01 w^{2}" in text
    assert r"\frac{1}{100}" not in text and r"\frac{1}{50}" not in text
    assert r"0.02 w" in text  # the derived 1/50 in the author's decimals
    assert r"w = 0.8" in text  # the given value as written


def test_given_values_print_as_written():
    text = render(derive("1/2*(yhat - y)**2", "yhat", at={"yhat": "0.8", "y": "1.0"}), "markdown")
    assert r"y = 1.0" in text and r"\hat{y} = 0.8" in text


def test_the_seed_shows_the_brackets_value_before_the_half():
    spec = load_spec(ROOT / "examples" / "01_seed_mse.yaml")
    derivation = derive_spec(spec, verify=False)
    for fmt in ("markdown", "latex"):
        text = squeeze(render(derivation, fmt))
        # (0.8 - 1.0)^2 = 0.04, and 1/2 of it is 0.02
        assert r"= \frac{1}{2} (0.8 - 1.0)^{2} = \frac{1}{2} \cdot 0.04 = 0.02" in text


def test_a_derived_sum_keeps_the_order_of_the_lines_before():
    derivation = derive("0.01*w**2 + 1/2*(w*x - y)**2", "w")
    text = render(derivation, "markdown")
    assert r"0.02 w + x (w x - y)" in text
    assert r"x (w x - y) + 0.02 w" not in text
    assert sp.simplify(derivation.gradients[0].result
                       - sp.diff(sp.Rational(1, 100) * w**2 + (w * x - y)**2 / 2, w)) == 0


def test_a_model_symgrad_builds_keeps_the_textbook_order():
    text = render(derive(with_loss(neuron("sigmoid"), "half_squared_error"), "w"), "markdown")
    assert "z = w x + b" in text


def test_rules_are_stated_in_the_variable_differentiated():
    text = render(derive("w**3", "w"), "markdown")
    assert r"By the power rule, $\frac{\partial}{\partial w} w^{n} = n w^{n-1}$" in text
    assert r"\frac{d}{dx}" not in text
    seed = render(derive("1/2*(yhat - y)**2", "yhat"), "markdown")
    assert r"By the power rule, $\frac{d}{d u} u^{n} = n u^{n-1}$: $\frac{d}{d u} u^{2} = 2 u$" in seed
    product = render(derive("w*exp(w)", "w"), "markdown")
    assert r"By the product rule, $\frac{\partial}{\partial w} \left(f g\right)" in product
    assert r"\frac{d}{dx}" not in product
