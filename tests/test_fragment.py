"""A LaTeX fragment is ``\\input``-able as documented: it says which packages it needs and
checks them, finds its figures from the including document's folder, and takes the heading
level (and numbering) of the document it goes into. The same heading option for Markdown
and HTML. pdflatex, not symgrad, is the judge of what compiles."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from render_tools import compile_latex, pdflatex_available, require
from symgrad import derive, render
from symgrad.cli.main import main
from symgrad.errors import SpecError
from symgrad.model.graph import from_expression

ROOT = Path(__file__).resolve().parent.parent
NEURON = str(ROOT / "examples" / "02_seed_neuron.yaml")
"""A spec whose documents show the computational graph (TikZ) and plots (PDF files)."""

GUARD = re.compile(r"^\\ifdefined\\(\w+)\\else\\PackageError\{symgrad\}\{this fragment needs "
                   r"\\protect\\usepackage\{(\w+)\} in the preamble\}\{\}\\fi$", re.MULTILINE)


def _mse():
    return derive(from_expression("1/2*(yhat - y)**2"), wrt=["yhat"], at={"yhat": 0.8, "y": 1.0})


def _document(body: str, packages: str, cls: str = "article") -> str:
    return (f"\\documentclass{{{cls}}}\n{packages}\n\\begin{{document}}\n{body}\n"
            "\\end{document}\n")


def test_a_fragment_names_and_checks_the_packages_it_needs(tmp_path):
    plain = render(_mse(), "latex-fragment")
    assert plain.splitlines()[0] == ("% symgrad: \\input this fragment into a document that "
                                     "loads amsmath.")
    assert GUARD.findall(plain) == [("align", "amsmath")]

    output = tmp_path / "n.tex"
    assert main(["derive", NEURON, "-o", str(output), "--format", "latex-fragment"]) == 0
    text = output.read_text(encoding="utf-8")
    assert "loads amsmath, tikz and graphicx." in text.splitlines()[0]
    assert GUARD.findall(text) == [("align", "amsmath"), ("tikzpicture", "tikz"),
                                   ("includegraphics", "graphicx")]


def test_a_standalone_document_and_an_answer_key_leave_the_check_out():
    assert "PackageError" not in render(_mse(), "latex")
    assert "PackageError" not in render(_mse(), "latex-fragment", embedded=True)
    from symgrad.cli.gallery import exercise_documents
    keys = exercise_documents(ROOT / "examples" / "exercises", verify=False)
    assert all("PackageError" not in text for name, text in keys.items() if name.endswith(".tex"))


def test_a_fragment_in_a_subfolder_finds_its_figures_from_the_including_document(tmp_path, monkeypatch):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "chapters").mkdir()
    assert main(["derive", NEURON, "-o", "chapters/neuron.tex", "--format", "latex-fragment"]) == 0
    text = (tmp_path / "chapters" / "neuron.tex").read_text(encoding="utf-8")
    figures = re.findall(r"\\includegraphics\[[^]]*\]\{([^}]*)\}", text)
    assert figures and all(f.startswith("chapters/neuron.") for f in figures)
    assert all((tmp_path / f).is_file() for f in figures)
    main_tex = tmp_path / "book.tex"
    main_tex.write_text(_document("\\input{chapters/neuron}",
                                  "\\usepackage{amsmath}\n\\usepackage{tikz}\n\\usepackage{graphicx}"))
    compile_latex(main_tex)


def test_figures_from_another_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "book" / "parts").mkdir(parents=True)
    assert main(["derive", NEURON, "-o", "book/parts/n.tex", "--format", "beamer",
                 "--figures-from", "book"]) == 0
    text = (tmp_path / "book" / "parts" / "n.tex").read_text(encoding="utf-8")
    figures = re.findall(r"\\includegraphics\[[^]]*\]\{([^}]*)\}", text)
    assert figures and all(f.startswith("parts/n.") for f in figures)
    assert all((tmp_path / "book" / f).is_file() for f in figures)


def test_a_missing_package_stops_pdflatex_with_its_name(tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed")
    assert main(["derive", NEURON, "-o", str(tmp_path / "n.tex"), "--format", "latex-fragment"]) == 0
    (tmp_path / "bad.tex").write_text(_document("\\input{n}", "\\usepackage{amsmath}"))
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "bad.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "Package symgrad Error: this fragment needs \\usepackage{tikz} in the preamble" in run.stdout


def _headings(text: str) -> list[str]:
    return re.findall(r"^\\(chapter|section|subsection|subsubsection)(\*?)\{", text, re.MULTILINE)


def test_the_heading_level_and_numbering_of_a_fragment(tmp_path):
    d = _mse()
    default = _headings(render(d, "latex-fragment"))
    assert default[:2] == [("section", "*"), ("subsection", "*")]
    chapter = _headings(render(d, "latex-fragment", heading_level=0, numbered=True))
    assert chapter[:2] == [("chapter", ""), ("section", "")]
    # every heading one level up, none lost
    order = ["chapter", "section", "subsection", "subsubsection"]
    assert [order[order.index(k) - 1] for k, _ in default] == [k for k, _ in chapter]
    low = _headings(render(d, "latex-fragment", heading_level=3))
    assert low[0] == ("subsubsection", "*") and len(low) == 1
    if pdflatex_available():
        body = tmp_path / "body.tex"
        body.write_text(render(d, "latex-fragment", heading_level=0, numbered=True))
        (tmp_path / "book.tex").write_text(_document("\\input{body}", "\\usepackage{amsmath}", "report"))
        compile_latex(tmp_path / "book.tex")


def test_the_heading_level_of_markdown_and_html():
    d = _mse()
    levels = [len(h) for h in re.findall(r"^(#+) ", render(d, "markdown"), re.MULTILINE)]
    shifted = [len(h) for h in re.findall(r"^(#+) ", render(d, "markdown", heading_level=3),
                                          re.MULTILINE)]
    assert shifted == [min(n + 2, 6) for n in levels]
    html = [int(n) for n in re.findall(r"<h(\d)>", render(d, "html", heading_level=2))]
    assert html == [min(n + 1, 6) for n in levels]


@pytest.mark.parametrize("fmt, options, message", [
    ("beamer", {"heading_level": 2}, "beamer has no headings"),
    ("json", {"numbered": True}, "json has no headings"),
    ("latex", {"heading_level": 4}, "heading level 4 for latex: give 0 to 3"),
    ("markdown", {"heading_level": 0}, "heading level 0 for markdown: give 1 to 6"),
    ("markdown", {"numbered": True}, "numbered headings are for LaTeX"),
])
def test_impossible_headings_are_refused(fmt, options, message):
    with pytest.raises(SpecError, match=message):
        render(_mse(), fmt, **options)


@pytest.mark.parametrize("arguments, message", [
    (["--format", "beamer", "--heading-level", "2"], "beamer has no headings"),
    (["--format", "markdown", "--figures-from", "."], "--figures-from is for latex-fragment and beamer"),
])
def test_the_cli_refuses_them_in_one_line(arguments, message, capsys, tmp_path):
    output = tmp_path / "x.out"
    assert main(["derive", "--expr", "1/2*(yhat - y)**2", "--at", "yhat=0.8,y=1.0", "-o",
                 str(output), *arguments]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not output.exists()
