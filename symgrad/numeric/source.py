"""The index form's source printer: Python (numpy) source written straight from SymPy
expressions, one assignment per named quantity (``python_source``), each symbol mapped to
an identifier as it goes (``Identifiers``) and nothing substituted; expression types the
``Printer`` does not know are handed to SymPy's ``NumPyPrinter`` (``Fallback``). The
generated code, and the time to make it, grow like the program it prints.
"""

from __future__ import annotations

import builtins
import importlib
import itertools
import keyword
import linecache
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, Sequence

import sympy as sp
from sympy.core.relational import Relational
from sympy.logic.boolalg import BooleanAtom
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.numpy import NumPyPrinter

from ..errors import DerivationError
from ..model.functions import NUMPY_FUNCTIONS, leaky_relu, relu, sigmoid, softmax, softplus
from .stable import NUMPY_STABLE, logsumexp


CALLS: dict[type, str] = {
    sigmoid: "sigmoid", relu: "relu", leaky_relu: "leaky_relu", softplus: "softplus",
    softmax: "softmax", logsumexp: "logsumexp", sp.exp: "numpy.exp", sp.log: "numpy.log",
    sp.tanh: "numpy.tanh", sp.Abs: "numpy.abs",
}
"""Functions printed as a call of the same arguments: an activation by its name in
``NUMPY_FUNCTIONS`` (a stable form's in ``stable.NUMPY_STABLE``), an elementary function by its numpy name."""

MODULES = ("numpy", "functools", "math", "scipy", "mpmath", "jnp", "torch")
"""Names left to the modules that generated code may refer to (NumPyPrinter's included)."""

ADD, MUL, POW, ATOM = 1, 2, 3, 4
"""How tightly a printed piece binds: a sum, a product or quotient (or anything with a
leading minus), a power, and an atom (name, call, positive number or parenthesized)."""

CHUNK = 200
"""The most operands joined in one flat chain: Python's compiler recurses once per
operand of ``a + b + ...``, so longer sums are grouped in parentheses."""


@dataclass(frozen=True)
class Source:
    """The Python source of one function, and the modules it refers to by name."""

    text: str
    name: str
    modules: tuple[str, ...]

    def load(self, filename: str = "<symgrad>") -> Callable[..., list]:
        """The function, compiled; its lines are kept for tracebacks."""
        namespace = {f"_{k}": v for k, v in {**NUMPY_FUNCTIONS, **NUMPY_STABLE}.items()}
        for module in self.modules:
            importlib.import_module(module)
            top = module.partition(".")[0]
            namespace[top] = importlib.import_module(top)
        exec(builtins.compile(self.text, filename, "exec"), namespace)
        linecache.cache[filename] = (len(self.text), None, self.text.splitlines(True), filename)
        return namespace[self.name]


def python_source(leaves: Sequence[sp.Symbol], program: Sequence[tuple[sp.Expr, sp.Expr]],
                  outputs: Sequence[sp.Expr], name: str = "gradients") -> Source:
    """The source of ``def name(*leaves)``: one assignment per ``(name, expr)`` of
    ``program``, in order, then ``return [*outputs]``.

    A later expression that contains the whole right-hand side of an earlier assignment
    (``sigmoid(z)`` once ``yhat = sigmoid(z)``) reads it by name instead of computing it again.
    """
    printer = Printer(Identifiers())
    parameters = [printer.bind(s) for s in leaves]
    lines = [f"def {name}({', '.join(parameters)}):"]
    for symbol, expr in program:
        text = printer(expr)
        target = printer.bind(symbol)
        lines.append(f"    {target} = {text}")
        if not expr.is_Atom:
            printer.names.setdefault(expr, target)
    returned = ",\n        ".join(printer(e) for e in outputs)
    lines.append(f"    return [\n        {returned},\n    ]")
    modules = dict.fromkeys(["numpy", *printer.fallback.module_imports])
    return Source("\n".join(lines) + "\n", name, tuple(modules))


class Identifiers:
    """Python identifiers for symbols, readable (``W1[0][1]`` is ``W1_0_1``) and unique."""

    def __init__(self) -> None:
        self.taken: set[str] = set(MODULES) | set(dir(builtins))

    def new(self, expr: sp.Expr) -> str:
        """A fresh identifier for ``expr`` (a symbol, or an adjoint's name dL/dv)."""
        if isinstance(expr, sp.Symbol):
            text = expr.name
        elif isinstance(expr, sp.Derivative):
            text = f"d{expr.expr}_d{expr.variables[0]}"
        else:
            text = str(expr)
        base = re.sub(r"\W+", "_", text).strip("_")
        if not base.isidentifier() or keyword.iskeyword(base):
            base = f"v_{base}" if f"v_{base}".isidentifier() else "v"
        identifier = base
        for n in itertools.count(2):
            if identifier not in self.taken:
                break
            identifier = f"{base}_{n}"
        self.taken.add(identifier)
        return identifier


class Printer:
    """Python source over numpy for one expression, dispatching on its type through
    ``Printer.METHODS``; anything else goes to SymPy's NumPyPrinter (``Fallback``)."""

    def __init__(self, identifiers: Identifiers) -> None:
        self.identifiers = identifiers
        self.names: dict[sp.Basic, str] = {}
        self.fallback = Fallback(self)

    def bind(self, symbol: sp.Expr) -> str:
        """A new identifier for ``symbol``, used wherever it occurs from now on."""
        self.names[symbol] = self.identifiers.new(symbol)
        return self.names[symbol]

    def __call__(self, expr: sp.Expr) -> str:
        return self.piece(expr)[0]

    def piece(self, expr: sp.Basic) -> tuple[str, int]:
        """The source of ``expr`` and how tightly it binds (``ADD`` ... ``ATOM``)."""
        name = self.names.get(expr)
        if name is not None:
            return name, ATOM
        return _method(type(expr))(self, expr)

    def operand(self, expr: sp.Basic, tightness: int) -> str:
        """``expr``'s source, in parentheses unless it binds at least as tightly as needed."""
        name = self.names.get(expr)
        if name is not None:
            return name
        text, binds = _method(type(expr))(self, expr)
        return text if binds >= tightness else f"({text})"

    def symbol(self, expr: sp.Symbol) -> tuple[str, int]:
        raise DerivationError(f"cannot compile: {expr} is neither a quantity of the model "
                              "nor defined before it is used")

    def number(self, expr: sp.Number) -> tuple[str, int]:
        if expr.is_Integer:
            value = int(expr)
        elif expr.is_Rational:
            value = expr.p / expr.q
        else:
            value = float(expr) if expr.is_real else math.nan
        if isinstance(value, float) and not math.isfinite(value):
            return self.fallback.node(expr)
        return repr(value), MUL if value < 0 else ATOM

    def boolean(self, expr: BooleanAtom) -> tuple[str, int]:
        return repr(bool(expr)), ATOM

    def add(self, expr: sp.Add) -> tuple[str, int]:
        terms = []
        for term in expr.args:
            coefficient, factors = term.as_coeff_mul()
            if coefficient.is_negative and terms:
                terms.append((" - ", self.product(-coefficient, factors)[0]))
            else:
                terms.append((" + ", self.operand(term, ADD)))
        return _joined(terms), ADD

    def mul(self, expr: sp.Mul) -> tuple[str, int]:
        return self.product(*expr.as_coeff_mul())

    def product(self, coefficient: sp.Number, factors: Sequence[sp.Expr]) -> tuple[str, int]:
        """coefficient * factors, with factors of negative exponent as one denominator."""
        numerator, denominator = [], []
        for f in factors:
            if f.is_Pow and f.exp.is_Number and f.exp.is_negative and f not in self.names:
                denominator.append(self.power(f.base, -f.exp))
            else:
                numerator.append(self.operand(f, MUL))
        negative = coefficient.is_negative
        if not (coefficient is sp.S.One or coefficient is sp.S.NegativeOne) or not numerator:
            numerator.insert(0, self.operand(-coefficient if negative else coefficient, MUL))
        text = _joined((" * ", t) for t in numerator)
        if denominator:
            below = [t if binds > MUL else f"({t})" for t, binds in denominator]
            joined = _joined((" * ", t) for t in below)
            text += f" / {joined if len(below) == 1 else f'({joined})'}"
        if negative:
            return f"-{text}", MUL
        return text, MUL if len(numerator) + len(denominator) > 1 else POW

    def pow(self, expr: sp.Pow) -> tuple[str, int]:
        if expr.exp.is_Number and expr.exp.is_negative:
            return self.product(sp.S.One, (expr,))
        return self.power(expr.base, expr.exp)

    def power(self, base: sp.Expr, exp: sp.Expr) -> tuple[str, int]:
        """base**exp for an exponent that is not a negative number."""
        if exp == 1:
            return self.piece(base)
        if exp == sp.S.Half:
            return f"numpy.sqrt({self(base)})", ATOM
        exponent = self.operand(exp, ATOM) if exp.is_Integer or not exp.is_Number \
            else repr(float(exp))
        return f"{self.operand(base, ATOM)}**{exponent}", POW

    def call(self, expr: sp.Function) -> tuple[str, int]:
        function = CALLS[type(expr)]
        if function in NUMPY_FUNCTIONS or function in NUMPY_STABLE:
            function = f"_{function}"
        return f"{function}({', '.join(self(a) for a in expr.args)})", ATOM

    def piecewise(self, expr: sp.Piecewise) -> tuple[str, int]:
        """Nested numpy.where, first condition outermost; nan where no condition holds."""
        text = "numpy.nan"
        for value, condition in reversed(expr.args):
            if condition == sp.true:
                text = self(value)
            else:
                text = f"numpy.where({self(condition)}, {self(value)}, {text})"
        return text, ATOM

    def relational(self, expr: Relational) -> tuple[str, int]:
        lhs, rhs = (self.operand(side, ADD) for side in expr.args)
        return f"{lhs} {expr.rel_op} {rhs}", 0

    METHODS: ClassVar[dict[type, Callable[[Printer, Any], tuple[str, int]]]] = {
        sp.Symbol: symbol,
        sp.Number: number,
        sp.NumberSymbol: number,
        BooleanAtom: boolean,
        sp.Add: add,
        sp.Mul: mul,
        sp.Pow: pow,
        **dict.fromkeys(CALLS, call),
        sp.Piecewise: piecewise,
        Relational: relational,
    }
    """The printing method for each expression type; subclasses use their first
    ancestor's. Equalities and inequalities give the comparison, which binds least."""


def _method(kind: type) -> Callable[[Printer, Any], tuple[str, int]]:
    """The method for expressions of type ``kind``: its own, its nearest ancestor's, or
    the fallback to NumPyPrinter."""
    method = _METHODS.get(kind)
    if method is None:
        ancestors = (Printer.METHODS.get(k) for k in kind.__mro__)
        method = _METHODS[kind] = next((m for m in ancestors if m), _fallback)
    return method


def _fallback(printer: Printer, expr: sp.Basic) -> tuple[str, int]:
    return printer.fallback.node(expr)


_METHODS: dict[type, Callable[[Printer, Any], tuple[str, int]]] = {}


def _joined(pieces: Iterable[tuple[str, str]]) -> str:
    """Operands joined by their operators (``" + "``, ``" - "`` or ``" * "``; the first
    operator is dropped), grouped in parentheses of ``CHUNK`` operands when there are more."""
    pieces = list(pieces)
    while len(pieces) > CHUNK:
        pieces = [_grouped(pieces[i:i + CHUNK]) for i in range(0, len(pieces), CHUNK)]
    return pieces[0][1] + "".join(op + text for op, text in pieces[1:])


def _grouped(pieces: list[tuple[str, str]]) -> tuple[str, str]:
    """Consecutive operands as one, in parentheses; a subtracted first operand is negated
    inside them, so the group is added."""
    (op, first), rest = pieces[0], pieces[1:]
    if op == " - ":
        op, first = " + ", f"-{first}"
    return op, "(" + first + "".join(o + text for o, text in rest) + ")"


class Fallback(NumPyPrinter):
    """SymPy's NumPyPrinter for one node the ``Printer`` does not know; the node's
    arguments go back to the ``Printer``, so they are named and printed as elsewhere."""

    def __init__(self, printer: Printer) -> None:
        super().__init__({"fully_qualified_modules": True, "inline": True,
                          "allow_unknown_functions": False, "strict": True})
        self.printer = printer
        self.outer: list[sp.Basic] = []

    def node(self, expr: sp.Basic) -> tuple[str, int]:
        """``expr`` printed by NumPyPrinter, in parentheses."""
        self.outer.append(expr)
        try:
            return f"({self._print(expr)})", ATOM
        except PrintMethodNotImplementedError:
            raise DerivationError(f"cannot compile {type(expr).__name__} to numpy: {expr}") from None
        finally:
            self.outer.pop()

    def _print(self, expr: Any, **kwargs: Any) -> str:
        if isinstance(expr, sp.Basic) and not (self.outer and expr is self.outer[-1]):
            return self.printer.operand(expr, ATOM)
        return super()._print(expr, **kwargs)
