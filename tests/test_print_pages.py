"""The gallery's one-neuron documents as printed (pdflatex, then pdftotext page by page): the
last page is not an orphan of a line or two, a plot stays on the page of the sentence that
introduces it, and the verification sentence is not alone on a page (it may open one when the
next section follows it there)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from render_tools import pdflatex_available, require
from symgrad.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
VERIFIED = "Every step of this derivation was checked"


def printed_pages(name: str, tmp_path: Path) -> list[str]:
    """The text of each page of the example's LaTeX document."""
    tex = tmp_path / f"{name}.tex"
    assert main(["derive", str(EXAMPLES / f"{name}.yaml"), "-o", str(tex)]) == 0
    for _ in range(2):
        run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                             cwd=tmp_path, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, timeout=300)
        assert run.returncode == 0, run.stdout[-2000:]
    text = subprocess.run(["pdftotext", "-layout", f"{name}.pdf", "-"], cwd=tmp_path,
                          capture_output=True, text=True, check=True).stdout
    return text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")


def lines(page: str) -> list[str]:
    """The page's lines of text, without its page number."""
    found = [line.strip() for line in page.splitlines() if line.strip()]
    return found[:-1] if found and found[-1].isdigit() else found


def page_of(pages: list[str], text: str) -> int:
    """The page whose text holds ``text``."""
    return next(i for i, page in enumerate(pages) if text in " ".join(page.split()))


def page_of_line(pages: list[str], line: str) -> int:
    """The page with a line that is ``line`` (a plot's axis label or legend entry)."""
    def bare(text: str) -> str:  # pdftotext keeps a plot's spaces or not
        return text.replace(" ", "")

    return next(i for i, page in enumerate(pages) if bare(line) in map(bare, lines(page)))


@pytest.mark.parametrize("name, plots", [
    ("02_seed_neuron", {"Repeating the step": "η = 0.1",
                        "Along w, with everything else fixed": "L along w"}),
    ("14_neuron_weight_and_bias", {"Repeating the step": "η = 1",
                                   "Over w and b together": "after one step (η = 1)"}),
    ("04_softplus_squared", {}),
    ("08_relu", {}),
])
def test_printed_pages_have_no_orphans_and_plots_stay_with_their_text(name, plots, tmp_path):
    require("pdflatex", pdflatex_available() and shutil.which("pdftotext") is not None,
            "pdflatex and pdftotext are not installed")
    pages = printed_pages(name, tmp_path)
    assert len(lines(pages[-1])) >= 3, f"{name}: the last page holds {lines(pages[-1])}"
    for sentence, plot in plots.items():
        assert page_of(pages, sentence) == page_of_line(pages, plot), (name, sentence)
    verified = [i for i, page in enumerate(pages) if VERIFIED in " ".join(page.split())]
    for i in verified:
        before, after = " ".join(pages[i].split()).split(VERIFIED, 1)
        # the sentence is two lines at most; a page it opens must go on with the next section
        assert before.strip() or len(lines(pages[i])) >= 5, \
            f"{name}: the verification sentence is alone on page {i + 1}: {after[:200]}"


def test_a_printed_exercise_sheet_keeps_each_problem_on_one_page(tmp_path):
    """A problem's statement is never split across pages: its heading, its values and what it
    asks are on one page (the gallery's sheet split problem 2 before the minipage)."""
    require("pdflatex", pdflatex_available() and shutil.which("pdftotext") is not None,
            "pdflatex and pdftotext are not installed")
    spec = EXAMPLES / "exercises" / "15_neuron_exercises.yaml"
    assert main(["exercises", str(spec), "-o", str(tmp_path / "sheet.tex")]) == 0
    for _ in range(2):
        run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "sheet.tex"],
                             cwd=tmp_path, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, timeout=300)
        assert run.returncode == 0, run.stdout[-2000:]
    text = subprocess.run(["pdftotext", "-layout", "sheet.pdf", "-"], cwd=tmp_path,
                          capture_output=True, text=True, check=True).stdout
    pages = [" ".join(page.split()) for page in text.split("\f")]
    problems = [piece for page in pages for piece in page.split("Problem ")[1:]]
    assert len(problems) == 4
    for piece in problems:  # from each heading to the next, on the heading's page
        assert "The values are" in piece and "give the updated values" in piece, piece[:300]
