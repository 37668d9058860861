"""A PyTorch reference for dense networks, written from the maths and sharing no code with symgrad.

Layer l computes a<l> = f(W<l> a<l-1> + b<l>) with W<l> of shape (units, inputs) and a<0> = x;
the loss compares the last activations yhat with the targets y. Everything is float64 and the
gradients come from autograd. Importing this module needs torch.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import torch

Tensor = torch.Tensor
LEAKY_SLOPE = 0.01


def _softplus(z: Tensor) -> Tensor:
    # log(1 + e^z) with no linear cut-off above a threshold, as torch's softplus has.
    return torch.logaddexp(z, torch.zeros_like(z))


ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, LEAKY_SLOPE),
    "softplus": _softplus,
    "identity": lambda z: z,
    "softmax": lambda z: torch.softmax(z, dim=0),
}

LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "half_squared_error": lambda yhat, y: 0.5 * ((yhat - y) ** 2).sum(),
    "squared_error": lambda yhat, y: ((yhat - y) ** 2).sum(),
    "mse": lambda yhat, y: ((yhat - y) ** 2).mean(),
    "binary_cross_entropy": lambda yhat, y: -(y * torch.log(yhat) + (1 - y) * torch.log(1 - yhat)).sum(),
    "categorical_cross_entropy": lambda yhat, y: -(y * torch.log(yhat)).sum(),
}


def parameter_names(depth: int) -> list[str]:
    """W1, b1, W2, b2, ... for a network of ``depth`` layers."""
    return [name for l in range(1, depth + 1) for name in (f"W{l}", f"b{l}")]


def _loss(tensors: Mapping[str, Tensor], activations: Sequence[str], loss: str) -> Tensor:
    """One sample (x a vector), or a batch (x with a column per sample): the mean over the
    samples of each sample's loss."""
    a = tensors["x"]
    for l, name in enumerate(activations, start=1):
        bias = tensors[f"b{l}"] if a.dim() == 1 else tensors[f"b{l}"][:, None]
        a = ACTIVATIONS[name](tensors[f"W{l}"] @ a + bias)
    if a.dim() == 1:
        return LOSSES[loss](a, tensors["y"])
    samples = [LOSSES[loss](a[:, n], tensors["y"][:, n]) for n in range(a.shape[1])]
    return torch.stack(samples).mean()


def loss_and_gradients(values: Mapping[str, np.ndarray], activations: Sequence[str],
                       loss: str, wrt: Sequence[str] | None = None) -> tuple[float, dict[str, np.ndarray]]:
    """The loss and its gradient for every W<l> and b<l> (or for the tensors named in
    ``wrt``, such as ``x``), by autograd in float64."""
    names = list(wrt) if wrt is not None else parameter_names(len(activations))
    tensors = {k: torch.tensor(np.asarray(v), dtype=torch.float64, requires_grad=k in names)
               for k, v in values.items()}
    value = _loss(tensors, activations, loss)
    grads = torch.autograd.grad(value, [tensors[n] for n in names])
    return value.item(), {n: g.numpy() for n, g in zip(names, grads)}


def loss_value(values: Mapping[str, np.ndarray], activations: Sequence[str], loss: str) -> float:
    """The loss alone, in float64."""
    with torch.no_grad():
        tensors = {k: torch.tensor(np.asarray(v), dtype=torch.float64) for k, v in values.items()}
        return _loss(tensors, activations, loss).item()


def central_differences(values: Mapping[str, np.ndarray], activations: Sequence[str], loss: str,
                        h: float = 1e-6) -> dict[str, np.ndarray]:
    """(L(p + h) - L(p - h)) / 2h for every element p of every W<l> and b<l>."""
    out = {}
    for name in parameter_names(len(activations)):
        estimate = np.zeros(np.shape(values[name]))
        for position in np.ndindex(estimate.shape):
            shifted = []
            for step in (h, -h):
                moved = {k: np.array(v, dtype=float) for k, v in values.items()}
                moved[name][position] += step
                shifted.append(loss_value(moved, activations, loss))
            estimate[position] = (shifted[0] - shifted[1]) / (2 * h)
        out[name] = estimate
    return out
