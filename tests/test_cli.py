"""The command line, in-process: outputs, exit codes, one-line errors, no clobbered files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from symgrad import derive
from symgrad.cli.gallery import gallery_documents
from symgrad.cli.main import main

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
    ("expression: x**2\ndetail: verbose\n", "detail: detail must be one of brief, standard, full"),
    ("expression: x**2\ndetail: [full]\n", "detail: detail must be one of brief, standard, full"),
    ("softmax: {inputs: [z1]}\n", "softmax.inputs: inputs must be a list of two or more"),
    ("softmax: {inputs: [z1, z1]}\n", "softmax.inputs: inputs must be a list of two or more"),
    ("softmax: {inputs: [z1, 'z2 + 1']}\n", "softmax.inputs: inputs must be a list of two or more"),
    ("softmax: {inputs: [z1, z2], output: 3}\n", "softmax.output: output must be a whole number from 1 to 2"),
    ("softmax: {inputs: [z1, z2], k: 1}\n", "softmax: unknown key 'k'"),
    ("softmax: {inputs: [z1, z2]}\nloss: mse\n", "loss: a softmax is its own loss"),
    ("softmax: {inputs: [z1, z2]}\nexpression: x\n", "exactly one"),
    ("model: {inputs: 2, layers: [{units: 1}], batch: 0}\nloss: mse\n",
     "model.batch: batch must be a positive whole number"),
    ("model: {inputs: 2, layers: [{units: 1}], batch: two}\nloss: mse\n",
     "model.batch: batch must be a positive whole number"),
    ("model: {inputs: 2, layers: [{units: 1}], batch: 2}\nloss: mse\n"
     "at: {x: [1, 2], y: [[1, 0]], W1: [[1, 2]], b1: [0]}\n", "x[0] should be a list of 2 numbers"),
    ("model: {inputs: 2, layers: [{units: 1}]}\nloss: mse\nview: tensor\n",
     "view: view must be one of index, matrix, both"),
    ("expression: x**2\nview: matrix\n", "view: view matrix is for networks"),
    ("model: {activation: sigmoid}\nloss: mse\nview: both\n", "view: view both is for networks"),
    ("model: {inputs: 2, layers: [{units: 3, activation: softmax}]}\nloss: categorical_cross_entropy\n"
     "at: {x: [1, 2], y: [0.5, 0.2, 0.2], W1: [[1, 2], [0, 1], [1, 0]], b1: [0, 0, 0]}\n",
     "needs targets y that sum to 1"),
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
    (["derive", "--expr", "x**2", "--detail", "verbose"], "invalid choice: 'verbose'"),
    (["derive", "missing.yaml"], "cannot read spec"),
    (["derive", "--expr", "x**2", "--at", "x"], "expected name=value"),
    (["derive", "--expr", "x**2", "--format", "pdf"], "invalid choice"),
    (["derive", "--expr", "x**2", "--view", "tensor"], "invalid choice: 'tensor'"),
    (["derive", "--expr", "x**2", "--view", "matrix"], "the matrix view is for dense networks"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_command_lines_fail_with_one_line(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2 and fragment in err and err.count("\n") == 1, err


def test_gallery_output_is_up_to_date():
    documents = gallery_documents(ROOT / "examples")
    stale = [name for name, text in documents.items()
             if not (ROOT / "output" / name).exists() or _read(ROOT / "output" / name, text) != text]
    assert not stale, f"output/ is stale ({', '.join(stale)}): run `symgrad gallery` to regenerate it"


def _read(path, like):
    return path.read_bytes() if isinstance(like, bytes) else path.read_text(encoding="utf-8")


def test_gallery_writes_every_example_in_both_formats(capsys, tmp_path):
    code, out, _ = run(capsys, "gallery", "--examples", str(ROOT / "examples"), "--output", str(tmp_path))
    assert code == 0
    names = {p.name for p in tmp_path.iterdir()}
    stems = {p.stem for p in (ROOT / "examples").glob("*.yaml")}
    assert {s + ext for s in stems for ext in (".md", ".tex")} <= names
    assert {"02_seed_neuron.graph.svg", "02_seed_neuron.tangent.svg", "02_seed_neuron.tangent.pdf"} <= names
    code, out, _ = run(capsys, "gallery", "--examples", str(ROOT / "examples"), "--output",
                       str(tmp_path), "--check")
    assert code == 0


QUICK = ("derive", "--expr", "(w*x + 1)**2", "--wrt", "w", "--at", "w=0.5,x=2")


@pytest.mark.parametrize("detail, present, absent", [
    ("brief", [r"\frac{\partial L}{\partial w} = 2 x (w x + 1)"], ["(sum rule)", "(identity rule)"]),
    ("standard", ["(sum rule)", "Step by step:"], ["(identity rule)", "Simplifying"]),
    ("full", ["(sum rule)", "(identity rule)", "(constant rule)", "Simplifying"], []),
])
def test_detail_option(capsys, detail, present, absent):
    code, out, err = run(capsys, *QUICK, "--detail", detail)
    assert code == 0 and err == ""
    assert all(p in out for p in present) and not any(a in out for a in absent)


def test_bad_detail_writes_nothing(capsys, tmp_path):
    target = tmp_path / "out.md"
    code, out, err = run(capsys, *QUICK, "--detail", "everything", "-o", str(target))
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert not target.exists()


def test_spec_detail_is_used_and_overridden(capsys, tmp_path):
    spec = write(tmp_path, "expression: (w*x + 1)**2\nwrt: w\ndetail: full\n")
    _, full, _ = run(capsys, "derive", spec)
    _, brief, _ = run(capsys, "derive", spec, "--detail", "brief")
    assert "(identity rule)" in full and "(sum rule)" not in brief


def test_verified_by_default(capsys):
    _, checked, _ = run(capsys, *QUICK)
    _, unchecked, _ = run(capsys, *QUICK, "--no-verify")
    assert "Every step of this derivation was checked numerically" in checked
    assert "checked numerically" not in unchecked
    _, data, _ = run(capsys, *QUICK, "--format", "json")
    v = derive("(w*x + 1)**2", "w", at={"w": 0.5, "x": 2}, verify=True).verification
    assert v.numbers == 2  # L again in float64, and one directional derivative
    assert json.loads(data)["verification"] == {"equations": v.equations, "references": 1,
                                                "points": v.points, "undefined": v.undefined,
                                                "kinds": 1, "numbers": 2, "passed": True}
    _, data, _ = run(capsys, *QUICK, "--format", "json", "--no-verify")
    assert json.loads(data)["verification"] is None


def test_softmax_spec(capsys, tmp_path):
    spec = write(tmp_path, "softmax: {inputs: [z1, z2], output: 1}\nwrt: all\n"
                           "at: {z1: 0.5, z2: -0.5}\n")
    code, out, _ = run(capsys, "derive", spec, "--format", "json")
    assert code == 0
    grads = json.loads(out)["gradients"]
    s1 = 1 / (1 + math.exp(-1.0))
    assert math.isclose(grads["z1"], s1 * (1 - s1)) and math.isclose(grads["z2"], -s1 * (1 - s1))


def test_gallery_can_skip_verification(capsys, tmp_path):
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "square.yaml").write_text("expression: w**2\nwrt: w\n")
    code, _, _ = run(capsys, "gallery", "--examples", str(examples), "--output", str(tmp_path / "out"),
                     "--no-verify")
    assert code == 0
    assert "checked numerically" not in (tmp_path / "out" / "square.md").read_text()
    code, out, _ = run(capsys, "gallery", "--examples", str(examples), "--output",
                       str(tmp_path / "out"), "--check")
    assert code == 1 and out.count("stale:") == 2


@pytest.mark.parametrize("view, present, absent", [
    ("index", ["### The hidden layers' errors (BP2)"], ["### The equations in matrix form", r"\odot"]),
    ("matrix", ["### The equations in matrix form"], ["### The hidden layers' errors (BP2)"]),
    ("both", ["### The hidden layers' errors (BP2)", "and on the right the same in matrices", r"\odot"], []),
])
def test_view_option(capsys, view, present, absent):
    code, out, err = run(capsys, "derive", str(NETWORK), "--view", view, "--no-verify")
    assert code == 0 and err == ""
    assert all(p in out for p in present) and not any(a in out for a in absent)


def test_spec_view_is_used_and_overridden(capsys, tmp_path):
    spec = write(tmp_path, NETWORK.read_text().replace("view: both", "view: matrix"))
    _, matrix, _ = run(capsys, "derive", spec, "--no-verify")
    _, index, _ = run(capsys, "derive", spec, "--no-verify", "--view", "index")
    assert "### The equations in matrix form" in matrix and "(BP2)\n" not in matrix
    assert "### The hidden layers' errors (BP2)" in index and "### The equations in matrix form" not in index


def test_batch_spec(capsys, tmp_path):
    spec = write(tmp_path, "model:\n  inputs: 2\n  layers: [{units: 1, activation: sigmoid}]\n  batch: 2\n"
                           "loss: half_squared_error\n"
                           "at: {x: [[0.5, 1.0], [-0.2, 0.3]], y: [[1.0, 0.0]], W1: [[0.1, 0.2]], b1: [0.0]}\n")
    code, out, _ = run(capsys, "derive", spec, "--format", "json", "--no-verify")
    assert code == 0
    data = json.loads(out)
    samples = [(0.5, -0.2, 1.0), (1.0, 0.3, 0.0)]

    def loss(w1: float) -> float:
        yhats = [1 / (1 + math.exp(-(w1 * a + 0.2 * b))) for a, b, _ in samples]
        return sum(0.5 * (h - t) ** 2 for h, (_, _, t) in zip(yhats, samples)) / 2

    h = 1e-6
    assert math.isclose(data["gradients"]["W1"][0][0], (loss(0.1 + h) - loss(0.1 - h)) / (2 * h), rel_tol=1e-7)
    assert math.isclose(data["loss"], loss(0.1), rel_tol=1e-12)
