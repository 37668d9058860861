"""Answer keys a grader can read (issue 11): what the problems share (the model, the notation,
the activations' conventions, how a worked solution goes, the verification) is said once
per key in every format; each problem still carries its whole solution, line by line, and
every number on those lines is checked against sympy.diff of a hand-written loss; headings
inside a problem sit one level below the problem's; the gallery's key prints on at most a
page per problem plus one."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import nbformat
import pytest
import sympy as sp

from render_tools import _pdflatex_pass, pdflatex_available, require
from symgrad.calculus.engine import checked, derive
from symgrad.spec import parse_spec
from symgrad.teaching.exercises import exercises, load_exercises, structure
from symgrad.teaching.sheets import FORMATS, render_sheet

ROOT = Path(__file__).resolve().parent.parent
GALLERY_SPEC = ROOT / "examples" / "exercises" / "15_neuron_exercises.yaml"
GALLERY_KEY = ROOT / "output" / "exercises" / "15_neuron_exercises.key.tex"

SHARED = [  # each said once in a key of several neuron problems
    "Every step of the four symbolic derivations behind the problems",
    "Every problem is one neuron",
    r"Here $x$ is the input, $w$ the weight and $b$ the bias",
    r"The sigmoid is $\sigma(z) = \frac{1}{1 + e^{-z}}$.",
    "Its derivative is not defined at $z = 0$; we take it to be $0$ there",
    "A worked solution gives the forward pass",
    "Computed numbers are shown to 6 significant digits",
]
PER_DOCUMENT = ["The model", "The backpropagation view", "Putting it together", "Reading the gradient",
                "With numbers", "each quantity from those before it", "checked numerically"]
"""What the derivation documents say and a neuron problem of the key no longer repeats."""

# A hand-written neuron, independent of symgrad: z = w x + b, yhat = f(z), L = loss(yhat, y).
X, W, B, Y, Z, YHAT = sp.symbols("x w b y z yhat")
ACTIVATIONS = {"sigmoid": lambda z: 1 / (1 + sp.exp(-z)), "tanh": sp.tanh,
               "relu": lambda z: sp.Max(0, z)}
LOSSES = {"squared_error": lambda p, t: (p - t) ** 2,
          "binary_cross_entropy": lambda p, t: -(t * sp.log(p) + (1 - t) * sp.log(1 - p))}
RATE = 0.5
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
CHAIN = {p: rf"\frac{{\partial L}}{{\partial \hat{{y}}}} \cdot \frac{{\partial \hat{{y}}}}{{\partial z}}"
            rf" \cdot \frac{{\partial z}}{{\partial {p}}}" for p in "wb"}


@pytest.fixture(scope="module")
def gallery():
    spec, settings = load_exercises(GALLERY_SPEC)
    return exercises(spec, settings.count, settings.seed, settings.activations, settings.losses,
                     verify=True)


def key_text(sheet, fmt: str) -> str:
    """The key as text; a notebook's Markdown cells, in order."""
    text = render_sheet(sheet, fmt, key=True)
    if fmt != "notebook":
        return text
    nb = nbformat.reads(text, as_version=4)
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def problems(text: str, fmt: str) -> list[str]:
    """Each problem's part of a key, from its heading to the next."""
    heading = r"\\subsection\*\{Problem \d+\}" if fmt == "latex" else r"^## Problem \d+$"
    return re.split(heading, text, flags=re.MULTILINE)[1:]


def reference(problem) -> dict[str, float]:
    """The problem's numbers from sympy.diff of the hand-written neuron at its values."""
    v = {s: sp.Rational(str(problem.values[s.name])) for s in (X, W, B, Y)}
    f, loss = ACTIVATIONS[problem.activation], LOSSES[problem.loss]
    z = (W * X + B).subs(v)
    yhat = f(z)
    composed = loss(f(W * X + B), Y)
    out = {"z": z, "yhat": yhat, "L": loss(yhat, v[Y]),
           "dL/dyhat": sp.diff(loss(YHAT, Y), YHAT).subs({YHAT: yhat, Y: v[Y]}),
           "dyhat/dz": sp.diff(f(Z), Z).subs(Z, z), "dz/dw": v[X], "dz/db": 1}
    for p in (W, B):
        out[f"dL/d{p}"] = sp.diff(composed, p).subs(v)
        out[f"{p} after"] = v[p] - sp.Rational(str(RATE)) * out[f"dL/d{p}"]
    out["L after"] = composed.subs({**v, W: out["w after"], B: out["b after"]})
    return {k: float(sp.N(e, 30)) for k, e in out.items()}


def close(shown: str, value: float) -> bool:
    """A number printed to 6 significant digits is ``value``."""
    return float(shown) == pytest.approx(value, rel=6e-6, abs=1e-12)


def line(part: str, lhs: str) -> str:
    """The display chain of ``part`` whose left side is ``lhs``, its continuation lines
    (``&= ...``) joined on: ``lhs &= a = b = c``."""
    rows = [l.strip().removesuffix(r"\\").strip() for l in part.splitlines()]
    found = []
    for i, row in enumerate(rows):
        if row.startswith(lhs + " &"):
            more = []
            for follow in rows[i + 1:]:
                if not follow.startswith("&="):
                    break
                more.append(follow[1:])
            found.append(" ".join([row, *more]))
    assert len(found) == 1, (lhs, found)
    return found[0]


def numbers(side: str) -> list[float]:
    return [float(n) for n in NUMBER.findall(side.replace(r"\cdot", " "))]


# --- said once ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_what_the_problems_share_is_said_once(gallery, fmt):
    text = key_text(gallery, fmt)
    for sentence in SHARED:
        assert text.count(sentence) == 1, (fmt, sentence, text.count(sentence))
    assert len(problems(text, fmt)) == 4
    for part in problems(text, fmt):
        for phrase in PER_DOCUMENT:
            assert phrase not in part, (fmt, phrase)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_verification_sentence_is_true_of_the_derivations_behind_the_problems(gallery, fmt):
    """Four pairs of activation and loss, so four symbolic derivations; the counts are their
    verifications' sums, each derived here again from the pair's model."""
    pairs = {(p.activation, p.loss) for p in gallery.problems}
    assert len(pairs) == 4
    spec, _ = load_exercises(GALLERY_SPEC)
    checks = [checked(derive(structure(spec.graph).build(a, l), spec.wrt)).verification
              for a, l in sorted(pairs)]
    equations, references = sum(c.equations for c in checks), sum(c.references for c in checks)
    text = key_text(gallery, fmt)
    assert text.count("Every step of") == 1
    assert (f"their {equations} step equations and the {references} local derivatives they give "
            "hold at each of 12 random points.") in text


def test_one_model_is_one_derivation(tmp_path):
    spec = parse_spec("model: {activation: sigmoid}\nloss: squared_error\nwrt: [w, b]\n")
    sheet = exercises(spec, 3, 2, verify=True)
    expected = checked(derive(spec.graph, spec.wrt)).verification
    text = key_text(sheet, "markdown")
    assert text.count("Every step of the symbolic derivation the problems share was checked") == 1
    assert f"its {expected.equations} step equations" in text
    assert "One step of gradient descent" not in text and "moving against its gradient" not in text


def test_an_expression_key_states_its_loss_once_and_each_gradient_directly():
    spec = parse_spec("expression: (w*x + b - y)**2\nwrt: [w, b]\nlearning_rate: 0.1\n")
    sheet = exercises(spec, 3, 1, verify=True)
    text = key_text(sheet, "markdown")
    assert text.count("Every problem has the loss") == 1 and text.count("Every step of") == 1
    assert text.count("the loss depends on each parameter directly") == 1
    for problem, part in zip(sheet.problems, problems(text, "markdown")):
        v = {s: sp.Rational(str(problem.values[s.name])) for s in (X, W, B, Y)}
        loss = (W * X + B - Y) ** 2
        for p in (W, B):
            gradient = float(sp.diff(loss, p).subs(v))
            shown = line(part, rf"\frac{{\partial L}}{{\partial {p}}}")
            assert close(NUMBER.findall(shown)[-1], gradient), (p, shown)


def test_a_network_key_says_its_verification_once():
    network = parse_spec((ROOT / "examples" / "03_two_layer_network.yaml").read_text())
    text = render_sheet(exercises(network, 2, 0, verify=True), "markdown", key=True)
    assert text.count("Every step of") == 1 and text.count("## Problem") == 2


# --- each problem's whole solution, line by line ------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_problem_carries_its_solution_line_by_line(gallery, fmt):
    """The forward pass, every local derivative, each gradient as the chain rule's product
    of those numbers, the answers' table and the step, each number against sympy.diff."""
    for problem, part in zip(gallery.problems, problems(key_text(gallery, fmt), fmt)):
        r = reference(problem)
        assert close(NUMBER.findall(line(part, "z"))[-1], r["z"])
        assert close(NUMBER.findall(line(part, r"\hat{y}"))[-1], r["yhat"])
        assert close(NUMBER.findall(line(part, "L"))[-1], r["L"])
        assert close(re.search(r"The loss is \$L = (\S+)\$\.", part).group(1), r["L"])
        local = {"dL/dyhat": r"\frac{\partial L}{\partial \hat{y}}",
                 "dyhat/dz": r"\frac{\partial \hat{y}}{\partial z}",
                 "dz/dw": r"\frac{\partial z}{\partial w}", "dz/db": r"\frac{\partial z}{\partial b}"}
        for name, lhs in local.items():
            assert close(NUMBER.findall(line(part, lhs))[-1], r[name]), (problem.number, name)
        for p in "wb":
            shown = line(part, rf"\frac{{\partial L}}{{\partial {p}}}")
            sides = [s.strip() for s in shown.split("&=")[1].split(" = ")]
            assert sides[0] == CHAIN[p], shown  # the chain, then its numbers, then the product
            factors = numbers(sides[1])
            assert len(factors) == 3 and all(close(str(f), r[k]) for f, k in
                                             zip(factors, ["dL/dyhat", "dyhat/dz", f"dz/d{p}"]))
            assert close(sides[2], r[f"dL/d{p}"])
            row = re.search(rf"\$?{p}\$? *(?:&|\|) *\$(\S+)\$ *(?:&|\|) *\$(\S+)\$", part)
            assert close(row.group(1), r[f"dL/d{p}"]) and close(row.group(2), r[f"{p} after"])
            step = line(part, p).split(r"\leftarrow")[1].split(" = ")
            assert step[0].strip() == rf"{p} - \eta \frac{{\partial L}}{{\partial {p}}}"
            given, rate, gradient = numbers(step[1])
            assert given == problem.values[p] and rate == RATE and close(str(gradient), r[f"dL/d{p}"])
            assert close(step[2], r[f"{p} after"])
        after = re.search(r"After the step the loss is \$(\S+)\$, down from \$(\S+)\$\.", part)
        assert close(after.group(1), r["L after"]) and close(after.group(2), r["L"])


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_headings_inside_a_problem_are_one_level_below_it(gallery, fmt):
    text = key_text(gallery, fmt)
    for part in problems(text, fmt):
        if fmt == "markdown":
            inner = re.findall(r"^(#+) (.*)$", part, flags=re.MULTILINE)
            assert inner and all(level == "###" for level, _ in inner), inner
        else:
            inner = re.findall(r"\\(\w*section|paragraph)\*?\{([^}]*)\}", part)
            assert inner and all(kind == "subsubsection" for kind, _ in inner), inner
        assert [title for _, title in inner] == ["Answers", "Worked solution"]


# --- printed --------------------------------------------------------------------------------


def test_the_gallery_key_prints_on_a_page_a_problem_and_one_more():
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-latex-base)")
    count = len(re.findall(r"\\subsection\*\{Problem \d+\}", GALLERY_KEY.read_text(encoding="utf-8")))
    assert count == 4
    with tempfile.TemporaryDirectory(prefix="symgrad-key-") as out:
        log = _pdflatex_pass(GALLERY_KEY, Path(out))
    pages = int(re.search(r"Output written on .*?\((\d+) pages?", log, re.DOTALL).group(1))
    assert pages <= count + 1, f"{pages} pages for {count} problems"
    assert "Overfull \\hbox" not in log
