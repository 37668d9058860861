"""The errors symgrad raises on bad input, one base class for all of them.

Every message is one line that names the problem; the CLI prints it and exits 2.
"""

from __future__ import annotations

import difflib
from typing import Iterable

QUOTED = 60
"""The most characters of a user's value an error message quotes (``quoted``): a message
stays one short line however large the value (a YAML alias bomb expands to gigabytes)."""


class SymgradError(Exception):
    """Base class: anything symgrad rejects as bad input or an impossible request."""

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None):
        self.message = message
        self.source = source
        self.key = key
        super().__init__(message)

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.source, self.key) if part)
        return f"{where}: {self.message}" if where else self.message

    def located(self, source: str | None = None, key: str | None = None) -> "SymgradError":
        """Return the same error, tagged with the spec file and key it came from."""
        error = type(self)(self.message, source=source or self.source, key=key or self.key)
        return error


class ParseError(SymgradError):
    """Raised when an expression string does not parse (syntax, unknown function, bad token)."""


class UnknownNameError(SymgradError):
    """Raised for an unknown loss, activation, parameter, format or option name."""


class SpecError(SymgradError):
    """Raised when a spec file is malformed: bad YAML, missing or unexpected keys, wrong types."""


class ValuesError(SymgradError):
    """Raised when values in ``at`` are missing, not numbers, or mis-shaped."""


class DerivationError(SymgradError):
    """Raised for an impossible request, such as a ``wrt`` the loss does not depend on."""


class LimitError(SymgradError):
    """Raised, before the work starts, for a request beyond one of symgrad's documented
    limits of work (parameters, vector length, digits, nesting depth, exponent size); the
    message names the limit and how to raise it where it can be raised."""


class SymgradWarning(UserWarning):
    """Issued (``warnings.warn``) for a request symgrad carries out but a teacher would
    question, such as a cross-entropy loss on outputs that are not probabilities; the CLI
    prints each as one line on standard error."""


def quoted(value: object, limit: int = QUOTED) -> str:
    """``repr(value)`` cut to ``limit`` characters (with an ellipsis), for an error message;
    the repr of a huge list or string is never built whole."""
    if isinstance(value, (list, tuple, dict, set)) and len(value) > limit:
        return f"a {type(value).__name__} of {len(value)} items"
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit])[:-1] + "...'"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def suggestion(name: object, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the known name closest to a misspelt ``name``, else ``""``."""
    if not isinstance(name, str) or len(name) > 100:
        return ""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def unknown(what: str, name: object, known: Iterable[str], extra: str = "") -> UnknownNameError:
    """The error for an unknown ``what`` (``"activation"``) called ``name``: the closest known
    name if one is close, then all of them (``extra``: more said in the parentheses)."""
    known = list(known)
    listed = ", ".join(known) + (f"; {extra}" if extra else "")
    return UnknownNameError(f"unknown {what} {quoted(name)}{suggestion(name, known)} (known: {listed})")
