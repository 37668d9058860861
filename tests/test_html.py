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
import unicodedata
import xml.etree.ElementTree as ET
import subprocess
from pathlib import Path

import pytest

import symgrad
from render_tools import (compile_latex, katex_available, katex_errors, markdown_math_segments,
                          pdflatex_available, require)
from symgrad.cli.files import stale_katex
from symgrad.cli.main import main
from symgrad.pictures import pictures
from symgrad.render.pictures import picture_files
from symgrad.render.document import render
from symgrad.render.environment import KATEX_DIR

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


def linked_files(page: str) -> list[str]:
    """Every file a page's src and href attributes name."""
    return re.findall(r"(?:src|href)=\"([^\"]+)\"", page)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_gallery_pages_load_only_files_beside_them(page):
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=\"(https?:)?//|url\((?!#)", text)
    assert all((page.parent / name).is_file() for name in linked_files(text))


def test_the_page_shows_its_graph_inline_and_its_plots_beside_it(neuron):
    shown = pictures(neuron, "seed")
    page = render(neuron, "html", pictures=shown)
    assert '<figure class="graph plain">\n<svg xmlns="http://www.w3.org/2000/svg"' in page
    svg = re.search(r"<svg.*?</svg>", page, re.S).group()
    texts = {unicodedata.normalize("NFC", t.text)
             for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")}
    assert {"ŷ", "∂L/∂w = −0.123534", "ŷ (1 − ŷ)", "= 0.177894"} <= texts
    images = re.findall(r'<img src="([^"]+)"', page)
    assert images == ["seed.tangent.svg", "seed.training.svg"]
    assert set(images) == set(picture_files(shown, "html"))
    assert "\n\n" not in svg, "a blank line would split the SVG into paragraphs"


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
    assert sorted(p.name for p in page.parent.iterdir()) == [
        "katex", "seed.html", "seed.tangent.svg", "seed.training.svg"]
    assert linked_files(page.read_text(encoding="utf-8"))[-2:] == ["seed.tangent.svg", "seed.training.svg"]


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
    """The page, its katex folder and its pictures copied into ``folder`` (Chromium
    writes nothing there)."""
    shutil.copytree(page.parent / "katex", folder / "katex")
    for picture in page.parent.glob(f"{page.stem}.*.svg"):
        shutil.copy(picture, folder / picture.name)
    return Path(shutil.copy(page, folder / page.name))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A gallery page, copied into a folder of its own and loaded once in headless
    Chromium: ``loaded(page)`` is (the copy, the DOM after its scripts ran)."""
    pages: dict[Path, tuple[Path, str]] = {}

    def load(page: Path) -> tuple[Path, str]:
        require("chromium", chromium() is not None, "chromium is not installed (Debian: chromium)")
        if page not in pages:
            folder = tmp_path_factory.mktemp(page.stem)
            local = copy_page(page, folder / "site")
            dom = headless(local, folder / "profile", "--dump-dom")
            assert dom.returncode == 0, dom.stderr[-2000:]
            pages[page] = local, dom.stdout
        return pages[page]
    return load


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_chromium_typesets_every_formula_of_the_page(page, loaded):
    _, dom = loaded(page)
    segments = markdown_math_segments(main_text(page.read_text(encoding="utf-8")))
    typeset = dom.count('<span class="katex">')
    assert "katex-error" not in dom
    assert typeset == len(segments) > 20, f"{typeset} formulas typeset of {len(segments)}"
    assert "$" not in main_text(dom), "math left untypeset"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_chromium_shows_the_graph_and_loads_the_plots(page, loaded, tmp_path):
    local, dom = loaded(page)
    graph = re.search(r'<figure class="graph plain[^"]*">\s*<svg.*?</svg>', dom, re.S)
    assert graph and graph.group().count("<circle") >= 6 and "katex" not in graph.group()
    assert "∂L/∂L = 1" in graph.group() or ">1</text>" in graph.group()
    images = re.findall(r'<img src="([^"]+)"', dom)
    assert images and all((local.parent / name).is_file() for name in images)
    shot = tmp_path / "page.png"
    run = headless(local, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1000,6000")
    assert run.returncode == 0 and png_size(shot) == (1000, 6000)


def test_chromium_screenshot_of_the_seed_page(tmp_path):
    require("chromium", chromium() is not None, "chromium is not installed (Debian: chromium)")
    local = copy_page(OUTPUT / "html" / "02_seed_neuron.html", tmp_path / "site")
    shot = tmp_path / "seed.png"
    run = headless(local, tmp_path / "profile", f"--screenshot={shot}")
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    assert png_size(shot) == (1000, 1400) and shot.stat().st_size > 20_000


# --- beamer ------------------------------------------------------------------------


BEAMER = r"""\documentclass[aspectratio=%s]{beamer}
\usepackage{amssymb}
\usepackage{tikz}
\graphicspath{{%s/}}
\begin{document}
\input{%s}
\end{document}
"""


def compile_in_beamer(frames: Path, folder: Path, ratio: str = "43") -> str:
    """Compile ``frames`` in a presentation of aspect ``ratio`` (43, 169) that finds the
    pictures beside them; return the log of the last pass."""
    wrapper = folder / f"slides_{frames.stem}_{ratio}.tex"
    wrapper.write_text(BEAMER % (ratio, frames.resolve().parent.as_posix(),
                                 frames.resolve().as_posix()), encoding="utf-8")
    compile_latex(wrapper)
    return pdflatex_log(wrapper)


def pdflatex_log(source: Path) -> str:
    """The log of one more pdflatex pass over ``source`` (compile_latex keeps none)."""
    out = source.parent / "log"
    out.mkdir(exist_ok=True)
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                    f"-output-directory={out}", source.name], cwd=source.parent,
                   capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    return (out / f"{source.stem}.log").read_text(errors="replace")


def test_beamer_frames_are_balanced_and_none_is_empty(neuron):
    frames = render(neuron, "beamer", detail="full")
    assert frames.count(r"\begin{frame}") == frames.count(r"\end{frame}") > 5
    assert not re.search(r"\\begin\{frame\}[^\n]*\n\s*(\\par\\vspace\{[^}]*\}\s*)?\\end\{frame\}", frames)
    assert r"\documentclass" not in frames and "\\def\\symgradtitle{The model}% heading level 2\n\\begin{frame}[shrink]" in frames


@pytest.mark.parametrize("ratio", ["43", "169"])
@pytest.mark.parametrize("frames", FRAMES, ids=lambda p: p.name)
def test_gallery_beamer_frames_compile_without_overfull_boxes(frames, ratio, tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-pictures)")
    log = compile_in_beamer(frames, tmp_path, ratio)
    assert "Overfull \\hbox" not in log and "Overfull \\vbox" not in log, \
        "\n".join(line for line in log.splitlines() if line.startswith("Overfull"))


def test_gallery_frames_show_their_pictures_each_on_the_frame_of_its_text():
    frames = (OUTPUT / "beamer" / "03_two_layer_network.tex").read_text(encoding="utf-8")
    graph = frames.split("\\def\\symgradtitle{The computational graph}")[1].split("\\end{frame}")[0]
    assert "Each node is a quantity" in graph and "\\begin{tikzpicture}" in graph
    shown = re.findall(r"\\includegraphics\[[^]]*\]\{([^}]+)\}", frames)
    assert shown == ["03_two_layer_network.training.pdf"]
    assert all((OUTPUT / "beamer" / name).read_bytes().startswith(b"%PDF") for name in shown)
    seed = (OUTPUT / "beamer" / "02_seed_neuron.tex").read_text(encoding="utf-8")
    slope = seed.split("\\def\\symgradtitle{The gradient as a slope}")[1].split("\\end{frame}")[0]
    assert "the dashed line is its tangent" in slope and "02_seed_neuron.tangent.pdf" in slope


def test_beamer_with_pictures_compiles(neuron, tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-pictures)")
    shown = pictures(neuron, "seed")
    frames = tmp_path / "seed.tex"
    frames.write_text(render(neuron, "beamer", detail="full", pictures=shown), encoding="utf-8")
    for name, data in picture_files(shown, "beamer").items():
        (tmp_path / name).write_bytes(data)
    assert sorted(picture_files(shown, "beamer")) == ["seed.tangent.pdf", "seed.training.pdf"]
    log = compile_in_beamer(frames, tmp_path, "169")
    assert "Overfull \\hbox" not in log


def test_full_detail_beamer_frames_compile_with_pdflatex(neuron, tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-latex-base)")
    frames = tmp_path / "neuron.tex"
    frames.write_text(render(neuron, "beamer", detail="full"), encoding="utf-8")
    compile_in_beamer(frames, tmp_path)


def test_the_gallery_has_pages_and_frames():
    assert {p.stem for p in PAGES} == {p.stem for p in FRAMES} >= {"02_seed_neuron"}


def test_two_fragments_compile_in_one_presentation(neuron, tmp_path):
    """The frames define what they need (\\symgradfit) so that a second fragment
    \\input into the same presentation does not define it again."""
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-latex-base)")
    quotient = symgrad.derive("log(w**2 + 1)/(w*x + 1)", wrt="w", at={"w": 0.5, "x": 2.0})
    first, second = tmp_path / "first.tex", tmp_path / "second.tex"
    first.write_text(render(neuron, "beamer"), encoding="utf-8")
    second.write_text(render(quotient, "beamer", detail="full"), encoding="utf-8")
    both = tmp_path / "both.tex"
    both.write_text(f"\\input{{{first.as_posix()}}}\n\\input{{{second.as_posix()}}}\n", encoding="utf-8")
    log = compile_in_beamer(both, tmp_path)
    assert "Overfull" not in log and log.count("\\symgradfitbox=\\box") == 1


@pytest.mark.parametrize("ratio", ["43", "169"])
def test_a_display_too_wide_for_the_slide_is_scaled_to_fit(neuron, ratio, tmp_path):
    """\\symgradfit, as the frames define it, shrinks an unbreakable display to the line
    width only when it is wider: the same display without it runs off the slide."""
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-latex-base)")
    preamble = render(neuron, "beamer").split("\\begin{frame}")[0]
    top = " + ".join(rf"x^{{{k}}} \log(w^{{{2 * k}}} + 1)" for k in range(1, 7))
    wide = rf"\frac{{\frac{{2 w (w x + 1)}}{{w^{{2}} + 1}} - {top}}}{{(w x + 1)^{{2}}}}"
    narrow = r"\frac{1}{w}"
    logs = {}
    for name, body in {"fitted": rf"\[ \symgradfit{{{wide}}} \] \[ \symgradfit{{{narrow}}} \]",
                       "plain": rf"\[ {wide} \]"}.items():
        frames = tmp_path / f"{name}.tex"
        frames.write_text(preamble + "\\begin{frame}{Wide}\n" + body + "\n\\end{frame}\n}\n", encoding="utf-8")
        logs[name] = compile_in_beamer(frames, tmp_path, ratio)
    assert "Overfull \\hbox" in logs["plain"] and "Overfull" not in logs["fitted"]
