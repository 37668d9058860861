"""Every document in output/ is accepted by the tool that reads it: pdflatex and KaTeX."""

from __future__ import annotations

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
    for heading in ("The local derivatives", "The forward pass at the given values",
                    "Backpropagation, step by step", "One step of gradient descent",
                    "The same in matrix form"):
        assert heading in text, heading
    assert "from step 1" in text and r"\odot" in text and r"\leftarrow" in text


def test_softmax_with_cross_entropy_states_its_assumption():
    text = (OUTPUT / "12_tanh_softmax_network.md").read_text(encoding="utf-8")
    assert "the targets sum to one, $y_{1} + y_{2} + y_{3} = 1$" in text
    assert r"\delta^{(2)} = \frac{\partial L}{\partial z^{(2)}} = \hat{y} - y" in text
