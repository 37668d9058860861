"""Markdown flavours: the math delimiters that GitHub, MkDocs and GitBook each read.

The delimiters themselves are declared in ``templates/markdown/markup.j2`` (``INLINE``
and ``DISPLAY``), where the display macros use them. Inline math is different: the
shared templates (``common/*.j2``) write it as ``$...$`` for LaTeX and Markdown alike, so
``inline_math`` swaps those delimiters for the flavour's after rendering. It relies on
what the templates guarantee: user text has its ``$`` escaped, and display math of every
flavour is written with the flavour's own delimiters, which this pass leaves alone.
"""

from __future__ import annotations

import re
import unicodedata

FLAVOURS = ("github", "mkdocs", "gitbook")
"""GitHub (``$...$``, ``$$...$$``), MkDocs with pymdownx.arithmatex (``\\(...\\)``,
``\\[...\\]``) and GitBook (``$$...$$`` inline and displayed)."""


def inline_math(text: str, opening: str, closing: str) -> str:
    """``text`` with each inline ``$...$`` written ``opening...closing``; ``$$...$$``
    blocks and backslash escapes are copied as they are."""
    if (opening, closing) == ("$", "$"):
        return text
    out: list[str] = []
    pos = 0
    while pos < len(text):
        end = _segment_end(text, pos)
        if text[pos] == "$" and not text.startswith("$$", pos):
            out.append(opening + text[pos + 1:end - 1] + closing)
        else:
            out.append(text[pos:end])
        pos = end
    return "".join(out)


def _segment_end(text: str, pos: int) -> int:
    """Where the piece starting at ``pos`` ends: an escape (two characters), a display
    block, an inline formula (each up to its closing delimiter), or one character."""
    if text[pos] == "\\":
        return pos + 2
    if text.startswith("$$", pos):
        close = text.find("$$", pos + 2)
        return len(text) if close < 0 else close + 2
    if text[pos] == "$":
        return _inline_close(text, pos + 1) + 1
    return pos + 1


def _inline_close(text: str, pos: int) -> int:
    """The index of the ``$`` that closes inline math whose content starts at ``pos``."""
    while pos < len(text) and text[pos] != "$":
        pos += 2 if text[pos] == "\\" else 1
    return min(pos, len(text) - 1)


SYMBOLS = {"partial": "∂", "nabla": "∇", "cdot": "·", "times": "×", "top": "ᵀ", "prime": "′",
           "odot": "⊙", "sum": "Σ", "infty": "∞", "to": "→", "le": "≤", "ge": "≥"}
"""Commands written as a character in a plain-text heading (greek letters by name)."""
ACCENTS = {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303", "vec": "\u20d7", "dot": "\u0307"}
"""Accents, as the combining character after their letter."""
SPACES = {",", ";", "!", ":", "quad", "qquad", "left", "right", "displaystyle", "big", "Big",
          "mathrm", "mathbf", "mathit", "boldsymbol", "operatorname", "text", "textbf"}
"""Commands that leave nothing in plain text (their argument, if any, stays)."""
_SUPER = str.maketrans("0123456789()+-=nijkT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻⁼ⁿⁱʲᵏᵀ")
_SUB = str.maketrans("0123456789()+-=ijkn,", "₀₁₂₃₄₅₆₇₈₉₍₎₊₋₌ᵢⱼₖₙ,")


def toc_label(heading: str) -> str:
    """A heading as plain text, for a table of contents that shows no math (MkDocs'
    ``data-toc-label``): each ``$...$`` written without TeX (``\\hat{y}`` as ŷ,
    ``\\frac{a}{b}`` as a/b, ``^{(1)}`` as ⁽¹⁾, ``\\delta`` as δ), Markdown's escapes and
    double quotes dropped; no backslash is left."""
    out: list[str] = []
    pos = 0
    while pos < len(heading):
        end = _segment_end(heading, pos)
        piece = heading[pos:end]
        if piece.startswith("$"):
            out.append(tex_plain(piece.strip("$")))
        else:
            out.append(piece[1:] if piece.startswith("\\") else piece)
        pos = end
    return unicodedata.normalize("NFC", "".join(out)).replace('"', "'")


def tex_plain(tex: str) -> str:
    """TeX math as plain Unicode text (see ``toc_label``)."""
    text, pos = _plain(tex, 0)
    return text.strip()


def _plain(tex: str, pos: int, stop: str = "") -> tuple[str, int]:
    """The plain text of ``tex`` from ``pos`` up to ``stop`` (a closing brace), and where
    it ended."""
    out: list[str] = []
    while pos < len(tex) and tex[pos] != stop:
        char = tex[pos]
        if char == "{":
            inner, pos = _plain(tex, pos + 1, "}")
            out.append(inner)
            pos += 1
        elif char in "^_":
            inner, pos = _argument(tex, pos + 1)
            table = _SUPER if char == "^" else _SUB
            translated = inner.translate(table)
            mark = "^" if char == "^" else "_"
            out.append(translated if all(c != d for c, d in zip(inner, translated)) else
                       mark + (inner if len(inner) == 1 else f"({inner})"))
        elif char == "\\":
            name = re.match(r"\\([A-Za-z]+|.)", tex[pos:])[1]
            pos += 1 + len(name)
            while name.isalpha() and tex[pos:pos + 1] == " ":
                pos += 1
            if name == "frac":
                top, pos = _argument(tex, pos)
                bottom, pos = _argument(tex, pos)
                out.append(f"{top}/{bottom}")
            elif name in ACCENTS:
                inner, pos = _argument(tex, pos)
                out.append(inner + ACCENTS[name])
            elif name not in SPACES:
                out.append(SYMBOLS.get(name) or _greek(name))
        else:
            out.append(char)
            pos += 1
    return "".join(out), pos


def _argument(tex: str, pos: int) -> tuple[str, int]:
    """The plain text of one argument (a braced group or a single token) at ``pos``."""
    while pos < len(tex) and tex[pos] == " ":
        pos += 1
    if pos < len(tex) and tex[pos] == "{":
        inner, end = _plain(tex, pos + 1, "}")
        return inner, end + 1
    if pos < len(tex) and tex[pos] == "\\":
        name = re.match(r"\\([A-Za-z]+|.)", tex[pos:])[1]
        return _plain(tex[pos:pos + 1 + len(name)], 0)[0], pos + 1 + len(name)
    return tex[pos:pos + 1], pos + 1


def _greek(name: str) -> str:
    """A greek letter by its TeX name; other commands' names as they are (``log``)."""
    try:
        return unicodedata.lookup(f"GREEK {'CAPITAL' if name[0].isupper() else 'SMALL'} LETTER {name.upper()}")
    except KeyError:
        return name
