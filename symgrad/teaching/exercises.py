"""Exercise sheets: variants of one derivation with random, well-conditioned values.

``exercises(spec, count, seed)`` draws ``count`` variants of what ``spec`` asks for, each
with its own values (and, optionally, an activation and a loss drawn from given lists),
and derives each one. A variant is kept only when its numbers make a good exercise: few
decimals, no saturated sigmoid or tanh, no ReLU at its kink, no vanishing or huge
gradients, and no repeat of an earlier variant. Randomness comes from the seed alone (and a
stream per variant seeded ``"seed:number"``): the same seed, the same sheet, on any executor.

This module makes the data; ``symgrad.sheets`` renders it.
"""

from __future__ import annotations

import random
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .batch import run_all
from ..calculus.derivation import Derivation
from ..calculus.engine import checked, derive
from ..errors import DerivationError, SpecError, SymgradError
from ..model.losses import LOSSES
from ..model.graph import ACTIVATIONS, Graph, Group, Role, network, neuron, with_loss
from ..render.notation import DEFAULT, Notation
from ..model.values import arrange, nest, read_rate
from ..spec import Spec, load_yaml, read_spec_text, spec_from_data

KEYS = ("count", "seed", "activations", "losses")
COUNT, SEED = 4, 0
"""The defaults: four problems, seed 0."""
MAX_COUNT = 100
ATTEMPTS_PER_VARIANT = 200
"""Draws tried per variant kept before giving up with a DerivationError."""
SATURATING = {"sigmoid": 2.0, "tanh": 2.0, "softplus": 3.0}
"""Largest |z| allowed into these activations: beyond it the slope is nearly flat."""
KINKED = ("relu", "leaky_relu")
KINK_MARGIN = 0.1
"""Smallest |z| allowed into a ReLU: z must be clearly on one side of the kink at 0."""
SMALLEST, LARGEST = 1e-3, 50.0
"""Every gradient's size must lie between these, and every number stay below LARGEST."""
SOLUTION_TITLE = "Worked solution"

Progress = Callable[[int, int], None]
"""Called with (variants made, variants wanted) after each variant is kept."""


@dataclass(frozen=True)
class Settings:
    """What a spec's ``exercises:`` block asks for: how many problems, the seed, and the
    activations and losses to draw from (empty: keep the spec's)."""

    count: int = COUNT
    seed: int = SEED
    activations: tuple[str, ...] = ()
    losses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Problem:
    """One variant: its number (from 1), the activation and loss it uses (None for an
    expression), the values drawn (as ``at`` takes them) and its worked derivation."""

    number: int
    activation: str | None
    loss: str | None
    values: Mapping[str, Any]
    derivation: Derivation

    def answers(self) -> dict[str, Any]:
        """The numbers a student should find: ``loss``, ``gradients`` (and ``updated``
        with a learning rate), shaped like the parameters' values, as floats."""
        d, worked = self.derivation, self.derivation.worked
        out: dict[str, Any] = {"loss": float(worked.loss), "gradients": arrange(
            d.graph, d.parameters, {p: float(v) for p, v in worked.gradients.items()})}
        if worked.learning_rate is not None:
            out["updated"] = arrange(d.graph, d.trained,
                                     {p: float(v) for p, v in worked.updated.items()})
        return out


@dataclass(frozen=True)
class Sheet:
    """A problem sheet and its answer key: a title, the seed that drew it, the problems,
    and the notation they are written in."""

    title: str
    seed: int
    problems: tuple[Problem, ...]
    notation: Notation = DEFAULT


# --- reading a spec with an exercises block -------------------------------------------


def load_exercises(path: str | Path, notation: str | None = None) -> tuple[Spec, Settings]:
    """Read the spec at ``path`` and its optional ``exercises:`` block (``notation``, a
    preset in place of the spec's own)."""
    return parse_exercises(read_spec_text(path), str(path), notation)


def parse_exercises(text: str, source: str = "<spec>",
                    notation: str | None = None) -> tuple[Spec, Settings]:
    """A spec given as YAML text, with its ``exercises:`` block (count, seed, activations,
    losses) read into ``Settings``; errors name ``source`` and the key."""
    data = load_yaml(text, source)  # bounded: no alias bomb, no key twice
    if not isinstance(data, Mapping) or "exercises" not in data:
        return spec_from_data(data, source, notation), Settings()
    rest = {k: v for k, v in data.items() if k != "exercises"}
    spec = spec_from_data(rest, source, notation)
    try:
        return spec, settings(data["exercises"], spec)
    except SymgradError as error:
        raise error.located(source=source) from None


def settings(block: Any, spec: Spec) -> Settings:
    """The ``exercises:`` block checked against the spec it belongs to."""
    if not isinstance(block, Mapping):
        raise SpecError(f"expected a mapping with keys {', '.join(KEYS)}", key="exercises")
    unknown = [k for k in block if k not in KEYS]
    if unknown:
        raise SpecError(f"unknown key {unknown[0]!r} (known: {', '.join(KEYS)})", key="exercises")
    count = block.get("count", COUNT)
    seed = block.get("seed", SEED)
    check_count(count, "exercises.count")
    if not _whole(seed) or seed < 0:
        raise SpecError("seed must be a whole number, 0 or more", key="exercises.seed")
    activations = _names(block.get("activations", []), "exercises.activations")
    losses = _names(block.get("losses", []), "exercises.losses")
    choices(spec.graph, activations, losses)
    return Settings(count, seed, activations, losses)


def check_count(count: Any, key: str | None = None) -> None:
    """Raise SpecError unless ``count`` is a whole number from 1 to MAX_COUNT."""
    if not _whole(count) or not 1 <= count <= MAX_COUNT:
        raise SpecError(f"count must be a whole number from 1 to {MAX_COUNT}", key=key)


def _names(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError("expected a list of names", key=key)
    return tuple(dict.fromkeys(value))


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- which activations and losses may be drawn ----------------------------------------


@dataclass(frozen=True)
class Structure:
    """A model's shape without its activations and loss, to build it again with others:
    a neuron (with or without bias) or dense layers ``(units, activation)``."""

    kind: str
    bias: bool = True
    inputs: int = 1
    layers: tuple[tuple[int, str], ...] = ()
    batch: int | None = None

    def build(self, activation: str | None, loss: str) -> Graph:
        """The model with ``activation`` (None: its own) on the neuron or, in a network,
        on every hidden layer (the only layer when there is one), and ``loss``."""
        if self.kind == "neuron":
            return with_loss(neuron(activation or self.layers[0][1], bias=self.bias), loss)
        hidden = len(self.layers) - 1 or 1
        layers = [(units, activation if activation and i < hidden else own)
                  for i, (units, own) in enumerate(self.layers)]
        return with_loss(network(self.inputs, layers, batch=self.batch), loss)


def structure(graph: Graph) -> Structure:
    """The structure of a neuron's or a network's graph (an expression has none to vary)."""
    activations = [d.activation for d in graph.definitions if d.role is Role.ACTIVATION]
    if graph.kind == "neuron":
        return Structure("neuron", graph.group("b") is not None, 1, ((1, activations[0]),))
    if graph.kind != "network":
        return Structure(graph.kind)
    weights = [g for g in graph.groups if g.name[0] == "W"]
    layers, start = [], 0
    for W in weights:
        layers.append((W.shape[0], activations[start]))
        start += W.shape[0] * (graph.batch or 1)
    return Structure("network", True, weights[0].shape[1], tuple(layers), graph.batch)


def output_activation(graph: Graph) -> str | None:
    """The activation of the model's outputs (None for an expression's)."""
    if graph.kind not in ("neuron", "network"):
        return None
    return [d.activation for d in graph.definitions if d.role is Role.ACTIVATION][-1]


def mismatch(output: str | None, loss: str | None) -> str | None:
    """Why outputs of activation ``output`` cannot go with ``loss`` (None when they can)."""
    if loss == "categorical_cross_entropy" and output != "softmax":
        return f"categorical_cross_entropy needs a softmax output layer, not {output}"
    if loss == "binary_cross_entropy" and output != "sigmoid":
        return f"binary_cross_entropy needs outputs in (0, 1), from a sigmoid, not {output}"
    return None


def choices(graph: Graph, activations: Sequence[str] = (), losses: Sequence[str] = ()
            ) -> list[tuple[str | None, str | None]]:
    """The (activation, loss) pairs a variant may use (None: the spec's own), each listed
    name checked; a name that goes with none of the others is a SpecError."""
    _check_names(graph, activations, losses)
    shape = structure(graph)
    pairs, reasons = [], {}
    for activation in activations or (None,):
        for loss in losses or (None,):
            built = shape.build(activation, loss or graph.loss_name) if activation or loss else graph
            reason = mismatch(output_activation(built), built.loss_name)
            if reason is None:
                pairs.append((activation, loss))
            reasons[activation], reasons[loss] = reason, reason
    for name, key in [(a, "exercises.activations") for a in activations] + \
                     [(l, "exercises.losses") for l in losses]:
        if not any(name in pair for pair in pairs):
            raise SpecError(reasons[name], key=key)
    if not pairs:
        raise SpecError(reasons[None], key="loss")
    return pairs


def _check_names(graph: Graph, activations: Sequence[str], losses: Sequence[str]) -> None:
    for names, key in ((activations, "exercises.activations"), (losses, "exercises.losses")):
        if names and graph.kind not in ("neuron", "network"):
            raise SpecError("random activations and losses need a model (a neuron or dense "
                            "layers), not an expression", key=key)
    for name in activations:
        if name not in ACTIVATIONS or name == "softmax":
            known = ", ".join(a for a in ACTIVATIONS if a != "softmax")
            raise SpecError(f"cannot draw activation {name!r} (known: {known}; softmax is "
                            "an output layer's, give it in the model)", key="exercises.activations")
    for name in losses:
        if name not in LOSSES:
            raise SpecError(f"unknown loss {name!r} (known: {', '.join(LOSSES)})",
                            key="exercises.losses")


# --- drawing values -------------------------------------------------------------------

TARGET_RANGES = {"sigmoid": (0, 10), "tanh": (-9, 9), "relu": (0, 20), "softplus": (1, 20)}
"""Targets, in tenths, that the outputs of these activations can reach (others: -2 to 2)."""


def draw_values(rng: random.Random, graph: Graph) -> dict[str, Any]:
    """Values for every leaf of ``graph``, by group name, shaped as ``at`` takes them:
    inputs from -2 to 2 and parameters from -1 to 1 in tenths, never zero; targets in
    the outputs' range (0 or 1 for binary cross-entropy; one-hot for a softmax)."""
    values: dict[str, Any] = {}
    for group in graph.groups:
        if group.role == "target":
            flat = _targets(rng, group, output_activation(graph), graph.loss_name)
        else:
            size = 10 if group.role == "parameter" else 20
            flat = [_tenths(rng, -size, size) for _ in group.symbols]
        values[group.name] = nest(flat, group.shape)
    return values


def _tenths(rng: random.Random, low: int, high: int, zero: bool = False) -> float:
    """A number k/10 for a whole k from ``low`` to ``high`` (not 0 unless ``zero``)."""
    while True:
        k = rng.randint(low, high)
        if k or zero:
            return k / 10


def _targets(rng: random.Random, group: Group, output: str | None, loss: str | None) -> list[float]:
    if output == "softmax" or loss == "categorical_cross_entropy":
        classes, samples = group.shape[0], (group.shape[1] if len(group.shape) > 1 else 1)
        hot = [rng.randrange(classes) for _ in range(samples)]
        return [1.0 if hot[n] == j else 0.0 for j in range(classes) for n in range(samples)]
    if loss == "binary_cross_entropy":
        return [float(rng.randint(0, 1)) for _ in group.symbols]
    low, high = TARGET_RANGES.get(output, (-20, 20))
    return [_tenths(rng, low, high, zero=True) for _ in group.symbols]


# --- keeping the well-conditioned variants --------------------------------------------


def flaw(derivation: Derivation) -> str | None:
    """Why a worked derivation makes a poor exercise (None if it makes a good one): a
    saturated sigmoid, tanh or softplus, a ReLU at its kink, a number larger than
    LARGEST or a gradient smaller than SMALLEST in size."""
    worked = derivation.worked
    env = {**worked.given, **worked.forward}
    for d in derivation.graph.definitions:
        if d.role is Role.ACTIVATION and d.activation in (*SATURATING, *KINKED):
            z = float(d.expr.args[0].xreplace(env))
            if abs(z) > SATURATING.get(d.activation, float("inf")):
                return f"{d.activation} saturated at z = {z:g}"
            if d.activation in KINKED and abs(z) < KINK_MARGIN:
                return f"{d.activation} at its kink (z = {z:g})"
    numbers = [worked.loss, *worked.forward.values(), *worked.gradients.values(),
               *worked.updated.values()]
    if any(abs(float(n)) > LARGEST for n in numbers):
        return f"a number larger than {LARGEST:g}"
    for parameter, gradient in worked.gradients.items():
        if abs(float(gradient)) < SMALLEST:
            return f"the gradient with respect to {parameter} is almost zero"
    return None


# --- the sheet ------------------------------------------------------------------------


def exercises(spec: Spec, count: int = COUNT, seed: int = SEED,
              activations: Sequence[str] | None = None, losses: Sequence[str] | None = None,
              *, verify: bool = False, progress: Progress | None = None,
              executor: Executor | None = None) -> Sheet:
    """``count`` distinct, well-conditioned variants of what ``spec`` asks for (its
    ``wrt`` and learning rate; its own values are not used), drawn with ``seed``.

    Each variant uses an activation from ``activations`` and a loss from ``losses``
    (default: the spec's), drawn among the pairs that go together: the pairs in a random
    order, each used once before any is used again, so a sheet covers them all. Each variant
    draws from its own random stream, a job for ``executor`` (any ``concurrent.futures``
    executor; None: here), the sheet the same either way. ``verify`` checks every step as
    ``derive`` does; ``progress`` is called after each variant kept. Raises SpecError for a
    bad count or a name that cannot be drawn, DerivationError when a variant finds no
    distinct, well-conditioned values in ``ATTEMPTS_PER_VARIANT`` draws.
    """
    check_count(count)
    if spec.learning_rate is not None:
        read_rate(spec.learning_rate)
    pairs = choices(spec.graph, tuple(activations or ()), tuple(losses or ()))
    models = {pair: _model(spec, pair, verify) for pair in pairs}
    order = random.Random(seed).sample(pairs, len(pairs))  # every pair once before any comes again
    wanted = [order[i % len(order)] for i in range(count)]
    streams = [f"{seed}:{number}" for number in range(1, count + 1)]  # each variant's own seed
    jobs = [(models[pair][0], spec, stream, frozenset()) for pair, stream in zip(wanted, streams)]
    drawn = run_all(draw_variant, jobs, executor)
    problems: list[Problem] = []
    seen: dict[Any, set[str]] = {pair: set() for pair in pairs}  # the values kept, by pair
    for pair, stream, draw in zip(wanted, streams, drawn):
        graph, verification = models[pair]
        if draw.values is not None and repr(draw.values) in seen[pair]:  # rare: draw again, here
            draw = draw_variant(graph, spec, stream, frozenset(seen[pair]))
        if draw.values is None:
            raise DerivationError(
                f"found only {len(problems)} of {count} distinct well-conditioned variants: "
                f"problem {len(problems) + 1} had none in {ATTEMPTS_PER_VARIANT} draws (the "
                f"last rejected: {draw.reason}); ask for fewer, or allow more activations or losses")
        seen[pair].add(repr(draw.values))
        derivation = draw.derivation or _attempt(graph, spec, draw.values)[0]
        problems.append(Problem(len(problems) + 1, *pair, draw.values, _with(derivation, verification)))
        if progress is not None:
            progress(len(problems), count)
    return Sheet(spec.title or "Exercises on the chain rule", seed, tuple(problems), spec.notation)


@dataclass(frozen=True)
class Draw:
    """A variant's values (None: none found), why the last draw was rejected, and their
    derivation, which pickling (out of a worker process) leaves behind: SymPy expressions do
    not survive it (``2*(yhat - y)`` comes back ``2*yhat - 2*y``); the receiver derives again."""

    values: dict[str, Any] | None
    reason: str
    derivation: Derivation | None = None

    def __reduce__(self) -> tuple:
        return Draw, (self.values, self.reason)


def draw_variant(graph: Graph, spec: Spec, stream: str, skip: frozenset[str]) -> Draw:
    """The first values drawn from ``random.Random(stream)`` that make ``graph`` a good
    exercise and are not in ``skip`` (the ``repr`` of values already kept)."""
    rng = random.Random(stream)
    reason = "none drawn"
    for _ in range(ATTEMPTS_PER_VARIANT):
        values = draw_values(rng, graph)
        derivation, reason = (None, "a repeat") if repr(values) in skip else \
            _attempt(graph, spec, values)
        if derivation is not None:
            return Draw(values, "", derivation)
    return Draw(None, reason)


def _model(spec: Spec, pair: tuple[str | None, str | None], verify: bool) -> tuple[Graph, Any]:
    """The graph of a variant's (activation, loss), derived once without values: so a
    bad ``wrt`` or learning rate is reported at once, and the verification is shared."""
    activation, loss = pair
    graph = structure(spec.graph).build(activation, loss or spec.graph.loss_name) \
        if activation or loss else spec.graph
    symbolic = derive(graph, spec.wrt)
    return graph, checked(symbolic).verification if verify else None


def _attempt(graph: Graph, spec: Spec, values: Mapping[str, Any]
             ) -> tuple[Derivation | None, str | None]:
    """The variant's derivation, or None and why it was rejected."""
    try:
        derivation = derive(graph, spec.wrt, at=values, learning_rate=spec.learning_rate,
                            title=SOLUTION_TITLE)
    except SymgradError as error:
        return None, str(error)
    reason = flaw(derivation)
    return (None, reason) if reason else (derivation, None)


def _with(derivation: Derivation, verification: Any) -> Derivation:
    return derivation if verification is None else replace(derivation, verification=verification)
