"""The errors symgrad raises on bad input, one base class for all of them.

Every message is one line that names the problem; the CLI prints it and exits 2.
"""

from __future__ import annotations


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


class SymgradWarning(UserWarning):
    """Issued (``warnings.warn``) for a request symgrad carries out but a teacher would
    question, such as a cross-entropy loss on outputs that are not probabilities; the CLI
    prints each as one line on standard error."""
