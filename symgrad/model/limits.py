"""The documented limits of work: what symgrad refuses up front, before it starts.

Some limits are fixed, because past them a stage of the pipeline would fail rather than
only take long (the expression's length, its nesting depth, the size of its numbers and
exponents). The others are the fields of ``Limits``: sizes whose work grows fast
(parameters, inputs, expression nodes), with defaults chosen so that what they
refuse would take minutes, and which a caller may raise (``derive(..., limits=
Limits(max_parameters=5000))``, on the command line ``--max-parameters 5000``).
Each refusal is a ``LimitError`` naming the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import sympy as sp

from ..errors import LimitError

MAX_LENGTH = 10_000
"""The most characters an expression string may have."""

MAX_DEPTH = 20
"""The deepest nesting of operations and calls an expression may have (``sin(sin(...))``,
``w**w**...``, ``(w + (x*(w + ...)))``; a chain of sums or of products is one level).
Measured: deriving takes 100 levels of nested calls, sums and products without a
RecursionError, and a tower of powers fails between 100 and 150; but the documents of
alternating sums and products grow much faster than their depth: ``(w + x*(x*(w + ...)))``
takes 1.6 s to write at 10 levels, 6.8 s at 20, 60 s at 24 and 177 s at 30. 20 keeps every
document of an expression within seconds."""

MAX_DIGITS = 400
"""The most digits the numerator or denominator of any number in an expression may have,
written (``123...``) or computed (``10**399``): room for every float64 written exactly
(5e-324 is 5/10**324), far below Python's 4,300-digit limit for turning integers into
text, and small enough that exact arithmetic with it stays instant."""

MAX_EXPONENT = 1_000
"""The largest magnitude of a number used as an exponent (``x**1000``, ``x**-1000``): a
larger power of a value is exact arithmetic on numbers of hundreds of thousands of digits."""


def check_number(number: sp.Rational, text: str) -> sp.Rational:
    """``number`` if its numerator and denominator have at most ``MAX_DIGITS`` digits;
    LimitError otherwise (compared, never written out in digits)."""
    for part in (number.p, number.q):
        if too_long(part):
            raise LimitError(f"a number in {text} has more than {MAX_DIGITS} digits "
                             f"(the limit MAX_DIGITS)")
    return number


def check_power(base: sp.Expr, exponent: sp.Expr, text: str) -> None:
    """LimitError for a power whose exponent is a number above ``MAX_EXPONENT`` in
    magnitude, or whose value would hold a number of more than ``MAX_DIGITS`` digits
    (``(10**300)**2``, ``(10**200*x)**3``), estimated before it is computed."""
    if not exponent.is_Number:
        return
    if not exponent.is_finite or abs(exponent) > MAX_EXPONENT:
        raise LimitError(f"the exponent {_shown(exponent)} in {text} is over the limit of "
                         f"{MAX_EXPONENT} in magnitude (MAX_EXPONENT)")
    numbers = [base] if base.is_Rational else base.atoms(sp.Rational)
    largest = max((max(_log10(n.p), _log10(n.q)) for n in numbers), default=0.0)
    if exponent.is_Rational and exponent.is_integer and largest * abs(int(exponent)) >= MAX_DIGITS:
        raise LimitError(f"a power in {text} would hold a number of more than {MAX_DIGITS} "
                         f"digits (the limit MAX_DIGITS)")


LARGEST = 10**MAX_DIGITS
"""The first whole number of more than ``MAX_DIGITS`` digits."""


def too_long(n: int) -> bool:
    """True when the whole number ``n`` has more than ``MAX_DIGITS`` digits."""
    return abs(n) >= LARGEST


def _log10(n: int) -> float:
    """The decimal logarithm of ``|n|`` (0 for 0): ``n**k`` has ``k * _log10(n) + 1`` digits."""
    return math.log10(abs(n)) if n else 0.0


def _digits(n: int) -> int:
    """The number of decimal digits of ``n`` at most (from its bit length)."""
    return math.ceil(abs(n).bit_length() * math.log10(2)) if n else 1


def _shown(number: sp.Expr) -> str:
    return str(number) if number.is_Integer and _digits(number.p) <= 20 else "given"


@dataclass(frozen=True)
class Limits:
    """The limits of work a caller may raise: each refused up front with a LimitError
    that names it and the command-line option that raises it.

    Measured in issue 13 (one core, a document with values): a hidden layer of 100 units
    (401 parameters) took 44 s and one of 200 units (801 parameters) 397 s, so a network
    past 2,000 parameters would take far longer."""

    max_parameters: int = 2_000
    """The most scalar parameters (weights and biases, or an expression's variables) a
    derivation may have (``--max-parameters``)."""
    max_inputs: int = 1_000
    """The most input values a network may take: its inputs times the samples of its batch
    (``--max-inputs``). The vectors and matrices of ``at`` must have the model's shapes, so
    these limits bound their lengths too."""
    max_nodes: int = 20_000
    """The most nodes (symbols, numbers, operations) the loss may have, every
    definition counted (``--max-nodes``)."""

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LimitError(f"{item.name} must be a positive whole number, got "
                                 f"{value!r}"[:120])

    def check(self, name: str, count: int, what: str) -> None:
        """LimitError if ``count`` (of ``what``: "a network of 3 parameters") is above the
        limit ``name`` (a field)."""
        limit = getattr(self, name)
        if count > limit:
            option = "--" + name.replace("_", "-")
            raise LimitError(f"{what.format(f'{count:,}')} is over the limit of {limit:,} "
                             f"({option} N or Limits({name}=N) raises it)")


DEFAULT_LIMITS = Limits()
"""The limits every request gets unless the caller gives others."""


def size(expr: sp.Basic) -> tuple[int, int]:
    """The nodes of ``expr`` and its depth, walked without recursion (a SymPy expression
    built in code may be deeper than any recursion can go)."""
    nodes, deepest, stack = 0, 0, [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        deepest = max(deepest, depth)
        stack += [(arg, depth + 1) for arg in node.args]
    return nodes, deepest


def check_expression(expr: sp.Basic, what: str = "the expression") -> None:
    """LimitError for a SymPy expression given directly (not parsed) that nests deeper
    than ``MAX_DEPTH`` or holds a number of more than ``MAX_DIGITS`` digits."""
    if size(expr)[1] > MAX_DEPTH:
        raise LimitError(f"{what} nests operations and calls more than {MAX_DEPTH} levels deep "
                         f"(the limit MAX_DEPTH)")
    for number in expr.atoms(sp.Rational):
        check_number(number, what)


def check_graph(graph, limits: Limits) -> None:
    """LimitError, before any derivative is taken, for a loss (a ``graph.Graph``) with more
    parameters or nodes than ``limits`` allows."""
    parameters = sum(len(g.symbols) for g in graph.parameters)
    limits.check("max_parameters", parameters,
                 "a network of {} parameters" if graph.kind == "network" else
                 "a loss of {} parameters")
    limits.check("max_nodes", sum(size(d.expr)[0] for d in graph.definitions),
                 "a loss of {} nodes")


def read_limits(limits: object) -> Limits:
    """``limits`` as a ``Limits`` (None: ``DEFAULT_LIMITS``); LimitError for anything else."""
    if limits is None:
        return DEFAULT_LIMITS
    if not isinstance(limits, Limits):
        raise LimitError(f"limits must be a symgrad.Limits, got a {type(limits).__name__}")
    return limits
