"""Teaching material made from many derivations: exercise sheets and their answer keys.

``exercises`` draws well-conditioned variants of a spec and derives each; ``sheets``
writes them as a problem sheet and its key.
"""
