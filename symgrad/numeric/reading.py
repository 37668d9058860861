"""Reading the numbers of a worked derivation as a teacher would: which parameter moves most,
the warnings the values call for (a saturated sigmoid or tanh, a ReLU that is off, a chain
of factors that multiplies up), and for a network how the gradients' size changes from the
last layer to the first (a vanishing gradient). A network's warnings are gathered per kind
and activation (``Layered``), naming layers, units and samples, so that one sentence covers
them all.
Everything here is derived from ``Derivation.worked``; the sentences are in
templates/common/prose.j2.
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import sympy as sp

from ..calculus.backward import Factor
from ..calculus.derivation import Derivation
from ..model.graph import Graph
from .gains import EXPLODING, Gains
from .stepped import loss_after_step

SATURATED = sp.Rational(1, 10)
"""An activation whose slope is below this fraction of its largest slope is saturated."""

LARGEST_SLOPE = {"sigmoid": sp.Rational(1, 4), "tanh": sp.S.One}
"""The largest slope of each saturating activation (at z = 0)."""

VANISHING = 10
"""A network's first layer's gradients are called small (or large) beside its last layer's
when the largest weight gradient in size of one is at least this many times the other's."""

SLOPES_EXPLAIN = sp.Rational(1, 2)
"""The layers' activation slopes are given as a reason for small early gradients only when,
along every path back, they multiply to at most this (so they at least halve the gradient)."""

Spots = tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]
"""Units of a layer (1-based) with the samples (1-based; () without a batch) they concern:
units concerned for the same samples share one entry, ordered by their units."""


@dataclass(frozen=True)
class Caution:
    """One thing a teacher would point out: ``kind`` is ``saturated``, ``cancelled`` (a
    saturated sigmoid whose slope the binary cross-entropy cancels: no vanishing gradient),
    ``off`` (a ReLU with no gradient flowing) or ``exploding``; ``factor`` is the local
    derivative concerned, ``value`` its number (for ``exploding``, the product of the
    factors along ``path``, from the loss down to the quantity the parameters feed,
    reported once per path)."""

    kind: str
    factor: Factor
    value: sp.Expr
    argument: sp.Expr | None = None
    path: tuple[sp.Symbol, ...] = ()


@dataclass(frozen=True)
class Place:
    """Layers of a network (``layers``, symgrad's numbers, each ``width`` units wide) where
    the same units and samples (``spots``) are concerned; the output layer (``output``) is
    a place of its own. ``batch``: the samples of a batch, 0 without one."""

    layers: tuple[int, ...]
    width: int
    spots: Spots
    output: bool
    batch: int = 0

    @property
    def mixed(self) -> bool:
        """Whether the units concerned are not all concerned at the same samples."""
        return len(self.spots) > 1

    @property
    def whole(self) -> bool:
        """Whether every unit of these layers is concerned, for every sample."""
        (units, samples), *others = self.spots
        return not others and len(units) == self.width and len(samples) == self.batch


@dataclass(frozen=True)
class Layered:
    """A network's ``saturated``, ``cancelled`` or ``off`` cautions of one activation
    (``activation``), one sentence's worth: ``places`` names the layers, units and samples
    concerned, ``dead`` the units off for every sample of a batch."""

    kind: str
    activation: str
    cautions: tuple[Caution, ...]
    places: tuple[Place, ...]
    dead: tuple[Place, ...] = ()

    @property
    def units(self) -> int:
        """How many units are concerned, at one sample or more."""
        return len({(c.factor.wrt.layer, c.factor.wrt.index) for c in self.cautions})

    @property
    def dead_units(self) -> int:
        """How many units are concerned for every sample of a batch."""
        return sum(len(p.layers) * len(u) for p in self.dead for u, _ in p.spots)

    @property
    def smallest_argument(self) -> sp.Expr:
        """The smallest |z| among the cautions."""
        return min(abs(c.argument) for c in self.cautions)

    @property
    def largest_slope(self) -> sp.Expr:
        """The largest slope in size among the cautions."""
        return max(abs(c.value) for c in self.cautions)


@dataclass(frozen=True)
class Across:
    """How a network's weight gradients compare from its first layer to its last (layers
    ``first`` and ``last``, symgrad's numbers, the first and last with trained weights, of
    the ``depth`` layers): the
    largest in size of each (``small`` of layer ``first``, ``large`` of layer ``last``, at
    ``small_at`` and ``large_at``) and their ratio, ``large / small``. With ``slopes``, the
    activations of layers ``first`` to ``last - 1`` (all sigmoid or tanh), whose slopes, each
    layer's largest multiplied together, come to at most ``bound`` along any path back (and
    at most ``ceiling``, the product of the activations' largest slopes, at any values)."""

    first: int
    last: int
    small_at: sp.Symbol
    small: sp.Expr
    large_at: sp.Symbol
    large: sp.Expr
    depth: int
    slopes: tuple[str, ...] = ()
    bound: sp.Expr | None = None
    ceiling: sp.Expr | None = None

    @property
    def ratio(self) -> sp.Expr:
        """The last layer's largest weight gradient over the first's, in size."""
        return abs(self.large) / abs(self.small)

    @property
    def vanishing(self) -> bool:
        """Whether the first layer's gradients are at least VANISHING times smaller."""
        return self.ratio >= VANISHING

    @property
    def explained(self) -> bool:
        """Whether the activations' slopes are a reason for the first layer's small
        gradients: all sigmoid or tanh, multiplying to at most SLOPES_EXPLAIN."""
        return bool(self.slopes) and self.bound <= SLOPES_EXPLAIN

    @property
    def growing(self) -> bool:
        """Whether the first layer's gradients are at least VANISHING times larger."""
        return self.ratio * VANISHING <= 1

    @property
    def about(self) -> int | str:
        """The factor between the two, the larger over the smaller, to two significant
        figures (350 for 347.9, 14 for 13.6; ``$10^{400}$`` past ``ABOUT_DIGITS`` digits)."""
        return about(self.ratio if self.ratio >= 1 else 1 / self.ratio)


ABOUT_DIGITS = 15
"""The most digits of a factor ``about`` writes out; a larger one is a power of ten."""


def about(value: sp.Expr) -> int | str:
    """``value`` (at least 10) rounded to two significant figures, as a whole number, or
    past ``ABOUT_DIGITS`` digits as its power of ten in math (``$10^{400}$``): the value
    may pass a double's range (a weight of -1e308 upstream)."""
    with mpmath.workdps(30):
        x = mpmath.mpf(sp.Float(value, 30)._mpf_)
        exponent = int(mpmath.floor(mpmath.log10(x)))
        if exponent >= 10**ABOUT_DIGITS:  # 10^(4.34 x 10^307), not 308 digits of exponent
            mantissa, power = mpmath.nstr(mpmath.log10(x), 3, min_fixed=1, max_fixed=0).split("e")
            return f"$10^{{{mantissa} \\times 10^{{{int(power)}}}}}$"
        if exponent >= ABOUT_DIGITS:
            return f"$10^{{{exponent}}}$"
        scale = 10 ** (exponent - 1)
        return int(mpmath.nint(x / scale)) * scale


@dataclass(frozen=True)
class Reading:
    """The parameters' gradients by size, largest first (inputs and targets left out: they
    do not move), the warnings, and with a learning rate the loss after the step
    (``after_step``; None if it is not a finite number there). For a network, the
    ``saturated`` and ``off`` warnings gathered per layer (``layered``) and the comparison
    of its first layer's gradients with its last's (``across``, None with fewer than two
    layers' weights differentiated or a zero among the two). Of the paths whose factors
    multiply past EXPLODING, the warnings hold the largest only: a deep network can have
    exponentially many."""

    ranking: tuple[tuple[sp.Symbol, sp.Expr], ...]
    warnings: tuple[Caution, ...]
    after_step: sp.Expr | None = None
    layered: tuple[Layered, ...] = ()
    across: Across | None = None
    exploding_paths: int = 0
    """How many paths back from the loss multiply past EXPLODING; the warnings hold the
    one that multiplies the most (``exploding``)."""

    @property
    def exploding_limit(self) -> int:
        """The size past which a path's product of factors is exploding (EXPLODING)."""
        return EXPLODING

    @property
    def exploding(self) -> Caution | None:
        """The ``exploding`` warning of the path whose product is the largest in size."""
        return next((c for c in self.warnings if c.kind == "exploding"), None)

    @property
    def others(self) -> tuple[Caution, ...]:
        """The warnings ``layered`` does not cover (all of them outside a network), each a
        sentence of its own; exploding paths, when there are several, are one sentence
        (``exploding``) and not among them."""
        covered = {c for group in self.layered for c in group.cautions}
        if self.exploding_paths > 1:
            covered.add(self.exploding)
        return tuple(c for c in self.warnings if c not in covered)

    @property
    def tied(self) -> bool:
        """Whether every gradient has the same size (so the step moves each as much)."""
        return abs(self.ranking[0][1]) == abs(self.ranking[-1][1])


KEPT = 4
"""How many derivations' readings ``read`` keeps (a document asks for its reading in
several places; the summary's loss after the step alone is a forward pass)."""
_kept: dict[int, tuple[Derivation, Reading | None]] = {}


def read(derivation: Derivation) -> Reading | None:
    """The reading of a worked derivation; None without values. Worked out once per
    derivation (the last KEPT are kept, each with its derivation, so that its id is not
    reused while kept)."""
    kept = _kept.get(id(derivation))
    if kept is not None and kept[0] is derivation:
        return kept[1]
    if len(_kept) >= KEPT:
        del _kept[next(iter(_kept))]
    reading = _read(derivation)
    _kept[id(derivation)] = (derivation, reading)
    return reading


def _read(derivation: Derivation) -> Reading | None:
    worked = derivation.worked
    if worked is None:
        return None
    # only parameters move: an input's or a target's gradient is no step
    trained = derivation.trained
    ranking = sorted(((p, worked.gradients[p]) for p in trained), key=lambda item: -abs(item[1]))
    warnings = [w for f in derivation.factors if (w := _activation_warning(derivation, f))]
    exploding, paths = _exploding(derivation)
    warnings += exploding
    network = derivation.graph.kind == "network"
    layered = _layered(derivation, warnings) if network else ()
    across = _across(derivation) if network else None
    return Reading(tuple(ranking), tuple(warnings), loss_after_step(derivation), layered, across,
                   paths)


def _activation_warning(derivation: Derivation, factor: Factor) -> Caution | None:
    definition = derivation.graph.definition(factor.of)
    name = None if definition is None else definition.activation
    if name is None or factor.wrt not in definition.expr.free_symbols:
        return None
    value = derivation.worked.factors[(factor.of, factor.wrt)]
    # the activation's argument is a defined quantity (z = w x + b) or a given value (z)
    argument = derivation.worked.forward.get(factor.wrt, derivation.worked.given.get(factor.wrt))
    if name in LARGEST_SLOPE and abs(value) < SATURATED * LARGEST_SLOPE[name]:
        kind = "cancelled" if _cancelled(derivation, factor, name) else "saturated"
        return Caution(kind, factor, value, argument)
    if name == "relu" and float(value) == 0.0:
        return Caution("off", factor, value, argument)
    return None


def _cancelled(derivation: Derivation, factor: Factor, name: str) -> bool:
    """Whether a sigmoid's small slope is cancelled by the loss: its output goes straight
    into a binary cross-entropy, whose derivative (yhat - y) / (yhat (1 - yhat)) divides by
    the slope yhat (1 - yhat), so that dL/dz is the error itself."""
    graph = derivation.graph
    return (name == "sigmoid" and graph.loss_name == "binary_cross_entropy"
            and factor.of in graph.definition(derivation.loss).expr.free_symbols)


def _exploding(derivation: Derivation) -> tuple[list[Caution], int]:
    """The path whose factors multiply up the most past EXPLODING, as a caution (none if
    no path does), and how many paths do.

    A path runs from the loss down to a quantity a parameter feeds; its product leaves out
    the loss's own derivative and the parameter's factor (the chain of gains a backward
    pass multiplies through) and counts with at least two factors. A first-layer weight of
    a deep network has exponentially many paths, so none is listed: ``Gains`` finds the
    largest product by one pass over the graph's edges and counts the paths past the
    limit without listing those it can tell all pass."""
    gains = Gains(derivation)
    best, count = None, 0
    for v in dict.fromkeys(t.consumer for g in derivation.gradients for t in g.terms):
        count += gains.count(v)
        route = gains.largest(v)
        if route is not None and (best is None or abs(route[1]) > abs(best[1])):
            best = route
    if best is None or count == 0:
        return [], 0
    nodes, product = best
    backward = derivation.backward
    return [Caution("exploding", backward.factors[(nodes[-2], nodes[-1])], product, path=nodes)], count


def places(symbols: list[sp.Symbol], graph: Graph) -> tuple[Place, ...]:
    """Where network quantities (a unit's z or a, for one sample of a batch) are: their
    layers, units and samples, as ``Place``s in layer order (hidden layers concerned in the
    same units and samples share one)."""
    by_layer: dict[int, dict[int, set[int]]] = {}
    for s in symbols:
        by_layer.setdefault(s.layer, {}).setdefault(s.index[0], set()).add(s.sample or 0)
    depth, widths, batch = _depth(graph), _widths(graph), graph.batch or 0
    out: list[Place] = []
    for layer in sorted(by_layer):
        shared: dict[tuple[int, ...], list[int]] = {}
        for unit in sorted(by_layer[layer]):
            samples = tuple(sorted(by_layer[layer][unit])) if graph.batch else ()
            shared.setdefault(samples, []).append(unit)
        entries = tuple(sorted(((tuple(u), n) for n, u in shared.items()), key=lambda e: e[0]))
        before = out[-1] if out else None
        if (before is not None and not before.output and layer != depth and before.spots == entries
                and before.width == widths[layer] and before.layers[-1] == layer - 1):
            out[-1] = Place(before.layers + (layer,), before.width, entries, False, batch)
        else:
            out.append(Place((layer,), widths[layer], entries, layer == depth, batch))
    return tuple(out)


def _layered(derivation: Derivation, warnings: list[Caution]) -> tuple[Layered, ...]:
    """The saturated, cancelled and off cautions of a network, one ``Layered`` per kind and
    activation, with the units off for every sample of a batch (dead ReLUs)."""
    graph, out = derivation.graph, []
    for kind in ("saturated", "cancelled", "off"):
        chosen = [c for c in warnings if c.kind == kind]
        names = [graph.definition(c.factor.of).activation for c in chosen]
        for name in dict.fromkeys(names):
            cautions = tuple(c for c, n in zip(chosen, names) if n == name)
            where = places([c.factor.wrt for c in cautions], graph)
            every = {(layer, u) for p in where for layer in p.layers
                     for units, samples in p.spots for u in units
                     if kind == "off" and graph.batch and len(samples) == graph.batch}
            dead = places([c.factor.wrt for c in cautions
                           if (c.factor.wrt.layer, c.factor.wrt.index[0]) in every], graph)
            out.append(Layered(kind, name, cautions, where, dead))
    return tuple(out)


def _across(derivation: Derivation) -> Across | None:
    """The first and last differentiated layers' largest weight gradients (biases' when
    no two layers have weights differentiated), with the slopes between them."""
    gradients = derivation.worked.gradients
    for base in ("W", "b"):
        layers: dict[int, tuple[sp.Symbol, sp.Expr]] = {}
        for p in derivation.trained:
            if getattr(p, "base", None) == base and p.layer is not None:
                best = layers.get(p.layer)
                if best is None or abs(gradients[p]) > abs(best[1]):
                    layers[p.layer] = (p, gradients[p])
        if len(layers) >= 2:
            break
    else:
        return None
    first, last = min(layers), max(layers)
    (small_at, small), (large_at, large) = layers[first], layers[last]
    if small == 0 or large == 0:
        return None
    return Across(first, last, small_at, small, large_at, large, _depth(derivation.graph),
                  *_slopes(derivation, range(first, last)))


def _slopes(derivation: Derivation, layers: range) -> tuple:
    """The activations of ``layers``, the product of each layer's largest slope in size and
    the product of the largest each layer's activations can have, when every one of them is
    a sigmoid or tanh (else no activations and no bounds)."""
    names: list[str] = []
    bound = ceiling = sp.S.One
    for layer in layers:
        factors = [f for f in derivation.factors if getattr(f.of, "layer", None) == layer
                   and getattr(f.of, "base", None) == "a" and getattr(f.wrt, "base", None) == "z"]
        kinds = {derivation.graph.definition(f.of).activation for f in factors}
        if not factors or not kinds <= set(LARGEST_SLOPE):
            return (), None, None
        names += [k for k in sorted(kinds) if k not in names]
        bound *= max(abs(derivation.worked.factors[(f.of, f.wrt)]) for f in factors)
        ceiling *= max(LARGEST_SLOPE[k] for k in kinds)
    return tuple(names), bound, ceiling


def _depth(graph: Graph) -> int:
    """A network's number of layers (the layer of its last weights)."""
    return max(_widths(graph))


def _widths(graph: Graph) -> dict[int, int]:
    """The units of each layer of a network (the rows of its weights), by layer."""
    return {g.symbols[0].layer: g.shape[0] for g in graph.groups
            if getattr(g.symbols[0], "base", None) == "W"}
