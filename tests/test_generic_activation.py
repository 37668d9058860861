"""The seed's general form: yhat = f(w x) with the activation f left unspecified.

f' is kept as a symbol (dL/dw = 2 (yhat - y) f'(z) x, checked against SymPy's own derivative of
an undefined function), every format writes f'(z), numbers are refused until f is given an
activation, and then they are those of sympy.diff and of central finite differences.
"""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path

import pytest
import sympy as sp

import symgrad
from symgrad import DerivationError, ParseError, SpecError, UnknownNameError, ValuesError
from symgrad.cli.main import main
from symgrad.model.functions import Unspecified, specify, unspecified
from symgrad.model.symbols import Var
from symgrad.render import plain
from references import F, TEST_FUNCTION, as_sympy_undefined, with_test_function
from render_tools import (compile_latex, katex_available, katex_errors, markdown_math_segments,
                          pdflatex_available, require)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "17_seed_general_activation.yaml"
w, x, y = sp.symbols("w x y", real=True)
SEED = {"x": 1.5, "w": 0.8, "y": 1.0}


def general() -> symgrad.Graph:
    return symgrad.with_loss(symgrad.neuron("f", bias=False), "squared_error")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- f' kept as a symbol, equal to SymPy's own derivative of an undefined function -------------


@pytest.mark.parametrize("loss", ["expression", "neuron"])
def test_the_seeds_gradient_is_sympys_derivative_of_an_undefined_f(loss):
    graph = symgrad.from_expression("(f(w*x) - y)**2") if loss == "expression" else general()
    d = symgrad.derive(graph, wrt="w", verify=True)
    g = d.gradient("w")
    w, x, y = (graph.element(n) for n in "wxy")
    reference = sp.diff((F(w * x) - y) ** 2, w)  # 2 x (f(wx) - y) Subs(Derivative(f(t), t), t, wx)
    assert reference.has(sp.Subs)
    assert sp.simplify(as_sympy_undefined(g.expanded) - reference) == 0
    # In the named quantities, as the seed writes it: 2 (yhat - y) f'(z) x.
    yhat, z = ((Var("yhat"), Var("z")) if loss == "neuron" else (Var("a"), Var("z")))
    assert sp.expand(g.intermediate - 2 * (yhat - y) * unspecified("f", 1)(z) * x) == 0
    factor = next(f for f in d.factors if f.of == yhat)
    assert factor.result == unspecified("f", 1)(z) and factor.step.rule is symgrad.Rule.UNSPECIFIED
    assert d.verification.passed and [n for n, _ in d.verification.witnesses] == ["f"]


def test_derivatives_of_f_have_more_primes_and_match_sympy():
    step = symgrad.differentiate(unspecified("f", 1)(w * x), w)
    assert step.result.has(unspecified("f", 2))
    # d/dw f'(w x) = x f''(w x); SymPy's second derivative of f(w x) is x^2 f''(w x)
    assert sp.simplify(as_sympy_undefined(step.result) - sp.diff(F(w * x), w, 2) / x) == 0


def test_a_declared_function_and_a_composition():
    d = symgrad.derive("(g(f(w*x)) - y)**2", wrt="w", functions=["g"], verify=True)
    G = sp.Function("g")
    reference = sp.diff((G(F(w * x)) - y) ** 2, w)
    assert sp.simplify(as_sympy_undefined(d.gradient("w").expanded) - reference) == 0
    assert d.graph.unspecified == ["f", "g"]


def test_a_wrong_step_with_f_fails_verification():
    good = symgrad.Step(symgrad.Rule.CHAIN, unspecified("f")(w * x), w,
                        unspecified("f", 1)(w * x) * x)
    wrong = symgrad.Step(symgrad.Rule.CHAIN, unspecified("f")(w * x), w,
                         unspecified("f", 1)(w) * x)
    assert symgrad.verify_step(good).passed
    assert not symgrad.verify_step(wrong).passed


# --- numbers once f is given an activation ------------------------------------------------


def sigmoid_loss(wv: float, xv: float, yv: float) -> float:
    """(sigma(w x) - y)^2, written out by hand."""
    return (1.0 / (1.0 + math.exp(-wv * xv)) - yv) ** 2


def test_sigmoid_for_f_gives_the_numbers_of_sympy_diff_and_finite_differences():
    d = symgrad.derive(general(), wrt="w", at=SEED, functions={"f": "sigmoid"}, verify=True)
    got = float(d.worked.gradients[d.parameters[0]])
    by_hand = sp.diff((1 / (1 + sp.exp(-w * x)) - y) ** 2, w)
    exact = float(by_hand.subs({w: sp.Rational(4, 5), x: sp.Rational(3, 2), y: 1}).evalf(30))
    h = 1e-6
    central = (sigmoid_loss(0.8 + h, 1.5, 1.0) - sigmoid_loss(0.8 - h, 1.5, 1.0)) / (2 * h)
    assert math.isclose(got, exact, rel_tol=1e-12)
    assert math.isclose(got, central, rel_tol=1e-7)
    # by hand: sigma(1.2) = 0.76852..., 2 (0.76852 - 1) 0.76852 (1 - 0.76852) 1.5 = -0.12353...
    assert math.isclose(got, -0.12353446, rel_tol=1e-7)
    compiled = symgrad.compile(d)(**SEED)
    assert math.isclose(float(compiled.gradients["w"]), exact, rel_tol=1e-12)


def test_the_general_formula_with_sigma_prime_put_in_gives_the_same_numbers():
    graph = general()
    general_gradient = symgrad.derive(graph, wrt="w").gradient("w").expanded
    w, x, y = (graph.element(n) for n in "wxy")
    for activation, definition in [("sigmoid", lambda u: 1 / (1 + sp.exp(-u))),
                                   ("tanh", sp.tanh), ("softplus", lambda u: sp.log(1 + sp.exp(u)))]:
        put = specify(general_gradient, {"f": activation})
        assert not put.has(Unspecified)
        reference = sp.diff((definition(w * x) - y) ** 2, w)
        point = {w: sp.Rational(4, 5), x: sp.Rational(3, 2), y: 1}
        assert math.isclose(float(put.subs(point).evalf(30)), float(reference.subs(point).evalf(30)),
                            rel_tol=1e-12), activation


def test_the_test_function_for_f_agrees_with_finite_differences():
    """f given a function no activation has (cosh(t/3) + t^3/7), the symbolic gradient still
    gives the slope of the loss."""
    gradient = symgrad.derive("(f(w*x) - y)**2", wrt="w").gradient("w").expanded
    got = float(with_test_function(gradient).subs({w: 0.8, x: 1.5, y: 1.0}))
    loss = sp.lambdify(w, ((TEST_FUNCTION(w * x) - y) ** 2).subs({x: 1.5, y: 1.0}))
    h = 1e-6
    assert math.isclose(got, (loss(0.8 + h) - loss(0.8 - h)) / (2 * h), rel_tol=1e-7)


# --- refusals, one line each ---------------------------------------------------------------


def test_numbers_and_compiling_are_refused_while_f_is_unspecified():
    with pytest.raises(ValuesError) as refused:
        symgrad.derive(general(), wrt="w", at=SEED)
    message = str(refused.value)
    assert "\n" not in message and "f is an unspecified function" in message
    assert "functions={'f': 'sigmoid'}" in message and "--function f=sigmoid" in message
    with pytest.raises(DerivationError, match="^cannot compile: f is an unspecified function"):
        symgrad.compile(symgrad.derive(general(), wrt="w"))


@pytest.mark.parametrize("text,functions,error,message", [
    ("(sigmiod(w*x) - y)**2", (), ParseError, "unknown function 'sigmiod'"),
    ("(g(w*x) - y)**2", (), ParseError, "unknown function 'g'"),
    ("f(w, x)", (), ParseError, "unspecified function f() takes one argument"),
    ("f(w*x) + f", (), ParseError, "'f' is used both as a function and as a quantity"),
    ("g(__import__('os'))", ("g",), ParseError, "unknown function '__import__'"),
    ("sigmoid(w*x)", ("sigmoid",), ParseError, "'sigmoid' is already a known function"),
    ("g(w*x)", ("g h",), ParseError, "cannot name a function"),
])
def test_unknown_or_malformed_functions_are_refused(text, functions, error, message):
    with pytest.raises(error) as refused:
        symgrad.derive(text, functions=list(functions))
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_choices_must_name_a_function_of_the_loss_and_a_concrete_activation():
    with pytest.raises(UnknownNameError, match="'h' is not an unspecified function"):
        symgrad.derive(general(), functions={"h": "tanh"})
    with pytest.raises(UnknownNameError, match="activation 'sigmiod'"):
        symgrad.derive(general(), functions={"f": "sigmiod"})
    with pytest.raises(UnknownNameError, match="network's layers need a concrete one"):
        symgrad.network(2, [(2, "f"), (1, "sigmoid")])


@pytest.mark.parametrize("argv,message", [
    (["--expr", "(f(w*x) - y)**2", "--at", "w=0.8,x=1.5,y=1"], "f is an unspecified function"),
    (["--expr", "(sigmiod(w*x) - y)**2"], "unknown function 'sigmiod'"),
    (["--expr", "(g(w*x) - y)**2"], "unknown function 'g'"),
    (["--expr", "(f(w*x) - y)**2", "--function", "f=sigmiod"], "activation 'sigmiod'"),
    (["--expr", "(f(w*x) - y)**2", "--function", "=tanh"], "--function: expected a name"),
    ([str(EXAMPLE), "--at", "w=0.8,x=1.5,y=1"], "f is an unspecified function"),
])
def test_cli_errors_are_one_line_with_exit_2_and_no_file(capsys, tmp_path, argv, message):
    target = tmp_path / "out.md"
    code, out, err = run(capsys, "derive", *argv, "-o", str(target))
    assert code == 2 and out == "" and not target.exists()
    assert err.count("\n") == 1 and err.startswith("symgrad: error: ") and message in err


def test_spec_keys_declare_and_choose(tmp_path):
    spec = tmp_path / "g.yaml"
    spec.write_text("model: {activation: g, bias: false}\nfunctions: [g]\nloss: squared_error\n")
    assert symgrad.load_spec(spec).graph.unspecified == ["g"]
    spec.write_text("model: {activation: g, bias: false}\nloss: squared_error\n")
    with pytest.raises(UnknownNameError, match="model.activation: unknown activation 'g'"):
        symgrad.load_spec(spec)
    spec.write_text("model: {activation: f, bias: false}\nfunctions: {f: sigmoid}\n"
                    "loss: squared_error\nwrt: w\nat: {x: 1.5, w: 0.8, y: 1.0}\n")
    loaded = symgrad.load_spec(spec)
    assert loaded.graph.unspecified == [] and "sigmoid" in {d.activation for d in loaded.graph.definitions}
    spec.write_text("model: {activation: f}\nfunctions: 3\nloss: squared_error\n")
    with pytest.raises(SpecError, match="functions: functions must be"):
        symgrad.load_spec(spec)


def test_cli_gives_f_an_activation(capsys):
    code, out, _ = run(capsys, "derive", str(EXAMPLE), "--function", "f=sigmoid",
                       "--at", "w=0.8,x=1.5,y=1.0", "--format", "json")
    assert code == 0
    gradient = json.loads(out)["gradients"]["w"]
    central = (sigmoid_loss(0.8 + 1e-6, 1.5, 1.0) - sigmoid_loss(0.8 - 1e-6, 1.5, 1.0)) / 2e-6
    assert math.isclose(gradient, central, rel_tol=1e-7)


# --- every format writes f' ---------------------------------------------------------------


@pytest.fixture(scope="module")
def seed():
    return symgrad.derive(symgrad.load_spec(EXAMPLE).graph, wrt="w", verify=True)


def test_json_carries_f_prime(seed):
    data = json.loads(symgrad.render(seed, "json"))
    assert data["loss"] is None and data["unspecified"] == ["f"]
    assert "f'(z)" in data["gradients"]["w"] and "f'(z)" in data["symbolic"]["w"]
    assert [s["rule"] for s in data["steps"]].count("unspecified function") == 1


def test_plain_text_writes_f_prime():
    assert plain.text(2 * x * unspecified("f", 1)(Var("z"))) == "2 x f'(z)"


def test_markdown_reads_like_the_seed_and_renders_with_katex(seed):
    text = symgrad.render(seed, "markdown")
    assert r"\frac{\partial \hat{y}}{\partial z} = \frac{\partial}{\partial z} f(z) = f'(z)" in text
    assert r"= 2 (\hat{y} - y) \cdot f'(z) \cdot x" in text
    assert "Each part of the chain tells you one thing:" in text
    assert "$f$ is left unspecified" in text
    assert re.search(r"with \$f\(u\) = [^$]+\$ standing in for the unspecified \$f\$", text)
    require("KaTeX", katex_available(), "KaTeX not installed: npm ci --prefix tests/js")
    segments = markdown_math_segments(text)
    errors = katex_errors([(tex, display) for tex, display, _ in segments])
    assert segments and [e for e in errors if e] == []


@pytest.mark.parametrize("fmt", ["latex", "beamer", "latex-fragment", "html", "notebook"])
def test_every_format_writes_f_prime(seed, fmt):
    assert "f'(z)" in html.unescape(symgrad.render(seed, fmt))


def test_latex_compiles(seed, tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-latex-base)")
    path = tmp_path / "general.tex"
    path.write_text(symgrad.render(seed, "latex"))
    compile_latex(path)


def test_the_gallery_has_the_seeds_general_form():
    for suffix in (".md", ".tex"):
        text = (ROOT / "output" / f"17_seed_general_activation{suffix}").read_text()
        assert "f'(z)" in text and "left unspecified" in text
