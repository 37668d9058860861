"""Tests of the render-tool helpers in tests/render_tools.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from render_tools import (
    UnclosedDisplayMath,
    compile_latex,
    katex_available,
    katex_errors,
    markdown_math_segments,
    pdflatex_available,
    require,
)

SEGMENT_CASES = [
    ("display block", "$$\n\\frac{a}{b}\n$$\n", [("\\frac{a}{b}", True, 1)]),
    ("display after text", "Loss:\n\n$$\nL = x^2\n= y\n$$\n", [("L = x^2\n= y", True, 3)]),
    ("display on one line", "see $$a+b$$ here", [("a+b", True, 1)]),
    ("inline", "The loss $L = x^2$ here.", [("L = x^2", False, 1)]),
    ("two inline", "$a$ and\n$b_1$", [("a", False, 1), ("b_1", False, 2)]),
    ("inline across a line break", "so $a\n+ b$ ok", [("a\n+ b", False, 1)]),
    ("inline and display", "$x$ then $$y$$", [("x", False, 1), ("y", True, 1)]),
    ("prices are text", "costs $5 and $10 today", []),
    ("space after opening", "a $ x$ b", []),
    ("space before closing", "a $x $ b", []),
    ("digit after closing", "a $x$5 b", []),
    ("inline does not cross a blank line", "$a\n\nb$", []),
    ("backtick fence skipped", "```\n$x$\n$$\n```\n$y$\n", [("y", False, 5)]),
    ("tilde fence skipped", "~~~python\nprint('$a$')\n~~~\n", []),
    ("longer fence", "````\n```\n$x$\n````\n$z$", [("z", False, 5)]),
    ("code span skipped", "`$x$` and $y$", [("y", False, 1)]),
    ("double-backtick code span", "``a `$x$` b`` $y$", [("y", False, 1)]),
    ("escaped dollar", "price \\$5 and $x$", [("x", False, 1)]),
    ("escaped dollars around", "\\$a\\$", []),
    ("escaped dollar in math", "$\\$x$", [("\\$x", False, 1)]),
    ("no math", "plain text", []),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [case[1:] for case in SEGMENT_CASES],
    ids=[case[0] for case in SEGMENT_CASES],
)
def test_markdown_math_segments(text: str, expected: list[tuple[str, bool, int]]) -> None:
    assert markdown_math_segments(text) == expected


@pytest.mark.parametrize(
    ("text", "line"),
    [("$$\na = b\n", 1), ("intro\n\n$$\na\n\nb\n$$\n", 3), ("x $$ y", 1)],
    ids=["unclosed", "blank line inside", "unclosed inline"],
)
def test_unclosed_display_math_raises(text: str, line: int) -> None:
    with pytest.raises(UnclosedDisplayMath) as info:
        markdown_math_segments(text)
    assert info.value.line == line


@given(st.from_regex(r"[A-Za-z][A-Za-z0-9_^{}+\- ]{0,20}[A-Za-z0-9}]", fullmatch=True))
def test_inline_math_round_trips(tex: str) -> None:
    assert markdown_math_segments(f"value ${tex}$ here") == [(tex, False, 1)]


def test_require_passes_when_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    require("tool", True, "unused")


def test_require_skips_off_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="tool missing"):
        require("tool", False, "tool missing")


def test_require_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="tool missing"):
        require("tool", False, "tool missing")


def require_katex() -> None:
    """Skip (or fail on CI) when KaTeX is not installed under tests/js."""
    require("KaTeX", katex_available(), "node or KaTeX missing: run `npm ci --prefix tests/js`")


def require_pdflatex() -> None:
    """Skip (or fail on CI) when pdflatex is not installed."""
    require("pdflatex", pdflatex_available(), "pdflatex missing: install texlive-latex-base")


def test_katex_errors_of_nothing() -> None:
    assert katex_errors([]) == []


def test_katex_flags_bad_tex_and_accepts_good() -> None:
    require_katex()
    bad, good, display_only = katex_errors(
        [("\\frac{a}{", False), ("\\frac{a}{b}", True), ("x \\tag{1}", False)]
    )
    assert isinstance(bad, str) and "KaTeX parse error" in bad
    assert good is None
    assert isinstance(display_only, str)


MINIMAL_DOCUMENT = r"""\documentclass{article}
\usepackage{amsmath}
\begin{document}
\section{Loss}\label{sec:loss}
See Section~\ref{sec:loss}: $\frac{\partial L}{\partial \hat{y}} = \hat{y} - y$.
\end{document}
"""

UNDEFINED_COMMAND_DOCUMENT = r"""\documentclass{article}
\begin{document}
Fine so far.
$\nosuchcommand{x}$
\end{document}
"""


def test_compile_latex_accepts_valid_document(tmp_path: Path) -> None:
    require_pdflatex()
    source = tmp_path / "ok.tex"
    source.write_text(MINIMAL_DOCUMENT)
    compile_latex(source)
    assert [p.name for p in tmp_path.iterdir()] == ["ok.tex"]


def test_compile_latex_rejects_undefined_control_sequence(tmp_path: Path) -> None:
    require_pdflatex()
    source = tmp_path / "bad.tex"
    source.write_text(UNDEFINED_COMMAND_DOCUMENT)
    with pytest.raises(AssertionError) as info:
        compile_latex(source)
    message = str(info.value)
    assert "! Undefined control sequence." in message
    assert "l.4" in message and "\\nosuchcommand" in message
