"""The package's layout stays its pipeline: model -> calculus -> numbers -> pictures ->
documents -> spec files -> teaching -> command line, with imports running one way.

Read from the source with ``ast`` (imports inside functions and under ``TYPE_CHECKING``
count too), so a circle or an upward import fails here before anyone runs into it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "symgrad"

LAYERS = ("errors", "model", "calculus", "numeric", "pictures", "render", "spec", "teaching",
          "cli")
"""The stages in pipeline order: a module may import only from its own stage or earlier."""
API = "symgrad"
"""The package itself, the public API: above every stage but the command line."""
MAX_LINES = 420
"""About 400 lines: a module longer than this holds more than one job."""


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, source: str | None = None) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for each import of a symgrad module
    by the module ``name`` (whose text is ``source``, by default its file's)."""
    path = MODULES.get(name, PACKAGE / "missing.py")
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    local = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             for n in ast.walk(f) if n is not f}
    found = []
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            if node.level or module.startswith("symgrad"):
                targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module
                           for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name.startswith("symgrad")]
        found += [(t, node.lineno, id(node) in local) for t in targets if t in MODULES and t != name]
    return found


GRAPH = {name: sorted({t for t, _, _ in _imports(name)}) for name in MODULES}


def _stage(name: str) -> float:
    if name == API:
        return LAYERS.index("cli") - 0.5
    if name == "symgrad.__main__":
        return len(LAYERS)
    return LAYERS.index(name.split(".")[1])


def _cycles(graph: dict[str, list[str]] = GRAPH) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_modules_import_each_other_in_no_circle():
    assert _cycles() == []


def test_every_module_belongs_to_a_stage_of_the_pipeline():
    for name in MODULES:
        assert name in (API, "symgrad.__main__") or name.split(".")[1] in LAYERS, f"{name}: in no stage of {LAYERS}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_down_the_pipeline(name):
    upward = [f"{t} (line {line})" for t, line, _ in _imports(name) if _stage(t) > _stage(name)]
    assert upward == [], f"{name} imports from a later stage: {', '.join(upward)}"


DEFERRED = {
    ("symgrad", "symgrad.numeric.compile"): "symgrad.compile, on first use",
    ("symgrad.cli.main", "symgrad.cli.gallery"): "gallery and exercises, when they run",
    ("symgrad.cli.main", "symgrad.pictures"): "a document's pictures, only with -o",
    ("symgrad.cli.main", "symgrad.render.pictures"): "their files, only with -o",
    ("symgrad.numeric.kinks", "symgrad.numeric.compile"): "float64 gradients, at a kink hit",
    ("symgrad.pictures.plots", "symgrad.numeric.compile"): "the training plot's gradients",
    ("symgrad.render.environment", "symgrad.render.svg"): "an HTML page's graph",
    ("symgrad.render.environment", "symgrad.render.drawn"): "a LaTeX document's graph",
}
"""The imports done inside a function, each to spare the start-up of a command that does
not use what it imports (``symgrad derive`` to standard output loads neither code
generation, nor the pictures, nor the teaching stage). Any other import inside a function
fails below; these count in the checks of circles and of direction like every import."""


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_symgrad_import_hides_inside_a_function(name):
    hidden = [f"{t} (line {line})" for t, line, inside in _imports(name)
              if inside and (name, t) not in DEFERRED]
    assert hidden == [], f"{name} imports inside a function: {', '.join(hidden)}"


def test_each_deferred_import_is_still_there():
    """DEFERRED lists no import that has gone (or moved to the top of its module)."""
    deferred = {(name, t) for name in MODULES for t, _, inside in _imports(name) if inside}
    assert set(DEFERRED) <= deferred, f"not deferred any more: {sorted(set(DEFERRED) - deferred)}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_is_short_and_says_what_it_holds(name):
    text = MODULES[name].read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_LINES, f"{name} has more than {MAX_LINES} lines"
    assert ast.get_docstring(ast.parse(text)), f"{name} has no opening docstring"


def test_the_checker_sees_a_circle_and_a_hidden_upward_import():
    """The checks themselves, on the knot the package once had: derivation imported the
    renderer inside a function while the renderer imported derivation."""
    source = "import sympy\n\ndef f():\n    from ..render.document import render\n"
    (found,) = _imports("symgrad.calculus.derivation", source)
    assert found == ("symgrad.render.document", 4, True)
    assert _stage(found[0]) > _stage("symgrad.calculus.derivation")
    knot = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert _cycles(knot) == [["a", "b", "c"]]


def test_deriving_to_standard_output_loads_nothing_it_defers():
    """The quick example of the README, in a fresh process, imports none of the modules
    DEFERRED spares it (and no process pool); ``symgrad.compile`` then loads on first use."""
    deferred = sorted({t for _, t in DEFERRED} - {"symgrad.numeric.compile"})
    script = (
        "import sys\n"
        "from symgrad.cli.main import main\n"
        "main(['derive', '--expr', '1/2*(yhat - y)**2', '--wrt', 'yhat', '--at', 'yhat=0.8,y=1.0'])\n"
        f"loaded = [m for m in {deferred + ['symgrad.numeric.compile', 'multiprocessing']!r} if m in sys.modules]\n"
        "import symgrad\n"
        "compiled = symgrad.compile(symgrad.derive('w**2', wrt='w'))\n"
        "print(loaded, type(compiled).__name__, 'symgrad.numeric.compile' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=PACKAGE.parent, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[] Compiled True"
