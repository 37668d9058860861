"""Injection: text a user writes (a title, the letters of ``names``) can never run as TeX,
Jinja, HTML or JavaScript in any format symgrad writes.

Each payload goes in as the title of the seed's neuron, through ``symgrad derive -o`` in
every format. The LaTeX is compiled by pdflatex without shell escape beside a file
``secret.tex`` that the payloads try to read (its token must not reach the PDF, and no file
``pwned`` may appear); the HTML page is parsed, and opened in headless Chromium after KaTeX
typeset it, for scripts, event handlers and ``javascript:`` links; the notebook's code
cells may hold the text only inside strings and comments; the JSON holds it verbatim.
"""

from __future__ import annotations

import html.parser
import io
import json
import shutil
import subprocess
import tokenize
from pathlib import Path

import nbformat
import pytest

from render_tools import pdflatex_available, require
from symgrad.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SPEC = EXAMPLES / "02_seed_neuron.yaml"
TOKEN = "SECRETTOKEN"

PAYLOADS = {
    "tex input": r"\input{secret}",
    "tex write18": r"\immediate\write18{touch pwned}",
    "tex caret hex": r"^^5cinput{secret}",
    "tex catcode": r"\catcode`\|=0 |input{secret}",
    "tex in math": r"$\input{secret}$ \(\input{secret}\)",
    "tex verbatim end": r"\end{document}\input{secret}",
    "jinja expression": "{{ 1234*1000 }}",
    "jinja statement": "{% for i in range(3) %}LOOP{% endfor %}",
    "html script": "<script>alert('xss')</script>",
    "html attribute": '"><img src=x onerror=alert(1)>',
    "katex href": r"$\href{javascript:alert(1)}{click}$",
    "markdown link": "[click](javascript:alert(1))",
    "markdown html": "<img src=x onerror=alert(1)>",
}
EVALUATED = ("1234000", "LOOPLOOP")
"""What a payload would print if a template evaluated it."""

FORMATS = {  # format: the output's suffix
    "markdown": ".md", "latex": ".tex", "latex-fragment": ".tex", "beamer": ".tex",
    "html": ".html", "notebook": ".ipynb", "json": ".json",
}


def written(tmp_path: Path, payload: str, fmt: str) -> Path:
    """The document of the seed's neuron titled ``payload``, written in ``fmt``."""
    (tmp_path / "secret.tex").write_text(TOKEN + "\n")
    out = tmp_path / f"doc{FORMATS[fmt]}"
    where = ["--figures-from", str(tmp_path)] if fmt in ("latex-fragment", "beamer") else []
    code = main(["derive", str(SPEC), "--title", payload, "--format", fmt, "-o", str(out), *where])
    assert code == 0
    return out


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", PAYLOADS)
def test_no_template_evaluates_a_title(name, fmt, tmp_path):
    text = written(tmp_path, PAYLOADS[name], fmt).read_text(encoding="utf-8")
    for result in EVALUATED:
        assert result not in text
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("name", PAYLOADS)
def test_json_keeps_the_title_verbatim(name, tmp_path):
    document = json.loads(written(tmp_path, PAYLOADS[name], "json").read_text(encoding="utf-8"))
    assert document["title"] == PAYLOADS[name]


def pdftotext(pdf: Path) -> str:
    """The text of ``pdf`` by poppler's pdftotext."""
    run = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


def compiled_text(tex: Path) -> str:
    """pdflatex (no shell escape) on ``tex`` in its folder, and the PDF's text."""
    run = subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode",
                          "-halt-on-error", tex.name], cwd=tex.parent, capture_output=True,
                         text=True, errors="replace", stdin=subprocess.DEVNULL, timeout=180)
    assert run.returncode == 0, run.stdout[-3000:]
    return pdftotext(tex.with_suffix(".pdf"))


BEAMER = r"""\documentclass{beamer}
\usepackage{amsmath,amssymb,graphicx,tikz}
\begin{document}
\input{doc}
\end{document}
"""
TEX_PAYLOADS = [name for name in PAYLOADS if name.startswith("tex") or name == "jinja statement"]


@pytest.mark.parametrize("fmt", ["latex", "beamer"])
@pytest.mark.parametrize("name", TEX_PAYLOADS)
def test_latex_typesets_the_title_and_runs_none_of_it(name, fmt, tmp_path):
    require("pdflatex", pdflatex_available() and shutil.which("pdftotext") is not None,
            "pdflatex or pdftotext is not installed (Debian: texlive-latex-base, poppler-utils)")
    tex = written(tmp_path, PAYLOADS[name], fmt)
    if fmt == "beamer":
        tex = tmp_path / "slides.tex"
        tex.write_text(BEAMER)
    text = compiled_text(tex)
    assert TOKEN not in text
    assert not (tmp_path / "pwned").exists()
    if fmt == "latex" and "secret" in PAYLOADS[name]:
        assert "secret" in text  # the title is shown, as text (slides show no title)


class Elements(html.parser.HTMLParser):
    """Every element's tag and attributes, and the text of each script."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def elements(page: str) -> Elements:
    parsed = Elements()
    parsed.feed(page)
    return parsed


def dangers(parsed: Elements) -> list[str]:
    """The handlers, ``javascript:`` links and non-symgrad scripts among ``parsed``."""
    found = []
    for tag, attrs in parsed.elements:
        for key, value in attrs.items():
            if key.startswith("on"):
                found.append(f"<{tag} {key}=...>")
            if value and value.strip().lower().startswith("javascript:"):
                found.append(f"<{tag} {key}={value}>")
    return found + [s for s in parsed.scripts if "alert" in s]


@pytest.fixture(scope="module")
def plain_page(tmp_path_factory) -> Elements:
    folder = tmp_path_factory.mktemp("plain")
    return elements(written(folder, "A plain title", "html").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", PAYLOADS)
def test_the_page_holds_no_script_or_handler_of_the_title(name, plain_page, tmp_path):
    page = elements(written(tmp_path, PAYLOADS[name], "html").read_text(encoding="utf-8"))
    assert dangers(page) == []
    assert len(page.scripts) == len(plain_page.scripts)
    assert [t for t, _ in page.elements] == [t for t, _ in plain_page.elements]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


BROWSER_PAYLOADS = ["html script", "html attribute", "katex href", "markdown html", "tex in math"]


@pytest.mark.parametrize("name", BROWSER_PAYLOADS)
def test_chromium_after_katex_shows_no_script_handler_or_link(name, tmp_path):
    require("chromium", chromium() is not None, "chromium is not installed (Debian: chromium)")
    page = written(tmp_path, PAYLOADS[name], "html")
    run = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                          f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
                          "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr[-2000:]
    dom = elements(run.stdout)
    assert any("katex" in (attrs.get("class") or "") for _, attrs in dom.elements), \
        "KaTeX did not typeset the page"
    assert dangers(dom) == []
    assert not any(tag == "img" and attrs.get("src") == "x" for tag, attrs in dom.elements)


def code_outside_strings(source: str) -> str:
    """A code cell's source without its string literals and comments."""
    kept = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (tokenize.STRING, tokenize.COMMENT) and \
                not token.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
            kept.append(token.string)
    return " ".join(kept)


@pytest.mark.parametrize("name", PAYLOADS)
def test_the_notebook_runs_none_of_the_title(name, tmp_path):
    notebook = nbformat.read(written(tmp_path, PAYLOADS[name], "notebook"), as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            code = code_outside_strings(cell.source)
            assert "alert" not in code and "secret" not in code and "1234" not in code


@pytest.mark.parametrize("name", ["markdown link", "markdown html", "html script"])
def test_markdown_has_no_raw_html_or_link_of_the_title(name, tmp_path):
    try:
        import markdown
    except ImportError:
        markdown = None
    require("Python-Markdown", markdown is not None,
            "Python-Markdown is not installed (it comes with mkdocs, in the test extra)")
    text = written(tmp_path, PAYLOADS[name], "markdown").read_text(encoding="utf-8")
    title = markdown.markdown(text.splitlines()[0])
    assert "<script" not in title and "<img" not in title and "href" not in title
    assert PAYLOADS[name].replace("<", "&lt;").replace(">", "&gt;") in title  # shown as text


@pytest.mark.parametrize("letter", [r"\input{secret}", "<script>", "{{ 1 }}", r"^^5c", "x}\\input{secret"])
def test_names_refuse_letters_that_are_not_math(letter, tmp_path, capsys):
    out = tmp_path / "doc.tex"
    code = main(["derive", str(SPEC), "--names", f"L={letter}", "-o", str(out)])
    assert code == 2
    assert not out.exists()
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
