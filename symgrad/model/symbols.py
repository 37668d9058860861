"""Named quantities: a SymPy symbol that knows its base letter, layer and indices.

``W1[0][1]`` is the weight from input 2 to unit 1 of layer 1: base ``W``, layer 1,
index (1, 2), displayed as W^{(1)}_{12}. Names are what users type in ``wrt`` and ``at``.
"""

from __future__ import annotations

import sympy as sp


class Var(sp.Symbol):
    """A real symbol with a display structure (base, layer, 1-based index, and for a
    quantity of one sample in a batch, the 1-based sample number)."""

    base: str
    layer: int | None
    index: tuple[int, ...]
    sample: int | None

    def __new__(cls, name: str, base: str | None = None, layer: int | None = None,
                index: tuple[int, ...] = (), sample: int | None = None) -> "Var":
        obj = super().__new__(cls, name, real=True)
        obj.base = base or name
        obj.layer = layer
        obj.index = tuple(index)
        obj.sample = sample
        return obj

    def __getnewargs_ex__(self) -> tuple[tuple, dict]:
        return (self.name, self.base, self.layer, self.index, self.sample), {}


def element_name(group: str, position: tuple[int, ...]) -> str:
    """The name of one element of a vector or matrix, as users write it: ``W1[0][1]``."""
    return group + "".join(f"[{i}]" for i in position)


def layered(base: str, layer: int | None, position: tuple[int, ...],
            sample: int | None = None) -> Var:
    """The element ``position`` (0-based) of quantity ``base`` in ``layer``; with
    ``sample`` (0-based), that element for one sample of a batch (``x[k][n]``)."""
    group = base if layer is None else f"{base}{layer}"
    if sample is None:
        return Var(element_name(group, position), base, layer, tuple(i + 1 for i in position))
    return Var(element_name(group, position + (sample,)), base, layer,
               tuple(i + 1 for i in position), sample + 1)


def real_symbol(name: str) -> sp.Symbol:
    """A plain real symbol, for the names in a free expression."""
    return sp.Symbol(name, real=True)
