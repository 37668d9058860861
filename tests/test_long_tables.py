"""A network's tables in LaTeX break across pages (longtable) instead of running off the
page: a 4-4-4-4-2 network's gradients table, 70 rows, is two pages long. Printed with
pdflatex and read back with pdftotext: no page is overfull, the header is repeated on
each page of a table, and no row is lost (the last parameter's row is there). A fragment
of it names longtable among the packages it needs, and compiles where they are loaded."""

from __future__ import annotations

import random
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from render_tools import pdflatex_available, require
from symgrad import derive, load_spec, render
from symgrad.cli.main import main

GUARD = re.compile(r"^\\ifdefined\\(\w+)\\else\\PackageError", re.MULTILINE)


def _spec() -> dict:
    """Sigmoid units, inputs 4 wide and layers of 4, 4, 4 and 2 units, values for all:
    weights in +-0.5 so that no unit saturates."""
    draw = random.Random(4)
    widths, at = (4, 4, 4, 2), {}
    before = 4
    at["x"] = [round(draw.uniform(-1, 1), 3) for _ in range(before)]
    at["y"] = [round(draw.uniform(0, 1), 3) for _ in range(widths[-1])]
    for number, units in enumerate(widths, 1):
        at[f"W{number}"] = [[round(draw.uniform(-0.5, 0.5), 3) for _ in range(before)]
                            for _ in range(units)]
        at[f"b{number}"] = [round(draw.uniform(-0.1, 0.1), 3) for _ in range(units)]
        before = units
    return {"model": {"inputs": 4, "layers": [{"units": u, "activation": "sigmoid"} for u in widths]},
            "loss": "half_squared_error", "wrt": "all", "at": at, "learning_rate": 0.1}


def _pdflatex(tex: Path) -> str:
    for _ in range(2):
        run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                             cwd=tex.parent, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, timeout=300)
        assert run.returncode == 0, run.stdout[-2000:]
    return tex.with_suffix(".log").read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("long") / "net.yaml"
    path.write_text(yaml.safe_dump(_spec()), encoding="utf-8")
    return path


def test_a_long_table_breaks_across_pages_with_every_row(spec_file):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed")
    tex = spec_file.with_name("net.tex")
    assert main(["derive", str(spec_file), "-o", str(tex), "--format", "latex"]) == 0
    text = tex.read_text(encoding="utf-8")
    assert "\\usepackage{longtable}" in text and "\\begin{tabular}" not in text
    log = _pdflatex(tex)
    assert "Overfull \\vbox" not in log
    pages = subprocess.run(["pdftotext", "-layout", "net.pdf", "-"], cwd=tex.parent,
                           capture_output=True, text=True, check=True).stdout.split("\f")
    headed = [i for i, page in enumerate(pages)
              if re.search(r"^\s*parameter\s+value\s+gradient\s+after the step\s*$", page, re.MULTILINE)]
    assert len(headed) >= 2 and headed == list(range(headed[0], headed[-1] + 1))
    # no row lost: the gradients table's last row (the output layer's last bias) is printed
    # on the table's last page, its value after the step the last number there
    table = text[text.index("parameter & value & gradient"):]
    table = table[:table.index("\\end{longtable}")]
    last_row = [line for line in table.splitlines() if line.startswith("$")][-1]
    assert last_row.startswith("$b^{(4)}_{2}$")
    after = last_row.rsplit("&", 1)[1].strip(" $\\")
    assert re.fullmatch(r"-?\d+\.\d+", after), last_row
    printed = pages[headed[-1]].replace("\u2212", "-")
    assert after in printed


def test_a_fragment_with_tables_needs_longtable_and_compiles_with_it(spec_file):
    fragment = spec_file.with_name("part.tex")
    spec = load_spec(spec_file)
    text = render(derive(spec.graph, spec.wrt, at=spec.at, learning_rate=spec.learning_rate),
                  "latex-fragment")
    fragment.write_text(text, encoding="utf-8")
    assert text.splitlines()[0].endswith("loads amsmath and longtable.")
    assert GUARD.findall(text) == ["align", "longtable"]
    require("pdflatex", pdflatex_available(), "pdflatex is not installed")
    book = spec_file.with_name("book.tex")
    book.write_text("\\documentclass{article}\n\\usepackage{amsmath}\n\\usepackage{longtable}\n"
                    "\\begin{document}\n\\input{part}\n\\end{document}\n", encoding="utf-8")
    assert "Overfull \\vbox" not in _pdflatex(book)
