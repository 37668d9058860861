"""Pictures of a derivation as data: the computational graph, its layout, and the plots.

``graph`` lays the derivation out as nodes and labelled edges (``layout`` orders them);
``plots`` computes the curves of the loss. Drawing them into files is the renderer's job.
"""
