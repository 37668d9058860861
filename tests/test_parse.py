"""The safe expression parser: a table of accepted inputs and a table of rejected ones."""

from __future__ import annotations

import pytest
import sympy as sp

from symgrad import ParseError, parse_expression
from symgrad.model.functions import leaky_relu, relu, sigmoid, softplus

w, x, y, yhat, b = sp.symbols("w x y yhat b", real=True)


@pytest.mark.parametrize("text,expected", [
    ("1/2*(yhat - y)**2", sp.Rational(1, 2) * (yhat - y) ** 2),
    ("(yhat - y)^2", (yhat - y) ** 2),
    ("0.8*x", sp.Rational(4, 5) * x),
    ("sigmoid(w*x + b)", sigmoid(w * x + b)),
    ("relu(w) + softplus(x)", relu(w) + softplus(x)),
    ("leaky_relu(x)", leaky_relu(x, sp.Rational(1, 100))),
    ("leaky_relu(x, 0.2)", leaky_relu(x, sp.Rational(1, 5))),
    ("-log(1 - yhat) + ln(x) + exp(-w) + sqrt(x)", -sp.log(1 - yhat) + sp.log(x) + sp.exp(-w) + sp.sqrt(x)),
    ("tanh(x) + sin(x) + cos(x) + tan(x) + sinh(x) + cosh(x) + abs(x)",
     sp.tanh(x) + sp.sin(x) + sp.cos(x) + sp.tan(x) + sp.sinh(x) + sp.cosh(x) + sp.Abs(x)),
    ("e**x * pi", sp.E**x * sp.pi),
    ("+x - -y", x + y),
])
def test_accepted(text, expected):
    assert parse_expression(text) == expected


@pytest.mark.parametrize("text,fragment", [
    ("__import__('os').system('echo hacked')", "unknown function"),
    ("__import__('os')", "unknown function '__import__'"),
    ("x.real", "not allowed"),
    ("x[0]", "not allowed"),
    ("lambda: 1", "not allowed"),
    ("[x for x in y]", "not allowed"),
    ("foo(x)", "unknown function 'foo'"),
    ("sigmoid(x, y)", "takes 1 argument"),
    ("sigmoid(x=1)", "no keyword"),
    ("exp", "needs an argument"),
    ("(x + ", "cannot parse"),
    ("'text'", "not a number"),
    ("x % 2", "not allowed"),
    ("x/0", "divides by zero"),
    ("log(0) * w", "divides by zero"),
])
def test_rejected(text, fragment):
    with pytest.raises(ParseError) as error:
        parse_expression(text)
    message = str(error.value)
    assert fragment in message and "\n" not in message

# Sizes past the parser's limits (9**9**9**9, 10,001 characters, 5,000 parentheses deep) are
# LimitErrors: see tests/test_limits.py.
