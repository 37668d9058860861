"""symgrad: derive the gradients of neural-network losses step by step, render them, check them.

>>> import symgrad
>>> d = symgrad.derive("1/2*(yhat - y)**2", wrt="yhat", at={"yhat": 0.8, "y": 1.0})
>>> float(d.worked.loss), float(d.worked.gradients[d.parameters[0]])
(0.02, -0.2)
"""

import functools

from .calculus.backward import Adjoint, Factor, Gradient, Path
from .calculus.derivation import Derivation, Worked
from .calculus.engine import derive
from .errors import (DerivationError, LimitError, ParseError, SpecError, SymgradError,
                     UnknownNameError, ValuesError)
from .model.limits import Limits
from .model.losses import LOSSES
from .model.graph import ACTIVATIONS, Dense, Graph, from_expression, network, neuron, with_loss
from .render.notation import PRESETS, Notation, get_notation
from .model.parse import parse_expression
from .render.document import DETAILS, FORMATS
from .render.document import render as _render
from .calculus.rules import Rule, Step, differentiate
from .spec import Spec, load_spec, parse_spec
from .calculus.verify import Verification, verify, verify_step

__version__ = "0.1.0"

COMPILED = ("Compiled", "Evaluation", "compile")
"""The compiled-gradient API, imported on first use (``symgrad.compile``, or ``from symgrad
import compile``): deriving and rendering do not load code generation and its backends."""


def __getattr__(name: str) -> object:
    if name in COMPILED:
        from .numeric import compile as compiled  # deferred: see COMPILED
        value = getattr(compiled, name)
        if name == "compile":
            value = _checked(value, "compile")
        globals()[name] = value
        return value
    raise AttributeError(f"module 'symgrad' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *COMPILED})


def _checked(function, name: str):
    """``function`` (``compile``) refusing, in one line, a first argument that is not a
    ``Derivation``."""
    @functools.wraps(function)
    def checked(derivation, *args, **options):
        _need_derivation(derivation, name)
        return function(derivation, *args, **options)
    return checked


def _need_derivation(value: object, name: str) -> None:
    if not isinstance(value, Derivation):
        raise DerivationError(f"{name} takes a Derivation (from symgrad.derive), got a "
                              f"{type(value).__name__}")


# Defined after the import of the ``render`` module, so the name is this function.
def render(derivation: Derivation, fmt: str = "markdown", *, detail: str = "standard",
           **options) -> str:
    """Render ``derivation`` as ``markdown``, ``latex``, ``latex-fragment`` or ``json``, at
    level of ``detail`` ``brief``, ``standard`` or ``full``; the same derivation renders
    at any level. ``view`` (``index``, ``matrix`` or ``both``) chooses how a network's
    backpropagation is written. ``notation`` (a preset's name from ``PRESETS`` or a
    ``Notation``, e.g. ``get_notation("nielsen").named({"L": "E"})``) sets the letters.
    ``template_dirs`` puts folders of your own templates first."""
    _need_derivation(derivation, "render")
    return _render(derivation, fmt, detail=detail, **options)


__all__ = [
    "ACTIVATIONS", "DETAILS", "FORMATS", "LOSSES", "PRESETS", "Adjoint", "Compiled", "Dense", "Derivation", "DerivationError",
    "Evaluation", "Factor", "Gradient", "Graph", "Limits", "LimitError", "Notation", "ParseError", "Path", "Rule", "Spec",
    "SpecError", "Step", "SymgradError", "UnknownNameError", "ValuesError", "Verification",
    "Worked", "compile", "derive", "differentiate", "from_expression", "get_notation", "load_spec", "network",
    "neuron", "parse_expression", "parse_spec", "render", "verify", "verify_step", "with_loss",
]
