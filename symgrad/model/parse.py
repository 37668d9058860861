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
import math
import re
from contextvars import ContextVar
from typing import Callable, Iterable

import sympy as sp

from ..errors import LimitError, ParseError, quoted, unknown
from .authored import AsWritten, written_order
from .functions import (LEAKY_RELU_SLOPE, Unspecified, leaky_relu, relu, sigmoid, softplus,
                        unspecified)
from .limits import MAX_DEPTH, MAX_DIGITS, MAX_LENGTH, check_number, check_power
from .symbols import real_symbol


def _leaky_relu(z: sp.Expr, alpha: sp.Expr = LEAKY_RELU_SLOPE) -> sp.Expr:
    """leaky_relu(z) or leaky_relu(z, alpha), whose slope alpha must be a number."""
    if not (alpha.is_Number and alpha.is_finite):
        raise ParseError(f"leaky_relu's slope must be a number, as in leaky_relu(z, 0.01); "
                         f"got {quoted(str(alpha))}")
    return leaky_relu(z, alpha)


FUNCTIONS: dict[str, Callable[..., sp.Expr]] = {
    "sigmoid": sigmoid,
    "tanh": sp.tanh,
    "relu": relu,
    "leaky_relu": _leaky_relu,
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


LONG_DIGITS = re.compile(r"\d{%d,}" % (MAX_DIGITS + 1))


def _parse(text: str) -> tuple[sp.Expr, AsWritten]:
    if not isinstance(text, str):
        raise ParseError(f"an expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise LimitError(f"the expression has {len(text):,} characters, over the limit of "
                         f"{MAX_LENGTH:,} (MAX_LENGTH)")
    shown = f"expression {quoted(text)}"
    if LONG_DIGITS.search(text):
        raise LimitError(f"a number in {shown} has more than {MAX_DIGITS} digits (the limit "
                         f"MAX_DIGITS)")
    try:
        tree = ast.parse(text.strip().replace("^", "**"), mode="eval")
    except SyntaxError as error:
        if "too many nested" in error.msg:  # Python's parser stops at 200 parentheses
            raise _too_deep(shown) from None
        raise ParseError(f"cannot parse {shown}: {error.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise _too_deep(shown) from None
    if nesting(tree.body) > MAX_DEPTH:
        raise _too_deep(shown)
    recorder = _Recorder(text.strip().replace("^", "**"))
    token = _RECORDER.set(recorder)
    try:
        expr = _convert(tree.body, text)
    except RecursionError:
        raise _too_deep(shown) from None
    finally:
        _RECORDER.reset(token)
    check_numbers(expr, shown)
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ParseError(f"cannot parse {shown}: it divides by zero or is otherwise undefined")
    both = {s.name for s in expr.free_symbols} & {e.base for e in expr.atoms(Unspecified)}
    if both:
        raise ParseError(f"cannot parse expression {quoted(text)}: {sorted(both)[0]!r} is used both "
                         f"as a function and as a quantity")
    return expr, AsWritten(recorder.orders, recorder.numbers)


FAMILIES = {ast.Add: "sum", ast.Sub: "sum", ast.Mult: "product", ast.Div: "product"}
"""The operators SymPy flattens (a + b - c is one sum): a chain of them is one level deep."""


def _family(node: ast.AST) -> str | None:
    return FAMILIES.get(type(node.op)) if isinstance(node, ast.BinOp) else None


def nesting(root: ast.AST) -> int:
    """How deeply ``root`` nests operations and calls, as SymPy will build it: each call,
    power and sign is a level, a chain of sums (or of products) one level however long.
    Walked without recursion, so any tree Python's parser returns can be measured."""
    deepest, stack = 0, [(root, 0, None)]
    while stack:
        node, depth, family = stack.pop()
        if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Call)):
            own = _family(node)
            depth += 0 if own is not None and own == family else 1
            family = own
        deepest = max(deepest, depth)
        stack += [(child, depth, family) for child in ast.iter_child_nodes(node)]
    return deepest


def _too_deep(shown: str) -> LimitError:
    return LimitError(f"{shown} nests operations and calls more than {MAX_DEPTH} levels deep "
                      f"(the limit MAX_DEPTH)")


def check_numbers(expr: sp.Expr, shown: str) -> None:
    """LimitError if a number of ``expr`` has more than ``MAX_DIGITS`` digits."""
    for number in expr.atoms(sp.Rational):
        check_number(number, shown)


def _convert(node: ast.AST, text: str) -> sp.Expr:
    handler = _HANDLERS.get(type(node))
    if handler is None:
        snippet = ast.get_source_segment(text, node) or type(node).__name__
        raise ParseError(f"cannot parse expression {quoted(text)}: {snippet!r} is not allowed")
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
        raise ParseError(f"cannot parse expression {quoted(text)}: {quoted(value)} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        snippet = ast.get_source_segment(text.strip().replace("^", "**"), node) or repr(value)
        raise ParseError(f"cannot parse expression {quoted(text)}: {quoted(snippet)} is not a "
                         f"finite number (a float64 is at most about 1.8e308)")
    return sp.Integer(value) if isinstance(value, int) else sp.Rational(repr(value))


def _name(node: ast.Name, text: str) -> sp.Expr:
    if node.id in CONSTANTS:
        return CONSTANTS[node.id]
    if node.id in FUNCTIONS:
        raise ParseError(f"cannot parse expression {quoted(text)}: function {node.id!r} needs an argument")
    return real_symbol(node.id)


def _binary(node: ast.BinOp, text: str) -> sp.Expr:
    """A binary operation; a chain of them down the left (a + b + c + ...: a sum of
    thousands of terms) is converted in a loop, not by a recursion as deep as it is long."""
    spine = [node]
    while isinstance(spine[-1].left, ast.BinOp) and _family(spine[-1].left) is not None:
        spine.append(spine[-1].left)
    recorder = _RECORDER.get()
    left = _convert(spine[-1].left, text)
    for inner in reversed(spine):
        result = _operation(inner, left, _convert(inner.right, text), text)
        if inner is not node and recorder is not None:
            recorder.note(inner, result)
        left = result
    return left


def _operation(node: ast.BinOp, left: sp.Expr, right: sp.Expr, text: str) -> sp.Expr:
    if isinstance(node.op, ast.Pow):
        return _power(left, right, text)
    operation = BINARY.get(type(node.op))
    if operation is None:
        raise ParseError(f"cannot parse expression {quoted(text)}: operator "
                         f"{type(node.op).__name__} is not allowed")
    result = operation(left, right)
    return check_number(result, f"expression {quoted(text)}") if result.is_Rational else result


def _power(base: sp.Expr, exponent: sp.Expr, text: str) -> sp.Expr:
    check_power(base, exponent, f"expression {quoted(text)}")
    return base**exponent


def _unary(node: ast.UnaryOp, text: str) -> sp.Expr:
    operand = _convert(node.operand, text)
    if isinstance(node.op, ast.USub):
        return -operand
    if isinstance(node.op, ast.UAdd):
        return operand
    raise ParseError(f"cannot parse expression {quoted(text)}: operator "
                     f"{type(node.op).__name__} is not allowed")


def _call(node: ast.Call, text: str) -> sp.Expr:
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name in _DECLARED.get() and name not in FUNCTIONS:
        return _unspecified(node, text, name)
    if name not in FUNCTIONS:
        shown = name or ast.get_source_segment(text, node.func)
        refused = unknown("function", shown, sorted(FUNCTIONS),
                          "f, or a name declared in functions, is an unspecified function")
        raise ParseError(refused.message)
    if node.keywords:
        raise ParseError(f"cannot parse expression {quoted(text)}: {name}() takes no keyword arguments")
    low, high = ARITY.get(name, (1, 1))
    if not low <= len(node.args) <= high:
        count = str(low) if low == high else f"{low} or {high}"
        raise ParseError(f"cannot parse expression {quoted(text)}: {name}() takes {count} argument(s), "
                         f"got {len(node.args)}")
    return FUNCTIONS[name](*(_convert(arg, text) for arg in node.args))


def _unspecified(node: ast.Call, text: str, name: str) -> sp.Expr:
    """A call of an unspecified function: one argument, no keywords."""
    if node.keywords or len(node.args) != 1:
        raise ParseError(f"cannot parse expression {quoted(text)}: the unspecified function {name}() "
                         f"takes one argument")
    return unspecified(name)(_convert(node.args[0], text))


_HANDLERS: dict[type, Callable[..., sp.Expr]] = {
    ast.Constant: _constant,
    ast.Name: _name,
    ast.BinOp: _binary,
    ast.UnaryOp: _unary,
    ast.Call: _call,
}
