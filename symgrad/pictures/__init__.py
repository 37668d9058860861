"""Pictures of a derivation as data: the computational graph, its layout, and the plots.

``graph`` lays the derivation out as nodes and labelled edges (``layout`` orders them);
``plots`` computes the curves of the loss, over the range where it is a finite real
number (``domain``); ``shown`` (``pictures``) says what a document
shows. Drawing them into files is the renderer's job.
"""

from .shown import Pictures, pictures

__all__ = ["Pictures", "pictures"]
