"""Every document in output/ is accepted by the tool that reads it: pdflatex and KaTeX."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from render_tools import (compile_latex, katex_available, katex_errors, markdown_math_segments,
                          pdflatex_available, require)

OUTPUT = Path(__file__).resolve().parent.parent / "output"
TEX = sorted(OUTPUT.glob("*.tex"))
MARKDOWN = sorted(OUTPUT.glob("*.md"))


def test_the_gallery_has_documents():
    assert len(TEX) >= 3 and len(MARKDOWN) >= 3


@pytest.mark.parametrize("path", TEX, ids=lambda p: p.name)
def test_latex_compiles_with_pdflatex(path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-latex-base)")
    compile_latex(path)


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.name)
def test_markdown_math_renders_with_katex(path):
    require("KaTeX", katex_available(), "KaTeX is not installed (run: npm ci --prefix tests/js)")
    segments = markdown_math_segments(path.read_text(encoding="utf-8"))
    assert segments, "no math found"
    errors = katex_errors([(tex, display) for tex, display, _ in segments])
    failures = [f"line {line}: {error}" for (_, _, line), error in zip(segments, errors) if error]
    assert not failures, "\n".join(failures)


def test_seed_numbers_come_out_exactly():
    text = (OUTPUT / "01_seed_mse.md").read_text(encoding="utf-8")
    assert "0.02" in text and "-0.2" in text and "0.8 - 1.0" in text


def test_the_seed_neuron_is_shown_at_every_level_of_detail():
    names = {p.name for p in MARKDOWN}
    assert {"02_seed_neuron_brief.md", "02_seed_neuron.md", "02_seed_neuron_full.md"} <= names
    full = (OUTPUT / "02_seed_neuron_full.md").read_text(encoding="utf-8")
    assert "(constant rule)" in full and r"From the definition $\sigma(z)" in full


@pytest.mark.parametrize("activation", [r"\sigma(z)", r"\tanh(z)", r"\operatorname{ReLU}(z)",
                                        r"\operatorname{LeakyReLU}(z)", r"\operatorname{softplus}(z)",
                                        r"\operatorname{softmax}_{1}(z_{1}, z_{2}, z_{3})"])
def test_each_activation_is_derived_from_its_definition(activation):
    texts = [p.read_text(encoding="utf-8") for p in MARKDOWN]
    assert any(f"From the definition ${activation} = " in t for t in texts)


NETWORKS = ["03_two_layer_network", "12_tanh_softmax_network", "13_batch_network"]


@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.parametrize("suffix", [".md", ".tex"])
def test_the_networks_are_shown_in_index_and_matrix_form(name, suffix):
    text = (OUTPUT / (name + suffix)).read_text(encoding="utf-8")
    for heading in ("Backpropagation", "The output layer's error (BP1)", "The hidden layers' errors (BP2)",
                    "The gradients (BP3, BP4)", "The numbers: the forward pass", "The errors",
                    "The gradients and one step of gradient descent", "Summary"):
        assert heading in text, heading
    assert r"\odot" in text and r"\boxed{\begin{aligned}" in text
    for old in ("Step 1", "at a glance", "The same in matrix form"):
        assert old not in text, old


CEILINGS = {"03_two_layer_network.tex": 5, "12_tanh_softmax_network.tex": 7}
"""Pages each network document may take (issue 11: as short as Mazur's walk-through)."""


@pytest.mark.parametrize("name", sorted(CEILINGS))
def test_the_network_documents_fit_their_page_ceilings(name, tmp_path):
    """The gallery's document compiled with pdflatex (twice, as for references) is no longer
    than its ceiling."""
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (texlive-latex-base)")
    require("pdfinfo", shutil.which("pdfinfo") is not None, "pdfinfo is not installed (poppler-utils)")
    source = OUTPUT / name
    for _ in range(2):
        subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"-output-directory={tmp_path}",
                        source.name], cwd=source.parent, capture_output=True, stdin=subprocess.DEVNULL,
                       timeout=300, check=True)
    info = subprocess.run(["pdfinfo", str(tmp_path / source.with_suffix(".pdf").name)],
                          capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))
    assert pages <= CEILINGS[name], f"{name}: {pages} pages, at most {CEILINGS[name]}"


def test_softmax_with_cross_entropy_states_its_assumption():
    text = (OUTPUT / "12_tanh_softmax_network.md").read_text(encoding="utf-8")
    assert "the targets sum to one, $y_{1} + y_{2} + y_{3} = 1$" in text
    assert r"\qquad \delta^{(2)} = \hat{y} - y" in text
