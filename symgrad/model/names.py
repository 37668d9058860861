"""Names for the quantities of a free expression: which of its names are data (inputs and
targets), and fresh names for the quantities symgrad adds (z, a, L) that the expression's
own names do not clash with.
"""

from __future__ import annotations

import re
from typing import Sequence

from ..errors import DerivationError, UnknownNameError
from .symbols import Var

DATA_NAMES = {"input": re.compile(r"x(_?\d+)?"), "target": re.compile(r"y(_?\d+)?")}
"""The names a free expression takes for data unless told otherwise: x, x1, x_1 (inputs)
and y, y1, y_1 (targets)."""


def data_roles(names: set[str], declared: dict[str, Sequence[str] | None]) -> dict[str, str]:
    """The role ("input" or "target") of each name that is data: as declared, else by
    ``DATA_NAMES``. Raises UnknownNameError for a declared name the expression lacks."""
    roles: dict[str, str] = {}
    if all(listed is None for listed in declared.values()) \
            and all(any(p.fullmatch(n) for p in DATA_NAMES.values()) for n in names):
        return roles  # a function of x (and y) alone: they are its variables
    for role, listed in declared.items():
        if listed is None:
            listed = [n for n in sorted(names) if DATA_NAMES[role].fullmatch(n)]
        for name in listed:
            if name not in names:
                raise UnknownNameError(f"{role} {name!r} is not in the expression "
                                       f"(its names: {', '.join(sorted(names))})")
            if roles.get(name, role) != role:
                raise DerivationError(f"{name!r} cannot be both an input and a target")
            roles[name] = role
    return roles


SPARE_LETTERS = "rtpmnkcdbjo"
"""The letters a name falls back on when the usual ones are all the expression's own."""


def fresh(names: Sequence[str], taken: set[str], what: str, indexed: bool = False) -> str:
    """The first of ``names`` that the expression does not use, as a name for ``what``;
    then, for a base of ``indexed`` names (z1, z2, ...) that no name of the expression
    has with any number, the first of ``SPARE_LETTERS``, else the first of L1, L2, ..."""
    clash = taken_base if indexed else (lambda n, t: n in t)
    spare = SPARE_LETTERS if indexed else tuple(f"L{i}" for i in range(1, 100))
    for name in (*names, *spare):
        if not clash(name, taken):
            return name
    raise DerivationError(f"the expression uses every name symgrad has for {what}")


def taken_base(base: str, taken: set[str]) -> bool:
    """True when a name in ``taken`` is ``base`` or ``base`` numbered (z, z1, z_2)."""
    return any(re.fullmatch(re.escape(base) + r"_?\d*", n) for n in taken)


def numbered(base: str, i: int, count: int) -> Var:
    """The i-th (from 0) of ``count`` quantities named from ``base``: z alone, else z1, z2, ..."""
    return Var(base) if count == 1 else Var(f"{base}{i + 1}", base, None, (i + 1,))
