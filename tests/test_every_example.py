"""Every example, every format, every path: each spec in examples/ goes through
``symgrad derive SPEC -o FILE`` in every output format (with its pictures) and through
``symgrad exercises``, and again at values that push its activations into saturation, turn
a ReLU off or take a loss near the edge of its domain. Each run must exit 0 and leave a
file that the tool reading it accepts: Markdown whose pictures exist, LaTeX whose
environments and braces balance (two compiled with pdflatex), HTML that parses with its
elements closed, a notebook that nbformat validates, JSON without NaN or Infinity. At the
pushed values the document must carry the warning the values call for, written by the
reading of the numbers (numeric/reading.py, templates/common/prose.j2) or by the plots
(pictures/domain.py, templates/common/pictures.j2).

The CLI runs in-process (``symgrad.cli.main.main``), as a user's command would, apart from
two runs in a subprocess (the two gallery examples whose pictures used to crash).
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from render_tools import compile_latex, pdflatex_available, require
from symgrad.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
EXERCISE_SPECS = sorted((ROOT / "examples" / "exercises").glob("*.yaml"))

FORMATS = {"markdown": "md", "latex": "tex", "latex-fragment": "tex", "beamer": "tex",
           "html": "html", "notebook": "ipynb", "json": "json"}
"""Every output format of ``symgrad derive --format`` and the suffix its file gets."""

COMPILED = ("02_seed_neuron.yaml", "03_two_layer_network.yaml")
"""The examples whose LaTeX document is compiled with pdflatex (slow: a subset)."""


def derive(tmp_path: Path, spec: Path, fmt: str, *extra: str) -> Path:
    """``symgrad derive SPEC --format FMT -o FILE`` in-process: exit 0 and a file."""
    out = tmp_path / f"{spec.stem}.{FORMATS[fmt]}"
    code = main(["derive", str(spec), "--format", fmt, "-o", str(out), *extra])
    assert code == 0, f"symgrad derive {spec.name} --format {fmt} {' '.join(extra)} exit {code}"
    assert out.is_file() and out.stat().st_size > 0
    return out


# --- what each format's reader accepts ----------------------------------------------


def check_markdown(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.strip().startswith("#"), "a Markdown document starts with its title"
    for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text):
        picture = path.parent / target
        assert picture.is_file() and picture.stat().st_size > 0, f"missing picture {target}"
        if picture.suffix == ".svg":
            ElementTree.parse(picture)  # well-formed XML


BEGIN_END = re.compile(r"\\(begin|end)\{([^}]*)\}")


def check_tex(path: Path, fmt: str) -> None:
    text = path.read_text(encoding="utf-8")
    code = "\n".join(line.split("%")[0] if "\\%" not in line else line
                     for line in text.splitlines())
    stack: list[str] = []
    for kind, name in BEGIN_END.findall(code):
        if kind == "begin":
            stack.append(name)
        else:
            assert stack and stack[-1] == name, f"\\end{{{name}}} closes {stack[-1:] or 'nothing'}"
            stack.pop()
    assert not stack, f"environments left open: {stack}"
    braces = re.sub(r"\\[{}]", "", re.sub(r"\\\\", "", code))
    assert braces.count("{") == braces.count("}"), "unbalanced braces"
    whole = fmt == "latex"
    assert ("\\begin{document}" in text) == whole and ("\\documentclass" in text) == whole
    if whole:
        assert text.rstrip().endswith("\\end{document}")
    for target in re.findall(r"\\includegraphics(?:\[[^\]]*\])?\{\s*([^}]+?)\s*\}", text):
        assert (Path.cwd() / target).is_file() or (path.parent / target).is_file(), target


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Elements(HTMLParser):
    """Checks that every element opened is closed, in order (void elements apart)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:] or 'nothing'}"
        self.open.pop()


def check_html(path: Path) -> None:
    parser = Elements()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    assert not parser.open, f"elements left open: {parser.open}"


def check_notebook(path: Path) -> None:
    notebook = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    assert notebook["cells"]
    nbformat = pytest.importorskip("nbformat")
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


def check_json(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    assert data


def check(path: Path, fmt: str) -> None:
    """The file of ``fmt`` at ``path`` is what its reader accepts."""
    if fmt == "markdown":
        check_markdown(path)
    elif fmt in ("latex", "latex-fragment", "beamer"):
        check_tex(path, fmt)
    elif fmt == "html":
        check_html(path)
    elif fmt == "notebook":
        check_notebook(path)
    else:
        check_json(path)


# --- every example, every format ----------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_in_every_format(tmp_path, monkeypatch, spec, fmt):
    monkeypatch.chdir(tmp_path)  # a fragment finds its figures from the current folder
    check(derive(tmp_path, spec, fmt), fmt)


@pytest.mark.parametrize("name", COMPILED)
def test_latex_documents_compile(tmp_path, monkeypatch, name):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed")
    monkeypatch.chdir(tmp_path)
    compile_latex(derive(tmp_path, ROOT / "examples" / name, "latex"))


@pytest.mark.parametrize("name", ["05_quotient_with_log.yaml", "11_softmax.yaml"])
def test_the_command_a_user_types(tmp_path, name):
    """In a fresh process, as typed: the two examples whose graph used to crash."""
    out = tmp_path / "x.md"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT)] + sys.path)}
    done = subprocess.run([sys.executable, "-m", "symgrad", "derive", str(ROOT / "examples" / name),
                           "-o", str(out)], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    check_markdown(out)
    assert (tmp_path / "x.graph.svg").is_file()


# --- exercises ---------------------------------------------------------------------


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: p.stem)
def test_exercises_from_every_example(tmp_path, capsys, spec):
    """A sheet and its key, or one line saying why none can be drawn (exit 2)."""
    code = main(["exercises", str(spec), "--count", "2", "-o", str(tmp_path / "sheet.md")])
    err = capsys.readouterr().err
    if code == 2:
        assert err.startswith("symgrad: error: ") and err.count("\n") == 1, err
        assert not (tmp_path / "sheet.md").exists()
        return
    assert code == 0
    check_markdown(tmp_path / "sheet.md")
    check_markdown(tmp_path / "sheet.key.md")


@pytest.mark.parametrize("fmt", ["markdown", "latex", "notebook"])
@pytest.mark.parametrize("spec", EXERCISE_SPECS, ids=lambda p: p.stem)
def test_exercise_sheets_in_every_format(tmp_path, spec, fmt):
    suffix = FORMATS[fmt]
    code = main(["exercises", str(spec), "-o", str(tmp_path / f"sheet.{suffix}")])
    assert code == 0
    for name in (f"sheet.{suffix}", f"sheet.key.{suffix}"):
        check(tmp_path / name, fmt)


# --- values at the edges -----------------------------------------------------------

SATURATED = "is saturated"
OFF = "the ReLU is off"
CANCELLED = "the two cancel"
DEFINED = "The curve is plotted where the loss is defined"

PUSHED = [
    ("02_seed_neuron.yaml", {"w": 8.0}, SATURATED),
    ("02_seed_neuron_brief.yaml", {"w": -8.0}, SATURATED),
    ("02_seed_neuron_full.yaml", {"w": 8.0}, SATURATED),
    ("03_two_layer_network.yaml", {"W1": [[8.0, -8.0], [8.0, -8.0]]}, SATURATED),
    ("04_softplus_squared.yaml", {"w": -8.0}, None),
    ("05_quotient_with_log.yaml", {"w": -0.45}, None),
    ("06_sigmoid.yaml", {"z": 8.0}, SATURATED),
    ("06_sigmoid.yaml", {"z": -8.0}, SATURATED),
    ("07_tanh.yaml", {"z": 8.0}, SATURATED),
    ("07_tanh.yaml", {"z": -8.0}, SATURATED),
    ("08_relu.yaml", {"z": -0.7}, OFF),
    ("09_leaky_relu.yaml", {"z": -8.0}, None),
    ("10_softplus.yaml", {"z": -8.0}, None),
    ("11_softmax.yaml", {"z1": 8.0, "z2": -8.0}, None),
    ("12_tanh_softmax_network.yaml", {"W1": [[8.0, 8.0, -8.0]] * 4}, SATURATED),
    ("13_batch_network.yaml", {"W1": [[8.0, -8.0], [8.0, -8.0]]}, SATURATED),
    ("14_neuron_weight_and_bias.yaml", {"w": 8.0, "b": 0.0}, SATURATED),
    ("15_neuron_cross_entropy.yaml", {"w": 8.0}, CANCELLED),
    ("15_neuron_cross_entropy.yaml", {"w": -8.0}, CANCELLED),
    ("16_nielsen_network.yaml", {"W1": [[8.0, -8.0], [8.0, -8.0]]}, SATURATED),
    ("18_vanishing_gradient.yaml", {f"W{k}": [[8.0]] for k in range(1, 5)}, SATURATED),
]
"""Each example at values that push it to an edge (merged into its ``at``), and the
warning the document must then carry (None: no warning is due, only no crash)."""

PUSHED_FORMATS = ("markdown", "latex", "html", "notebook", "json")


def pushed_spec(tmp_path: Path, name: str, values: dict) -> Path:
    """A copy of the example ``name`` with ``values`` replacing some of its ``at``."""
    spec = yaml.safe_load((ROOT / "examples" / name).read_text(encoding="utf-8"))
    spec["at"] = {**spec["at"], **values}
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", PUSHED_FORMATS)
@pytest.mark.parametrize("name, values, warning", PUSHED,
                         ids=[f"{n[:-5]}-{'-'.join(map(str, v))}" for n, v, _ in PUSHED])
def test_examples_at_the_edges(tmp_path, monkeypatch, name, values, warning, fmt):
    monkeypatch.chdir(tmp_path)
    out = derive(tmp_path, pushed_spec(tmp_path, name, values), fmt)
    check(out, fmt)
    if warning is not None and fmt != "json":
        assert warning in out.read_text(encoding="utf-8")


LOG_LOSS = "-y*log(p) - (1 - y)*log(1 - p)"

EDGE_EXPRESSIONS = [
    (LOG_LOSS, "p=0.05,y=1", None, "defined: $p > 0$"),
    (LOG_LOSS, "p=0.95,y=0", None, "defined: $p < 1$"),
    (LOG_LOSS, "p=0.5,y=0.5", None, "defined: $0 < p < 1$"),
    (LOG_LOSS, "p=0.05,y=1", "0.1", DEFINED),
    ("log(w)", "w=0.1", None, "defined: $w > 0$"),
    ("log(w)", "w=0.1", "0.5", "not a finite real number: the step leaves the region"),
    ("sqrt(w)", "w=0.1", "1", "defined: $w \\ge 0$"),
    ("log(1 - w)", "w=0.9", None, "defined: $w < 1$"),
    ("exp(100*w)", "w=5", None, "finite in double precision: $w \\le 7.0978$"),
    ("exp(10*w)", "w=0.5", "1", None),
    ("w**x", "w=0.5,x=0.5", "2", DEFINED),
    ("sqrt(w)*v", "w=0.1,v=1", "3", DEFINED),
    ("relu(w*x)", "w=-1,x=1", None, OFF),
    ("w*sqrt(x)", "w=1,x=0", None, "One arrow carries no number"),
    ("log(w - v)", "w=1,v=0.5", "0.1", "on part of the plotted square, which is left blank"),
    ("exp(w)", "w=800", None, "so the loss is not plotted"),
]
"""Losses whose plotted range leaves their domain or overflows (``--expr``, ``--at`` and a
learning rate) and the sentence each document must carry."""


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html"])
@pytest.mark.parametrize("expr, at, rate, sentence", EDGE_EXPRESSIONS)
def test_losses_near_the_edge_of_their_domain(tmp_path, monkeypatch, expr, at, rate, sentence,
                                              fmt):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / f"doc.{FORMATS[fmt]}"
    argv = ["derive", "--expr", expr, "--at", at, "-o", str(out)]
    argv += ["--targets", "y"] if "y=" in at else []
    argv += ["--inputs", "x"] if expr == "w*sqrt(x)" or expr == "relu(w*x)" else []
    argv += ["--learning-rate", rate] if rate else []
    assert main(argv) == 0
    check(out, fmt)
    if sentence is not None:
        assert sentence in html.unescape(out.read_text(encoding="utf-8"))


ELSEWHERE = [
    # a loss after the step of about 10^(-4.4 x 10^303), beyond any exponent float64 or Decimal holds
    ["--expr", "exp(w)", "--at", "w=700", "--learning-rate", "1"],
    ["--expr", "exp(exp(w))", "--at", "w=20"],  # about 10^(2.1 x 10^8)
    # central differences at p = 0.001, next to log's pole
    ["--expr", LOG_LOSS, "--targets", "y", "--at", "p=0.001,y=1"],
    # 1 - sigmoid(150) cancels to 0 at 30 digits; the loss is 7e-66
    ["--expr", "-y*log(sigmoid(w*x)) - (1 - y)*log(1 - sigmoid(w*x))",
     "--inputs", "x", "--targets", "y", "--at", "w=100,x=1.5,y=1"],
    [str(ROOT / "examples" / "15_neuron_cross_entropy.yaml"), "--at", "w=100"],
]
"""Documents that once crashed or were refused outside the pictures: each must now be
written."""


@pytest.mark.parametrize("argv", ELSEWHERE)
def test_documents_that_fail_outside_the_pictures(tmp_path, argv):
    assert main(["derive", *argv, "-o", str(tmp_path / "doc.md")]) == 0
    check_markdown(tmp_path / "doc.md")


def test_a_value_that_is_not_real_outside_the_pictures_is_one_line_error(tmp_path, capsys):
    """max(v^2, log(w)) at w = -0.5: log(-0.5) is complex, which max cannot compare (once a
    ValueError, exit 3); now a ValuesError naming the part and its value, exit 2."""
    code = main(["derive", "--expr", "max(v**2, log(w))", "--at", "w=-0.5,v=-0.5",
                 "-o", str(tmp_path / "doc.md")])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "doc.md").exists()
    assert len(err.strip().splitlines()) == 1
    assert "log(w) is not a real number at w = -0.5" in err


@pytest.mark.parametrize("suffix", [".md", ".tex", ".html"])
@pytest.mark.parametrize("argv", [
    ["--expr", "log(1 + exp(w*x))", "--wrt", "w", "--inputs", "x", "--at", "w=-1e-300,x=-3",
     "--learning-rate", "1e308"],  # the step passes a double's range
    ["--expr", "w", "--wrt", "w", "--at", "w=1e308", "--learning-rate", "0.5"],  # no axis ticks
    ["--expr", "leaky_relu(w*x, 0.1)", "--inputs", "x", "--at", "w=1e308,x=-3"],
])
def test_a_loss_too_large_to_plot_is_said_not_plotted(tmp_path, argv, suffix):
    out = tmp_path / f"doc{suffix}"
    assert main(["derive", *argv, "-o", str(out)]) == 0
    assert "so the loss is not plotted" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("suffix", [".md", ".tex", ".html"])
def test_a_training_curve_past_a_doubles_decades_is_left_out_not_a_crash(tmp_path, suffix):
    # w**200 from w = 1 with a rate of 0.1: the loss is 1, then 5.6e255, then overflows;
    # a log axis up to 1e255 asks matplotlib for ticks past 1e308
    out = tmp_path / f"doc{suffix}"
    argv = ["derive", "--expr", "w**200", "--wrt", "w", "--at", "w=1", "--learning-rate", "0.1"]
    assert main([*argv, "-o", str(out)]) == 0
    assert out.stat().st_size > 0
