"""A document the command line makes from a spec: derived (``derive_spec``) and rendered
(``render_derivation``), with errors naming the spec file. The gallery's many documents
are ``gallery``'s."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..calculus.derivation import Derivation
from ..calculus.engine import derive
from ..errors import SymgradError
from ..render.document import render
from ..render.notation import DEFAULT, Notation
from ..spec import Spec

if TYPE_CHECKING:  # computed only for a document written to a file (main, gallery)
    from ..pictures import Pictures


def derive_spec(spec: Spec, *, source: str | None = None, verify: bool = True) -> Derivation:
    """Derive (and by default verify) what ``spec`` asks for; errors name ``source``."""
    try:
        return derive(spec.graph, spec.wrt, at=spec.at, learning_rate=spec.learning_rate,
                      title=spec.title, verify=verify, limits=spec.limits)
    except SymgradError as error:
        raise error.located(source=source) from None


def render_derivation(derivation: Derivation, fmt: str, detail: str, *,
                      source: str | None = None, view: str | None = None,
                      template_dirs: tuple[str, ...] = (), pictures: Pictures | None = None,
                      flavour: str = "github", notation: Notation = DEFAULT,
                      **headings: Any) -> str:
    """Render a derivation at a level of detail, in a view, a notation and (Markdown) a
    flavour, with ``render``'s ``heading_level`` and ``numbered``; errors name ``source``."""
    try:
        return render(derivation, fmt, detail=detail, view=view, template_dirs=template_dirs, pictures=pictures,
                      flavour=flavour, notation=notation, **headings)
    except SymgradError as error:
        raise error.located(source=source) from None
