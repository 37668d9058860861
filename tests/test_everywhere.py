"""Every gallery derivation goes everywhere a course author puts one, unedited: a Jupyter
notebook (valid, executed cleanly by a real kernel, its numbers agreeing with the
document), a web page (every formula accepted by KaTeX) and beamer slides (compiled by
pdflatex at 4:3 and 16:9 with no overfull box: no line running off a slide, no slide
overfilled). The gallery itself keeps only a few of these copies (output/html,
output/beamer, output/*.ipynb); this renders all of them.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pytest

from render_tools import katex_available, katex_errors, markdown_math_segments, pdflatex_available, require
from symgrad.cli.main import derive_spec, render_derivation
from symgrad.spec import load_spec
from test_html import compile_in_beamer
from test_notebook import EXECUTION_TIMEOUT, kernel_available

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
MAIN = re.compile(r"<main>(.*)</main>", re.S)


@pytest.fixture(scope="module")
def gallery():
    """Each example's spec and derivation (unverified: the gallery tests verify them)."""
    derived = {}
    for path in EXAMPLES:
        spec = load_spec(path)
        derived[path.stem] = spec, derive_spec(spec, source=str(path), verify=False)
    return derived


def rendered(gallery, name: str, fmt: str) -> str:
    spec, derivation = gallery[name]
    return render_derivation(derivation, fmt, spec.detail, view=spec.view, notation=spec.notation)


def test_the_gallery_has_examples():
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize("name", [p.stem for p in EXAMPLES])
def test_the_notebook_validates_and_runs(gallery, name):
    nb = nbformat.reads(rendered(gallery, name, "notebook"), as_version=4)
    nbformat.validate(nb)
    require("a Jupyter kernel", kernel_available(),
            "nbclient or the python3 kernel is missing (pip install -e '.[test]', "
            "then python3 -m ipykernel install --user)")
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=EXECUTION_TIMEOUT, kernel_name="python3").execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors[:1]
    assert "agree with the document" in nb.cells[-1].outputs[0]["text"]


def test_every_web_page_formula_renders_with_katex(gallery):
    require("KaTeX", katex_available(), "KaTeX is not installed (run: npm ci --prefix tests/js)")
    segments, pages = [], 0
    for name in gallery:
        page = rendered(gallery, name, "html")
        text = html.unescape(re.sub(r"<[^>]+>", " ", MAIN.search(page).group(1)))
        segments += [(tex, display) for tex, display, _ in markdown_math_segments(text)]
        pages += 1
    errors = [e for e in katex_errors(segments) if e]
    assert not errors, errors[:3]
    assert pages == len(EXAMPLES) and len(segments) > 50 * pages


@pytest.mark.parametrize("ratio", ["43", "169"])
@pytest.mark.parametrize("name", [p.stem for p in EXAMPLES])
def test_the_slides_compile_and_fit(gallery, name, ratio, tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-latex-base)")
    frames = tmp_path / f"{name}.tex"
    frames.write_text(rendered(gallery, name, "beamer"), encoding="utf-8")
    log = compile_in_beamer(frames, tmp_path, ratio)
    overfull = [line for line in log.splitlines() if line.startswith(("Overfull \\hbox", "Overfull \\vbox"))]
    assert not overfull, overfull
