"""The calculus: derivatives of a loss, step by step, as immutable data.

The step rules (``rules``), the chain-rule engine and ``derive`` (``engine``), the
``Derivation`` data it returns (``derivation``), the matrix view of a dense network
(``matrix``) and the numerical check of every step (``verify``). Nothing here renders.
"""
