"""Notation: the letters a document writes for each quantity, and how it numbers layers.

A ``Notation`` is one frozen object. Presets match the texts students read:

- ``symgrad`` (the default): x, W^{(l)}_{jk}, b, z, a, \\hat{y}, y, \\delta, L, layers in
  brackets, the inputs being layer 0.
- ``nielsen``, as in Nielsen's *Neural Networks and Deep Learning*: w^l_{jk}, b^l_j, z^l_j,
  a^l_j, \\delta^l_j and the cost C; the inputs are layer 1 and the output is a^L.
- ``goodfellow``, as in Goodfellow, Bengio and Courville's *Deep Learning* (section 6.5):
  a^{(k)} = b^{(k)} + W^{(k)} h^{(k-1)}, h^{(k)} = f(a^{(k)}), h^{(0)} = x, the cost J,
  and g for the gradient with respect to a^{(k)}.
- ``ng``, as in Ng's deep-learning courses: W^{[l]}, z^{[l]}, a^{[l]}, the output
  a^{[L]}, the cost J, and dz for the gradient with respect to z.

Each preset also says which loss ``quadratic`` means: half the squared error (Nielsen, and
symgrad's seed example) or the squared error itself, averaged over a batch (Goodfellow et
al. and Ng write the mean squared error without the half).

``Notation.named`` overrides single letters (``yhat: a``, ``z: net``, ``L: E``). A name is
plain text (a letter, a word, a Greek letter's name, a letter with ``hat``) or one of a few
LaTeX forms (``\\mathcal{L}``, ``\\hat{y}``, ``\\ell``); anything else is refused, so a
name can never inject markup into a document.

The render layer sets the notation for the duration of one rendering (``using``); the
printers read it with ``current``. Nothing else depends on it: a derivation is the same
mathematics in every notation.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Mapping

from ..errors import SpecError, UnknownNameError
from ..model.authored import NOTHING, AsWritten

QUANTITIES = {
    "x": "the inputs", "W": "a layer's weights", "w": "a neuron's weight", "b": "the biases",
    "z": "the weighted sums", "a": "the activations", "yhat": "the outputs",
    "y": "the targets", "delta": "the errors (the loss's gradient with respect to a weighted sum)",
    "L": "the loss",
}
"""The quantities whose letters a notation sets, by the name symgrad gives them."""

GREEK = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
         "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi",
         "psi", "omega")
CAPITAL_GREEK = ("Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi",
                 "Psi", "Omega")
"""The capital Greek letters LaTeX has commands for (the others look like Latin ones)."""
_LATEX_NAME = re.compile(r"\\(?:mathcal|mathrm|mathbf|mathit|mathsf|hat|tilde|bar)\{[A-Za-z]+\}"
                         r"|\\ell|\\[A-Za-z]+")
_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Notation:
    """How quantities are written: ``letters`` (LaTeX, by quantity, see ``QUANTITIES``),
    the ``layer`` superscript's pattern (``({})``, ``{}``, ``[{}]``), the number of the
    input layer, whether the outputs are written as the last layer's activations (a^L),
    and the loss ``quadratic`` means. ``output_layer`` is the network's last layer in
    symgrad's numbering (set per document by ``for_layers``; None for a loss that is not a
    network, whose output then has no layer)."""

    name: str
    source: str
    letters: Mapping[str, str]
    layer: str = "({})"
    input_layer: int = 0
    output_as_layer: bool = False
    quadratic: str = "half_squared_error"
    output_layer: int | None = None
    renamed: tuple[str, ...] = field(default=())
    written: AsWritten = field(default=NOTHING, compare=False, repr=False)
    """How the author wrote the loss being printed (its sums' order, its decimals): set per
    document with ``as_written`` (``Graph.written``)."""

    def letter(self, quantity: str) -> str:
        """The LaTeX letter of ``quantity`` (a name from ``QUANTITIES``)."""
        return self.letters[quantity]

    def number(self, layer: int) -> int:
        """The number written for symgrad's layer ``layer`` (0 being the inputs)."""
        return layer + self.input_layer

    def superscript(self, layer: Any) -> str:
        """The layer superscript: a number (symgrad's, shifted to this notation's) or a
        symbol such as ``l``, ``l+1`` or ``L``."""
        shown = self.number(layer) if isinstance(layer, int) else layer
        return "^{" + self.layer.format(shown) + "}"

    def written_as(self, quantity: str, layer: Any = None) -> tuple[str, Any]:
        """The quantity whose letter writes ``quantity`` of ``layer``, and the layer: the
        outputs are the last layer's activations where the notation says so (a^L)."""
        if quantity == "yhat" and self.output_as_layer:
            return "a", self.output_layer if layer is None else layer
        return quantity, layer

    def quantity(self, quantity: str, layer: Any = None, index: str = "") -> str:
        """LaTeX for ``quantity`` of ``layer`` (None: no layer) with subscript ``index``:
        ``quantity("z", "l", "j")`` is z^{(l)}_{j} in the default notation."""
        quantity, layer = self.written_as(quantity, layer)
        text = self.letter(quantity)
        if layer is not None:
            text += self.superscript(layer)
        return text + (f"_{{{index}}}" if index else "")

    def matrix(self, quantity: str, single: bool, layer: Any = None) -> str:
        """LaTeX for ``quantity`` of ``layer`` as a matrix with a column per sample (upper
        case), or (``single``) as one sample's column vector."""
        quantity, layer = self.written_as(quantity, layer)
        letter = self.letter(quantity)
        if not (single or quantity in ("W", "w", "b")):
            letter = upper(letter)
        return letter + ("" if layer is None else self.superscript(layer))

    def renamings(self) -> list[tuple[str, str]]:
        """(letter, what it stands for) for each quantity renamed after the preset."""
        return [(self.quantity(q), QUANTITIES[q]) for q in QUANTITIES if q in self.renamed]

    def for_layers(self, layers: int | None) -> "Notation":
        """This notation for a network of ``layers`` layers (None: not a network)."""
        return replace(self, output_layer=layers)

    def as_written(self, written: AsWritten) -> "Notation":
        """This notation printing sums and numbers as ``written`` (``Graph.written``)."""
        return replace(self, written=written)

    def named(self, names: Mapping[str, Any]) -> "Notation":
        """This notation with some letters replaced: ``{"yhat": "a", "z": "net"}``. The
        outputs given the activations' letter are written as the last layer's activations
        (a^{(2)} in a two-layer network, a for a neuron), as Nielsen writes them."""
        letters = dict(self.letters)
        for quantity, text in names.items():
            if quantity not in QUANTITIES:
                raise UnknownNameError(f"names: unknown quantity {quantity!r} "
                                       f"(known: {', '.join(QUANTITIES)})")
            letters[quantity] = latex_name(text, f"names.{quantity}")
        output_as_layer = self.output_as_layer and "yhat" not in names
        if "yhat" in names and letters["yhat"] == letters["a"]:  # the outputs as a^L
            letters["yhat"], output_as_layer = self.letters["yhat"], True
        clash = quantity_clash(letters)
        if clash:
            raise SpecError(f"names: two quantities would both be written {clash}")
        return replace(self, letters=letters, output_as_layer=output_as_layer,
                       renamed=tuple(sorted(set(self.renamed) | set(names))))


def quantity_clash(letters: Mapping[str, str]) -> str | None:
    """A letter that two quantities share (W and w may: they never meet), else None."""
    seen: dict[str, str] = {}
    for quantity, letter in letters.items():
        other = seen.get(letter)
        if other is not None and {other, quantity} != {"W", "w"}:
            return letter
        seen[letter] = quantity
    return None


def latex_name(text: Any, where: str = "name") -> str:
    """The LaTeX for a name a user gives: ``E`` -> E, ``net`` -> \\mathrm{net}, ``delta`` ->
    \\delta, ``yhat`` -> \\hat{y}, and ``\\mathcal{L}``-style LaTeX as it is."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"{where}: a name must be text")
    text = text.strip()
    if _LATEX_NAME.fullmatch(text):
        command = text[1:].split("{")[0]
        if "{" in text or command in GREEK or command in CAPITAL_GREEK or command == "ell":
            return text
    elif _WORD.fullmatch(text):
        if text in GREEK or text in CAPITAL_GREEK:
            return "\\" + text
        if len(text) == 1:
            return text
        if len(text) == 4 and text.endswith("hat"):
            return rf"\hat{{{text[0]}}}"
        return rf"\mathrm{{{text}}}"
    raise SpecError(f"{where}: cannot write {text!r} as a name (give a letter, a word, a Greek "
                    r"letter's name, or LaTeX such as \mathcal{L})")


def upper(letter: str) -> str:
    """The upper-case form of a letter's LaTeX: a -> A, \\hat{y} -> \\hat{Y}, \\delta ->
    \\Delta, \\mathrm{net} -> \\mathrm{Net}."""
    match = re.fullmatch(r"(\\[A-Za-z]+\{)([A-Za-z])(.*\})", letter)
    if match:
        return match.group(1) + match.group(2).upper() + match.group(3)
    if letter.startswith("\\") and letter[1:].capitalize() in CAPITAL_GREEK:
        return "\\" + letter[1:].capitalize()
    match = re.fullmatch(r"(.*\})([a-z])", letter)  # \mathrm{d}z -> \mathrm{d}Z
    if match:
        return match.group(1) + match.group(2).upper()
    return letter.upper() if len(letter) == 1 else letter


def plain(letter: str) -> str:
    """A letter's LaTeX as Unicode text, for pictures: \\hat{y} -> ŷ, \\delta -> δ,
    \\mathrm{net} -> net."""
    match = re.fullmatch(r"\\([A-Za-z]+)\{([A-Za-z]+)\}", letter)
    if match:
        accent = {"hat": "\u0302", "tilde": "\u0303", "bar": "\u0304"}.get(match.group(1), "")
        return unicodedata.normalize("NFC", match.group(2) + accent)  # y and a hat: ŷ
    if letter == "\\ell":
        return "ℓ"
    if letter[1:] in GREEK or letter[1:] in CAPITAL_GREEK:
        case = "CAPITAL" if letter[1].isupper() else "SMALL"
        spelled = letter[1:].upper().replace("LAMBDA", "LAMDA")  # Unicode's spelling
        return unicodedata.lookup(f"GREEK {case} LETTER {spelled}")
    return re.sub(r"\\[A-Za-z]+\{|\}", "", letter)


_SYMGRAD = {"x": "x", "W": "W", "w": "w", "b": "b", "z": "z", "a": "a", "yhat": r"\hat{y}",
            "y": "y", "delta": r"\delta", "L": "L"}
PRESETS: dict[str, Notation] = {
    preset.name: preset
    for preset in (
        Notation("symgrad", "symgrad's own notation", _SYMGRAD),
        Notation("nielsen", "Nielsen, Neural Networks and Deep Learning",
                 {**_SYMGRAD, "W": "w", "L": "C"}, layer="{}", input_layer=1,
                 output_as_layer=True),
        Notation("goodfellow", "Goodfellow, Bengio and Courville, Deep Learning",
                 {**_SYMGRAD, "z": "a", "a": "h", "delta": "g", "L": "J"},
                 quadratic="squared_error"),
        Notation("ng", "Ng's deep-learning courses",
                 {**_SYMGRAD, "delta": r"\mathrm{d}z", "L": "J"}, layer="[{}]",
                 output_as_layer=True, quadratic="squared_error"),
    )
}
DEFAULT = PRESETS["symgrad"]


def get_notation(name: str) -> Notation:
    """The preset called ``name``; raise UnknownNameError listing the known ones."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise UnknownNameError(f"unknown notation {name!r} (known: {', '.join(PRESETS)})") from None


def resolve(notation: "Notation | str | None") -> Notation:
    """A notation given as a preset's name, a Notation, or None (the default)."""
    if notation is None:
        return DEFAULT
    return notation if isinstance(notation, Notation) else get_notation(notation)


_CURRENT: contextvars.ContextVar[Notation] = contextvars.ContextVar("notation", default=DEFAULT)


@contextlib.contextmanager
def using(notation: Notation) -> Iterator[Notation]:
    """Print in ``notation`` inside the ``with`` block (the printers read ``current``)."""
    token = _CURRENT.set(notation)
    try:
        yield notation
    finally:
        _CURRENT.reset(token)


def current() -> Notation:
    """The notation the printers are writing in."""
    return _CURRENT.get()
