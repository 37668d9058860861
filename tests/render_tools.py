"""Helpers for tests that check rendered output with external tools.

pdflatex compiles LaTeX documents; KaTeX (under node, from tests/js) renders
the math found in Markdown. Tests call :func:`require` first, so a missing
tool skips the test on a developer's machine but fails it on CI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

JS_DIR = Path(__file__).resolve().parent / "js"
KATEX_SCRIPT = JS_DIR / "katex_check.js"
LATEX_TIMEOUT = 120
LATEX_MAX_RUNS = 3
KATEX_TIMEOUT = 120

RERUN_REQUEST = re.compile(
    r"Rerun to get|Label\(s\) may have changed|Please rerun LaTeX|\(rerunfilecheck\)\s+Rerun"
)
LOG_CONTEXT = re.compile(r"l\.\d+ ")
BLANK_LINE = re.compile(r"\n[ \t]*\n")
FENCE_OPEN = re.compile(r"^[ \t>]*(`{3,}|~{3,})(.*)$")

Segment = tuple[str, bool, int]


class UnclosedDisplayMath(ValueError):
    """A ``$$`` that opens display math has no closing ``$$`` in its paragraph."""

    def __init__(self, line: int):
        self.line = line
        super().__init__(
            f"line {line}: unclosed $$ (display math must close before the next blank line)"
        )


def on_ci() -> bool:
    """Return True when the environment variable CI is ``true``."""
    return os.environ.get("CI", "").strip().lower() == "true"


def require(tool_name: str, available: bool, reason: str) -> None:
    """Skip the calling test when a tool is missing, or fail it on CI."""
    if available:
        return
    if on_ci():
        pytest.fail(f"{tool_name} is required on CI but missing: {reason}", pytrace=False)
    pytest.skip(reason)


# --- pdflatex -----------------------------------------------------------------


def pdflatex_available() -> bool:
    """Return True when ``pdflatex`` is on PATH."""
    return shutil.which("pdflatex") is not None


def compile_latex(tex_path: str | os.PathLike[str]) -> None:
    """Compile a LaTeX document with pdflatex, or raise AssertionError.

    The document is compiled from its own folder (so relative inputs resolve)
    into a temporary output directory, and rerun while the log asks for it.
    """
    source = Path(tex_path).resolve()
    with tempfile.TemporaryDirectory(prefix="symgrad-latex-") as out:
        out_dir = Path(out)
        for _ in range(LATEX_MAX_RUNS):
            log = _pdflatex_pass(source, out_dir)
            if not RERUN_REQUEST.search(log):
                break


def _pdflatex_pass(source: Path, out_dir: Path) -> str:
    """Run one pdflatex pass and return its log; raise AssertionError on failure."""
    command = [
        "pdflatex",
        "-interaction=nonstopmode",
        "-halt-on-error",
        f"-output-directory={out_dir}",
        source.name,
    ]
    env = {**os.environ, "max_print_line": "10000"}
    try:
        proc = subprocess.run(
            command,
            cwd=source.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=LATEX_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"pdflatex timed out after {LATEX_TIMEOUT} s on {source}") from None
    log_path = out_dir / f"{source.stem}.log"
    log = log_path.read_text(errors="replace") if log_path.exists() else proc.stdout
    if proc.returncode != 0 or not (out_dir / f"{source.stem}.pdf").exists():
        raise AssertionError(
            f"pdflatex failed on {source} (exit {proc.returncode}):\n{latex_log_errors(log)}"
        )
    return log


def latex_log_errors(log: str) -> str:
    """Return the ``!`` error lines of a TeX log, each with its ``l.NN`` context."""
    lines = log.splitlines()
    picked: list[str] = []
    for index, line in enumerate(lines):
        if line.startswith("!"):
            picked.append(line)
            picked.extend(_error_context(lines[index + 1 : index + 12]))
    return "\n".join(picked) if picked else "\n".join(lines[-20:])


def _error_context(following: list[str]) -> list[str]:
    """Return the ``l.NN`` line after an error and the rest-of-line that TeX prints after it."""
    for offset, line in enumerate(following):
        if line.startswith("!"):
            return []
        if LOG_CONTEXT.match(line):
            rest = following[offset + 1 : offset + 2]
            return [line] + [r for r in rest if r.strip()]
    return []


# --- KaTeX --------------------------------------------------------------------


def katex_available() -> bool:
    """Return True when node is on PATH and KaTeX is installed under tests/js."""
    return _node() is not None and (JS_DIR / "node_modules" / "katex" / "package.json").is_file()


def _node() -> str | None:
    """Return the path of the node executable, if any."""
    return shutil.which("node") or shutil.which("nodejs")


def katex_errors(segments: list[tuple[str, bool]]) -> list[str | None]:
    """Render each ``(tex, display)`` with KaTeX; return None or the error message for each."""
    if not segments:
        return []
    node = _node()
    if node is None:
        raise RuntimeError("node is not on PATH")
    payload = json.dumps([{"tex": tex, "display": display} for tex, display in segments])
    proc = subprocess.run(
        [node, str(KATEX_SCRIPT)],
        input=payload,
        capture_output=True,
        text=True,
        timeout=KATEX_TIMEOUT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"katex_check.js exited {proc.returncode}: {proc.stderr.strip()}")
    results = json.loads(proc.stdout)
    if len(results) != len(segments):
        raise RuntimeError(f"katex_check.js gave {len(results)} results for {len(segments)} segments")
    return results


# --- Markdown math ------------------------------------------------------------


def markdown_math_segments(text: str) -> list[Segment]:
    """Return ``(tex, display, line)`` for every math segment of a Markdown text.

    Follows pandoc: ``$$...$$`` is display math and may span lines but not a
    blank line; ``$...$`` is inline math whose opening ``$`` is followed by a
    non-space and whose closing ``$`` is preceded by a non-space and not
    followed by a digit, within one paragraph. Fenced code blocks, inline code
    spans and backslash escapes such as ``\\$`` are skipped. Line numbers are
    1-based and point at the opening delimiter.

    Raises UnclosedDisplayMath for a ``$$`` that does not close.
    """
    return _MathScanner(_blank_fenced_code(text)).scan()


def _blank_fenced_code(text: str) -> str:
    """Return the text with every line of a fenced code block made empty."""
    lines = text.split("\n")
    out: list[str] = []
    closing: re.Pattern[str] | None = None
    for line in lines:
        if closing is not None:
            if closing.match(line):
                closing = None
            out.append("")
            continue
        opening = FENCE_OPEN.match(line)
        if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            fence = opening.group(1)
            closing = re.compile(rf"^[ \t>]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
            out.append("")
            continue
        out.append(line)
    return "\n".join(out)


class _MathScanner:
    """Left-to-right scan of fence-free Markdown for math segments."""

    def __init__(self, text: str):
        self.text = text
        self.segments: list[Segment] = []

    def scan(self) -> list[Segment]:
        """Return all segments in document order."""
        pos = 0
        while pos < len(self.text):
            pos = self._step(pos)
        return self.segments

    def _step(self, pos: int) -> int:
        """Handle the construct starting at pos and return where scanning resumes."""
        char = self.text[pos]
        if char == "\\":
            return pos + 2
        if char == "`":
            return self._skip_code_span(pos)
        if self.text.startswith("$$", pos):
            return self._display(pos)
        if char == "$":
            return self._inline(pos)
        return pos + 1

    def _paragraph_end(self, pos: int) -> int:
        """Return the index of the blank line that ends the paragraph containing pos."""
        blank = BLANK_LINE.search(self.text, pos)
        return blank.start() if blank else len(self.text)

    def _line(self, pos: int) -> int:
        """Return the 1-based line number of pos."""
        return self.text.count("\n", 0, pos) + 1

    def _skip_code_span(self, pos: int) -> int:
        """Skip a code span opened by the backtick run at pos, or just the run if unclosed."""
        run_end = pos
        while run_end < len(self.text) and self.text[run_end] == "`":
            run_end += 1
        ticks = self.text[pos:run_end]
        closing = re.compile(rf"(?<!`){ticks}(?!`)")
        match = closing.search(self.text, run_end, self._paragraph_end(pos))
        return match.end() if match else run_end

    def _display(self, pos: int) -> int:
        """Record the ``$$...$$`` block at pos and return the index after it."""
        close = self.text.find("$$", pos + 2, self._paragraph_end(pos))
        if close < 0:
            raise UnclosedDisplayMath(self._line(pos))
        tex = self.text[pos + 2 : close].strip()
        self.segments.append((tex, True, self._line(pos)))
        return close + 2

    def _inline(self, pos: int) -> int:
        """Record the ``$...$`` span at pos if pandoc would; return where to resume."""
        text = self.text
        if pos + 1 >= len(text) or text[pos + 1].isspace():
            return pos + 1
        close = self._inline_close(pos + 1, self._paragraph_end(pos))
        if close is None:
            return pos + 1
        self.segments.append((text[pos + 1 : close].strip(), False, self._line(pos)))
        return close + 1

    def _inline_close(self, start: int, limit: int) -> int | None:
        """Return the index of the ``$`` closing inline math opened before start, if valid."""
        text = self.text
        pos = start
        while pos < limit:
            if text[pos] == "\\":
                pos += 2
                continue
            if text[pos] == "$":
                after = text[pos + 1 : pos + 2]
                if text[pos - 1].isspace() or after.isdigit():
                    return None
                return pos
            pos += 1
        return None


# --- Markdown flavours --------------------------------------------------------

FLAVOUR_TOKEN = {
    "mkdocs": re.compile(r"\\[()\[\]]|\\."),
    "gitbook": re.compile(r"\$\$|\\."),
}


def flavoured_math_segments(text: str, flavour: str) -> list[Segment]:
    """Return ``(tex, display, line)`` for every math segment of Markdown written for
    ``flavour``: ``github`` as :func:`markdown_math_segments` reads it; ``mkdocs`` as
    pymdownx.arithmatex reads ``\\(...\\)`` (inline) and ``\\[...\\]`` (display, a block:
    ``\\[`` starts its line, so an escaped bracket in text is no math);
    ``gitbook`` as GitBook reads ``$$...$$``, display when the opening ``$$`` ends its line.

    Raises ValueError for a delimiter that does not pair up.
    """
    if flavour == "github":
        return markdown_math_segments(text)
    segments: list[Segment] = []
    opened: re.Match[str] | None = None
    for token in FLAVOUR_TOKEN[flavour].finditer(_blank_fenced_code(text)):
        kind = token.group()
        if kind not in (r"\(", r"\)", r"\[", r"\]", "$$") or _escaped_bracket(text, token, opened):
            continue
        if opened is None:
            opened = token
            continue
        expected = {r"\(": r"\)", r"\[": r"\]", "$$": "$$"}[opened.group()]
        if kind != expected:
            raise ValueError(f"line {text.count(chr(10), 0, token.start()) + 1}: {kind} "
                             f"where {expected} should close math")
        display = opened.group() == r"\[" or text[opened.end():opened.end() + 1] == "\n"
        segments.append((text[opened.end():token.start()].strip(), display,
                         text.count("\n", 0, opened.start()) + 1))
        opened = None
    if opened is not None:
        raise ValueError(f"line {text.count(chr(10), 0, opened.start()) + 1}: unclosed {opened.group()}")
    return segments


def _escaped_bracket(text: str, token: re.Match[str], opened: re.Match[str] | None) -> bool:
    """True for a ``\\[`` that does not start its line, or a ``\\]`` that closes no ``\\[``:
    an escaped bracket in text, such as ``W2\\[0\\]``."""
    if token.group() == r"\[":
        line_start = text.rfind("\n", 0, token.start()) + 1
        return opened is not None or text[line_start:token.start()].strip() != ""
    if token.group() == r"\]":
        return opened is None or opened.group() != r"\["
    return False
