"""Spec files: a YAML description of one derivation, read into ``derive``'s arguments
(the text and its YAML read safely by ``reading``; the keys and their types checked here).

Errors name the file and the key (``two_layer.yaml: model.layers[1].activation: ...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import SpecError, SymgradError, quoted, suggestion
from ..model.functions import read_functions, softmax
from ..model.limits import DEFAULT_LIMITS, Limits
from ..model.graph import Dense, Graph, check_activation, from_expression, network, neuron, with_loss
from ..render.notation import DEFAULT, Notation, get_notation
from ..render.chapter import VIEWS
from ..render.document import DETAILS
from ..model.symbols import real_symbol
from .reading import MAX_SPEC_BYTES, MAX_SPEC_DEPTH, MAX_SPEC_NODES, load_yaml, read_spec_text

KEYS = ("title", "expression", "inputs", "targets", "functions", "softmax", "model", "loss", "wrt",
        "at", "learning_rate", "detail", "view", "notation", "names")
DATA_KEYS = ("inputs", "targets")
"""An expression's data: the names that are inputs and targets, never parameters."""
LOSS_SOURCES = ("expression", "softmax", "model")
NEURON_KEYS = ("activation", "bias")
NETWORK_KEYS = ("inputs", "layers", "batch")
LAYER_KEYS = ("units", "activation")
SOFTMAX_KEYS = ("inputs", "output")
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
__all__ = ["MAX_SPEC_BYTES", "MAX_SPEC_DEPTH", "MAX_SPEC_NODES", "Spec", "load_spec", "load_yaml",
           "parse_spec", "read_spec_text", "spec_from_data"]


@dataclass(frozen=True)
class Spec:
    """What a spec asks for: the loss graph, ``wrt``, values, learning rate, title, and
    the level of detail, view and notation of its documents (``view`` None: the default
    for the graph, see ``render``)."""

    graph: Graph
    wrt: Any = "all"
    at: Mapping[str, Any] | None = None
    learning_rate: Any = None
    title: str | None = None
    detail: str = "standard"
    view: str | None = None
    notation: Notation = DEFAULT
    limits: Limits | None = None
    """The limits of work to derive it within (None: ``DEFAULT_LIMITS``)."""


def load_spec(path: str | Path, notation: str | None = None, *,
              limits: Limits | None = None) -> Spec:
    """Read and check the spec file at ``path`` (``notation``: a preset in place of the
    spec's own, and ``limits``, as ``parse_spec`` takes them)."""
    return parse_spec(read_spec_text(path), str(path), notation, limits=limits)


def parse_spec(text: str, source: str = "<spec>", notation: str | None = None, *,
               limits: Limits | None = None) -> Spec:
    """Check a spec given as YAML text; ``source`` names it in error messages. A
    ``notation`` (a preset's name) replaces the spec's own, before ``loss: quadratic`` is
    read in its convention; the spec's ``names`` still apply. A network beyond ``limits``
    (default ``DEFAULT_LIMITS``: its parameters, its input values) is refused before it is
    built (``LimitError``), and the spec keeps the limits for its derivation."""
    return spec_from_data(load_yaml(text, source), source, notation, limits=limits)


def spec_from_data(data: Any, source: str = "<spec>", notation: str | None = None, *,
                   limits: Limits | None = None) -> Spec:
    """Check a spec already read from YAML (``load_yaml``), as ``parse_spec`` does."""
    try:
        return _spec(data, notation, limits)
    except SymgradError as error:
        raise error.located(source=source) from None


def _spec(data: Any, preset: str | None = None, limits: Limits | None = None) -> Spec:
    mapping = _mapping(data, None, KEYS)
    given = [key for key in LOSS_SOURCES if key in mapping]
    if len(given) != 1:
        raise SpecError("give either an expression, a softmax or a model (exactly one)")
    for key in DATA_KEYS:
        if key in mapping and given[0] != "expression":
            raise SpecError(f"{key} names an expression's data; a model's are x and y", key=key)
    notation = _notation({**mapping, "notation": preset} if preset else mapping)
    try:
        declared, choices = read_functions(mapping.get("functions"))
    except SymgradError as error:
        raise error.located(key="functions") from None
    if given[0] == "model":
        graph = _model(mapping, notation, declared, limits)
    elif given[0] == "expression":
        graph = _expression(mapping, declared)
    else:
        graph = _softmax(mapping)
    try:
        graph = specified(graph, choices)
    except SymgradError as error:
        raise error.located(key="functions") from None
    title = mapping.get("title")
    if title is not None and not isinstance(title, str):
        raise SpecError("title must be text", key="title")
    at = mapping.get("at")
    if at is not None and not isinstance(at, Mapping):
        raise SpecError("at must map names to values", key="at")
    wrt = mapping.get("wrt", "all")
    if not (isinstance(wrt, str) or (isinstance(wrt, list) and all(isinstance(w, str) for w in wrt))):
        raise SpecError("wrt must be a name, a list of names, or all", key="wrt")
    rate = mapping.get("learning_rate")
    if isinstance(rate, (list, dict, bool)) or rate is not None and not isinstance(rate, (int, float, str)):
        raise SpecError(f"learning_rate must be a number; got {quoted(rate)}", key="learning_rate")
    detail = mapping.get("detail", "standard")
    if detail not in DETAILS:
        raise SpecError(f"detail must be one of {', '.join(DETAILS)}", key="detail")
    return Spec(graph, wrt, at, mapping.get("learning_rate"), title, detail, _view(mapping, graph),
                notation, limits)


def _notation(mapping: Mapping[str, Any]) -> Notation:
    """The spec's notation: a preset (``notation``) with some letters renamed (``names``)."""
    preset = mapping.get("notation", "symgrad")
    if not isinstance(preset, str):
        raise SpecError(f"notation must be a preset's name; got {quoted(preset)}", key="notation")
    try:
        preset = get_notation(preset)
    except SymgradError as error:
        raise error.located(key="notation") from None
    names = mapping.get("names", {})
    if not isinstance(names, Mapping):
        raise SpecError("names must map quantities to letters, e.g. {yhat: a, z: net}", key="names")
    try:
        return preset.named(names) if names else preset
    except SymgradError as error:
        raise error.located(key="names") from None


def _view(mapping: Mapping[str, Any], graph: Graph) -> str | None:
    view = mapping.get("view")
    if view is not None and view not in VIEWS:
        raise SpecError(f"view must be one of {', '.join(VIEWS)}", key="view")
    if view not in (None, "index") and graph.kind != "network":
        raise SpecError(f"view {view} is for networks (a model with layers); this loss has "
                        f"the index view only", key="view")
    return view


def _mapping(data: Any, key: str | None, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise SpecError(f"expected a mapping with keys {', '.join(allowed)}", key=key)
    unknown = [name for name in data if name not in allowed]
    if unknown:
        raise SpecError(f"{unknown_keys(unknown, allowed)} (known: {', '.join(allowed)})", key=key)
    return data


def unknown_keys(names: Sequence[Any], known: Sequence[str]) -> str:
    """``unknown keys 'lerning_rate' (did you mean 'learning_rate'?), 'foo'``: all of them at
    once, each quoted short, with the known key closest to each where one is close."""
    shown = [f"{quoted(name)}{_did_you_mean(name, known)}" for name in names[:10]]
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return f"unknown key{'s' if len(names) > 1 else ''} {', '.join(shown)}{more}"


def _did_you_mean(name: Any, known: Sequence[str]) -> str:
    hint = suggestion(name, known)  # "; did you mean 'x'?"
    return f" ({hint[2:]})" if hint else ""


def _expression(mapping: Mapping[str, Any], functions: tuple[str, ...] = ()) -> Graph:
    if "loss" in mapping:
        raise SpecError("an expression is its own loss: drop loss, or use a model", key="loss")
    text = mapping["expression"]
    if not isinstance(text, (str, int, float)) or isinstance(text, bool):
        raise SpecError("expression must be text", key="expression")
    data = {key: _names(mapping[key], key) for key in DATA_KEYS if key in mapping}
    try:
        return from_expression(str(text), **data, functions=functions)
    except SymgradError as error:
        raise error.located(key="expression") from None


def _names(value: Any, key: str) -> list[str]:
    """A list of names (one name alone is a list of one)."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and NAME.fullmatch(n) for n in names):
        raise SpecError(f"{key} must be a name or a list of names", key=key)
    return names


def _softmax(mapping: Mapping[str, Any]) -> Graph:
    """softmax_k(z_1, ..., z_n) of named inputs, as its own loss (the parser has no softmax:
    it needs a vector)."""
    if "loss" in mapping:
        raise SpecError("a softmax is its own loss: drop loss, or use a model", key="loss")
    data = _mapping(mapping["softmax"], "softmax", SOFTMAX_KEYS)
    inputs = data.get("inputs")
    names_ok = isinstance(inputs, list) and all(isinstance(n, str) and NAME.fullmatch(n)
                                                 for n in inputs)
    if not names_ok or len(inputs) < 2 or len(set(inputs)) != len(inputs):
        raise SpecError("inputs must be a list of two or more distinct names",
                        key="softmax.inputs")
    output = data.get("output", 1)
    if not _positive_int(output) or output > len(inputs):
        raise SpecError(f"output must be a whole number from 1 to {len(inputs)}",
                        key="softmax.output")
    return from_expression(softmax(output, *(real_symbol(n) for n in inputs)))


def _model(mapping: Mapping[str, Any], notation: Notation = DEFAULT,
           functions: tuple[str, ...] = (), limits: Limits | None = None) -> Graph:
    """The model with its loss; ``quadratic`` is the squared error in ``notation``'s
    convention (half of it, or all of it)."""
    if "loss" not in mapping:
        raise SpecError("a model needs a loss", key="loss")
    model, loss = mapping["model"], mapping["loss"]
    if not isinstance(model, Mapping):
        raise SpecError(f"model must be a mapping: {{{', '.join(NEURON_KEYS)}}} for a neuron or "
                        f"{{{', '.join(NETWORK_KEYS)}}} for a network", key="model")
    if not isinstance(loss, str):
        raise SpecError(f"loss must be a loss's name, such as squared_error; got {quoted(loss)}",
                        key="loss")
    is_network = "layers" in model
    built = _network(model, functions, limits) if is_network else _neuron(model, functions)
    loss = notation.quadratic if loss == "quadratic" else loss
    try:
        return with_loss(built, loss)
    except SymgradError as error:
        raise error.located(key="loss") from None


def _neuron(data: Any, functions: tuple[str, ...] = ()):
    mapping = _mapping(data, "model", NEURON_KEYS)
    bias = mapping.get("bias", True)
    if not isinstance(bias, bool):
        raise SpecError("bias must be true or false", key="model.bias")
    try:
        return neuron(_activation(mapping, "model"), bias=bias, functions=functions)
    except SymgradError as error:
        raise error.located(key="model.activation") from None


def _network(data: Any, functions: tuple[str, ...] = (), limits: Limits | None = None):
    mapping = _mapping(data, "model", NETWORK_KEYS)
    inputs = mapping.get("inputs")
    if not _positive_int(inputs):
        raise SpecError("inputs must be a positive whole number", key="model.inputs")
    layers = mapping["layers"]
    if not isinstance(layers, list) or not layers:
        raise SpecError("layers must be a non-empty list", key="model.layers")
    batch = mapping.get("batch")
    if batch is not None and not _positive_int(batch):
        raise SpecError("batch must be a positive whole number (the samples, one column each)",
                        key="model.batch")
    dense = [_layer(layer, f"model.layers[{i}]", functions) for i, layer in enumerate(layers)]
    try:
        return network(inputs, dense, batch=batch, functions=functions,
                       limits=limits or DEFAULT_LIMITS)
    except SymgradError as error:
        raise error.located(key="model") from None


def _layer(data: Any, key: str, functions: tuple[str, ...] = ()) -> Dense:
    mapping = _mapping(data, key, LAYER_KEYS)
    units = mapping.get("units")
    if not _positive_int(units):
        raise SpecError("units must be a positive whole number", key=f"{key}.units")
    activation = _activation(mapping, key)
    try:
        return Dense(units, check_activation(activation, functions))
    except SymgradError as error:
        raise error.located(key=f"{key}.activation") from None


def _activation(mapping: Mapping[str, Any], key: str) -> str:
    """The ``activation`` of a neuron or a layer (default: sigmoid), which must be a name."""
    activation = mapping.get("activation", "sigmoid")
    if not isinstance(activation, str):
        raise SpecError(f"activation must be a name, such as sigmoid; got {quoted(activation)}",
                        key=f"{key}.activation")
    return activation


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def function_options(entries: Sequence[str]) -> dict[str, str | None]:
    """The command line's ``--function`` entries (``g``, ``f=sigmoid``) as ``functions``:
    each name with the activation it stands for, None where it is left unspecified."""
    functions: dict[str, str | None] = {}
    for entry in entries:
        name, sep, activation = (part.strip() for part in entry.partition("="))
        if not NAME.fullmatch(name) or sep and not activation:
            raise SpecError(f"--function: expected a name or name=activation, got {quoted(entry)}")
        functions[name] = activation or None
    return functions


def specified(graph: Graph, functions: Any) -> Graph:
    """``graph`` with the activations ``functions`` chooses for its unspecified functions."""
    choices = read_functions(functions)[1]
    return graph.specified(choices) if choices else graph
