"""A spec file's text and its YAML, read safely: a bounded size, nesting and expansion (no
"billion laughs"), UTF-8, and no key given twice; the checks of what it says are ``spec``'s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import SpecError, SymgradError, quoted

FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser with the safe constructor, where PyYAML has it: a wide network's values
(12,610 numbers at 64x3) parse in a seventh of the pure-Python parser's time."""
MAX_SPEC_BYTES = 1_000_000
"""The largest spec file symgrad reads (a 64x3 network's values take 80 kB)."""
MAX_SPEC_DEPTH = 50
"""The deepest a spec's lists and mappings may nest (a network's weights nest three deep)."""
MAX_SPEC_NODES = 250_000
"""The most values (numbers, names, lists and mappings, each counted) a spec may expand to:
more than a spec under ``MAX_SPEC_BYTES`` holds without aliases."""


def read_spec_text(path: str | Path) -> str:
    """The text of the spec file at ``path``; SpecError naming it if it cannot be read (a
    directory, a missing file), is not UTF-8 or is larger than ``MAX_SPEC_BYTES``."""
    try:
        with open(path, "rb") as stream:  # a directory, a missing file: OSError here
            data = stream.read(MAX_SPEC_BYTES + 1)  # read no more of /dev/zero than that
    except OSError as error:
        raise SpecError(f"cannot read spec: {error.strerror or error}", source=str(path)) from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"the spec is larger than {MAX_SPEC_BYTES:,} bytes, the most symgrad "
                        f"reads", source=str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SpecError(f"cannot read spec: not UTF-8 text (byte {data[error.start]:#04x} at "
                        f"offset {error.start})", source=str(path)) from None


def load_yaml(text: str, source: str = "<spec>") -> Any:
    """The YAML document in ``text``, refused (SpecError naming ``source``) if it is malformed,
    empty, repeats a key in a mapping, contains itself, or expands (aliases repeated) to more
    than ``MAX_SPEC_NODES`` values."""
    try:
        data = load_value(text)
    except SymgradError as error:
        raise error.located(source=source) from None
    if data is None:
        raise SpecError("the spec is empty: give an expression, a softmax or a model",
                        source=source)
    return data


def load_value(text: str) -> Any:
    """YAML text read with ``load_yaml``'s bounds (a spec, or a value given on the command
    line); SpecError if malformed or beyond them. An empty text is None."""
    try:
        data = _yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise SpecError(f"malformed YAML{where}: {problem}") from None
    except RecursionError:
        raise SpecError(f"malformed YAML: nested more than {MAX_SPEC_DEPTH} deep") from None
    except ValueError as error:  # an integer of more digits than Python converts (4300)
        raise SpecError(f"a value YAML cannot read: {str(error).split(':')[0]}") from None
    _check_size(data)
    return data


def _yaml(text: str) -> Any:
    """The YAML document in ``text``, parsed by libyaml where PyYAML has it; a malformed one
    is parsed again by the pure-Python parser, whose error says what is wrong in its words."""
    try:
        _check_depth(text)
        return yaml.load(text, Loader=_FastLoader)
    except yaml.YAMLError:
        return yaml.load(text, Loader=_PureLoader)


def _check_depth(text: str) -> None:
    """Refuse lists and mappings nested deeper than ``MAX_SPEC_DEPTH``, counted on libyaml's
    events (its parser keeps a stack of its own; its composer recurses in C, and a spec
    nested 100,000 deep would crash the interpreter there)."""
    depth = 0
    for event in yaml.parse(text, Loader=_FastLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_SPEC_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else "?"
                raise SpecError(f"lists and mappings nested more than {MAX_SPEC_DEPTH} deep "
                                f"(line {line}), the most symgrad reads")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


class _NoDuplicates:
    """A YAML constructor that refuses a key given twice in one mapping (YAML's own rule,
    which PyYAML leaves to the last one given), naming the key and both lines."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            lines: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # << merges keys in, and a key given beside it wins
                key = self.construct_object(key_node, deep=deep)  # type: ignore[attr-defined]
                line = key_node.start_mark.line + 1
                try:
                    first = lines.get(key)
                except TypeError:
                    continue  # an unhashable key: the constructor below says so
                if first is not None:
                    raise SpecError(f"duplicate key {quoted(key)} (lines {first} and {line})")
                lines[key] = line
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]

    def construct_yaml_float(self, node: Any) -> Any:
        """A float, or its text where a double cannot hold it (``1e-400`` is not 0.0 and
        ``1e400`` not infinity): the values reader reads that text exactly."""
        value = super().construct_yaml_float(node)  # type: ignore[misc]
        text = str(node.value)
        if (value == 0.0 and any(c in "123456789" for c in text.split("e")[0].split("E")[0])) \
                or (value in (float("inf"), float("-inf")) and "inf" not in text.lower()):
            return text
        return value


class _FastLoader(_NoDuplicates, FAST_LOADER):  # type: ignore[valid-type,misc]
    """libyaml's parser, refusing duplicate keys."""


class _PureLoader(_NoDuplicates, yaml.SafeLoader):
    """The pure-Python parser, refusing duplicate keys (for its words on malformed YAML)."""


for _loader in (_FastLoader, _PureLoader):
    _loader.add_constructor("tag:yaml.org,2002:float", _NoDuplicates.construct_yaml_float)


def _check_size(data: Any) -> None:
    """Refuse a document that contains itself or expands to more than ``MAX_SPEC_NODES``
    values: aliases share one object, so the expanded size is counted per object, once,
    never by building the expansion (a "billion laughs" spec is refused in microseconds)."""
    sizes: dict[int, int] = {}
    started: set[int] = set()
    stack: list[tuple[Any, bool]] = [(data, False)] if isinstance(data, (list, dict)) else []
    while stack:
        item, finished = stack.pop()
        children = list(item.values()) if isinstance(item, dict) else item
        if finished:
            sizes[id(item)] = 1 + sum(sizes.get(id(child), 1) for child in children)
            if sizes[id(item)] > MAX_SPEC_NODES:
                raise SpecError(f"the YAML expands to more than {MAX_SPEC_NODES:,} values "
                                f"(a YAML alias repeated?), the most symgrad reads")
            continue
        if id(item) in sizes:
            continue
        if id(item) in started:
            raise SpecError("the YAML contains itself (an alias inside its own anchor)")
        started.add(id(item))
        stack.append((item, True))
        stack.extend((child, False) for child in children if isinstance(child, (list, dict)))
