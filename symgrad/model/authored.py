"""How the author wrote an expression, which SymPy's canonical forms forget: the order of
the terms of each sum (``1 + w**2`` is stored as ``w**2 + 1``) and the decimals
(``0.01`` is stored as the exact 1/100).

The parser records both (``parse.parse_written``) in an ``AsWritten``; a graph keeps it
(``Graph.written``) and the printers read it, so a document writes the sums and numbers
as the author did while every calculation stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping, Sequence

import sympy as sp

DECIMAL_DIGITS = 6
"""A derived number (2 * 0.01 = 1/50) is written as a decimal (0.02) in an author's
decimals only when it has at most this many digits after the point."""


@dataclass(frozen=True, eq=False)
class AsWritten:
    """``orders``: each sum the author wrote, mapped to its terms in the written order;
    ``numbers``: each non-integer rational the author wrote (by its magnitude), mapped to
    its decimal as written (``"0.01"``), or to ``""`` when it was written as a fraction
    (``1/2``)."""

    orders: Mapping[sp.Expr, tuple[sp.Expr, ...]] = field(default_factory=dict)
    numbers: Mapping[sp.Rational, str] = field(default_factory=dict)

    @cached_property
    def _index(self) -> dict[tuple, list[tuple]]:
        # by canonical sort key: SymPy builds equal sums with their arguments in
        # different orders, which ``==`` tells apart
        return {sp.default_sort_key(s): [sp.default_sort_key(t) for t in terms]
                for s, terms in self.orders.items()}

    def terms(self, expr: sp.Expr) -> tuple[sp.Expr, ...] | None:
        """The terms of the sum ``expr`` in the written order, or None."""
        keys = self._index.get(sp.default_sort_key(expr)) if self.orders else None
        if keys is None:
            return None
        by_key = {sp.default_sort_key(t): t for t in sp.Add.make_args(expr)}
        return tuple(by_key[k] for k in keys) if set(keys) == set(by_key) else None

    def order(self, terms: Sequence[sp.Expr]) -> list[int] | None:
        """The written position of each of ``terms`` (the terms of one sum, in any order),
        or None when the author did not write that sum."""
        if not self.orders or len(terms) < 2:
            return None
        keys = [sp.default_sort_key(t) for t in terms]
        written = self._index.get(sp.default_sort_key(sp.Add(*terms)))
        if written is None or sorted(written) != sorted(keys):
            return None
        return [written.index(k) for k in keys]

    def decimal(self, number: sp.Rational) -> str | None:
        """``number`` as a decimal when the author wrote it so, or (when the author wrote
        decimals and not this number as a fraction) when it is a short terminating
        decimal; None to write it as a fraction. The magnitude: a sign is the caller's."""
        magnitude = abs(number)
        text = self.numbers.get(magnitude)
        if text is not None:
            return text or None
        if not any(self.numbers.values()) or not magnitude.is_Rational or magnitude.q == 1:
            return None
        return terminating(magnitude)

    def xreplace(self, mapping: Mapping[sp.Expr, sp.Expr]) -> "AsWritten":
        """The same, with subexpressions replaced as in the graph (``f(z)`` by ``a``)."""
        if not mapping:
            return self
        orders = {s.xreplace(mapping): tuple(t.xreplace(mapping) for t in terms)
                  for s, terms in self.orders.items()}
        return AsWritten({**self.orders, **orders}, self.numbers)


NOTHING = AsWritten()
"""What is known of an expression the author did not write (a model built by symgrad)."""


def terminating(number: sp.Rational) -> str | None:
    """A positive rational's decimal expansion when it ends within ``DECIMAL_DIGITS``
    digits after the point (1/50 is ``0.02``); else None."""
    q, digits = int(number.q), 0
    for prime in (2, 5):
        count = 0
        while q % prime == 0:
            q, count = q // prime, count + 1
        digits = max(digits, count)
    if q != 1 or digits > DECIMAL_DIGITS:
        return None
    scaled = int(number.p) * 10**digits // int(number.q)
    whole, fraction = divmod(scaled, 10**digits)
    return f"{whole}.{fraction:0{digits}d}"


def written_order(result: sp.Expr, terms: Sequence[sp.Expr]) -> tuple[sp.Expr, ...] | None:
    """The terms of the sum ``result`` in the order of ``terms``, the author's terms as
    written (which SymPy may have merged: ``2 w + 3 w`` is ``5 w``, placed where ``w``
    first appears; combined numbers where the first number was); None if not a sum."""
    if not isinstance(result, sp.Add):
        return None

    def position(arg: sp.Expr) -> tuple[int, int]:
        for i, t in enumerate(terms):
            if t == arg:
                return i, 0
        rest = arg.as_coeff_Mul()[1]
        for i, t in enumerate(terms):
            if (t.is_Number and arg.is_Number) or (not t.is_Number and t.as_coeff_Mul()[1] == rest):
                return i, 1
        return len(terms), 2

    return tuple(sorted(result.args, key=position))
