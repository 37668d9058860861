"""What a document shows beside its text, as data: ``pictures(derivation, stem)`` gives the
graph, the plots of the loss and the file names they go under (drawn by ``symgrad.render``).

The files are named after ``stem``: ``stem.graph.svg``; ``stem.tangent``, ``stem.contour``
and ``stem.training`` as ``.svg`` beside Markdown and HTML pages and ``.pdf`` beside LaTeX
and beamer frames.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import plots
from ..calculus.derivation import Derivation
from .graph import MAX_DRAWN_NODES, GraphPicture, computational_graph


@dataclass(frozen=True)
class Pictures:
    """What a document shows beside its text: the graph (drawn if small enough; ``size``
    counts its nodes and edges); for a derivation with values and one or two scalar
    parameters the tangent plot, with two the contour plot; with a learning rate the
    loss over a few steps of gradient descent."""

    stem: str
    graph: GraphPicture | None
    size: tuple[int, int]
    tangent: plots.Tangents | None
    contour: plots.Contour | None = None
    training: plots.Training | None = None
    folder: str = ""
    """Where a LaTeX document finds the files, from the folder it is compiled in: empty
    when they are beside it, else a relative path ending in ``/`` (a fragment ``\\input``
    from a document elsewhere)."""

    unplotted: bool = False
    """Whether the loss would be plotted but it or its slope is not a finite real number
    in double precision at the given values (the document says so instead)."""

    def file(self, picture: str, extension: str) -> str:
        """The file name of ``picture`` (graph, tangent) as ``extension`` (svg, pdf)."""
        return f"{self.stem}.{picture}.{extension}"

    def path(self, picture: str, extension: str) -> str:
        """The file as a LaTeX document refers to it: ``folder`` and its name."""
        return self.folder + self.file(picture, extension)

    @property
    def drawn_limit(self) -> int:
        """The most nodes a drawn graph has (``MAX_DRAWN_NODES``)."""
        return MAX_DRAWN_NODES


def pictures(derivation: Derivation, stem: str, folder: str = "") -> Pictures:
    """The pictures of ``derivation`` for a document whose files are named after ``stem``
    (and that finds them in ``folder``, see ``Pictures.folder``): the graph laid out only
    if it is small enough to draw (``MAX_DRAWN_NODES``)."""
    graph = derivation.graph
    known = {s for g in graph.groups for s in g.symbols} | {d.symbol for d in graph.definitions}
    nodes = len(known)
    edges = sum(len(d.expr.free_symbols & known) for d in graph.definitions)
    drawn = computational_graph(derivation) if nodes <= MAX_DRAWN_NODES else None
    tangent = plots.tangents(derivation)
    return Pictures(stem, drawn, (nodes, edges), tangent or None, plots.contour(derivation),
                    plots.training(derivation), folder, tangent == ())
