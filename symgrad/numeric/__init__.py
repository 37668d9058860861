"""Numbers from a derivation: compiled numpy functions and what the worked numbers say.

``compile`` turns a ``Derivation`` into a numpy function of the loss and its gradients;
``reading`` reads the worked numbers as a teacher would (signs, sizes, warnings).
"""
