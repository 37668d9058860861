"""The sentences a document prints about steps of gradient descent are derived from the numbers
and true of them: divergence named at the step where it happens, no invented learning rate, no
movement at a zero gradient, an overshoot called one; and bad rates and targets are refused."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import symgrad
from symgrad.cli.main import main
from symgrad.errors import SpecError, SymgradWarning, ValuesError
from symgrad.pictures import pictures

ROOT = Path(__file__).resolve().parent.parent
LINE = ["--expr", "(w*x - y)**2", "--wrt", "w"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def first_nonfinite_step(w: float, x: float, y: float, rate: float, steps: int = 20) -> int | None:
    """Gradient descent on (w x - y)^2 by hand in float64, dL/dw = 2 x (w x - y): the first
    step after which the loss is not finite."""
    w, x, y, rate = (np.float64(v) for v in (w, x, y, rate))
    with np.errstate(all="ignore"):
        for step in range(steps + 1):
            if not np.isfinite((w * x - y) ** 2):
                return step
            w = w - rate * 2 * x * (w * x - y)
    return None


@pytest.mark.parametrize("suffix,fmt", [(".md", None), (".tex", None), (".html", None),
                                        (".tex", "beamer")])
def test_divergence_is_named_at_its_step_in_every_format(capsys, tmp_path, suffix, fmt):
    expected = first_nonfinite_step(1.0, 3.0, 1.0, 1e8)
    assert expected is not None and 1 < expected < 20
    out = tmp_path / f"doc{suffix}"
    options = ["--format", fmt] if fmt else []
    code, _, err = run(capsys, "derive", *LINE, "--at", "w=1,x=3,y=1", "--learning-rate", "1e8",
                       "--no-verify", *options, "-o", str(out))
    assert code == 0 and err == ""
    text = " ".join(out.read_text(encoding="utf-8").split())
    assert "the loss diverges" in text
    assert f"after step {expected} it overflows" in text
    assert f"up to {expected - 1}" in text
    assert (tmp_path / ("doc.training.svg" if suffix in (".md", ".html") else "doc.training.pdf")).exists()


def test_the_training_data_stop_at_the_first_nonfinite_loss():
    d = symgrad.derive("(w*x - y)**2", "w", at={"w": 1, "x": 3, "y": 1}, learning_rate=1e8)
    shown = pictures(d, "d").training
    expected = first_nonfinite_step(1.0, 3.0, 1.0, 1e8)
    assert shown.stopped == expected and len(shown.losses) == expected and shown.overflow
    assert all(math.isfinite(loss) for loss in shown.losses)
    assert shown.changes == (expected - 1, 0)  # it rose at every finite step


def test_a_rising_loss_is_called_an_overshoot_not_downhill():
    # rate 1: w goes 1 -> 1 - 1*12 = -11, where (3w - 1)^2 = 34^2 = 1156 > 4
    d = symgrad.derive("(w*x - y)**2", "w", at={"w": 1, "x": 3, "y": 1}, learning_rate=1)
    text = symgrad.render(d, "markdown", pictures=pictures(d, "d"))
    assert "downhill" not in text
    assert "where the loss on the curve is $1156$, higher than $4$" in text
    assert "After the step the loss is $1156$, up from $4$" in text
    assert "the loss rises at every step" in text
    small = symgrad.derive("(w*x - y)**2", "w", at={"w": 1, "x": 3, "y": 1}, learning_rate=0.01)
    text = symgrad.render(small, "markdown", pictures=pictures(small, "d"))
    after = (3 * (1 - 0.01 * 12) - 1) ** 2  # 0.88 * 3 - 1 = 1.64, squared
    assert f"is ${after:g}$, lower than $4$: downhill" in text
    assert f"After the step the loss is ${after:g}$, down from $4$" in text
    assert "the loss falls at every step" in text


@pytest.mark.parametrize("at,wrt", [("w=1,x=2,y=1", "w"), ("w=1,x=2,y=1,b=0", "w,b")])
def test_no_learning_rate_is_invented(capsys, tmp_path, at, wrt):
    expr = "(w*x + b - y)**2" if "b" in wrt else "(w*x - y)**2"
    out = tmp_path / "doc.md"
    code, _, _ = run(capsys, "derive", "--expr", expr, "--wrt", wrt, "--at", at, "--no-verify",
                     "-o", str(out))
    assert code == 0
    text = out.read_text(encoding="utf-8")
    assert "The gradient as a slope" in text
    assert "learning rate" not in text.replace("No learning rate is given", "")
    assert "\\eta" not in text and "0.1" not in text
    assert "so no step is drawn" in text
    shown = pictures(symgrad.derive(expr, wrt.split(","), at=dict(
        (k, float(v)) for k, v in (p.split("=") for p in at.split(",")))), "d")
    assert all(t.rate is None and t.step_to is None for t in shown.tangent)
    assert shown.training is None


def test_a_zero_gradient_does_not_move():
    # 2 x (w x - y) = 2 * 2 * (0.5 * 2 - 1) = 0
    for rate in (None, 0.1):
        d = symgrad.derive("(w*x - y)**2", "w", at={"w": 0.5, "x": 2, "y": 1}, learning_rate=rate)
        text = symgrad.render(d, "markdown", pictures=pictures(d, "d"))
        assert "is at a stationary point of the curve, so gradient descent does " \
               "not move it" in text
        assert "downhill" not in text and "moves $w$ to" not in text
    assert "After the step the loss is still $0$" in text
    assert "the loss stays at $0$, unchanged by every step" in text


@pytest.mark.parametrize("rate", ["-0.1", "0", "-1e-9"])
def test_a_rate_that_is_not_positive_is_refused(capsys, tmp_path, rate):
    out = tmp_path / "doc.md"
    code, stdout, err = run(capsys, "derive", *LINE, "--at", "w=1,x=3,y=1",
                            f"--learning-rate={rate}", "-o", str(out))
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and "learning_rate must be positive" in err
    assert not list(tmp_path.iterdir())
    with pytest.raises(SpecError, match="must be positive"):
        symgrad.derive("(w*x - y)**2", "w", at={"w": 1, "x": 3, "y": 1}, learning_rate=float(rate))


def test_a_spec_with_a_negative_rate_is_refused(capsys, tmp_path):
    spec = tmp_path / "neg.yaml"
    spec.write_text("model: {activation: sigmoid}\nloss: squared_error\n"
                    "at: {x: 1, w: 0.5, b: 0, y: 1}\nlearning_rate: -0.5\n", encoding="utf-8")
    code, _, err = run(capsys, "derive", str(spec), "-o", str(tmp_path / "doc.md"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "neg.yaml" in err and "must be positive" in err
    assert not (tmp_path / "doc.md").exists()


def test_binary_cross_entropy_targets_outside_zero_one_are_refused(capsys, tmp_path):
    spec = tmp_path / "bce.yaml"
    spec.write_text("model: {activation: sigmoid}\nloss: binary_cross_entropy\n"
                    "at: {x: 1, w: 0.5, b: 0, y: 1.5}\n", encoding="utf-8")
    code, _, err = run(capsys, "derive", str(spec), "-o", str(tmp_path / "doc.md"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "targets between 0 and 1" in err and "y = 1.5" in err
    assert not (tmp_path / "doc.md").exists()
    graph = symgrad.with_loss(symgrad.neuron("sigmoid"), "binary_cross_entropy")
    with pytest.raises(ValuesError, match="between 0 and 1"):
        symgrad.derive(graph, "w", at={"x": 1, "w": 0.5, "b": 0, "y": -0.2})
    symgrad.derive(graph, "w", at={"x": 1, "w": 0.5, "b": 0, "y": 0.3})  # a probability is fine


def test_cross_entropy_on_outputs_that_are_not_probabilities_is_warned(capsys, tmp_path):
    spec = tmp_path / "tanh.yaml"
    spec.write_text("model: {activation: tanh}\nloss: binary_cross_entropy\n"
                    "at: {x: 1, w: 1, b: 0, y: 1}\n", encoding="utf-8")
    code, _, err = run(capsys, "derive", str(spec), "--no-verify", "-o", str(tmp_path / "doc.md"))
    assert code == 0 and (tmp_path / "doc.md").exists()
    (line,) = err.strip().splitlines()
    assert line.startswith("symgrad: warning:") and "tanh, not sigmoid" in line
    # tanh(-1) < 0: the log of the prediction is undefined, refused in one line
    code, _, err = run(capsys, "derive", str(spec), "--at", "x=1,w=-1,b=0,y=1",
                       "-o", str(tmp_path / "bad.md"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not sigmoid" in err
    assert not (tmp_path / "bad.md").exists()
    network = symgrad.with_loss(symgrad.network(2, [(2, "relu")]), "categorical_cross_entropy")
    with pytest.warns(SymgradWarning, match="relu, not softmax"):
        symgrad.derive(network, "W1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        symgrad.derive(symgrad.with_loss(symgrad.neuron("sigmoid"), "binary_cross_entropy"), "w")
        symgrad.derive(symgrad.with_loss(symgrad.network(2, [(2, "softmax")]),
                                         "categorical_cross_entropy"), "W1")
        # each softmax output lies in (0, 1): all binary cross-entropy asks of a prediction
        symgrad.derive(symgrad.with_loss(symgrad.network(2, [(2, "softmax")]),
                                         "binary_cross_entropy"), "W1")
    # sigmoid outputs lie in (0, 1) but are not a distribution: the caution says just that
    with pytest.warns(SymgradWarning, match="need not sum to 1") as caught:
        symgrad.derive(symgrad.with_loss(symgrad.network(2, [(2, "sigmoid")]),
                                         "categorical_cross_entropy"), "W1")
    assert not any("need not lie between" in str(w.message) for w in caught)


def test_graph_edges_with_exact_transcendental_values_evaluate(capsys, tmp_path):
    out = tmp_path / "exp.md"
    code, _, err = run(capsys, "derive", "--expr", "(exp(w*x) - y)**2", "--wrt", "w", "--at",
                       "w=1,x=3,y=1", "--no-verify", "-o", str(out))
    assert code == 0 and err == ""
    expected = 2 * (math.exp(3) - 1)  # dL/da = 2 (a - y) at a = exp(3), y = 1
    assert f"{expected:.6g}" in (tmp_path / "exp.graph.svg").read_text(encoding="utf-8")


def test_the_loss_after_the_step_is_a_forward_pass_at_the_updated_values():
    spec = symgrad.load_spec(ROOT / "examples" / "03_two_layer_network.yaml")
    d = symgrad.derive(spec.graph, spec.wrt, at=spec.at, learning_rate=spec.learning_rate)
    at = {k: np.array(v, dtype=float) for k, v in spec.at.items()}
    updated = {k: np.array(v, dtype=float)
               for k, v in json.loads(symgrad.render(d, "json"))["updated"].items()}
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    hidden = sigmoid(updated["W1"] @ at["x"] + updated["b1"])
    yhat = sigmoid(updated["W2"] @ hidden + updated["b2"])
    after = 0.5 * np.sum((yhat - at["y"]) ** 2)
    text = symgrad.render(d, "markdown")
    before = float(d.worked.loss)
    assert after < before
    assert f"| $L = {before:.6g} \\to {after:.6g}$ |" in text  # the summary's row


def test_equal_gradients_are_not_ranked():
    # z = w x + b with x = 1: dL/dw = dL/dz * x = dL/dz = dL/db
    graph = symgrad.with_loss(symgrad.neuron("sigmoid"), "squared_error")
    d = symgrad.derive(graph, "all", at={"x": 1, "w": 0.3, "b": -0.1, "y": 1}, learning_rate=0.1)
    w, b = d.parameters
    assert d.worked.gradients[w] == d.worked.gradients[b]
    text = symgrad.render(d, "markdown")
    assert "Every gradient has the same size" in text and "the least" not in text
