"""HTML pages and beamer frames: what they hold, and the tools that read them.

A page is loaded in headless Chromium, offline, and must come out with its math
typeset by the KaTeX shipped with symgrad; beamer frames must compile with pdflatex
inside a beamer presentation. Regenerate the gallery's copies with `symgrad gallery`.
"""

from __future__ import annotations

import html
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

import symgrad
from render_tools import (compile_latex, katex_available, katex_errors, markdown_math_segments,
                          pdflatex_available, require)
from symgrad.cli import main, stale_katex
from symgrad.render import KATEX_DIR, render

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "output"
PAGES = sorted((OUTPUT / "html").glob("*.html"))
FRAMES = sorted((OUTPUT / "beamer").glob("*.tex"))
SEED = ROOT / "examples" / "02_seed_neuron.yaml"
CHROMIUM_TIMEOUT = 120
MAIN = re.compile(r"<main>(.*)</main>", re.S)


@pytest.fixture(scope="module")
def neuron():
    graph = symgrad.with_loss(symgrad.neuron("sigmoid", bias=False), "squared_error")
    return symgrad.derive(graph, wrt="w", at={"x": 1.5, "w": 0.8, "y": 1.0}, learning_rate=0.1,
                          title="A <neuron> & its $5 gradient")


def main_text(page: str) -> str:
    """The text of a page's main element, its tags dropped and its entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", MAIN.search(page).group(1)))


# --- the page itself ---------------------------------------------------------------


def test_the_page_escapes_text_and_keeps_math_for_katex(neuron):
    page = render(neuron, "html", detail="full")
    assert page.startswith("<!DOCTYPE html>")
    assert '<span class="plain">A &lt;neuron&gt; &amp; its $5 gradient</span>' in page
    assert "<title>A &lt;neuron&gt; &amp; its $5 gradient</title>" in page
    assert "z &amp;= w x" in page and "<neuron>" not in page
    assert '<link rel="stylesheet" href="katex/katex.min.css">' in page
    assert "<p>Here $x$ is the input" in page and '<div class="step"' in page


def test_the_page_makes_no_request_beyond_its_own_folder(neuron):
    page = render(neuron, "html")
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    for linked in re.findall(r"(?:src|href)=\"([^\"]+)\"", page):
        assert linked.startswith("katex/") and (KATEX_DIR / linked[len("katex/"):]).is_file()


def test_katex_ships_with_its_licence_and_fonts():
    assert "MIT License" in (KATEX_DIR / "LICENSE").read_text(encoding="utf-8")
    fonts = re.findall(r"url\((fonts/[^)]+\.woff2)\)", (KATEX_DIR / "katex.min.css").read_text())
    assert fonts and all((KATEX_DIR / f).is_file() for f in fonts)


@pytest.mark.parametrize("detail", ["brief", "full"])
def test_every_math_segment_of_a_page_renders_with_katex(neuron, detail):
    require("KaTeX", katex_available(), "KaTeX is not installed (run: npm ci --prefix tests/js)")
    text = main_text(render(neuron, "html", detail=detail)).replace("$5", "5")
    segments = markdown_math_segments(text)
    errors = katex_errors([(tex, display) for tex, display, _ in segments])
    assert len(segments) > 20 and not [e for e in errors if e]


def test_the_cli_writes_the_page_with_katex_beside_it(tmp_path, capsys):
    page = tmp_path / "pages" / "seed.html"
    assert main(["derive", str(SEED), "--no-verify", "-o", str(page)]) == 0
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert stale_katex(page.parent) == [] and (page.parent / "katex" / "LICENSE").is_file()
    assert sorted(p.name for p in page.parent.iterdir()) == ["katex", "seed.html"]


def test_the_gallery_pages_have_their_katex():
    assert PAGES and stale_katex(OUTPUT / "html") == [], "run `symgrad gallery` to copy KaTeX"


# --- Chromium ----------------------------------------------------------------------


def chromium() -> str | None:
    """The path of Debian's chromium (or a chromium-browser), if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def headless(page: Path, profile: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """Load ``page`` in headless Chromium with a fresh profile and no network, giving its
    scripts ten seconds of virtual time; ``options`` say what to write."""
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--no-first-run", f"--user-data-dir={profile}", "--virtual-time-budget=10000",
               "--window-size=1000,1400", *options, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT,
                          stdin=subprocess.DEVNULL)


def png_size(path: Path) -> tuple[int, int]:
    """A PNG's width and height, from its header."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def copy_page(page: Path, folder: Path) -> Path:
    """The page and its katex folder copied into ``folder`` (Chromium writes nothing there)."""
    shutil.copytree(page.parent / "katex", folder / "katex")
    return Path(shutil.copy(page, folder / page.name))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_chromium_typesets_every_formula_of_the_page(page, tmp_path):
    require("chromium", chromium() is not None, "chromium is not installed (Debian: chromium)")
    local = copy_page(page, tmp_path / "site")
    dom = headless(local, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    segments = markdown_math_segments(main_text(page.read_text(encoding="utf-8")))
    typeset = dom.stdout.count('<span class="katex">')
    assert "katex-error" not in dom.stdout
    assert typeset == len(segments) > 20, f"{typeset} formulas typeset of {len(segments)}"
    assert "$" not in main_text(dom.stdout), "math left untypeset"


def test_chromium_screenshot_of_the_seed_page(tmp_path):
    require("chromium", chromium() is not None, "chromium is not installed (Debian: chromium)")
    local = copy_page(OUTPUT / "html" / "02_seed_neuron.html", tmp_path / "site")
    shot = tmp_path / "seed.png"
    run = headless(local, tmp_path / "profile", f"--screenshot={shot}")
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    assert png_size(shot) == (1000, 1400) and shot.stat().st_size > 20_000


# --- beamer ------------------------------------------------------------------------


BEAMER = r"""\documentclass{beamer}
\usepackage{amssymb}
\begin{document}
\input{%s}
\end{document}
"""


def compile_in_beamer(frames: Path, folder: Path) -> None:
    wrapper = folder / f"slides_{frames.stem}.tex"
    wrapper.write_text(BEAMER % frames.resolve().as_posix(), encoding="utf-8")
    compile_latex(wrapper)


def test_beamer_frames_are_balanced_and_none_is_empty(neuron):
    frames = render(neuron, "beamer", detail="full")
    assert frames.count(r"\begin{frame}") == frames.count(r"\end{frame}") > 5
    assert not re.search(r"\\begin\{frame\}[^\n]*\n\s*\\end\{frame\}", frames)
    assert r"\documentclass" not in frames and r"\begin{frame}[allowframebreaks]{The model}" in frames


@pytest.mark.parametrize("frames", FRAMES, ids=lambda p: p.name)
def test_gallery_beamer_frames_compile_with_pdflatex(frames, tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-latex-base)")
    compile_in_beamer(frames, tmp_path)


def test_full_detail_beamer_frames_compile_with_pdflatex(neuron, tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-latex-base)")
    frames = tmp_path / "neuron.tex"
    frames.write_text(render(neuron, "beamer", detail="full"), encoding="utf-8")
    compile_in_beamer(frames, tmp_path)


def test_the_gallery_has_pages_and_frames():
    assert {p.stem for p in PAGES} == {p.stem for p in FRAMES} >= {"02_seed_neuron"}
