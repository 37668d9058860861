"""The command line, in-process: outputs, exit codes, one-line errors, no clobbered files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from symgrad.cli import gallery_documents, main

ROOT = Path(__file__).resolve().parent.parent
NETWORK = ROOT / "examples" / "03_two_layer_network.yaml"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_quick_form_reproduces_the_seed(capsys):
    code, out, _ = run(capsys, "derive", "--expr", "1/2*(yhat - y)**2", "--wrt", "yhat",
                       "--at", "yhat=0.8,y=1.0")
    assert code == 0
    assert "0.02" in out and "-0.2" in out


def test_json_shapes_follow_the_values(capsys):
    code, out, _ = run(capsys, "derive", str(NETWORK), "--format", "json", "--wrt", "W1,b2,W2[0][1]")
    assert code == 0
    data = json.loads(out)
    assert isinstance(data["loss"], float)
    grads, updated = data["gradients"], data["updated"]
    assert set(grads) == {"W1", "b2", "W2[0][1]"} == set(updated)
    assert len(grads["W1"]) == 2 and all(len(row) == 2 for row in grads["W1"])
    assert len(grads["b2"]) == 2 and isinstance(grads["W2[0][1]"], float)
    assert abs(updated["W2[0][1]"] - (0.6 - 0.5 * grads["W2[0][1]"])) < 1e-12
    assert all({"rule", "equation", "explanation"} <= set(step) for step in data["steps"])


def test_json_without_learning_rate_has_no_update(capsys):
    code, out, _ = run(capsys, "derive", "--expr", "(sigmoid(w*x) - y)**2", "--wrt", "w",
                       "--at", "w=0.5,x=1.0,y=0.0", "--format", "json")
    data = json.loads(out)
    assert code == 0 and "updated" not in data or data.get("updated") in (None, {})
    assert isinstance(data["gradients"]["w"], float)


def test_output_file_is_written_with_format_from_suffix(capsys, tmp_path):
    target = tmp_path / "seed.tex"
    code, out, _ = run(capsys, "derive", "--expr", "1/2*(yhat - y)**2", "--wrt", "yhat",
                       "--at", "yhat=0.8,y=1.0", "-o", str(target))
    assert code == 0 and out == ""
    assert target.read_text().lstrip().startswith("\\documentclass")


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return str(path)


BAD_SPECS = [
    ("model: {inputs: 2, layers: [{units: 2, activation: sigmod}]}\nloss: mse\n",
     "model.layers[0].activation: unknown activation 'sigmod'"),
    ("model: {activation: sigmoid}\nloss: hinge\n", "loss: unknown loss 'hinge'"),
    ("expression: (yhat - y)**2\nwrt: w\n", "wrt 'w' is not in the expression"),
    ("expression: (yhat - y)**2\nat: {yhat: 0.8}\n", "missing value for y"),
    ("model: {inputs: 2, layers: [{units: 1, activation: sigmoid}]}\nloss: mse\nat: {x: [1, 2, 3], y: [1], W1: [[1, 2]], b1: [0]}\n",
     "x should be a list of 2 numbers"),
    ("model: {inputs: 2, layers: [{units: 1}]}\nloss: mse\nat: {x: [1, 2], y: [1], W1: [[1, 2, 3]], b1: [0]}\n",
     "W1[0] should be a list of 2 numbers"),
    ("expression: (yhat - y)**2\nat: {yhat: abc, y: 1}\n", "yhat is not a number"),
    ("title: [unclosed\n", "malformed YAML at line"),
    ("expression: foo(yhat)\n", "unknown function 'foo'"),
    ("expression: (yhat - \n", "cannot parse expression"),
    ("expression: x\nmodel: {activation: sigmoid}\n", "exactly one"),
    ("expression: x\ncolour: red\n", "unknown key 'colour'"),
    ("expression: x**2\nlearning_rate: 0.1\n", "learning_rate needs values"),
    ("- just\n- a list\n", "expected a mapping"),
]


@pytest.mark.parametrize("text,fragment", BAD_SPECS)
def test_bad_specs_fail_with_one_line_and_keep_the_output(capsys, tmp_path, text, fragment):
    spec = write(tmp_path, text)
    target = tmp_path / "out.md"
    target.write_text("previous contents")
    code, out, err = run(capsys, "derive", spec, "-o", str(target))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and fragment in err and spec in err, err
    assert "Traceback" not in err
    assert target.read_text() == "previous contents"
    assert [p.name for p in tmp_path.iterdir()] == sorted(["spec.yaml", "out.md"]) or \
        set(p.name for p in tmp_path.iterdir()) == {"spec.yaml", "out.md"}


@pytest.mark.parametrize("argv,fragment", [
    (["derive"], "give a spec file or --expr"),
    (["derive", "missing.yaml"], "cannot read spec"),
    (["derive", "--expr", "x**2", "--at", "x"], "expected name=value"),
    (["derive", "--expr", "x**2", "--format", "pdf"], "invalid choice"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_command_lines_fail_with_one_line(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2 and fragment in err and err.count("\n") == 1, err


def test_gallery_output_is_up_to_date():
    documents = gallery_documents(ROOT / "examples")
    stale = [name for name, text in documents.items()
             if not (ROOT / "output" / name).exists() or (ROOT / "output" / name).read_text() != text]
    assert not stale, f"output/ is stale ({', '.join(stale)}): run `symgrad gallery` to regenerate it"


def test_gallery_writes_every_example_in_both_formats(capsys, tmp_path):
    code, out, _ = run(capsys, "gallery", "--examples", str(ROOT / "examples"), "--output", str(tmp_path))
    assert code == 0
    names = {p.name for p in tmp_path.iterdir()}
    stems = {p.stem for p in (ROOT / "examples").glob("*.yaml")}
    assert names == {s + ext for s in stems for ext in (".md", ".tex")}
    code, out, _ = run(capsys, "gallery", "--examples", str(ROOT / "examples"), "--output",
                       str(tmp_path), "--check")
    assert code == 0
