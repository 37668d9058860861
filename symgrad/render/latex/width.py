"""How wide a formula is when typeset, estimated from its LaTeX in units of about one
glyph (``width``), and whether it nests fractions: what line breaking measures."""

from __future__ import annotations

import re


WIDTH = 64.0
"""How wide a line of display math may be, in ``width`` units (about one glyph each)."""


_TOKEN = re.compile(r"\\[a-zA-Z]+|\\.|[{}^_&]|\s+|.")


_INVISIBLE = {r"\left", r"\right", r"\Bigl", r"\Bigr", r"\bigl", r"\bigr", r"\displaystyle"}


_WIDE = {r"\cdot": 1.6, r"\times": 1.6, r"\quad": 2.0, r"\qquad": 4.0, r"\ldots": 2.0,
         r"\leftarrow": 2.5, r"\partial": 1.0, r"\,": 0.3, r"\;": 0.5, r"\:": 0.4}


_WORDS = {r"\log", r"\exp", r"\tanh", r"\sin", r"\cos", r"\tan", r"\sinh", r"\cosh", r"\ln"}


_GROUPED = {r"\operatorname": 0.9, r"\text": 0.8, r"\mathrm": 0.9}


_CHAR = {"+": 2.2, "-": 2.2, "=": 2.6, ">": 2.6, "<": 2.6, ",": 0.6, ".": 0.4, "(": 0.7,
         ")": 0.7, "&": 0.0, " ": 0.0}


def width(tex: str) -> float:
    """An estimate of how wide ``tex`` typesets, in units of about one letter."""
    tokens = [t for t in _TOKEN.findall(str(tex)) if not t.isspace()]
    total, _ = _width(tokens, 0, None)
    return total


def _width(tokens: list[str], i: int, stop: str | None) -> tuple[float, int]:
    total = 0.0
    while i < len(tokens) and tokens[i] != stop:
        w, i = _token_width(tokens, i)
        total += w
    return total, i + 1


def _group(tokens: list[str], i: int) -> tuple[float, int]:
    """The width of the group or single token at ``i``, and the position after it."""
    if i < len(tokens) and tokens[i] == "{":
        return _width(tokens, i + 1, "}")
    return _token_width(tokens, i)


def _token_width(tokens: list[str], i: int) -> tuple[float, int]:
    token = tokens[i]
    if token == r"\frac":
        top, i = _group(tokens, i + 1)
        bottom, i = _group(tokens, i)
        return max(top, bottom) + 0.4, i
    if token in ("^", "_"):
        w, i = _group(tokens, i + 1)
        return 0.7 * w, i
    if token == r"\begin":
        return _environment(tokens, i)
    if token in _GROUPED:
        content, end = _raw_group(tokens, i + 1)
        return _GROUPED[token] * len(content), end
    if token == "{":
        return _width(tokens, i + 1, "}")
    if token in _INVISIBLE:
        return 0.0, i + 1
    if token.startswith("\\"):
        return _WIDE.get(token, len(token) - 1 if token in _WORDS else 1.0), i + 1
    return _CHAR.get(token, 1.0), i + 1


def nested_fraction(tex: str) -> bool:
    """True when a fraction in ``tex`` holds another in its numerator or denominator."""
    tokens = [t for t in _TOKEN.findall(str(tex)) if not t.isspace()]
    for i, token in enumerate(tokens):
        if token == r"\frac":
            top, end = _raw_group(tokens, i + 1)
            bottom, _ = _raw_group(tokens, end)
            if r"\frac" in top + bottom:
                return True
    return False


def _raw_group(tokens: list[str], i: int) -> tuple[str, int]:
    depth, out = 0, []
    for j in range(i, len(tokens)):
        depth += {"{": 1, "}": -1}.get(tokens[j], 0)
        if depth == 0:
            return "".join(out[1:]), j + 1
        out.append(tokens[j])
    return "".join(out), len(tokens)


def _environment(tokens: list[str], i: int) -> tuple[float, int]:
    """An environment (cases, bmatrix) is as wide as its widest row plus its brackets."""
    _, i = _raw_group(tokens, i + 1)
    rows, cell, cells, depth = [], [], [], 0
    while i < len(tokens) and not (tokens[i] == r"\end" and depth == 0):
        t = tokens[i]
        depth += {r"\begin": 1, r"\end": -1}.get(t, 0)
        if depth == 0 and t in ("&", r"\\"):
            cells.append(cell)
            cell = []
            if t == r"\\":
                rows.append(cells)
                cells = []
        else:
            cell.append(t)
        i += 1
    rows.append(cells + [cell])
    _, i = _raw_group(tokens, i + 1)
    widest = max(sum(_width(c, 0, None)[0] + 1.5 for c in row) for row in rows)
    return widest + 2.0, i
