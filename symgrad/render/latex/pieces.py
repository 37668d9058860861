"""Pieces of math that can be broken across lines: ``Math``, a formula as a sequence of
``Piece`` (terms or factors with the operators between them), and brackets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence


@dataclass(frozen=True)
class Piece:
    """One term or factor: ``op`` joins it to what precedes it (``+``, ``-``, ``\\cdot``,
    ``" "`` for juxtaposition, ``""`` at the start); ``paren`` wraps ``body`` in brackets."""

    op: str
    body: "str | Math"
    paren: bool = False

    def text(self) -> str:
        """The piece's own LaTeX, without its operator."""
        inner = str(self.body)
        return bracket(inner) if self.paren else inner


@dataclass(frozen=True)
class Math:
    """A LaTeX formula as a sequence of pieces; ``str()`` gives the one-line LaTeX.

    ``expr`` is the SymPy expression the formula shows, where it is known (None for text
    written by hand): what an equation's sides are checked with (see ``recording``).
    """

    pieces: tuple[Piece, ...]
    expr: Any = field(default=None, compare=False)

    @classmethod
    def atom(cls, text: str, expr: Any = None) -> "Math":
        """A formula that is never broken."""
        return cls((Piece("", text),), expr)

    def __str__(self) -> str:
        return "".join(operator_text(i, p.op) + p.text() for i, p in enumerate(self.pieces))


def operator_text(position: int, op: str) -> str:
    if op == " ":
        return " " if position else ""
    if not op:
        return ""
    return f"{op} " if position == 0 else f" {op} "


def bmatrix(rows: Sequence[Sequence[str]]) -> str:
    """A matrix (or a column vector) of LaTeX entries, in square brackets."""
    return r"\begin{bmatrix} " + r" \\ ".join(" & ".join(row) for row in rows) + r" \end{bmatrix}"


def number_factor(text: str) -> str:
    """A printed number as a factor: negative numbers and powers of ten in brackets."""
    return bracket(text) if text.startswith("-") or r"\times" in text else text


TALL = (r"\frac", r"\sum", r"\begin")


def bracket(text: str) -> str:
    """``text`` in round brackets, sized with ``\\left( \\right)`` only around tall content."""
    if any(t in text for t in TALL):
        return rf"\left({text}\right)"
    return f"({text})"
