"""The values a user gives for a graph's leaves: read as exact rationals (0.8 is 4/5) and
checked against the quantities' names and shapes, and values shaped back like them.
"""

from __future__ import annotations

import decimal
import math
from typing import Any, Mapping, Sequence

import sympy as sp

from ..errors import LimitError, SpecError, ValuesError, quoted
from .limits import MAX_DIGITS, too_long


def read_number(value: Any, where: str) -> sp.Rational:
    """An exact rational for a number as a user gives it (int, float, or numeric string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValuesError(f"{where} is not a number: {quoted(value)}")
    if isinstance(value, str):
        value = _from_text(value, where)
        if isinstance(value, sp.Rational):
            return value
    if isinstance(value, float) and not math.isfinite(value):
        raise ValuesError(f"{where} is not a finite number: {value!r}")
    if isinstance(value, int) and too_long(value):
        raise LimitError(f"{where} has more than {MAX_DIGITS} digits (the limit MAX_DIGITS)")
    return sp.Integer(value) if isinstance(value, int) else sp.Rational(repr(value))


def _from_text(text: str, where: str) -> float | sp.Rational:
    """The float a numeric string gives ("0.8", "1e-3"), or the exact rational of one a
    double cannot hold ("1e-400" is not 0.0, "1e400" not infinity: LimitError past
    ``MAX_DIGITS`` digits); ValuesError for any other text."""
    try:
        if len(text) <= MAX_DIGITS:
            number = float(text)
            if number and math.isfinite(number) or "inf" in text.lower() or "nan" in text.lower():
                return number
            exact = decimal.Decimal(text.strip().replace("_", ""))
            if not exact:
                return number
            if abs(exact.adjusted()) >= MAX_DIGITS:
                raise LimitError(f"{where} = {quoted(text)} has more than {MAX_DIGITS} digits "
                                 f"(the limit MAX_DIGITS)")
            return sp.Rational(str(exact))
    except (ValueError, decimal.InvalidOperation):
        pass
    raise ValuesError(f"{where} is not a number: {quoted(text)}")


def read_rate(value: Any, where: str = "learning_rate") -> sp.Rational:
    """A learning rate as an exact rational; SpecError unless it is a positive number (a
    step of gradient descent moves against the gradient, by a rate above zero)."""
    rate = read_number(value, where)
    if rate <= 0:
        raise SpecError(f"{where} must be positive, got {float(rate):g}: a step of gradient "
                        f"descent moves against the gradient by a rate above zero")
    return rate


def literal(value: Any) -> str:
    """How a given number is shown: as the user wrote it (1.0 stays 1.0)."""
    if not isinstance(value, str):
        return repr(value)
    number = float(value)
    return repr(number) if number and math.isfinite(number) else value.strip()  # 1e-400


def read_values(graph, at: Mapping[str, Any]) -> tuple[dict, dict]:
    """The leaf values in ``at`` by symbol, exact, and their literals; checks names and shapes."""
    if not isinstance(at, Mapping):
        raise ValuesError(f"at must map names to values, got {type(at).__name__}")
    given: dict[sp.Symbol, sp.Rational] = {}
    literals: dict[sp.Symbol, str] = {}
    for name, value in at.items():
        for symbol, number in _elements(graph, str(name).replace(" ", ""), value):
            given[symbol] = read_number(number, f"at: {symbol.name}")
            literals[symbol] = literal(number)
    missing = [s.name for g in graph.groups for s in g.symbols if s not in given]
    if missing:
        raise ValuesError(f"at: missing value for {', '.join(missing)}")
    return given, literals


def _elements(graph, name: str, value: Any) -> list[tuple[sp.Symbol, Any]]:
    group = graph.group(name)
    if group is not None:
        return list(zip(group.symbols, _flatten(value, group.shape, name)))
    symbol = graph.element(name)
    if symbol is not None:
        return [(symbol, value)]
    known = ", ".join(g.name for g in graph.groups)
    raise ValuesError(f"at: {name!r} is not a quantity of the model (its quantities: {known})")


def _flatten(value: Any, shape: tuple[int, ...], name: str) -> list[Any]:
    if not shape:
        if isinstance(value, (list, tuple)):
            raise ValuesError(f"at: {name} should be a number, got a list")
        return [value]
    if not isinstance(value, (list, tuple)) or len(value) != shape[0]:
        got = f"a list of {len(value)}" if isinstance(value, (list, tuple)) else repr(value)
        raise ValuesError(f"at: {name} should be {_describe(shape)}, got {got}")
    return [x for i, row in enumerate(value) for x in _flatten(row, shape[1:], f"{name}[{i}]")]


def _describe(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return f"a list of {shape[0]} numbers"
    return f"a {'x'.join(map(str, shape))} matrix (a list of {shape[0]} rows of {shape[1]})"


def arrange(graph, parameters: Sequence[sp.Symbol], values: Mapping[sp.Symbol, Any]) -> dict[str, Any]:
    """Values by name, shaped like the quantities: a whole requested group under its name
    (a number, a list, or a list of rows), single requested elements under their own names."""
    out: dict[str, Any] = {}
    wanted = set(parameters)
    for group in graph.groups:
        chosen = [s for s in group.symbols if s in wanted]
        if not chosen:
            continue
        if len(chosen) == len(group.symbols):
            out[group.name] = nest([values[s] for s in group.symbols], group.shape)
        else:
            out.update({s.name: values[s] for s in chosen})
    return out


def nest(flat: list[Any], shape: tuple[int, ...]) -> Any:
    """Row-major ``flat`` values as ``shape``: a number, a list, or a list of rows."""
    if not shape:
        return flat[0]
    step = len(flat) // shape[0]
    return [nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]
