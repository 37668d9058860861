"""The ``symgrad`` command line (``main``) and its progress bar (``progress``)."""

from .main import main

__all__ = ["main"]
