"""Notation presets and user-set names: the letters change, the mathematics does not.

Every preset is rendered for a neuron, a network (per unit and in matrices) and a batch;
the documents are read by KaTeX and pdflatex, their displayed equations are the same
SymPy expressions in every notation, and a notation that renames every quantity leaves
none of the default letters behind (so no template writes a letter of its own).
"""

from __future__ import annotations

import json
import re

import pytest
import sympy as sp

from render_tools import (compile_latex, katex_available, katex_errors, markdown_math_segments,
                          pdflatex_available, require)

from symgrad.render import plain
from symgrad.cli.main import main
from symgrad.calculus.engine import derive
from symgrad.errors import SpecError, SymgradError, UnknownNameError
from symgrad.model.graph import network, neuron, with_loss
from symgrad.render.notation import PRESETS, get_notation, latex_name, using
from symgrad.render.document import displayed_equations, render, written_in
from symgrad.spec import parse_spec
from symgrad.model.symbols import layered

VALUES = dict(x=[0.5, -0.2], y=[0.0, 1.0], W1=[[0.1, 0.2], [0.3, 0.4]], b1=[0.0, 0.1],
              W2=[[0.5, 0.6], [0.7, 0.8]], b2=[0.2, 0.3])
BATCH = dict(VALUES, x=[[0.5, 1.0], [-0.2, 0.3]], y=[[0.0, 1.0], [1.0, 0.0]])


def two_layer():
    return derive(with_loss(network(2, [(2, "sigmoid"), (2, "sigmoid")]), "half_squared_error"),
                  "all", at=VALUES, learning_rate=0.5)


def batch():
    return derive(with_loss(network(2, [(2, "tanh"), (2, "sigmoid")], batch=2), "half_squared_error"),
                  "all", at=BATCH, learning_rate=0.5)


def a_neuron():
    return derive(with_loss(neuron("sigmoid"), "half_squared_error"), "all",
                  at={"x": 1.5, "w": 0.8, "b": 0.1, "y": 1.0}, learning_rate=0.1)


DERIVATIONS = {"neuron": a_neuron, "network": two_layer, "batch": batch}


@pytest.fixture(scope="module")
def derived():
    return {name: make() for name, make in DERIVATIONS.items()}


# --- names a user may give ----------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("E", "E"), ("net", r"\mathrm{net}"), ("delta", r"\delta"), ("Delta", r"\Delta"),
    ("yhat", r"\hat{y}"), (r"\mathcal{L}", r"\mathcal{L}"), (r"\ell", r"\ell"), ("h", "h"),
])
def test_a_name_is_written_in_latex(text, expected):
    assert latex_name(text) == expected


@pytest.mark.parametrize("text", ["n$t", r"\input{x}", "a b", r"\DELTA", "", r"\hat{y}}", "x_1", 3])
def test_a_name_that_could_inject_markup_is_refused(text):
    with pytest.raises(SpecError, match="name"):
        latex_name(text)


def test_renaming_checks_the_quantity_and_clashes():
    with pytest.raises(UnknownNameError, match="unknown quantity 'zz'"):
        get_notation("symgrad").named({"zz": "n"})
    with pytest.raises(SpecError, match="both be written z"):
        get_notation("symgrad").named({"a": "z"})
    with pytest.raises(UnknownNameError, match="unknown notation 'bishop'"):
        get_notation("bishop")


# --- what each preset writes ----------------------------------------------------------------

EXPECTED = {  # (preset, derivation): LaTeX that must appear in its Markdown
    ("nielsen", "network"): [r"z^{l}_{j} &= \sum_{k} w^{l}_{jk} a^{l-1}_{k} + b^{l}_{j}", r"a^{3}_{j} &= \sigma(z^{3}_{j})",
                             r"\delta^{3}_{1}", r"\frac{\partial C}{\partial w^{l}_{jk}}",
                             "(with $a^{1} = x$", "layer $1$ being the inputs",
                             r"\delta^{3} = ", r"w^{3}"],
    ("nielsen", "neuron"): [r"C &= \frac{1}{2} (a - y)^{2}", r"\frac{\partial C}{\partial w}"],
    ("goodfellow", "network"): [r"a^{(l)}_{j} &= \sum_{k} W^{(l)}_{jk} h^{(l-1)}_{k} + b^{(l)}_{j}",
                                r"h^{(1)}_{j} &= \sigma(a^{(1)}_{j})", r"g^{(2)}_{1}",
                                r"\frac{\partial J}{\partial W^{(l)}_{jk}}", "(with $h^{(0)} = x$", r"\hat{y}_{1}"],
    ("goodfellow", "batch"): [r"H^{(l-1)}", r"G^{(2)}", r"A^{(l)} = W^{(l)} H^{(l-1)} + b^{(l)} \mathbf{1}^{T}"],
    ("ng", "network"): [r"z^{[l]}_{j} &= \sum_{k} W^{[l]}_{jk} a^{[l-1]}_{k} + b^{[l]}_{j}",
                        r"a^{[2]}_{j} &= \sigma(z^{[2]}_{j})", r"\mathrm{d}z^{[2]}_{1}",
                        r"\frac{\partial J}{\partial W^{[l]}_{jk}}"],
    ("ng", "batch"): [r"\mathrm{d}Z^{[2]}", r"A^{[2]}"],
}


@pytest.mark.parametrize("preset, name", sorted(EXPECTED))
def test_each_preset_writes_its_texts_letters(derived, preset, name):
    text = render(derived[name], "markdown", notation=preset)
    missing = [piece for piece in EXPECTED[preset, name] if piece not in text]
    assert not missing, missing
    assert f"The notation follows {PRESETS[preset].source}." in text


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("name", sorted(DERIVATIONS))
def test_the_mathematics_is_the_same_in_every_notation(derived, preset, name):
    """Each displayed equation chain has the same SymPy sides whatever the letters."""
    plain_chains = displayed_equations(derived[name], "markdown")
    chains = displayed_equations(derived[name], "markdown", notation=preset)
    assert len(chains) == len(plain_chains) > 5
    for shown, reference in zip(chains, plain_chains):
        assert shown.exprs == reference.exprs and shown.rel == reference.rel


EVERYTHING = {"x": "xi", "W": "Theta", "w": "theta", "b": "beta", "z": "zeta", "a": "eta",
              "yhat": "p", "y": "t", "delta": "epsilon", "L": r"\mathcal{L}"}
DEFAULT_LETTERS = [re.escape(r"\hat{y}"), r"\\delta\b", r"\\Delta\b", r"\\partial L\b", r"(?<![\\A-Za-z])[xzaWbLXZAY]\^\{?[(\[0-9l]",
                   r"(?<![\\A-Za-z])[xyzawb]_\{", r"\$[xzawbyL]\$", r"\$[XYZAW]\$"]


@pytest.mark.parametrize("name", sorted(DERIVATIONS))
@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_renaming_every_quantity_leaves_no_default_letter(derived, name, fmt):
    text = render(derived[name], fmt, notation=get_notation("symgrad").named(EVERYTHING))
    left = [pattern for pattern in DEFAULT_LETTERS if re.search(pattern, text)]
    assert not left, [re.search(p, text).group(0) for p in left]
    assert r"\mathcal{L}" in text and r"\epsilon" in text


def test_a_letter_the_loss_already_uses_is_refused():
    d = derive("C*(yhat - y)**2", "yhat", at={"C": 0.5, "yhat": 0.8, "y": 1.0})
    with pytest.raises(SpecError, match="the loss would be written C"):
        render(d, "markdown", notation="nielsen")


def test_pictures_label_in_the_notation():
    weight = layered("W", 1, (0, 1))
    with using(get_notation("nielsen").for_layers(2)):
        assert plain.name(weight) == "w²₁₂" and plain.loss_name() == "C"
    with using(get_notation("ng")):
        assert plain.name(weight) == "W^[1]₁₂"
    assert plain.name(weight) == "W⁽¹⁾₁₂"


# --- the real tools read every notation -------------------------------------------------------

@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_katex_reads_every_preset(derived, preset):
    require("KaTeX", katex_available(), "KaTeX is not installed (run: npm ci --prefix tests/js)")
    segments = []
    for name in DERIVATIONS:
        text = render(derived[name], "markdown", notation=preset)
        segments += [(tex, display) for tex, display, _ in markdown_math_segments(text)]
    errors = [e for e in katex_errors(segments) if e]
    assert not errors and len(segments) > 300, errors[:3]


def test_katex_reads_a_notation_that_renames_everything(derived):
    """Upper-case forms too: a batch's inputs X written in the letter given for x."""
    require("KaTeX", katex_available(), "KaTeX is not installed (run: npm ci --prefix tests/js)")
    text = render(derived["batch"], "markdown", notation=get_notation("symgrad").named(EVERYTHING))
    assert r"\Xi = " in text
    segments = [(tex, display) for tex, display, _ in markdown_math_segments(text)]
    errors = [e for e in katex_errors(segments) if e]
    assert not errors, errors[:3]


@pytest.mark.parametrize("preset", ["nielsen", "goodfellow", "ng"])
def test_pdflatex_compiles_every_preset(derived, preset, tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-latex-base)")
    for name in ("network", "batch"):
        path = tmp_path / f"{name}.tex"
        path.write_text(render(derived[name], "latex", notation=preset), encoding="utf-8")
        compile_latex(path)


# --- specs and the command line -------------------------------------------------------------

SPEC = """
model: {{activation: sigmoid}}
loss: quadratic
wrt: w
at: {{x: 1.5, w: 0.8, b: 0.1, y: 1.0}}
notation: {notation}
"""


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_quadratic_is_the_squared_error_in_the_presets_convention(preset):
    spec = parse_spec(SPEC.format(notation=preset))
    d = derive(spec.graph, spec.wrt, at=spec.at)
    yhat = 1 / (1 + sp.exp(-(sp.Rational(8, 10) * sp.Rational(3, 2) + sp.Rational(1, 10))))
    half = PRESETS[preset].quadratic == "half_squared_error"
    by_hand = (1 if half else 2) * (yhat - 1) * yhat * (1 - yhat) * sp.Rational(3, 2)
    assert sp.Abs(d.worked.gradients[d.parameters[0]] - by_hand) < 1e-25
    assert half == (preset in ("symgrad", "nielsen"))


@pytest.mark.parametrize("text, message", [
    ("notation: bishop", "spec.yaml: notation: unknown notation 'bishop'"),
    ("names: [a, b]", "spec.yaml: names: names must map quantities to letters"),
    ("names: {zz: n}", "spec.yaml: names: names: unknown quantity 'zz'"),
    ("names: {z: 'n$'}", "spec.yaml: names: names.z: cannot write 'n$' as a name"),
])
def test_a_bad_notation_in_a_spec_names_the_key(text, message):
    with pytest.raises(SymgradError) as raised:
        parse_spec(SPEC.format(notation="symgrad").replace("notation: symgrad\n", "") + text, "spec.yaml")
    assert str(raised.value).startswith(message)


def test_the_spec_keeps_its_notation_and_names():
    spec = parse_spec(SPEC.format(notation="nielsen") + "names: {L: E, z: net}")
    d = derive(spec.graph, spec.wrt, at=spec.at)
    text = render(d, "markdown", notation=spec.notation)
    assert r"E &= \frac{1}{2} (a - y)^{2}" in text and r"\mathrm{net} &= w x + b" in text
    assert ("The notation follows Nielsen, Neural Networks and Deep Learning, with "
            r"$\mathrm{net}$ for the weighted sums and $E$ for the loss.") in text


def test_the_cli_writes_in_the_notation_asked_for(tmp_path, capsys):
    out = tmp_path / "neuron.md"
    code = main(["derive", "--expr", "1/2*(sigmoid(w*x + b) - y)**2", "--wrt", "w",
                 "--at", "w=0.8,x=1.5,b=0.1,y=1.0", "--notation", "goodfellow",
                 "--names", "L=E", "--no-verify", "-o", str(out)])
    assert code == 0
    text = out.read_text(encoding="utf-8")
    assert r"\frac{\partial E}{\partial w}" in text and r"h = \sigma(a)" in text


@pytest.mark.parametrize("args, message", [
    (["--notation", "bishop"], "argument --notation: invalid choice: 'bishop'"),
    (["--names", "zz=n"], "--names: unknown quantity 'zz'"),
    (["--names", "z"], "--names: expected name=value, got 'z'"),
])
def test_the_cli_refuses_a_bad_notation_in_one_line(tmp_path, capsys, args, message):
    out = tmp_path / "out.md"
    code = main(["derive", "--expr", "(yhat - y)**2", "--at", "yhat=0.8,y=1", *args, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1 and not out.exists()


def test_a_notebook_is_written_in_the_notation(derived):
    text = render(derived["network"], "notebook", notation="nielsen")
    assert r"w^{2}_{11}" in text and r"W^{(1)}_{11}" not in text


def test_written_in_knows_the_output_layer(derived):
    assert written_in(derived["network"].graph, "nielsen").output_layer == 2
    assert written_in(derived["neuron"].graph, "nielsen").output_layer is None


def test_the_cli_notation_reads_quadratic_in_its_convention(tmp_path, capsys):
    """``--notation`` replaces the spec's preset before the loss is built: the same spec's
    quadratic cost is half the squared error for Nielsen and all of it for Goodfellow et al."""
    spec = tmp_path / "neuron.yaml"
    spec.write_text(SPEC.format(notation="nielsen"), encoding="utf-8")
    gradients = {}
    for preset in ("nielsen", "goodfellow"):
        out = tmp_path / f"{preset}.json"
        assert main(["derive", str(spec), "--notation", preset, "--no-verify", "-o", str(out)]) == 0
        gradients[preset] = json.loads(out.read_text(encoding="utf-8"))["gradients"]["w"]
    assert gradients["goodfellow"] == pytest.approx(2 * gradients["nielsen"], rel=1e-12)


def test_exercise_sheets_take_the_notation_from_the_command_line(tmp_path, capsys):
    spec = tmp_path / "neuron.yaml"
    spec.write_text(SPEC.format(notation="symgrad"), encoding="utf-8")
    sheet = tmp_path / "sheet.md"
    code = main(["exercises", str(spec), "--count", "2", "--notation", "ng", "--names", "L=E",
                 "-o", str(sheet)])
    assert code == 0
    text = (tmp_path / "sheet.key.md").read_text(encoding="utf-8")
    assert r"\frac{\partial E}{\partial w}" in text and "Ng's deep-learning courses" in text


def test_outputs_named_like_the_activations_are_the_last_layers(derived):
    """``yhat: a`` writes a neuron's output a and a network's a^(2), never clashing with the
    hidden activations a^(1)."""
    notation = get_notation("symgrad").named({"yhat": "a"})
    neuron_text = render(derived["neuron"], "markdown", notation=notation)
    assert r"a &= \sigma(z)" in neuron_text and r"\hat{y}" not in neuron_text
    network_text = render(derived["network"], "markdown", notation=notation)
    assert r"a^{(2)}_{j} &= \sigma(z^{(2)}_{j})" in network_text and r"\hat{y}" not in network_text
    assert r"a^{(1)}_{j} &= \sigma(z^{(1)}_{j})" in network_text
    chains = displayed_equations(derived["network"], "markdown", notation=notation)
    assert [c.exprs for c in chains] == [c.exprs for c in displayed_equations(derived["network"], "markdown")]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_a_sums_subscript_follows_the_layers_superscript(derived, preset):
    """Nielsen's a^L_k, not {a^{L}}_{k}: the index written after the layer, as textbooks do."""
    written = get_notation(preset).for_layers(2)
    text = render(derived["network"], "latex", notation=preset)
    output = written.quantity("yhat", None, "k")
    assert output in text and written.quantity("y", None, "k") in text
    assert not re.search(r"\{[^{}]*\^\{[^{}]*\}\}_\{", text), "a superscripted base in braces"
