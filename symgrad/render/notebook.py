"""A derivation as a Jupyter notebook: the Markdown document in cells, then code that
recomputes its numbers with the compiled numpy function and compares them.

The code cells use only the public API: they build the same loss graph again (with
``neuron``/``network`` and ``with_loss``, or from the loss expression), derive and
compile it, evaluate it at the document's values and check the loss and gradients
against the document's. Cell ids are numbered and nothing is executed, so the same
derivation always gives the same file.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from ..calculus.derivation import Derivation
from ..errors import DerivationError, SymgradError
from ..model.functions import softmax, unspecified_names
from ..model.graph import Graph, Role, from_expression
from ..model.values import arrange
from ..model.parse import UNSPECIFIED, parse_expression
from ..numeric.kinks import ATOL, RTOL, kinks

if TYPE_CHECKING:
    from nbformat.notebooknode import NotebookNode

HEADING = re.compile(r"^(?=## )", re.MULTILINE)
"""Where a Markdown cell starts: at each section (the title stays with what it heads)."""
SYMPY_NAMES = re.compile(r"\b(Max|Min|Abs)\(")
"""SymPy's names of functions symgrad's parser writes in lower case (max, min, abs)."""
KERNEL = {"name": "python3", "display_name": "Python 3", "language": "python"}
TOLERANCE = "rtol=1e-9, atol=1e-12"
"""The check's tolerance, as written in the notebook: numeric.kinks.RTOL and ATOL."""


def nbformat() -> ModuleType:
    """nbformat, imported when a notebook is first written: it and its schema validator
    take about a tenth of a second to load, which every other command would pay."""
    return importlib.import_module("nbformat")


def notebook_text(derivation: Derivation, markdown: str) -> str:
    """The notebook of ``derivation`` (its rendered ``markdown`` and the code that
    recomputes its numbers) as the text of an ``.ipynb`` file."""
    return nbformat().writes(notebook(derivation, markdown)) + "\n"


def notebook(derivation: Derivation, markdown: str) -> NotebookNode:
    """The notebook: one Markdown cell per top-level section, then the code cells."""
    cells = [nbformat().v4.new_markdown_cell(s) for s in sections(markdown)]
    unspecified = derivation.graph.unspecified
    cells.append(nbformat().v4.new_markdown_cell(
        "## The numbers again, with numpy\n\n"
        "The same loss built again with symgrad, compiled to numpy and evaluated; "
        "the last cell checks the results against the numbers above." if not unspecified else
        "## The gradient again, with symgrad\n\n"
        f"The same loss built again with symgrad and derived; {', '.join(unspecified)} "
        "is left unspecified, so there are no numbers to compute: the last cell checks the "
        "gradient against the one above."))
    cells += [nbformat().v4.new_code_cell(source) for source in code(derivation)]
    return assemble(cells)


def sections(markdown: str) -> list[str]:
    """A Markdown document cut into one piece per top-level section (``## ``); the
    title stays with what it heads."""
    return [s.strip("\n") for s in HEADING.split(markdown) if s.strip()]


def assemble(cells: list[NotebookNode]) -> NotebookNode:
    """A notebook of ``cells`` for the python3 kernel, their ids numbered in order,
    validated against nbformat's schema."""
    for number, cell in enumerate(cells, start=1):
        cell.id = f"cell-{number:03d}"
    nb = nbformat().v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": KERNEL, "language_info": {"name": "python"}}
    nbformat().validate(nb)
    return nb


def code(derivation: Derivation) -> list[str]:
    """The code cells' sources: rebuild, derive and compile; evaluate; compare."""
    wrt = [p.name for p in derivation.parameters]
    if derivation.graph.unspecified:
        return _symbolic_code(derivation, wrt)
    build = (f"import numpy as np\nimport symgrad\n{builder(derivation.graph)}\n\n"
             f"derivation = symgrad.derive(graph, wrt={wrt!r})\n"
             "f = symgrad.compile(derivation)")
    worked = derivation.worked
    if worked is None:
        return [build + "\nprint(f.source)"]
    leaves = [s for g in derivation.graph.groups for s in g.symbols]
    values = arrange(derivation.graph, leaves, {s: float(worked.given[s]) for s in leaves})
    arguments = ", ".join(f"{name}={value!r}" for name, value in values.items())
    evaluate = (f"result = f({arguments})\n"
                "print('loss', float(result.loss))\n"
                "for name, gradient in result.gradients.items():\n"
                "    print('dL/d' + name, gradient.tolist())")
    gradients = {p: float(v) for p, v in worked.gradients.items()}
    expected = arrange(derivation.graph, derivation.parameters, gradients)
    document = f"document = {{'loss': {float(worked.loss)!r}, 'gradients': {expected!r}}}\n"
    loss = f"assert np.isclose(result.loss, document['loss'], {TOLERANCE})\n"
    float64 = _float64(derivation)
    if not float64:
        return [build, evaluate, document + loss + (
            "for name, gradient in document['gradients'].items():\n"
            f"    assert np.allclose(result.gradients[name], gradient, {TOLERANCE}), name\n"
            "print('The loss and every gradient agree with the document.')")]
    return [build, evaluate, document + (
        "# At a kink float64 and the exact values fall on different sides; the document\n"
        "# gives float64's gradients where they differ:\n"
        f"float64 = {float64!r}\n") + loss + (
        "for name, gradient in document['gradients'].items():\n"
        "    expected = float64.get(name, gradient)\n"
        f"    assert np.allclose(result.gradients[name], expected, {TOLERANCE}), name\n"
        "    if name in float64:\n"
        "        print(f'dL/d{name}: float64 gives {expected}, the exact value is {gradient} '\n"
        "              '(float64 and the exact values differ at a kink: see the document)')\n"
        "print('The loss and every gradient agree with the document '\n"
        "      '(with the float64 values it states at a kink).')")]


def _symbolic_code(derivation: Derivation, wrt: list[str]) -> list[str]:
    """The code cells of a loss with an unspecified function: rebuild and derive, print
    each gradient, compare them with the document's (there are no numbers)."""
    build = (f"import symgrad\n{builder(derivation.graph)}\n\n"
             f"derivation = symgrad.derive(graph, wrt={wrt!r}, verify=True)\n"
             "gradients = {g.parameter.name: str(g.intermediate) for g in derivation.gradients}\n"
             "for name, gradient in gradients.items():\n"
             "    print('dL/d' + name, '=', gradient)")
    document = {g.parameter.name: str(g.intermediate) for g in derivation.gradients}
    return [build, f"document = {document!r}\nassert gradients == document, gradients\n"
                   "print('The gradients agree with the document.')"]


def _float64(derivation: Derivation) -> dict:
    """The groups (or elements) whose float64 gradients differ from the exact ones at a
    kink, with the float64 values the document states; empty when there are none."""
    hit = kinks(derivation)
    if hit is None or not hit.differing:
        return {}
    floats = arrange(derivation.graph, derivation.parameters, hit.gradients)
    exact = arrange(derivation.graph, derivation.parameters,
                    {p: float(v) for p, v in derivation.worked.gradients.items()})
    return {name: value for name, value in floats.items()
            if not np.allclose(value, exact[name], rtol=RTOL, atol=ATOL)}


def builder(graph: Graph) -> str:
    """Python that builds ``graph`` again as ``graph``, through the public API."""
    if graph.kind == "neuron":
        activation = next(d.activation for d in graph.definitions if d.role is Role.ACTIVATION)
        model = f"symgrad.neuron({activation!r}, bias={graph.group('b') is not None}" \
                f"{_functions(graph)})"
    elif graph.kind == "network":
        model = _network(graph)
    else:
        return _expression(graph)
    return f"graph = symgrad.with_loss({model}, {graph.loss_name!r})"


def _network(graph: Graph) -> str:
    """``symgrad.network(...)`` with the graph's inputs, layers and batch."""
    weights = [g for g in graph.groups if re.fullmatch(r"W\d+", g.name)]
    activations = [d.activation for d in graph.definitions if d.role is Role.ACTIVATION]
    layers, start = [], 0
    for W in weights:
        layers.append((W.shape[0], activations[start]))
        start += W.shape[0] * (graph.batch or 1)
    batch = "" if graph.batch is None else f", batch={graph.batch}"
    return f"symgrad.network({weights[0].shape[1]}, {layers!r}{batch}{_functions(graph)})"


def _functions(graph: Graph) -> str:
    """The argument declaring the unspecified functions besides f, if any."""
    names = [n for n in graph.unspecified if n not in UNSPECIFIED]
    return f", functions={names!r}" if names else ""


def _expression(graph: Graph) -> str:
    """``symgrad.from_expression`` of the loss written out: as text when symgrad's parser
    reads it back unchanged, else (a softmax) with ``symgrad.model.functions.softmax``."""
    loss = graph.composed()
    text = SYMPY_NAMES.sub(lambda m: m.group(1).lower() + "(", str(loss))
    if _reads_back(text, loss):
        return f"graph = symgrad.from_expression({text!r}{_data(graph, text)}{_functions(graph)})"
    if isinstance(loss, softmax) and all(a.is_Symbol for a in loss.args[1:]):
        names = " ".join(a.name for a in loss.args[1:])
        return ("import sympy\nfrom symgrad.model.functions import softmax\n"
                f"graph = symgrad.from_expression(softmax({loss.args[0]}, "
                f"*sympy.symbols({names!r}, real=True)))")
    raise DerivationError(f"a notebook cannot write code that builds {text!r} again")


def _data(graph: Graph, text: str) -> str:
    """The arguments naming the expression's inputs and targets, when they are not the
    ones ``from_expression`` takes by default."""
    roles = lambda g: {role: [x.name for x in g.groups if x.role == role] for role in ("input", "target")}
    declared = roles(graph)
    if declared == roles(from_expression(text, functions=graph.unspecified)):
        return ""
    return "".join(f", {role}s={names!r}" for role, names in declared.items())


def _reads_back(text: str, expr: sp.Expr) -> bool:
    """True when symgrad's parser reads ``text`` back as ``expr`` itself."""
    try:
        return parse_expression(text, unspecified_names(expr)) == expr
    except SymgradError:
        return False

