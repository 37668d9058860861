"""The command line's shared options and the way it reads their text: comma lists
outside brackets, ``name=value`` assignments read as YAML, the notation options and
``--jobs``.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import SpecError, SymgradError, quoted
from ..model.limits import DEFAULT_LIMITS
from ..render.notation import PRESETS, Notation, get_notation
from ..spec.reading import load_value
from ..teaching.batch import job_count


def notation_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--notation", choices=PRESETS,
                         help="the letters the documents write: symgrad's, Nielsen's, Goodfellow "
                              "et al.'s or Ng's (default: the spec's, else symgrad)")
    command.add_argument("--names", metavar="Q=NAME,...",
                         help="rename quantities, e.g. yhat=a,z=net,L=E (after --notation)")


def chosen_notation(args: argparse.Namespace, notation: Notation) -> Notation:
    """The spec's ``notation`` (read with the preset ``--notation`` names), or that
    preset for a quick expression, with ``--names``."""
    if args.notation is not None and args.spec is None:
        notation = get_notation(args.notation)
    if args.names:
        names = parse_assignments(args.names, option="--names")
        try:
            notation = notation.named({k: str(v) for k, v in names.items()})
        except SymgradError as error:
            raise SpecError(f"--{error}") from None
    return notation


def split(text: str) -> list[str] | str:
    parts = top_level_split(text)
    return parts[0] if len(parts) == 1 else parts


def top_level_split(text: str) -> list[str]:
    """Split at commas outside brackets: ``x=[1,2],y=3`` -> ``['x=[1,2]', 'y=3']``."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [p for p in parts if p]


def parse_assignments(text: str, option: str = "--at") -> dict[str, Any]:
    """``yhat=0.8,y=1.0,x=[0.5,-0.2]`` as a dict of YAML-read values."""
    values: dict[str, Any] = {}
    for part in top_level_split(text):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise SpecError(f"{option}: expected name=value, got {quoted(part)}")
        name = name.strip()
        if name in values:
            raise SpecError(f"{option}: {quoted(name)} is given twice")
        try:
            values[name] = load_value(value)
        except SpecError as error:
            raise SpecError(f"{option}: cannot read the value of {quoted(name)}, "
                            f"{quoted(value)}: {error.message}") from None
    return values


def global_options(command: argparse.ArgumentParser, *, top: bool) -> None:
    """The options every command takes, before its name (``top``) or after it: given after
    it they must not reset what was given before (``SUPPRESS``: no default there)."""
    command.add_argument("--debug", action="store_true", default=False if top else argparse.SUPPRESS,
                         help="on an internal error (a bug in symgrad), print its traceback")


def limit_options(command: argparse.ArgumentParser) -> None:
    """The limits of work a command can raise (``derive``): ``Limits``'s fields."""
    for name, what in (("parameters", "a network or expression with more than N parameters"),
                       ("inputs", "a network of more than N input values (inputs times samples)"),
                       ("nodes", "a loss of more than N nodes (symbols, numbers, operations)")):
        default = getattr(DEFAULT_LIMITS, f"max_{name}")
        command.add_argument(f"--max-{name}", type=positive_count, metavar="N",
                             help=f"refuse {what} before the work starts (default: {default:,})")


def positive_count(text: str) -> int:
    """A whole number of at least 1, as an option's value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {quoted(text)}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value}")
    return value


def jobs_option(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument("--jobs", type=job_count, default=1, metavar="N",
                         help=f"derive {what} in N processes at once; 0 or auto: one per CPU "
                              "(default: 1, one after another); the output is the same")
