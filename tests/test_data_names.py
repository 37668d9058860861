"""Inputs and targets are data: ``wrt: all`` differentiates the parameters alone, and
gradient descent never updates an input or a target, even when its gradient is asked for."""

from __future__ import annotations

import json
import re

import pytest
import sympy as sp

import symgrad
from symgrad.cli.main import main
from symgrad.model.graph import from_expression
from symgrad.render.document import render
from symgrad.render.notebook import builder
from symgrad.spec import parse_spec

LINEAR = "(w*x + b - y)**2"
AT = {"w": 0.5, "x": 2.0, "b": 0.1, "y": 1.0}


def section(text: str, title: str) -> str:
    """The Markdown section headed ``title``, up to the next heading."""
    match = re.search(rf"#+ {title}\n(.*?)(?=\n#|\Z)", text, re.S)
    assert match, title
    return match.group(1)


def test_all_on_a_free_expression_derives_the_parameters_alone():
    d = symgrad.derive(LINEAR, "all", at=AT, learning_rate=0.1)
    assert {p.name for p in d.parameters} == {"w", "b"}
    w, x, b, y = sp.symbols("w x b y", real=True)
    loss = (w * x + b - y) ** 2
    values = {w: 0.5, x: 2.0, b: 0.1, y: 1.0}
    for p in d.parameters:
        expected = sp.diff(loss, sp.Symbol(p.name, real=True)).subs(values)
        assert abs(float(d.worked.gradients[p]) - float(expected)) < 1e-12
    assert {p.name: float(v) for p, v in d.worked.updated.items()} == pytest.approx(
        {"w": 0.5 - 0.1 * 0.4, "b": 0.1 - 0.1 * 0.2})


def test_the_update_and_the_reading_leave_the_data_alone():
    text = render(symgrad.derive(LINEAR, "all", at=AT, learning_rate=0.1), "markdown")
    update = section(text, "One step of gradient descent")
    assert r"w &\leftarrow" in update and r"b &\leftarrow" in update
    assert "leftarrow x" not in update and r"x &\leftarrow" not in update and r"y &\leftarrow" not in update
    reading = section(text, "Reading the gradient")
    assert "$w$" in reading and "$x$" not in reading and "$y$" not in reading
    data = json.loads(render(symgrad.derive(LINEAR, "all", at=AT, learning_rate=0.1), "json"))
    assert set(data["gradients"]) == set(data["updated"]) == {"w", "b"}


def test_an_explicit_input_is_differentiated_but_never_updated():
    d = symgrad.derive(LINEAR, ["x", "w"], at=AT, learning_rate=0.1)
    x = d.parameters[0]
    assert float(d.worked.gradients[x]) == pytest.approx(2 * 0.5 * (0.5 * 2.0 + 0.1 - 1.0))
    assert [p.name for p in d.trained] == ["w"] and x not in d.worked.updated
    text = render(d, "markdown")
    assert r"x &\leftarrow" not in section(text, "One step of gradient descent")
    assert "$x$ is an input, not a parameter" in text
    assert "gradient descent increases $x$" not in text and "gradient descent decreases $x$" not in text
    only_data = render(symgrad.derive(LINEAR, "y", at=AT, learning_rate=0.1), "markdown")
    assert "One step of gradient descent" not in only_data and "$y$ is a target" in only_data


def test_conventional_data_names_and_a_function_of_x_alone():
    roles = {g.name: g.role for g in from_expression("(w1*x_1 + w2*x2 - y1)**2").groups}
    assert roles == {"w1": "variable", "w2": "variable", "x_1": "input", "x2": "input", "y1": "target"}
    # with no other name, x is the variable of a function, not data
    assert [p.name for p in symgrad.derive("sin(x)").parameters] == ["x"]


def test_a_spec_declares_its_inputs_and_targets():
    spec = parse_spec("expression: (u*p + q - t)**2\ninputs: [p]\ntargets: t\nwrt: all\n")
    d = symgrad.derive(spec.graph, spec.wrt)
    assert {s.name for s in d.parameters} == {"u", "q"}
    declared = parse_spec("expression: (w*x + b - y)**2\ninputs: [x, b]\n")
    assert {s.name for s in symgrad.derive(declared.graph, declared.wrt).parameters} == {"w"}


@pytest.mark.parametrize("spec, message", [
    ("expression: (w*x - y)**2\ninputs: [x, q]\n", "input 'q' is not in the expression"),
    ("expression: (w*x - y)**2\ntargets: [x]\ninputs: [x]\n", "cannot be both an input and a target"),
    ("expression: (w*x - y)**2\ninputs: 3\n", "inputs must be a name or a list of names"),
    ("model: {activation: sigmoid}\nloss: squared_error\ninputs: [x]\n", "inputs names an expression's data"),
    ("expression: (x - y)**2\ninputs: [x]\ntargets: [y]\n", "no parameters"),
])
def test_a_bad_data_declaration_is_one_line(tmp_path, capsys, spec, message):
    path = tmp_path / "bad.yaml"
    path.write_text(spec, encoding="utf-8")
    out = tmp_path / "bad.md"
    assert main(["derive", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_a_notebook_rebuilds_the_declared_data():
    spec = parse_spec("expression: (u*p + q - t)**2\ninputs: [p]\ntargets: t\n")
    namespace = {"symgrad": symgrad}
    exec(builder(spec.graph), namespace)
    rebuilt = namespace["graph"]
    assert {g.name: g.role for g in rebuilt.groups} == {g.name: g.role for g in spec.graph.groups}
    assert {g.name for g in rebuilt.parameters} == {"u", "q"}


def test_the_command_line_declares_an_expression_s_data(capsys):
    args = ["derive", "--expr", "(u*p1 + q - t)**2", "--at", "u=1,p1=2,q=0,t=1", "--format", "json"]
    assert main(args + ["--inputs", "p1", "--targets", "t"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["gradients"] == {"q": 2.0, "u": 4.0}  # 2 (u p1 + q - t) and that times p1
    assert main(args + ["--inputs", "p1,r"]) == 2
    assert "input 'r' is not in the expression" in capsys.readouterr().err
