"""MkDocs' table of contents shows a heading's plain-text label, not its TeX: in the mkdocs
flavour a heading with math carries ``{ data-toc-label="..." }`` (attr_list), checked on
a tiny MkDocs site built from generated documents (mkdocs with pymdownx.arithmatex, as the
flavour documents)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import pytest

from render_tools import require
from symgrad.render.document import render
from symgrad.render.flavours import toc_label
from test_render import sigmoid_neuron, two_layer

CONFIG = """site_name: symgrad
markdown_extensions:
  - attr_list
  - toc
  - pymdownx.arithmatex:
      generic: true
"""


def mkdocs_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("mkdocs", "pymdownx"))


@pytest.mark.parametrize("tex, plain", [
    ("The gradient with respect to $w$", "The gradient with respect to w"),
    (r"$\frac{\partial L}{\partial \hat{y}}$", "∂L/∂ŷ"),
    (r"Step 3: the errors $\delta^{(2)}_{j}$ of the output layer",
     "Step 3: the errors δ⁽²⁾ⱼ of the output layer"),
    (r"$\frac{\partial z^{(1)}_{1}}{\partial W^{(1)}_{11}}$, a weighted sum", "∂z⁽¹⁾₁/∂W⁽¹⁾₁₁, a weighted sum"),
    (r"$\log\left(1 + e^{-z}\right)$", "log(1 + e^(-z))"),
    (r'Costs \$5 "net"', "Costs $5 'net'"),
])
def test_toc_labels_are_the_heading_without_tex(tex, plain):
    assert toc_label(tex) == plain


def test_only_the_mkdocs_flavour_labels_headings():
    derivation = sigmoid_neuron()
    github = render(derivation, "markdown", flavour="github")
    mkdocs = render(derivation, "markdown", flavour="mkdocs")
    assert "data-toc-label" not in github and "data-toc-label" not in render(
        derivation, "markdown", flavour="gitbook")
    assert '## The gradient with respect to \\(w\\) { data-toc-label="The gradient with respect to w" }' in mkdocs
    # Headings without math keep no attribute list.
    assert re.search(r"^## The model$", mkdocs, re.MULTILINE)


@pytest.mark.parametrize("make", [sigmoid_neuron, two_layer])
def test_a_mkdocs_site_shows_no_tex_in_its_table_of_contents(make, tmp_path):
    require("mkdocs", mkdocs_available(), "mkdocs and pymdown-extensions are not installed")
    import markdown

    text = render(make(), "markdown", detail="full", flavour="mkdocs")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text(text, encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text(CONFIG)
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    nav = re.findall(r'<a href="#[^"]*" class="nav-link">([^<]*)</a>', html)
    assert nav and not any("\\" in entry or "$" in entry for entry in nav), nav
    # The page itself still typesets every heading's math (a network document's headings
    # carry none: its headings name the steps in words).
    with_math = re.findall(r"^#+ [^\n]*\\\(", text, re.MULTILINE)
    assert len(re.findall(r'<h\d [^>]*>[^<]*<span class="arithmatex">\\\(', html)) == len(with_math)
    # Every level of the table of contents (the theme shows the top two), as MkDocs builds it.
    md = markdown.Markdown(extensions=["attr_list", "toc", "pymdownx.arithmatex"],
                           extension_configs={"pymdownx.arithmatex": {"generic": True}})
    md.convert(text)

    def names(tokens):
        for token in tokens:
            yield token["name"]
            yield from names(token["children"])

    entries = list(names(md.toc_tokens))
    assert len(entries) == len(re.findall(r"^#+ ", text, re.MULTILINE)) >= 8
    assert not [e for e in entries if "\\" in e or "$" in e]
