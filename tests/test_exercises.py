"""Exercise sheets: seeded variants, well-conditioned numbers checked against independent
references (finite differences of hand-written numpy losses, sympy.diff of the composed
loss), the sheet without answers and the key with all of them, the command line, the
progress bar, and the gallery's sheets read by pdflatex, KaTeX, nbformat and nbclient."""

from __future__ import annotations

import io
import json
import math
import re
import sys
from dataclasses import replace
from pathlib import Path

import nbformat
import numpy as np
import pytest
import sympy as sp

import test_output
from render_tools import compile_latex, pdflatex_available, require
from symgrad.render import latex
from symgrad.cli.gallery import exercise_documents
from symgrad.cli.main import main
from symgrad.errors import DerivationError, SpecError
from symgrad.teaching.exercises import LARGEST, SMALLEST, exercises, load_exercises, parse_exercises
from symgrad.cli.progress import Bar, track
from symgrad.render.notation import get_notation
from symgrad.teaching.sheets import FORMATS, render_sheet
from symgrad.spec import parse_spec
from test_notebook import EXECUTION_TIMEOUT, kernel_available

ROOT = Path(__file__).resolve().parent.parent
GALLERY_SPEC = ROOT / "examples" / "exercises" / "15_neuron_exercises.yaml"
GALLERY = ROOT / "output" / "exercises"
NEURON = parse_spec("title: One neuron\nmodel: {activation: sigmoid}\nloss: squared_error\n"
                    "wrt: [w, b]\nlearning_rate: 0.5\n")
NETWORK = parse_spec((ROOT / "examples" / "03_two_layer_network.yaml").read_text())
ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "identity"]
LOSSES = ["squared_error", "half_squared_error", "mse", "binary_cross_entropy"]

# Hand-written references, independent of symgrad's engine and compiler.
REFERENCE_ACTIVATIONS = {
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "softplus": lambda z: np.log1p(np.exp(z)),
    "identity": lambda z: z,
}
REFERENCE_LOSSES = {
    "squared_error": lambda p, y: (p - y) ** 2,
    "mse": lambda p, y: (p - y) ** 2,
    "half_squared_error": lambda p, y: 0.5 * (p - y) ** 2,
    "binary_cross_entropy": lambda p, y: -(y * np.log(p) + (1 - y) * np.log(1 - p)),
}


@pytest.fixture(scope="module")
def mixed():
    """Twelve neuron variants with activations and losses drawn from every list."""
    return exercises(NEURON, 12, 3, ACTIVATIONS, LOSSES)


def neuron_loss(activation: str, loss: str, values: dict) -> callable:
    f, ell = REFERENCE_ACTIVATIONS[activation], REFERENCE_LOSSES[loss]
    return lambda w, b: float(ell(f(w * values["x"] + b), values["y"]))


# --- determinism ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_same_seed_gives_the_same_bytes(fmt):
    first = exercises(NEURON, 3, 7, ["sigmoid", "tanh"], ["squared_error"])
    again = exercises(NEURON, 3, 7, ["sigmoid", "tanh"], ["squared_error"])
    for key in (False, True):
        assert render_sheet(first, fmt, key=key) == render_sheet(again, fmt, key=key)


def test_another_seed_gives_other_values():
    assert [p.values for p in exercises(NEURON, 3, 1).problems] != \
        [p.values for p in exercises(NEURON, 3, 2).problems]


def test_the_module_never_touches_global_random_state():
    import random
    random.seed(123)
    before = random.random()
    random.seed(123)
    exercises(NEURON, 2, 5)
    assert random.random() == before


# --- well-conditioned numbers -----------------------------------------------------------


def _tenths(value: float) -> bool:
    return math.isclose(value * 10, round(value * 10), abs_tol=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_variants_are_well_conditioned(seed):
    sheet = exercises(NEURON, 5, seed, ACTIVATIONS, LOSSES)
    signatures = [(p.activation, p.loss, json.dumps(p.values)) for p in sheet.problems]
    assert len(set(signatures)) == len(signatures), "a repeated variant"
    for p in sheet.problems:
        v = p.values
        assert all(_tenths(x) for x in v.values()), v
        assert v["x"] != 0 and v["w"] != 0 and v["b"] != 0
        assert -2 <= v["x"] <= 2 and -1 <= v["w"] <= 1 and -1 <= v["b"] <= 1
        z = v["w"] * v["x"] + v["b"]
        if p.activation in ("sigmoid", "tanh"):
            assert abs(z) <= 2, f"saturated {p.activation} at z = {z}"
        if p.activation in ("relu", "leaky_relu"):
            assert abs(z) >= 0.1 - 1e-12, f"{p.activation} at its kink, z = {z}"
        if p.loss == "binary_cross_entropy":
            assert p.activation == "sigmoid" and v["y"] in (0.0, 1.0)
        answers = p.answers()
        assert all(SMALLEST <= abs(g) <= LARGEST for g in answers["gradients"].values())
        assert abs(answers["loss"]) <= LARGEST


def test_network_variants_have_one_hot_targets_for_a_softmax():
    spec = parse_spec((ROOT / "examples" / "12_tanh_softmax_network.yaml").read_text())
    for p in exercises(spec, 3, 1).problems:
        y = p.values["y"]
        assert sorted(y) == [0.0, 0.0, 1.0]
        assert all(_tenths(w) and w != 0 for row in p.values["W1"] for w in row)


def test_random_activations_and_losses_come_from_the_lists(mixed):
    drawn = {(p.activation, p.loss) for p in mixed.problems}
    assert {a for a, _ in drawn} <= set(ACTIVATIONS) and {l for _, l in drawn} <= set(LOSSES)
    assert len({a for a, _ in drawn}) > 2 and len({l for _, l in drawn}) > 1
    for p in mixed.problems:
        assert p.derivation.graph.loss_name == p.loss
        assert p.derivation.definitions[-2].activation == p.activation


def test_a_sheet_uses_every_pair_before_repeating_one():
    """Six activations and three losses that go with all of them, plus binary
    cross-entropy with the sigmoid: 19 pairs, so 12 problems use 12 different pairs, and
    with the gallery's lists (4 pairs) every pair appears in the 4 problems."""
    pairs = [(p.activation, p.loss) for p in exercises(NEURON, 12, 3, ACTIVATIONS, LOSSES).problems]
    assert len(set(pairs)) == 12
    four = exercises(NEURON, 4, 15, ["sigmoid", "tanh", "relu"], ["squared_error", "binary_cross_entropy"])
    assert {(p.activation, p.loss) for p in four.problems} == {
        ("sigmoid", "squared_error"), ("sigmoid", "binary_cross_entropy"),
        ("tanh", "squared_error"), ("relu", "squared_error")}


def test_a_sheet_is_written_in_the_specs_notation():
    spec = parse_spec("model: {activation: sigmoid}\nloss: quadratic\nwrt: [w, b]\n"
                      "notation: nielsen\nnames: {z: net}\n")
    sheet = exercises(spec, 2, 1)
    for key in (False, True):
        text = render_sheet(sheet, "markdown", key=key)
        assert r"\mathrm{net} &= w x + b" in text and r"\hat{y}" not in text
        assert r"\frac{\partial C}{\partial w}" in text
    assert r"C = \frac{1}{2} (a - y)^{2}" in render_sheet(sheet, "latex")
    network = exercises(replace(NETWORK, notation=get_notation("nielsen")), 1, 1)
    text = render_sheet(network, "markdown")
    assert "layer 2 has 2 sigmoid units; layer 3 has 2 sigmoid units." in text
    assert r"$z^{l} = w^{l} a^{l-1} + b^{l}$" in text and "starting from $a^{1} = x$" in text


# --- the answers against independent references ------------------------------------------


def test_answers_match_central_differences_of_a_handwritten_loss(mixed):
    h = 1e-6
    for p in mixed.problems:
        loss = neuron_loss(p.activation, p.loss, p.values)
        w, b = p.values["w"], p.values["b"]
        answers = p.answers()
        assert answers["loss"] == pytest.approx(loss(w, b), rel=1e-12)
        expected = {"w": (loss(w + h, b) - loss(w - h, b)) / (2 * h),
                    "b": (loss(w, b + h) - loss(w, b - h)) / (2 * h)}
        for name, value in expected.items():
            assert answers["gradients"][name] == pytest.approx(value, rel=1e-6, abs=1e-9), (p, name)
            assert answers["updated"][name] == pytest.approx(p.values[name] - 0.5 * answers["gradients"][name])


def test_network_answers_match_sympy_diff_of_the_composed_loss():
    sheet = exercises(NETWORK, 2, 4, ["tanh", "relu"])
    for p in sheet.problems:
        d = p.derivation
        composed = d.graph.composed()
        values = {s: sp.Rational(str(v)) for s, v in zip(
            [s for g in d.graph.groups for s in g.symbols],
            [float(x) for g in d.graph.groups for x in np.ravel(p.values[g.name])])}
        for parameter in d.parameters[:4]:
            expected = float(sp.diff(composed, parameter).xreplace(values).evalf(30))
            assert float(d.worked.gradients[parameter]) == pytest.approx(expected, rel=1e-12, abs=1e-15)


# --- what the sheet and the key show ----------------------------------------------------


def _numbers(problem) -> list[str]:
    """The answers as the documents print them, those with 3 or more digits."""
    worked = problem.derivation.worked
    values = [worked.loss, *worked.gradients.values(), *worked.updated.values()]
    return [latex.num(v) for v in values if len(re.sub(r"\D", "", latex.num(v))) >= 3]


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_the_sheet_has_no_answers_and_the_key_has_every_one(mixed, fmt):
    sheet, key = render_sheet(mixed, fmt), render_sheet(mixed, fmt, key=True)
    for p in mixed.problems:
        assert f"Problem {p.number}" in sheet and f"Problem {p.number}" in key
        for number in _numbers(p):
            assert number not in sheet, (p.number, number)
            assert number in key, (p.number, number)
    assert "chain rule" in sheet and "Your working" in sheet or r"\vspace" in sheet


def test_the_sheet_states_the_values_and_the_learning_rate(mixed):
    text = render_sheet(mixed, "markdown")
    for p in mixed.problems:
        assert f"x = {p.values['x']!r}" in text
    assert r"\eta = 0.5" in text and r"\frac{\partial L}{\partial w}" in text


def test_a_sheet_asks_in_the_order_of_its_answers():
    """An expression's names are kept in alphabetical order (b before w), but the problem
    asks for the gradients as wrt lists them, the order of the key's rows."""
    sheet = exercises(parse_spec("expression: (w*x + b - y)**2\nwrt: [w, b]\n"), 1, 0)
    assert r"$\frac{\partial L}{\partial w}$ and $\frac{\partial L}{\partial b}$" in render_sheet(sheet)
    rows = re.findall(r"^\| \$(\w)\$ \|", render_sheet(sheet, key=True), flags=re.MULTILINE)
    assert rows == ["w", "b"]


def test_a_network_sheet_asks_for_whole_matrices():
    text = render_sheet(exercises(NETWORK, 1, 0), "markdown")
    assert r"\frac{\partial L}{\partial W^{(1)}}" in text and "layer 2 has 2 sigmoid units" in text


# --- impossible requests ----------------------------------------------------------------


@pytest.mark.parametrize("spec, activations, losses, fragment", [
    (NEURON, ["tanh"], ["binary_cross_entropy"], "binary_cross_entropy needs outputs in (0, 1)"),
    (NEURON, [], ["categorical_cross_entropy"], "categorical_cross_entropy needs a softmax output"),
    (NEURON, ["softmax"], [], "cannot draw activation 'softmax'"),
    (NEURON, ["sigmod"], [], "cannot draw activation 'sigmod'"),
    (NEURON, [], ["hinge"], "unknown loss 'hinge'"),
    (parse_spec("expression: (w*x - y)**2\n"), ["tanh"], [], "need a model"),
])
def test_incompatible_choices_are_spec_errors(spec, activations, losses, fragment):
    with pytest.raises(SpecError, match=re.escape(fragment)):
        exercises(spec, 2, 0, activations, losses)


def test_a_pair_that_does_not_go_is_left_out_but_not_refused():
    sheet = exercises(NEURON, 6, 0, ["sigmoid", "tanh"], ["squared_error", "binary_cross_entropy"])
    assert all(p.activation == "sigmoid" for p in sheet.problems if p.loss == "binary_cross_entropy")


def test_too_many_variants_is_a_clear_derivation_error():
    with pytest.raises(DerivationError, match="found only 40 of 50 distinct well-conditioned"):
        exercises(parse_spec("expression: x**2\n"), 50, 0)


@pytest.mark.parametrize("block, fragment", [
    ("{count: 0}", "exercises.count: count must be a whole number from 1 to 100"),
    ("{seed: -1}", "exercises.seed: seed must be a whole number"),
    ("{colour: red}", "exercises: unknown key 'colour'"),
    ("{activations: 3}", "exercises.activations: expected a list of names"),
    ("[1, 2]", "exercises: expected a mapping"),
    ("{losses: [categorical_cross_entropy]}", "exercises.losses: categorical_cross_entropy needs"),
])
def test_bad_exercises_blocks_name_the_key(block, fragment):
    text = f"model: {{activation: sigmoid}}\nloss: squared_error\nexercises: {block}\n"
    with pytest.raises(SpecError, match=re.escape(f"sheet.yaml: {fragment}")):
        parse_exercises(text, "sheet.yaml")


def test_the_exercises_block_is_read():
    spec, settings = load_exercises(GALLERY_SPEC)
    assert (settings.count, settings.seed) == (4, 15)
    assert settings.activations == ("sigmoid", "tanh", "relu") and spec.wrt == ["w", "b"]


# --- the command line ---------------------------------------------------------------------


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("suffix", [".md", ".tex", ".ipynb"])
def test_the_cli_writes_the_sheet_and_the_key(capsys, tmp_path, suffix):
    sheet = tmp_path / f"sheet{suffix}"
    code, out, err = run(capsys, "exercises", str(GALLERY_SPEC), "-o", str(sheet))
    assert code == 0 and err == "", err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"sheet{suffix}", f"sheet.key{suffix}"])
    assert sheet.read_text() == (GALLERY / f"15_neuron_exercises{suffix}").read_text()
    assert "4 problems" in out


def test_the_cli_options_override_the_spec(capsys, tmp_path):
    sheet, key = tmp_path / "a.md", tmp_path / "answers" / "b.md"
    argv = ["exercises", str(GALLERY_SPEC), "--count", "2", "--seed", "9", "--activations",
            "tanh", "--losses", "half_squared_error", "-o", str(sheet), "--key", str(key)]
    assert run(capsys, *argv)[0] == 0
    first = sheet.read_bytes(), key.read_bytes()
    assert run(capsys, *argv)[0] == 0
    assert (sheet.read_bytes(), key.read_bytes()) == first, "same seed, same bytes"
    text = sheet.read_text()
    assert text.count("## Problem") == 2 and "tanh activation" in text and "half squared error" in text


@pytest.mark.parametrize("argv, fragment", [
    (["--count", "0"], "count must be a whole number from 1 to 100"),
    (["--count", "many"], "invalid int value: 'many'"),
    (["--activations", "tanh", "--losses", "binary_cross_entropy"], "--activations: binary_cross_entropy needs"),
    (["--activations", "sigmod"], "--activations: cannot draw activation 'sigmod'"),
    (["-o", "{tmp}/sheet.pdf"], "-o: an exercise sheet is written as .md, .tex, .ipynb"),
    (["-o", "{tmp}/sheet.md", "--key", "{tmp}/sheet.md"], "--key: the answer key would overwrite"),
    (["--format", "html"], "invalid choice: 'html'"),
])
def test_cli_errors_are_one_line_exit_2_and_write_nothing(capsys, tmp_path, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)
    argv = [a.format(tmp=tmp_path) for a in argv]
    code, out, err = run(capsys, "exercises", str(GALLERY_SPEC), *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and fragment in err, err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_spec_error_names_the_file(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "bad.yaml"
    spec.write_text("model: {activation: sigmoid}\nloss: squared_error\nexercises: {seed: x}\n")
    code, _, err = run(capsys, "exercises", str(spec))
    assert code == 2 and f"{spec}: exercises.seed:" in err
    assert [p.name for p in tmp_path.iterdir()] == ["bad.yaml"]


# --- the progress bar -----------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_progress_bar_off_a_terminal(capsys, tmp_path):
    code, _, err = run(capsys, "exercises", str(GALLERY_SPEC), "-o", str(tmp_path / "s.md"))
    assert code == 0 and err == ""
    stream = io.StringIO()
    assert list(track(range(3), "gallery", stream)) == [0, 1, 2] and stream.getvalue() == ""


def test_a_progress_bar_on_a_terminal(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, _, err = run(capsys, "exercises", str(GALLERY_SPEC), "-o", str(tmp_path / "s.md"))
    assert code == 0
    assert "\rexercises [" in err and "] 4/4\n" in err and "#" * 30 in err
    stream = Terminal()
    assert list(track(range(2), "gallery", stream)) == [0, 1]
    assert stream.getvalue().endswith("\rgallery [" + "#" * 30 + "] 2/2\n")


def test_a_bar_that_never_moved_leaves_no_line():
    stream = Terminal()
    with Bar("x", stream):
        pass
    assert stream.getvalue() == ""


# --- the gallery's sheets, read by the tools that read them -------------------------------------


def test_the_gallery_has_its_exercise_sheets_up_to_date():
    documents = exercise_documents(ROOT / "examples" / "exercises")
    assert sorted(documents) == sorted(f"exercises/15_neuron_exercises{key}{ext}"
                                       for key in ("", ".key") for ext in (".md", ".tex", ".ipynb"))
    stale = [name for name, text in documents.items()
             if not (ROOT / "output" / name).exists() or (ROOT / "output" / name).read_text() != text]
    assert not stale, f"output/ is stale ({', '.join(stale)}): run `symgrad gallery` to regenerate it"


@pytest.mark.parametrize("path", sorted(GALLERY.glob("*.tex")), ids=lambda p: p.name)
def test_the_gallery_sheets_compile_with_pdflatex(path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-latex-base)")
    compile_latex(path)


@pytest.mark.parametrize("path", sorted(GALLERY.glob("*.md")), ids=lambda p: p.name)
def test_the_gallery_sheets_math_renders_with_katex(path):
    test_output.test_markdown_math_renders_with_katex(path)


@pytest.mark.parametrize("name", ["15_neuron_exercises.ipynb", "15_neuron_exercises.key.ipynb"])
def test_the_gallery_notebooks_validate(name):
    text = (GALLERY / name).read_text(encoding="utf-8")
    assert not list(nbformat.validator.iter_validate(json.loads(text)))
    nb = nbformat.reads(text, as_version=4)
    problems = [c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("## Problem")]
    assert len(problems) == 4
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) == (12 if ".key" in name else 4)


def test_the_key_notebooks_code_rebuilds_every_answer(capsys):
    """The key's code cells, run in this process: each problem's loss built again,
    compiled, evaluated and compared with the key's numbers by its own assertions."""
    nb = nbformat.reads((GALLERY / "15_neuron_exercises.key.ipynb").read_text(), as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            exec(compile(cell.source, f"<{cell.id}>", "exec"), namespace)
    assert capsys.readouterr().out.count("agree with the document") == 4


@pytest.mark.parametrize("name", ["15_neuron_exercises.ipynb", "15_neuron_exercises.key.ipynb"])
def test_the_gallery_notebooks_execute(name):
    require("a Jupyter kernel", kernel_available(),
            "nbclient or the python3 kernel is missing (pip install -e '.[test]', "
            "then python3 -m ipykernel install --user)")
    from nbclient import NotebookClient

    nb = nbformat.reads((GALLERY / name).read_text(encoding="utf-8"), as_version=4)
    NotebookClient(nb, timeout=EXECUTION_TIMEOUT, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert printed.count("agree with the document") == (4 if ".key" in name else 0)
