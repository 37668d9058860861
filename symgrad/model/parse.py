"""Safe parsing of expression strings into SymPy, without ``eval``.

The text is read with Python's ``ast`` parser (which only parses) and each node is
turned into SymPy by a whitelist: numbers, names, + - * / ** ^, and calls of the
functions in ``FUNCTIONS``. Decimals become exact rationals (0.8 is 4/5);
``parse_written`` also returns how the author wrote them and the order of each sum's
terms (``authored.AsWritten``), which SymPy's canonical forms forget.

A call of ``f``, or of a name declared in ``functions``, is an unspecified function of one
argument (``functions.Unspecified``); any other unknown name called is refused.
"""

from __future__ import annotations

import ast
import re
from contextvars import ContextVar
from typing import Callable, Iterable

import sympy as sp

from ..errors import ParseError
from .authored import AsWritten, written_order
from .functions import (LEAKY_RELU_SLOPE, Unspecified, leaky_relu, relu, sigmoid, softplus,
                        unspecified)
from .symbols import real_symbol

MAX_LENGTH = 10_000
MAX_EXPONENT = 1_000

FUNCTIONS: dict[str, Callable[..., sp.Expr]] = {
    "sigmoid": sigmoid,
    "tanh": sp.tanh,
    "relu": relu,
    "leaky_relu": lambda z, alpha=LEAKY_RELU_SLOPE: leaky_relu(z, alpha),
    "softplus": softplus,
    "exp": sp.exp,
    "log": sp.log,
    "ln": sp.log,
    "sqrt": sp.sqrt,
    "abs": sp.Abs,
    "sin": sp.sin,
    "cos": sp.cos,
    "tan": sp.tan,
    "sinh": sp.sinh,
    "cosh": sp.cosh,
    "cot": sp.cot,
    "sec": sp.sec,
    "csc": sp.csc,
    "max": sp.Max,
    "min": sp.Min,
}

CONSTANTS: dict[str, sp.Expr] = {"e": sp.E, "pi": sp.pi}

ARITY: dict[str, tuple[int, int]] = {"leaky_relu": (1, 2), "log": (1, 2), "max": (2, 2),
                                     "min": (2, 2)}

UNSPECIFIED = ("f",)
"""The names that are always an unspecified function (the seed's activation f); others
must be declared (``parse_expression(..., functions=["g"])``)."""
FUNCTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")

_DECLARED: ContextVar[frozenset[str]] = ContextVar("declared", default=frozenset(UNSPECIFIED))

BINARY: dict[type, Callable[[sp.Expr, sp.Expr], sp.Expr]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}


def declared_functions(names: Iterable[str] = ()) -> frozenset[str]:
    """``names`` checked as names of unspecified functions, with ``UNSPECIFIED``; a name
    that is not a plain name, or that is a known function or constant, raises ParseError."""
    for name in names:
        if not isinstance(name, str) or not FUNCTION_NAME.fullmatch(name):
            raise ParseError(f"{name!r} cannot name a function: use letters and digits, "
                             f"starting with a letter")
        if name in FUNCTIONS or name in CONSTANTS:
            raise ParseError(f"{name!r} is already a known function or constant: an "
                             f"unspecified function needs another name")
    return frozenset(UNSPECIFIED).union(names)


def parse_expression(text: str, functions: Iterable[str] = ()) -> sp.Expr:
    """Parse ``text`` into a SymPy expression over real symbols; raise ParseError if it can't.
    ``f`` and the names in ``functions`` are unspecified functions of one argument."""
    return parse_written(text, functions)[0]


def parse_written(text: str, functions: Iterable[str] = ()) -> tuple[sp.Expr, AsWritten]:
    """``parse_expression``'s expression, and how ``text`` writes it: the order of the
    terms of each sum and each decimal's digits."""
    token = _DECLARED.set(declared_functions(functions))
    try:
        return _parse(text)
    finally:
        _DECLARED.reset(token)


def _parse(text: str) -> tuple[sp.Expr, AsWritten]:
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip().replace("^", "**"), mode="eval")
    except SyntaxError as error:
        raise ParseError(f"cannot parse expression {text!r}: {error.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ParseError(f"cannot parse expression {text!r}: it is too deeply nested") from None
    recorder = _Recorder(text.strip().replace("^", "**"))
    token = _RECORDER.set(recorder)
    try:
        expr = _convert(tree.body, text)
    except RecursionError:
        raise ParseError(f"cannot parse expression {text!r}: it is too deeply nested") from None
    finally:
        _RECORDER.reset(token)
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ParseError(f"cannot parse expression {text!r}: it divides by zero or is "
                         f"otherwise undefined")
    both = {s.name for s in expr.free_symbols} & {e.base for e in expr.atoms(Unspecified)}
    if both:
        raise ParseError(f"cannot parse expression {text!r}: {sorted(both)[0]!r} is used both "
                         f"as a function and as a quantity")
    return expr, AsWritten(recorder.orders, recorder.numbers)


def _convert(node: ast.AST, text: str) -> sp.Expr:
    handler = _HANDLERS.get(type(node))
    if handler is None:
        snippet = ast.get_source_segment(text, node) or type(node).__name__
        raise ParseError(f"cannot parse expression {text!r}: {snippet!r} is not allowed")
    result = handler(node, text)
    recorder = _RECORDER.get()
    if recorder is not None:
        recorder.note(node, result)
    return result


class _Recorder:
    """What ``parse_written`` learns while converting: each node's terms as written
    (a sum's, in order; a number times a sum, which SymPy distributes, the sum's terms
    times the number; anything else, itself), each sum's written order and each
    non-integer number's digits."""

    def __init__(self, source: str):
        self.source = source
        self.terms: dict[ast.AST, list[sp.Expr]] = {}
        self.orders: dict[sp.Expr, tuple[sp.Expr, ...]] = {}
        self.numbers: dict[sp.Rational, str] = {}

    def note(self, node: ast.AST, result: sp.Expr) -> None:
        self.terms[node] = terms = self._terms(node, result)
        order = written_order(result, terms)
        if order is not None:
            self.orders.setdefault(result, order)
        if not (result.is_Rational and result.q != 1):
            return
        if isinstance(node, ast.Constant):
            digits = ast.get_source_segment(self.source, node) or repr(node.value)
            self.numbers[abs(result)] = "0" + digits if digits.startswith(".") else digits
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            self.numbers.setdefault(abs(result), "")

    def _terms(self, node: ast.AST, result: sp.Expr) -> list[sp.Expr]:
        if isinstance(node, ast.UnaryOp) and node.operand in self.terms:
            sign = -1 if isinstance(node.op, ast.USub) else 1
            return [sign * t for t in self.terms[node.operand]]
        if not isinstance(node, ast.BinOp) or not isinstance(result, sp.Add):
            return [result]
        left, right = self.terms.get(node.left, []), self.terms.get(node.right, [])
        if isinstance(node.op, (ast.Add, ast.Sub)):
            sign = -1 if isinstance(node.op, ast.Sub) else 1
            return left + [sign * t for t in right]
        if isinstance(node.op, (ast.Mult, ast.Div)) and len(left) == 1 and len(right) > 1:
            return [left[0] * t for t in right]  # c (a + b), distributed by SymPy
        if isinstance(node.op, ast.Mult) and len(right) == 1 and len(left) > 1:
            return [t * right[0] for t in left]
        if isinstance(node.op, ast.Div) and len(right) == 1 and len(left) > 1:
            return [t / right[0] for t in left]
        return [result]


_RECORDER: ContextVar[_Recorder | None] = ContextVar("symgrad_parse_recorder", default=None)


def _constant(node: ast.Constant, text: str) -> sp.Expr:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParseError(f"cannot parse expression {text!r}: {value!r} is not a number")
    return sp.Integer(value) if isinstance(value, int) else sp.Rational(repr(value))


def _name(node: ast.Name, text: str) -> sp.Expr:
    if node.id in CONSTANTS:
        return CONSTANTS[node.id]
    if node.id in FUNCTIONS:
        raise ParseError(f"cannot parse expression {text!r}: function {node.id!r} needs an argument")
    return real_symbol(node.id)


def _binary(node: ast.BinOp, text: str) -> sp.Expr:
    left, right = _convert(node.left, text), _convert(node.right, text)
    if isinstance(node.op, ast.Pow):
        return _power(left, right, text)
    operation = BINARY.get(type(node.op))
    if operation is None:
        raise ParseError(f"cannot parse expression {text!r}: operator "
                         f"{type(node.op).__name__} is not allowed")
    return operation(left, right)


def _power(base: sp.Expr, exponent: sp.Expr, text: str) -> sp.Expr:
    if exponent.is_Number and abs(exponent) > MAX_EXPONENT and base.is_Number:
        raise ParseError(f"cannot parse expression {text!r}: exponent {exponent} is too large")
    return base**exponent


def _unary(node: ast.UnaryOp, text: str) -> sp.Expr:
    operand = _convert(node.operand, text)
    if isinstance(node.op, ast.USub):
        return -operand
    if isinstance(node.op, ast.UAdd):
        return operand
    raise ParseError(f"cannot parse expression {text!r}: operator "
                     f"{type(node.op).__name__} is not allowed")


def _call(node: ast.Call, text: str) -> sp.Expr:
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name in _DECLARED.get() and name not in FUNCTIONS:
        return _unspecified(node, text, name)
    if name not in FUNCTIONS:
        shown = name or ast.get_source_segment(text, node.func)
        known = ", ".join(sorted(FUNCTIONS))
        raise ParseError(f"unknown function {shown!r} in expression {text!r} (known: {known}; "
                         f"f, or a name declared in functions, is an unspecified function)")
    if node.keywords:
        raise ParseError(f"cannot parse expression {text!r}: {name}() takes no keyword arguments")
    low, high = ARITY.get(name, (1, 1))
    if not low <= len(node.args) <= high:
        count = str(low) if low == high else f"{low} or {high}"
        raise ParseError(f"cannot parse expression {text!r}: {name}() takes {count} argument(s), "
                         f"got {len(node.args)}")
    return FUNCTIONS[name](*(_convert(arg, text) for arg in node.args))


def _unspecified(node: ast.Call, text: str, name: str) -> sp.Expr:
    """A call of an unspecified function: one argument, no keywords."""
    if node.keywords or len(node.args) != 1:
        raise ParseError(f"cannot parse expression {text!r}: the unspecified function {name}() "
                         f"takes one argument")
    return unspecified(name)(_convert(node.args[0], text))


_HANDLERS: dict[type, Callable[..., sp.Expr]] = {
    ast.Constant: _constant,
    ast.Name: _name,
    ast.BinOp: _binary,
    ast.UnaryOp: _unary,
    ast.Call: _call,
}
