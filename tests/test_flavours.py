"""Markdown flavours: the math of each document is the same in every flavour, written with
the delimiters that flavour's site reads (GitHub, MkDocs with pymdownx.arithmatex,
GitBook), and KaTeX accepts all of it."""

from __future__ import annotations

import re

import pytest

from render_tools import flavoured_math_segments, katex_available, katex_errors, require
from symgrad.cli.main import main
from symgrad.errors import UnknownNameError
from symgrad.render.document import render
from test_render import seed, sigmoid_neuron, softmax_network, two_layer

FLAVOURS = ("github", "mkdocs", "gitbook")
DOCUMENTS = {
    "seed": (seed, "standard"),
    "neuron, every step": (sigmoid_neuron, "full"),
    "network": (two_layer, "standard"),
    "softmax network": (softmax_network, "brief"),
}


@pytest.fixture(scope="module")
def documents():
    """Each document in each flavour: {(name, flavour): text}."""
    out = {}
    for name, (make, detail) in DOCUMENTS.items():
        derivation = make()
        for flavour in FLAVOURS:
            out[name, flavour] = render(derivation, "markdown", detail=detail, flavour=flavour)
    return out


def math_of(text: str, flavour: str) -> list[tuple[str, bool]]:
    return [(tex, display) for tex, display, _ in flavoured_math_segments(text, flavour)]


def test_github_is_the_default():
    derivation = sigmoid_neuron()
    assert render(derivation, "markdown") == render(derivation, "markdown", flavour="github")


@pytest.mark.parametrize("name", DOCUMENTS)
@pytest.mark.parametrize("flavour", ["mkdocs", "gitbook"])
def test_every_flavour_has_the_same_math(documents, name, flavour):
    github = math_of(documents[name, "github"], "github")
    assert github and math_of(documents[name, flavour], flavour) == github


def test_github_delimiters(documents):
    text = documents["seed", "github"]
    assert "\n$$\n" in text and " $L$ " in text


def test_mkdocs_delimiters(documents):
    """arithmatex: \\( \\) inline, \\[ \\] on their own lines for display, no dollars."""
    text = documents["neuron, every step", "mkdocs"]
    assert r" \(L\) " in text and "\n\\[\n" in text and "\n\\]\n" in text
    assert "\n  \\[\n" in text, "a step's display is indented into its list item"
    assert "$" not in text.replace(r"\$", "")


def test_gitbook_delimiters(documents):
    """GitBook: $$ for both; a display's $$ stand on their own lines."""
    text = documents["seed", "gitbook"]
    assert " $$L$$ " in text and "\n$$\nL = " in text
    assert not re.search(r"(?<!\$)\$(?!\$)", text.replace(r"\$", ""))


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_every_flavours_math_is_accepted_by_katex(documents, flavour):
    require("KaTeX", katex_available(), "KaTeX is not installed (run: npm ci --prefix tests/js)")
    segments = [s for (name, f), text in documents.items() if f == flavour
                for s in flavoured_math_segments(text, flavour)]
    errors = katex_errors([(tex, display) for tex, display, _ in segments])
    failures = [f"line {line}: {error}" for (_, _, line), error in zip(segments, errors) if error]
    assert not failures, "\n".join(failures)


def test_an_unknown_flavour_is_rejected():
    with pytest.raises(UnknownNameError, match="flavour 'pandoc'.*github, mkdocs, gitbook"):
        render(seed(), "markdown", flavour="pandoc")


def test_the_cli_writes_a_flavour(capsys):
    code = main(["derive", "--expr", "1/2*(yhat - y)**2", "--wrt", "yhat", "--at",
                 "yhat=0.8,y=1.0", "--markdown-flavour", "mkdocs"])
    out = capsys.readouterr().out
    assert code == 0 and r"\(\hat{y}\)" in out and "\n\\[\n" in out


def test_the_cli_rejects_an_unknown_flavour(capsys):
    code = main(["derive", "--expr", "x**2", "--markdown-flavour", "latex"])
    assert code == 2 and "--markdown-flavour" in capsys.readouterr().err
