"""Pictures beside a document, as files: the computational graph (TikZ inside LaTeX, an SVG
file beside Markdown) and the plots of the loss (``symgrad.render.plots``): the tangent, the
contour over two parameters and the loss over a few steps of gradient descent.

``picture_files`` makes the files that ``symgrad.pictures.pictures(derivation, stem)`` names,
for one format, as bytes, byte for byte the same on every run. LaTeX and beamer draw the
graph in TikZ, an HTML page holds its SVG inline (the template global ``svg_graph``).
"""

from __future__ import annotations

from . import plots, svg
from .environment import environment
from ..pictures.graph import GraphPicture
from ..pictures.shown import Pictures


PLOT_FORMATS = {"markdown": "svg", "html": "svg", "latex": "pdf", "latex-fragment": "pdf",
                "beamer": "pdf"}
"""The file type of the plots beside a document in each format that shows pictures."""


def picture_files(shown: Pictures, fmt: str) -> dict[str, bytes]:
    """The files the document in ``fmt`` refers to, by name: for Markdown the graph and
    the plots as SVG, for an HTML page the plots as SVG (its graph is inline), for LaTeX
    and beamer the plots as PDF (their graph is TikZ); none for other formats."""
    files: dict[str, bytes] = {}
    if fmt == "markdown" and shown.graph is not None:
        files[shown.file("graph", "svg")] = graph_svg(shown.graph).encode("utf-8")
    if fmt not in PLOT_FORMATS:
        return files
    extension = PLOT_FORMATS[fmt]
    figures = {"tangent": (shown.tangent, plots.tangent_figure),
               "contour": (shown.contour, plots.contour_figure),
               "training": (shown.training, plots.training_figure)}
    for picture, (data, draw) in figures.items():
        if data is not None:
            files[shown.file(picture, extension)] = draw(data, extension)
    return files


def graph_svg(graph: GraphPicture) -> str:
    """The graph as an SVG document (``svg/graph.svg.j2``); a compact graph's labels are
    its numbers alone (see ``GraphPicture.compact``)."""
    return svg.drawing(environment(), graph)
