"""Markdown flavours: the math delimiters that GitHub, MkDocs and GitBook each read.

The delimiters themselves are declared in ``templates/markdown/markup.j2`` (``INLINE``
and ``DISPLAY``), where the display macros use them. Inline math is different: the
shared templates (``common/*.j2``) write it as ``$...$`` for LaTeX and Markdown alike, so
``inline_math`` swaps those delimiters for the flavour's after rendering. It relies on
what the templates guarantee: user text has its ``$`` escaped, and display math of every
flavour is written with the flavour's own delimiters, which this pass leaves alone.
"""

from __future__ import annotations

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
