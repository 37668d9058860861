"""The array libraries compiled code runs on: numpy, and with the optional extras jax and torch.

A backend is what the generated source needs to run over one library's arrays: the name its
array module goes by in the source, the activations over its arrays (the index form's
``softmax`` of scalars included), a conversion for ``Compiled.__call__``, the library's
broadcasting function and, for jax, ``jax.jit``. The source is written once with ``numpy.``
calls and translated; a call the other libraries do not share under the same name and meaning
is refused rather than guessed.
"""

from __future__ import annotations

import functools
import importlib
import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import DerivationError, UnknownNameError
from ..model.functions import NUMPY_FUNCTIONS
from .stable import NUMPY_STABLE

SHARED = frozenset({"exp", "log", "tanh", "abs", "sqrt", "where", "nan", "sign", "sin", "cos",
                    "tan", "sinh", "cosh", "maximum", "minimum"})
"""numpy functions that jax.numpy and torch have under the same name and with the same
meaning (``torch.select``, say, exists but does something else)."""

CALL = re.compile(r"\bnumpy\.(\w+)")

CONSTANT = re.compile(r"\bnumpy\.(exp|log|sqrt|tanh)\((-?\d+(?:\.\d*)?(?:e[+-]?\d+)?)\)")
"""A call of an elementary function on a number (``numpy.log(2)``), which torch refuses:
the other backends read the number numpy computes for it."""


def _constant(match: re.Match) -> str:
    """The number numpy computes for a ``CONSTANT`` call, in parentheses (it may be negative
    and raised to a power); the call itself where the number is not finite."""
    value = float(getattr(np, match[1])(float(match[2])))
    return f"({value!r})" if np.isfinite(value) else match[0]


@dataclass(frozen=True)
class Backend:
    """One array library: ``module`` is imported when a function is compiled for it and
    named ``alias`` in the generated source; ``extra`` is the pip extra that installs it;
    ``broadcast`` is its function broadcasting arrays against each other, and ``own`` the
    numpy calls it runs as its own ``functions`` (``_where``) rather than by the same name."""

    name: str
    module: str
    alias: str
    extra: str | None
    functions: Callable[[Any], dict[str, Callable]]
    array: Callable[[Any, Any], Any]
    jit: Callable[[Any, Callable], Callable] | None = None
    broadcast: str = "broadcast_arrays"
    own: frozenset[str] = frozenset()

    def library(self) -> Any:
        """The array module, imported; a missing optional library is one line naming its extra."""
        try:
            return importlib.import_module(self.module)
        except ImportError:
            raise DerivationError(f"the {self.name} backend needs {self.name} "
                                  f"(pip install 'symgrad[{self.extra}]')") from None

    def translate(self, text: str, modules: tuple[str, ...] = ("numpy",)) -> str:
        """``text`` (written with ``numpy.`` calls, importing ``modules``) for this library."""
        if self.alias == "numpy":
            return text
        for module in modules:
            if module not in ("numpy", "functools"):
                raise DerivationError(f"cannot compile code that needs {module} for {self.name}")
        text = CONSTANT.sub(_constant, text)
        for call in CALL.findall(text):
            if call not in SHARED:
                raise DerivationError(f"cannot compile numpy.{call} for {self.name}")
        return CALL.sub(lambda m: f"_{m[1]}" if m[1] in self.own else f"{self.alias}.{m[1]}",
                        text)

    def finish(self, function: Callable) -> Callable:
        """``function`` as it is called on this library (jit-compiled for jax)."""
        return function if self.jit is None else self.jit(self.library(), function)

    def namespace(self) -> dict[str, Any]:
        """The globals of generated code: the array module by its alias, the activations."""
        library = self.library()
        return {self.alias: library, "functools": functools,
                **{f"_{k}": f for k, f in self.functions(library).items()}}


def _numpy_functions(np_: Any) -> dict[str, Callable]:
    return {**NUMPY_FUNCTIONS, **NUMPY_STABLE, "sigmoid": _numpy_sigmoid,
            "softmax_columns": softmax_columns}


def _numpy_sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z) in one new array: fewer passes than the stable form, as accurate;
    -z is capped at 709 so e^-z never overflows (nor warns), the sigmoid below z = -709
    being 1 / (1 + e^709), within 1.3e-308 of the true value."""
    t = np.negative(z)
    np.minimum(t, 709.0, out=t)
    np.exp(t, out=t)
    t += 1.0
    return np.reciprocal(t, out=t)


def softmax_columns(Z: np.ndarray) -> np.ndarray:
    """The softmax of each column of ``Z`` (a column is a sample's weighted sums)."""
    shifted = np.exp(Z - Z.max(axis=0, keepdims=True))
    return shifted / shifted.sum(axis=0, keepdims=True)


def _torch_functions(torch: Any) -> dict[str, Callable]:
    return {"sigmoid": torch.sigmoid, "relu": torch.relu,
            "leaky_relu": lambda z, alpha: torch.where(z > 0, z, alpha * z),
            "softplus": lambda z: torch.logaddexp(z, z.new_zeros(())),
            "softmax_columns": lambda Z: torch.softmax(Z, 0),
            "logsumexp_columns": lambda Z: torch.logsumexp(Z, 0, keepdim=True),
            "logsumexp": lambda *zs: torch.logsumexp(torch.stack(torch.broadcast_tensors(
                *_tensors(torch, zs))), 0),
            "softmax": lambda k, *zs: torch.softmax(torch.stack(torch.broadcast_tensors(*zs)),
                                                    0)[int(k) - 1],
            **{name: _with_tensors(torch, getattr(torch, name)) for name in TORCH_OWN}}


TORCH_OWN = frozenset({"where", "maximum", "minimum"})
"""The numpy calls torch runs through ``_with_tensors``: torch.maximum refuses a number and
torch.where makes one a float32 tensor (0.01 off by 2e-10), where numpy keeps float64."""


def _with_tensors(torch: Any, function: Callable) -> Callable:
    """``function`` with each number among its arguments made a float64 tensor first."""
    def tensors(*arguments: Any) -> Any:
        return function(*_tensors(torch, arguments))
    return tensors


def _tensors(torch: Any, arguments: tuple) -> list:
    return [a if isinstance(a, torch.Tensor) else torch.tensor(a, dtype=torch.float64)
            for a in arguments]


def _torch_array(torch: Any, value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value if value.is_floating_point() else value.double()
    return torch.as_tensor(value, dtype=torch.float64)


def _jax_functions(jnp: Any) -> dict[str, Callable]:
    nn = importlib.import_module("jax.nn")
    special = importlib.import_module("jax.scipy.special")
    return {"sigmoid": nn.sigmoid, "relu": nn.relu,
            "logsumexp": lambda *zs: special.logsumexp(jnp.stack(jnp.broadcast_arrays(*zs)),
                                                       axis=0),
            "logsumexp_columns": lambda Z: special.logsumexp(Z, axis=0, keepdims=True),
            "leaky_relu": lambda z, alpha: jnp.where(z > 0, z, alpha * z),
            "softplus": lambda z: jnp.logaddexp(0.0, z),
            "softmax_columns": lambda Z: nn.softmax(Z, axis=0),
            "softmax": lambda k, *zs: nn.softmax(jnp.stack(jnp.broadcast_arrays(*zs)),
                                                 axis=0)[int(k) - 1]}


def _jax_array(jnp: Any, value: Any) -> Any:
    # float64 when jax_enable_x64 is on, else jax's float32
    return jnp.asarray(value, dtype=importlib.import_module("jax").dtypes.canonicalize_dtype(
        jnp.float64))


def _jax_jit(jnp: Any, function: Callable) -> Callable:
    return importlib.import_module("jax").jit(function)


BACKENDS: dict[str, Backend] = {
    "numpy": Backend("numpy", "numpy", "numpy", None, _numpy_functions,
                     lambda np_, value: np_.asarray(value, dtype=float)),
    "jax": Backend("jax", "jax.numpy", "jnp", "jax", _jax_functions, _jax_array, _jax_jit),
    "torch": Backend("torch", "torch", "torch", "torch", _torch_functions, _torch_array,
                     broadcast="broadcast_tensors", own=TORCH_OWN),
}
"""The backends by name; ``symgrad.compile(d, backend=...)`` takes one of these."""


def get_backend(name: str) -> Backend:
    """The backend called ``name``; an unknown one is one line naming the known."""
    if name not in BACKENDS:
        raise UnknownNameError(f"unknown backend {name!r} (known: {', '.join(BACKENDS)})")
    return BACKENDS[name]
