"""benchmarks/speed.py's own pieces are right: the hand-written numpy backprop it times
everything against, and the specs it gives the command. No timing here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import yaml

import symgrad
from test_torch import require_reference

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"


def load_speed():
    """benchmarks/speed.py as a module (benchmarks/ is not a package)."""
    found = importlib.util.spec_from_file_location("speed", SCRIPT)
    module = importlib.util.module_from_spec(found)
    sys.modules["speed"] = module  # its dataclasses look their module up there
    found.loader.exec_module(module)
    return module


speed = load_speed()


def hand_loss(values: dict[str, np.ndarray]) -> float:
    return speed.hand_numpy(values["x"], values["y"], *(values[k] for k in speed.NAMES))[0]


def test_hand_numpy_gradients_are_central_differences_of_its_loss():
    values = speed.arrays(width=3, batch=4, seed=1)
    _, gradients = speed.hand_numpy(values["x"], values["y"], *(values[k] for k in speed.NAMES))
    h = 1e-6
    for name, gradient in zip(speed.NAMES, gradients):
        assert gradient.shape == values[name].shape
        for position in np.ndindex(gradient.shape):
            shifted = []
            for step in (h, -h):
                moved = {k: v.copy() for k, v in values.items()}
                moved[name][position] += step
                shifted.append(hand_loss(moved))
            estimate = (shifted[0] - shifted[1]) / (2 * h)
            assert np.isclose(gradient[position], estimate, rtol=1e-6, atol=1e-8), (name, position)


def test_hand_numpy_loss_is_the_sum_over_columns_of_torch_reference_loss():
    reference = require_reference()
    values = speed.arrays(width=3, batch=4, seed=2)
    mean = reference.loss_value(values, ["sigmoid", "sigmoid", "identity"], "half_squared_error")
    assert np.isclose(hand_loss(values), 4 * mean, rtol=1e-12)


def test_the_benchmark_spec_derives_the_gradients_torch_computes(tmp_path):
    reference = require_reference()
    size = speed.scale.BY_NAME["2-2-2"]
    data = speed.spec(size)
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(data))
    loaded = symgrad.load_spec(path)
    derivation = symgrad.derive(loaded.graph, loaded.wrt, at=loaded.at,
                                learning_rate=loaded.learning_rate, verify=True)
    values = {k: np.array(v, dtype=float) for k, v in data["at"].items()}
    loss, gradients = reference.loss_and_gradients(
        values, ["sigmoid"] * len(size.widths), "half_squared_error")
    worked = derivation.worked
    assert np.isclose(float(worked.loss), loss, rtol=1e-12)
    for group in derivation.graph.parameters:
        ours = np.array([float(worked.gradients[s]) for s in group.symbols]).reshape(group.shape)
        assert np.allclose(ours, gradients[group.name], rtol=1e-10, atol=1e-14), group.name
    weights = np.concatenate([values[k].ravel() for k in values if k[0] in "Wb"])
    assert np.abs(weights).max() <= 0.5  # no sigmoid saturates
