"""Display math: formulas joined from parts (``join_math``), equation chains laid out and
broken across lines to fit (``equation``, ``equations``), and the recorder of every equation
shown with its sides' expressions (``recording``, ``Shown``)."""

from __future__ import annotations

from math import ceil
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any, Iterable, Iterator, Sequence

import sympy as sp

from .pieces import Math, Piece, number_factor, operator_text
from .printer import tex
from .width import WIDTH, width


def as_math(side: Any) -> Math:
    """A ``Math`` for a formula given as Math, SymPy expression, or LaTeX string."""
    if isinstance(side, Math):
        return side
    if isinstance(side, sp.Basic):
        return tex(side)
    return Math.atom(str(side))


JOINED = {"+": lambda parts: sp.Add(*parts, evaluate=False),
          r"\cdot": lambda parts: sp.Mul(*parts, evaluate=False)}
"""How ``join_math`` builds the SymPy expression of a sum or product it writes."""


def join_math(parts: Sequence[Any], op: str) -> Math:
    """The formulas ``parts`` joined by ``op`` (``\\cdot``, ``+``): in a product, sums and
    negative factors after the first are bracketed; in a sum, ``+ -a`` is written ``- a``.
    The result's ``expr`` is the sum or product of the parts' expressions, when all are known."""
    maths = [as_math(part) for part in parts]
    exprs = [m.expr for m in maths]
    known = op in JOINED and bool(exprs) and all(e is not None for e in exprs)
    expr = (exprs[0] if len(exprs) == 1 else JOINED[op](exprs)) if known else None
    return Math(_joined_pieces(maths, op), expr)


def _joined_pieces(maths: Sequence[Math], op: str) -> tuple[Piece, ...]:
    pieces = []
    for i, math in enumerate(maths):
        if len(maths) > 1 and _negative_number(math):
            math = Math.atom(number_factor(str(math)), math.expr)
        negative, magnitude = _without_minus(math)
        if op == "+" and negative and i:
            pieces.append(Piece("-", magnitude))
            continue
        is_sum = any(p.op in ("+", "-") for p in math.pieces[1:])
        bracketed = len(maths) > 1 and op != "+" and (is_sum or (negative and i > 0))
        pieces.append(Piece(op if i else "", math, paren=bracketed))
    return tuple(pieces)


def _negative_number(math: Math) -> bool:
    """True for a number alone, written with a minus sign (``-0.4``)."""
    first = math.pieces[0]
    return len(math.pieces) == 1 and not first.op and isinstance(first.body, str) \
        and first.body.startswith("-")


def _without_minus(math: Math) -> tuple[bool, Math]:
    """Whether a formula starts with a minus sign (also inside its first term or
    factor), and the formula without it."""
    first = math.pieces[0]
    if first.op == "-":
        return True, Math((replace(first, op=""),) + math.pieces[1:], math.expr)
    if not first.op and not first.paren and isinstance(first.body, Math):
        negative, inner = _without_minus(first.body)
        if negative:
            return True, Math((replace(first, body=inner),) + math.pieces[1:], math.expr)
    return False, math


@dataclass(frozen=True)
class Shown:
    """An equation chain as it was laid out: the relation after its first side (``=``,
    or ``\\leftarrow`` for an assignment), the LaTeX of each side, and each side's SymPy
    expression (None for a side written as text)."""

    rel: str
    texts: tuple[str, ...]
    exprs: tuple[Any, ...]


_SHOWN: ContextVar[list[Shown] | None] = ContextVar("symgrad_shown", default=None)


@contextmanager
def recording() -> Iterator[list[Shown]]:
    """Collect every equation chain that ``equations``, ``equation`` and
    ``inline_equation`` lay out inside the ``with`` block, in order."""
    shown: list[Shown] = []
    token = _SHOWN.set(shown)
    try:
        yield shown
    finally:
        _SHOWN.reset(token)


def is_recording() -> bool:
    """True inside ``recording``: only then does a side's exact expression matter."""
    return _SHOWN.get() is not None


def _record(rel: str, maths: Sequence[Math]) -> None:
    shown = _SHOWN.get()
    if shown is not None:
        shown.append(Shown(rel, tuple(str(m) for m in maths), tuple(m.expr for m in maths)))


@dataclass(frozen=True)
class Display:
    """Display math as aligned rows ``(left, right)``: ``left & right``."""

    rows: tuple[tuple[str, str], ...]
    starts: tuple[int, ...] = ()
    """The row each equation chain begins at (none given: every row is a chain)."""

    @property
    def single(self) -> bool:
        """True when the display is one line (no alignment needed)."""
        return len(self.rows) == 1

    def parts(self, room: float) -> list[Display]:
        """The display cut into parts of at most ``room`` lines (``row_height``), for
        slides: whole chains packed in order, and a chain taller than ``room`` cut before
        a row that starts with its relation, each part after the first opening with the
        chain's left side again (``L = ...``), so that no part loses it."""
        if not self.rows:
            return [self]
        starts = sorted(set(self.starts) | {0}) if self.starts else list(range(len(self.rows)))
        chains = [self.rows[a:b] for a, b in zip(starts, starts[1:] + [len(self.rows)])]
        total = _height(self.rows)
        # Whole chains are packed into parts of about equal height (so that the last
        # does not hold a row alone); only a chain taller than ``room`` is cut.
        target = min(room, total / ceil(total / room) + max(map(row_height, self.rows)) / 2)
        parts: list[list[tuple[str, str]]] = [[]]
        for chain in chains:
            height, used = _height(chain), _height(parts[-1])
            if height <= room:
                if parts[-1] and used + height > target + 1e-9:
                    parts.append([])
                parts[-1].extend(chain)
                continue
            if parts[-1] and room - used < room / 3:
                parts.append([])
                used = 0.0
            each = min(room, height / ceil(height / room) + max(map(row_height, chain)) / 2)
            pieces = _chain_pieces(chain, room - used if parts[-1] else each, each)
            parts[-1].extend(pieces[0])
            parts.extend(pieces[1:])
        return [Display(tuple(rows)) for rows in parts if rows]

    def lines(self) -> list[str]:
        """The rows joined at their alignment point, ``\\\\`` after all but the last."""
        if self.single:
            left, right = self.rows[0]
            return [f"{left} {right}".strip()]
        out = [f"{left} &{right}".strip() for left, right in self.rows]
        return [line + r" \\" for line in out[:-1]] + out[-1:]


def equation(*sides: Any, rel: str = "=", limit: float = WIDTH, stack: bool = False) -> Display:
    """``sides[0] rel sides[1] = sides[2] = ...`` laid out to fit ``limit``.

    Repeated sides are dropped. On one line if it fits; otherwise one side per row,
    aligned at the relation, and a side too wide for a row broken between its terms
    or factors (a bracket too wide opened with ``\\Bigl( ... \\Bigr)``). With ``stack``,
    a first side too wide to leave room beside it gets a row of its own, and the rows
    below start at the alignment point with their relation (for narrow slides).
    """
    return equations([sides], rel=rel, limit=limit, stack=stack)


def inline_equation(*sides: Any) -> str:
    """``sides`` joined by ``=`` on one line, repeated sides dropped (for inline math)."""
    maths = [as_math(side) for side in sides]
    _record("=", maths)
    texts: list[str] = []
    for math in maths:
        text = str(math)
        if not texts or not same(text, texts[-1]):
            texts.append(text)
    return " = ".join(texts)


def same(a: str, b: str) -> bool:
    """True when two formulas print the same, or are the same number (``1.0`` and ``1``)."""
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def equations(chains: Iterable[Sequence[Any]], rel: str = "=", limit: float = WIDTH,
              stack: bool = False) -> Display:
    """Several equation chains in one aligned display."""
    rows: list[tuple[str, str]] = []
    starts: list[int] = []
    for chain in chains:
        maths = [as_math(side) for side in chain]
        _record(rel, maths)
        starts.append(len(rows))
        rows.extend(_chain_rows(maths, rel, limit, stack))
    return Display(tuple(rows), tuple(starts))


def row_height(row: tuple[str, str]) -> float:
    """About how many lines of text a display row takes: one, two with a fraction
    (display style), a matrix's rows with a matrix."""
    text = "".join(row)
    matrix = max((m.split(r"\end{")[0].count(r"\\") + 1 for m in text.split(r"\begin{")[1:]),
                 default=0)
    return max(2.0 if r"\frac" in text else 1.2, 1.2 * matrix)


def _height(rows: Sequence[tuple[str, str]]) -> float:
    return sum(row_height(row) for row in rows)


def _chain_pieces(chain: Sequence[tuple[str, str]], first: float,
                  room: float) -> list[list[tuple[str, str]]]:
    """One chain's rows in pieces of at most ``first`` lines (the first) and ``room``
    (the others), cut only before a row that starts with a relation; a piece after the
    first repeats the chain's left side: in the first row's left column, or (a stacked
    chain, its left side on a row of its own) as a row of its own."""
    head = chain[0]
    stacked = not head[0]
    pieces: list[list[tuple[str, str]]] = [[]]
    for row in chain:
        cut = pieces[-1] and not row[0] and not row[1].lstrip().startswith("\\quad")
        limit = first if len(pieces) == 1 else room
        if cut and _height(pieces[-1]) + row_height(row) > limit + 1e-9 and len(pieces[-1]) > 1 + stacked:
            pieces.append([head] if stacked else [])
        if not pieces[-1] and not stacked and len(pieces) > 1:
            row = (head[0], row[1])
        pieces[-1].append(row)
    return pieces


def _chain_rows(sides: list[Math], rel: str, limit: float, stack: bool) -> list[tuple[str, str]]:
    left = str(sides[0])
    rights: list[Math] = []
    for math in sides[1:]:
        if not same(str(math), left) and (not rights or not same(str(math), str(rights[-1]))):
            rights.append(math)
    relations = [rel] + ["="] * (len(rights) - 1)
    room = max(limit - width(left) - 3, limit / 2)
    one_line = " ".join(f"{r} {m}" for r, m in zip(relations, rights))
    if width(one_line) <= room:
        return [(left, one_line)]
    rows = _side_rows(left, rights, relations, room, stack)
    widest = width(left) + 3 + max(width(right) for _, right in rows)
    if stack and rights and widest > limit and width(left) > limit / 4:
        # The left side leaves too little room beside it: given a row of its own, it
        # lets the right sides start at the alignment point, below it.
        below = _side_rows("", rights, relations, limit - 3, stack)
        if max(width(left), *(width(right) for _, right in below)) < widest:
            return [("", left)] + below
    return rows


def _side_rows(left: str, rights: list[Math], relations: list[str],
               room: float, stack: bool) -> list[tuple[str, str]]:
    """``left`` then each right side after its relation, a row each, broken to ``room``."""
    rows: list[tuple[str, str]] = []
    for relation, math in zip(relations, rights):
        text = f"{relation} {math}"
        if width(text) <= room:
            rows.append(("" if rows else left, text))
        else:
            broken = _break(math, room - 2, stack)
            rows.append(("" if rows else left, f"{relation} {broken[0]}"))
            rows.extend(("", rf"\quad {line}") for line in broken[1:])
    return rows or [(left, "")]


def _break(math: Math, room: float, stack: bool = False) -> list[str]:
    """The pieces of ``math`` packed into lines no wider than ``room``; a line after
    the first starts with its operator (``{}+``, ``{}\\cdot``) so spacing stays binary."""
    lines: list[str] = []
    current = ""
    atoms = [("", str(math))] if _derivative(math) and not stack else _atoms(math.pieces, room, stack)
    for op, text in atoms:
        joined = current + operator_text(1 if current else 0, op) + text
        # an outer product, a column times a row, is not cut between its two vectors
        # while it fits in a fifth more room (the row alone on a line reads as a new matrix)
        slack = OUTER_SLACK if op == " " and _row_vector(text) and current.endswith(r"\end{bmatrix}") else 1
        if current and width(joined) > room * slack:
            lines.append(current)
            current = "{}" + operator_text(1, _continued(op, text)).rstrip() + " " + text
        else:
            current = joined
    return lines + [current]


OUTER_SLACK = 1.2
"""How much wider than its room a line may be to keep an outer product's vectors together."""


def _row_vector(text: str) -> bool:
    """True for one row of numbers in brackets: a bmatrix without a row break."""
    return text.startswith(r"\begin{bmatrix}") and text.endswith(r"\end{bmatrix}") \
        and "\\\\" not in text and text.count(r"\begin{bmatrix}") == 1


def _continued(op: str, text: str) -> str:
    """The operator that starts a continued line: a product written by juxtaposition gets
    a ``\\cdot``, except a matrix, whose brackets show it is a factor."""
    if op != " ":
        return op
    return "" if text.startswith(r"\begin{bmatrix}") else r"\cdot"


def _derivative(math: Math) -> bool:
    """True for a derivative of a sum (``Printer._derivative_math``), which only ``stack``
    layouts break between its terms: the others keep it whole."""
    return isinstance(math.expr, sp.Derivative)


def _atoms(pieces: Sequence[Piece], room: float, stack: bool = False) -> list[tuple[str, str]]:
    """Pieces as (op, text) atoms; a piece wider than ``room`` is opened into its own."""
    atoms: list[tuple[str, str]] = []
    for piece in pieces:
        inner = piece.body if isinstance(piece.body, Math) else None
        if inner is None or len(inner.pieces) < 2 or width(piece.text()) <= room \
                or (_derivative(inner) and not stack):
            atoms.append((piece.op, piece.text()))
            continue
        opened = _atoms(inner.pieces, room, stack)
        first_op, first = opened[0]
        lead = (first_op + " ") if first_op else ""
        opened[0] = (piece.op, (r"\Bigl(" if piece.paren else "") + lead + first)
        if piece.paren:
            opened[-1] = (opened[-1][0], opened[-1][1] + r"\Bigr)")
        atoms.extend(opened)
    return atoms
