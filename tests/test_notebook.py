"""Jupyter: the notebook format (valid by nbformat's schema, deterministic, executed cleanly
by a real kernel with nbclient, printing the document's numbers) and a derivation's rich
display in a notebook."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from render_tools import require
from symgrad.cli.main import main
from symgrad.calculus.engine import derive
from symgrad.model.graph import network, with_loss
from symgrad.render.document import EXTENSIONS, FORMATS, render
from symgrad.spec import load_spec
from test_render import seed, sigmoid_neuron, softmax_network, two_layer

ROOT = Path(__file__).resolve().parent.parent
GALLERY_NOTEBOOK = ROOT / "output" / "02_seed_neuron.ipynb"
EXECUTION_TIMEOUT = 300


def batch_network():
    model = with_loss(network(2, [(3, "tanh"), (1, "sigmoid")], batch=2), "mse")
    return derive(model, "all", at={"x": [[0.5, -1.0], [0.25, 2.0]], "y": [[1.0, 0.0]],
                                     "W1": [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]],
                                     "b1": [0.0, 0.1, -0.1], "W2": [[0.7, -0.8, 0.9]], "b2": [0.2]})


def softmax_expression():
    return derive(load_spec(ROOT / "examples" / "11_softmax.yaml").graph, "all",
                  at={"z1": 1.0, "z2": 2.0, "z3": 0.5})


def leaky_expression():
    return derive("leaky_relu(w*x + b)**2 / 2", "all", at={"w": -0.5, "x": 2.0, "b": 0.25})


EXAMPLES = {
    "seed": seed,
    "neuron": sigmoid_neuron,
    "network": two_layer,
    "softmax network": softmax_network,
    "batch network": batch_network,
    "softmax expression": softmax_expression,
    "leaky ReLU expression": leaky_expression,
}


@pytest.fixture(scope="module")
def notebooks():
    """{name: (derivation, notebook text)} for every example."""
    out = {}
    for name, make in EXAMPLES.items():
        derivation = make()
        out[name] = derivation, render(derivation, "notebook")
    return out


def test_notebook_is_a_format():
    assert "notebook" in FORMATS and EXTENSIONS["notebook"] == ".ipynb"


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_notebook_validates(notebooks, name):
    """The file as written passes the schema (stricter than nbformat.read, which would
    add missing cell ids), and nbformat reads and validates it."""
    text = notebooks[name][1]
    assert not list(nbformat.validator.iter_validate(json.loads(text)))
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_cells_hold_the_document_and_the_code(notebooks, name):
    derivation, text = notebooks[name]
    nb = nbformat.reads(text, as_version=4)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds == ["markdown"] * kinds.count("markdown") + ["code"] * 3
    markdown = "\n\n".join(c.source for c in nb.cells[:kinds.count("markdown") - 1])
    assert markdown + "\n" == render(derivation, "markdown")
    assert all(c.source.startswith("## ") for c in nb.cells[1:kinds.count("markdown")])


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_notebook_is_deterministic(notebooks, name):
    """Stable ids, no outputs: rendering again gives the same file."""
    derivation, text = notebooks[name]
    assert render(derivation, "notebook") == text
    nb = nbformat.reads(text, as_version=4)
    assert [c.id for c in nb.cells] == [f"cell-{i:03d}" for i in range(1, len(nb.cells) + 1)]
    assert all(c.outputs == [] and c.execution_count is None
               for c in nb.cells if c.cell_type == "code")


def kernel_available() -> bool:
    try:
        from jupyter_client.kernelspec import KernelSpecManager
        import nbclient  # noqa: F401
    except ImportError:
        return False
    return "python3" in KernelSpecManager().find_kernel_specs()


def printed_numbers(nb) -> dict[str, list[float]]:
    """{quantity: numbers} from the lines the evaluation cell printed."""
    text = "".join(o.get("text", "") for o in nb.cells[-2].outputs)
    return {line.split(" ", 1)[0]: [float(n) for n in re.findall(r"-?\d[\d.e+-]*", line.split(" ", 1)[1])]
            for line in text.strip().splitlines()}


@pytest.mark.parametrize("name", ["neuron", "batch network", "softmax expression",
                                  "leaky ReLU expression"])
def test_the_notebook_executes_and_prints_the_documents_numbers(notebooks, name):
    require("a Jupyter kernel", kernel_available(),
            "nbclient or the python3 kernel is missing (pip install -e '.[test]', "
            "then python3 -m ipykernel install --user)")
    from nbclient import NotebookClient

    derivation, text = notebooks[name]
    nb = nbformat.reads(text, as_version=4)
    NotebookClient(nb, timeout=EXECUTION_TIMEOUT, kernel_name="python3").execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    assert "agree with the document" in nb.cells[-1].outputs[0]["text"]
    printed = printed_numbers(nb)
    worked = derivation.worked
    assert printed["loss"] == pytest.approx([float(worked.loss)], rel=1e-12)
    gradients = sorted(float(v) for v in worked.gradients.values())
    assert sorted(n for k, v in printed.items() if k != "loss" for n in v) == pytest.approx(
        gradients, rel=1e-9, abs=1e-15)


def test_the_rich_display_is_the_markdown_document():
    derivation = sigmoid_neuron()
    assert derivation._repr_markdown_() == render(derivation, "markdown")


def test_the_gallery_has_a_notebook():
    text = GALLERY_NOTEBOOK.read_text(encoding="utf-8")
    nbformat.validate(nbformat.reads(text, as_version=4))
    assert "symgrad.neuron('sigmoid', bias=False)" in text


@pytest.mark.parametrize("argv", [["-o", "{out}"], ["--format", "notebook", "-o", "{out}"]])
def test_the_cli_writes_a_notebook(tmp_path, capsys, argv):
    out = tmp_path / "neuron.ipynb"
    spec = str(ROOT / "examples" / "02_seed_neuron.yaml")
    code = main(["derive", spec] + [a.format(out=out) for a in argv])
    assert code == 0, capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == GALLERY_NOTEBOOK.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["neuron.ipynb"], "no temporary file left"


@pytest.mark.parametrize("spec", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_examples_code_rebuilds_its_numbers(spec, capsys):
    """The code cells of each example's notebook, run in this process: they build the
    loss again and their own assertions compare its numbers with the document's."""
    s = load_spec(spec)
    derivation = derive(s.graph, s.wrt, at=s.at, learning_rate=s.learning_rate)
    nb = nbformat.reads(render(derivation, "notebook", detail="brief"), as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            exec(compile(cell.source, f"<{cell.id}>", "exec"), namespace)
    assert "agree with the document" in capsys.readouterr().out
