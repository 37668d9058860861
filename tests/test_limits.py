"""The limits of work and the API's edge: every input past a documented limit, or of the
wrong type, is one line of a SymgradError subclass naming the limit or the argument; inputs
just inside the limits still derive, to the values sympy.diff and exact arithmetic give."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import pytest
import sympy as sp

import symgrad
from symgrad import (DerivationError, LimitError, Limits, ParseError, UnknownNameError,
                     ValuesError)
from symgrad.model.functions import sigmoid
from symgrad.model.limits import MAX_DEPTH, MAX_DIGITS, MAX_EXPONENT, MAX_LENGTH

ROOT = Path(__file__).resolve().parent.parent
w, x = sp.symbols("w x", real=True)


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and len(message) < 400
    return message


@pytest.mark.parametrize("text,error,fragment", [
    ("1e309*x", ParseError, "not a finite number"),
    ("x**(10**10)", LimitError, f"limit of {MAX_EXPONENT}"),
    ("2**2**2**2**2*x", LimitError, "MAX_EXPONENT"),
    ("x**1001", LimitError, "MAX_EXPONENT"),
    ("x**-1001", LimitError, "MAX_EXPONENT"),
    ("((10**1000)**1000)**1000*x", LimitError, "MAX_DIGITS"),
    ("(10**200*x)**3", LimitError, f"{MAX_DIGITS} digits"),
    ("10**200*10**201*x", LimitError, "MAX_DIGITS"),
    ("1" * (MAX_DIGITS + 1) + "*x", LimitError, "MAX_DIGITS"),
    ("1" * 5000 + "*x", LimitError, "MAX_DIGITS"),  # past Python's own 4,300-digit limit
    ("x" * (MAX_LENGTH + 1), LimitError, "MAX_LENGTH"),
    ("(" * 4000 + "x" + ")" * 4000, LimitError, "MAX_DEPTH"),
    ("sin(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1), LimitError, f"{MAX_DEPTH} levels"),
    ("**".join(["w"] * (MAX_DEPTH + 2)), LimitError, "MAX_DEPTH"),
    ("-" * 3000 + "x", LimitError, "MAX_DEPTH"),
    ("leaky_relu(x, a)", ParseError, "slope must be a number"),
    ("sigmod(w*x)", ParseError, "did you mean 'sigmoid'?"),
    ("1/0*x", ParseError, "divides by zero"),
], ids=lambda v: v[:30] if isinstance(v, str) else None)
def test_expression_past_a_limit_is_refused_in_one_line(text, error, fragment):
    with pytest.raises(error) as raised:
        symgrad.derive(text, at={"x": 0.8, "w": 0.5} if "w" in text else {"x": 0.8})
    assert fragment in _one_line(raised)


def test_numbers_and_exponents_at_the_limits_still_work():
    big = int("9" * MAX_DIGITS)
    assert symgrad.parse_expression("9" * MAX_DIGITS + "*x") == sp.Integer(big) * x
    d = symgrad.derive(f"x**{MAX_EXPONENT}", wrt="x", at={"x": 0.8})
    exact = MAX_EXPONENT * Fraction(4, 5) ** (MAX_EXPONENT - 1)  # d/dx x**n = n x**(n-1)
    assert Fraction(str(d.worked.gradients[x])) == pytest.approx(exact, rel=1e-25)
    tiny = symgrad.derive("5e-324*x", wrt="x", at={"x": 1})  # a float64's smallest, exact
    assert Fraction(str(tiny.worked.gradients[x])) == pytest.approx(Fraction(5, 10**324), rel=1e-25)


def test_nesting_at_the_limit_derives_as_sympy_does():
    text = "sin(" * (MAX_DEPTH - 1) + "w" + ")" * (MAX_DEPTH - 1) + "*x"
    expr = w
    for _ in range(MAX_DEPTH - 1):
        expr = sp.sin(expr)
    d = symgrad.derive(text, wrt="w")
    point = {w: sp.Rational(3, 10), x: sp.Rational(7, 10)}  # compared at a point: simplify
    ours, reference = (e.xreplace(point).evalf(40) for e in (d.gradient("w").expanded,
                                                             sp.diff(expr * x, w)))
    assert abs(ours - reference) <= 1e-30 * abs(reference)  # would take minutes


def test_a_long_sum_is_not_deep():
    names = [f"w{i}" for i in range(400)]  # 400 levels of ast: 1,200 frames if recursive
    expected = sp.Add(*(sp.Symbol(n, real=True) for n in names))
    assert symgrad.parse_expression(" + ".join(names)) == expected


def test_a_sympy_expression_too_deep_or_undefined_is_refused():
    expr = w
    for _ in range(3 * MAX_DEPTH):
        expr = sp.sin(expr)
    with pytest.raises(LimitError, match="MAX_DEPTH"):
        symgrad.derive(expr * x, wrt="w")
    with pytest.raises(DerivationError, match="undefined"):
        symgrad.derive(sp.zoo * w, wrt="w")


def test_a_derivative_holding_complex_infinity_is_refused():
    with pytest.raises(DerivationError) as raised:  # d/dw 0**w = 0**w log(0)
        symgrad.derive("0**w", wrt="w")
    assert "undefined everywhere" in _one_line(raised)


E = "1/2*(yhat - y)**2"
AT = {"yhat": 0.8, "y": 1.0}


@pytest.mark.parametrize("options,error,fragment", [
    (dict(wrt=5), DerivationError, "wrt must be a name"),
    (dict(wrt=[5]), DerivationError, "wrt must be a name"),
    (dict(wrt=True), DerivationError, "wrt must be a name"),
    (dict(wrt=[None]), DerivationError, "wrt must be a name"),
    (dict(wrt={"yhat": 1}), DerivationError, "wrt must be a name"),
    (dict(wrt="yhat", at=5), ValuesError, "at must map names"),
    (dict(wrt="yhat", at={"yhat": "abc", "y": 1}), ValuesError, "yhat is not a number"),
    (dict(wrt="yhat", at={"yhat": [1, "a"], "y": 1}), ValuesError, "yhat should be a number"),
    (dict(wrt="yhat", at={"yhat": True, "y": 1}), ValuesError, "yhat is not a number"),
    (dict(wrt="yhat", at={"yhat": None, "y": 1}), ValuesError, "yhat is not a number"),
    (dict(wrt="yhat", at={"yhat": "x" * 10**6, "y": 1}), ValuesError, "yhat is not a number"),
    (dict(wrt="yhat", at={"yhat": 10**500, "y": 1}), LimitError, "MAX_DIGITS"),
    (dict(wrt="yhat", at=AT, learning_rate="x"), ValuesError, "learning_rate"),
    (dict(wrt="yhat", at=AT, learning_rate=float("nan")), ValuesError, "learning_rate"),
    (dict(wrt="yhat", at=AT, learning_rate=True), ValuesError, "learning_rate"),
    (dict(wrt="yhat", at=AT, learning_rate=None, title=5), DerivationError, "title"),
    (dict(wrt="yhat", verify="yes"), DerivationError, "verify"),
    (dict(wrt="yhat", limits=5), LimitError, "limits must be a symgrad.Limits"),
    (dict(wrt="yhat", limits=Limits(max_parameters=1), loss="w*x + b"), LimitError,
     "a loss of 2 parameters is over the limit of 1"),
])
def test_api_arguments_of_the_wrong_type_name_the_argument(options, error, fragment):
    loss = options.pop("loss", E)
    with pytest.raises(error) as raised:
        symgrad.derive(loss, **options)
    assert fragment in _one_line(raised)


@pytest.mark.parametrize("call", [lambda: symgrad.render(5), lambda: symgrad.render("x", "latex"),
                                  lambda: symgrad.compile("x"), lambda: symgrad.compile(None)])
def test_render_and_compile_take_a_derivation(call):
    with pytest.raises(DerivationError, match="takes a Derivation"):
        call()


@pytest.mark.parametrize("build,error,fragment", [
    (lambda: symgrad.network(2, [(1000, "sigmoid"), (1, "sigmoid")]), LimitError,
     "a network of 4,001 parameters is over the limit of 2,000 (--max-parameters N"),
    (lambda: symgrad.network(10**20, [(1, "sigmoid")]), LimitError, "input values"),
    (lambda: symgrad.network(2, [(1, "sigmoid")], batch=10**9), LimitError, "input values"),
    (lambda: symgrad.network("3", [(1, "sigmoid")]), DerivationError, "inputs must be a whole"),
    (lambda: symgrad.network(2.5, [(1, "sigmoid")]), DerivationError, "inputs must be a whole"),
    (lambda: symgrad.network(2, [(0, "sigmoid")]), DerivationError, "units must be a whole"),
    (lambda: symgrad.network(2, [5]), DerivationError, "layer must be"),
    (lambda: symgrad.network(2, 5), DerivationError, "layers must be"),
    (lambda: symgrad.network(2, [(2, "sigmod")]), UnknownNameError, "did you mean 'sigmoid'?"),
    (lambda: symgrad.neuron("tanhh"), UnknownNameError, "did you mean 'tanh'?"),
    (lambda: symgrad.with_loss(symgrad.neuron(), "mse_"), UnknownNameError, "did you mean 'mse'?"),
    (lambda: symgrad.with_loss(symgrad.neuron(), 1), UnknownNameError, "unknown loss 1"),
    (lambda: symgrad.with_loss([1], "mse"), DerivationError, "with_loss takes a model"),
    (lambda: Limits(max_parameters=0), LimitError, "max_parameters must be a positive"),
    (lambda: Limits(max_nodes="a"), LimitError, "max_nodes must be a positive"),
])
def test_model_sizes_and_names(build, error, fragment):
    with pytest.raises(error) as raised:
        build()
    assert fragment in _one_line(raised)


def test_raised_limits_let_a_bigger_network_through():
    big = Limits(max_parameters=5000)
    net = symgrad.network(2, [(1000, "sigmoid"), (1, "sigmoid")], limits=big)
    assert sum(len(g.symbols) for g in net.groups if g.role == "parameter") == 4001
    graph = symgrad.with_loss(net, "mse")
    with pytest.raises(LimitError, match="4,001 parameters"):
        symgrad.derive(graph, wrt="W2[0][0]")  # the default limit, again, in derive


@pytest.mark.parametrize("text,wrt,composed", [
    ("sigmoid(z*u*s*v)", "z", lambda z, u, s, v: 1 / (1 + sp.exp(-z * u * s * v))),
    ("L + E + J + loss", "L", lambda L, E, J, loss: L + E + J + loss),
])
def test_names_symgrad_would_use_are_taken(text, wrt, composed):
    names = sp.symbols({"z": "z u s v", "L": "L E J loss"}[wrt], real=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = symgrad.derive(text, wrt=wrt)
    ours = d.gradient(wrt).expanded.replace(sigmoid, lambda t: 1 / (1 + sp.exp(-t)))
    point = dict(zip(names, (sp.Rational(1, 2), sp.Rational(3, 4), -1, sp.Rational(6, 5))))
    reference = sp.diff(composed(*names), names[0]).xreplace(point)
    assert abs(ours.xreplace(point).evalf(40) - reference.evalf(40)) < 1e-35
    assert d.graph.loss.name not in {n.name for n in names}
    symgrad.render(d, "latex")


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "symgrad", "derive", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("expr,fragment", [
    ("x**(10**10)", "MAX_EXPONENT"),
    ("((10**1000)**1000)**1000*x", "MAX_DIGITS"),
    ("1e309*x", "not a finite number"),
    ("sin(" * 200 + "x" + ")" * 200, "MAX_DEPTH"),
    ("sigmod(x)", "did you mean 'sigmoid'?"),
], ids=lambda v: v[:30])
def test_cli_refuses_in_one_line(expr, fragment):
    run = _cli("--expr", expr, "--wrt", "x", "--at", "x=0.8")
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1
    assert fragment in run.stderr


def test_cli_derives_where_names_are_taken():
    run = _cli("--expr", "sigmoid(z*u*s*v)", "--wrt", "z", "--at", "z=0.5,u=1,s=1,v=1",
               "--format", "json")
    assert run.returncode == 0, run.stderr
    sigma = 1 / (1 + sp.exp(-sp.Rational(1, 2)))
    assert f"{float(sigma * (1 - sigma)):.6f}"[:6] in run.stdout
