"""LaTeX for symgrad's mathematics: the printer, number formatting, escaping, line breaking.

``Printer`` (``printer``) is SymPy's ``LatexPrinter`` taught symgrad's notation, in the
textbook order of terms and factors (``ordering``). With ``values`` it prints an expression
with numbers in place of quantities, keeping the expression's shape. Sums and products
print as ``Math`` (``pieces``): pieces with the operators between them, so ``equation``
(``display``) can break a long equation between terms or factors, measured by ``width``,
instead of running off the page. Numbers and user text are in ``text``. Every macro used
is accepted by both pdflatex (amsmath, amssymb) and KaTeX.
"""

from .display import (Display, Shown, as_math, equation, equations, inline_equation, join_math,
                      recording, is_recording, same)
from .ordering import layer_vector
from .pieces import Math, Piece, bmatrix, bracket, number_factor
from .printer import MATRIX_LETTERS, Printer, function_tex, tex
from .text import DIGITS, latex_escape, literal_tex, markdown_escape, num, number
from .width import WIDTH, nested_fraction, width

__all__ = ["DIGITS", "Display", "MATRIX_LETTERS", "Math", "Piece", "Printer", "Shown", "WIDTH",
           "as_math", "bmatrix", "bracket", "equation", "equations", "function_tex", "inline_equation",
           "join_math", "latex_escape", "layer_vector", "literal_tex", "markdown_escape",
           "nested_fraction", "num", "number", "number_factor", "recording", "is_recording", "same", "tex",
           "width"]
