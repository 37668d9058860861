"""The ``symgrad`` command: derive a spec or a quick expression, and rebuild the gallery.

Thin by design: it calls only the public API. Bad input prints one line and exits 2;
nothing is written unless the whole document rendered. What a command does not use is not
imported: the pictures only for a document written to a file, and the commands of many
documents (``gallery``) only when one of them runs.
"""

from __future__ import annotations

import argparse
import re
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .. import __version__
from ..calculus.derivation import Derivation
from ..errors import SpecError, SymgradError, SymgradWarning, suggestion
from ..model.graph import from_expression
from ..model.limits import Limits
from ..render.notation import DEFAULT, using
from ..render.flavours import FLAVOURS
from ..render.chapter import VIEWS
from ..render.document import DETAILS, FORMATS, written_in
from ..spec import Spec, function_options, load_spec, specified
from ..teaching import SHEET_FORMATS
from .documents import derive_spec, render_derivation
from .files import Writes, special_file, write_katex
from .options import (chosen_notation, global_options, jobs_option, limit_options,
                      notation_options, parse_assignments, split, top_level_split)

if TYPE_CHECKING:  # imported only when a document is written to a file (_pictures)
    from ..pictures import Pictures


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        choice = CHOICE.search(message)
        if choice:
            message += suggestion(choice[1], [c.strip(" '") for c in choice[2].split(",")])
        raise SpecError(message)


CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)$")
"""argparse's message for a misspelt command or option value: the word and the choices."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 stale gallery, 2 bad input, 3 a
    bug in symgrad, 130 interrupted). The one boundary for errors: a ``SymgradError`` is one
    line; any other exception is one line saying it is a bug (``--debug``: the traceback);
    standard output that cannot be written (a full disk) is one line, a closed pipe ends
    quietly. Each warning (``SymgradWarning``) is one line on standard error, once; the
    libraries' own warnings (numpy's overflow inside a plot) only with ``--debug``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # each library warning once: --debug shows them
        warnings.simplefilter("always", SymgradWarning)
        try:
            args = _build_parser().parse_args(argv)
            code = args.run(args)
            write_stdout("")  # flushed: a full disk or a closed pipe is met here, not at exit
        except SymgradError as error:
            return _failed(f"error: {error}", 2)
        except BrokenPipeError:
            return _closed_pipe()
        except KeyboardInterrupt:
            return _failed("interrupted", 130)
        except Exception as error:  # the boundary: anything else is a bug in symgrad
            return _internal_error(error, _debugging(argv))
    if _debugging(argv):  # a library's warning (numpy's overflow in a plot) is symgrad's
        for other in (w for w in caught if w.category is not SymgradWarning):  # business
            print(warnings.formatwarning(other.message, other.category, other.filename,
                                         other.lineno), end="", file=sys.stderr)
    for message in dict.fromkeys(str(w.message) for w in caught if w.category is SymgradWarning):
        print(f"symgrad: warning: {_one_line(message)}", file=sys.stderr)
    return code


MESSAGE_LIMIT = 400
"""The most characters of a message the command line prints: one line, however long."""


def _one_line(text: str) -> str:
    text = " ".join(str(text).split("\n"))
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT - 3] + "..."


def _failed(message: str, code: int) -> int:
    print(f"symgrad: {_one_line(message)}", file=sys.stderr)
    return code


def _internal_error(error: BaseException, debug: bool) -> int:
    """One line saying an unexpected exception is a bug; the traceback first with --debug."""
    if debug:
        traceback.print_exception(error)
    detail = f"{type(error).__name__}: {_one_line(error)}" if str(error) else type(error).__name__
    return _failed(f"internal error (a bug in symgrad, please report it): {detail}"
                   + ("" if debug else " ; run with --debug for the traceback"), 3)


def _debugging(argv: Sequence[str]) -> bool:
    """Whether ``--debug`` was given (read from the words, so a failure while parsing them,
    or before a subcommand's options were read, still honours it)."""
    words = list(argv)[:list(argv).index("--")] if "--" in argv else argv
    return "--debug" in words


def write_stdout(text: str) -> None:
    """Write ``text`` to standard output and flush it; a failure (a full disk) is a
    ``SymgradError``; a closed pipe stays a ``BrokenPipeError``, which ``main`` ends quietly."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as error:
        _silence_stdout()
        raise SymgradError(f"cannot write to standard output: {error.strerror or error}") from None


def _closed_pipe() -> int:
    """Standard output's reader went away (``| head``): stop quietly, as Unix tools do."""
    _silence_stdout()
    return 141  # 128 + SIGPIPE, the status a shell reports for a tool a closed pipe ended


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so the flush at exit of what could not be
    written raises nothing more (no "Exception ignored" at exit)."""
    if sys.stdout is not sys.__stdout__:  # captured (a test, a caller's redirection): theirs
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # a captured stdout has no descriptor
        pass


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symgrad", description="Derive neural-network gradients step by step.")
    parser.add_argument("--version", action="version", version=f"symgrad {__version__}")
    global_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    d = commands.add_parser("derive", help="derive the gradients a spec (or --expr) asks for")
    d.add_argument("spec", nargs="?", help="a YAML spec file")
    d.add_argument("--expr", help="a loss expression, e.g. '1/2*(yhat - y)**2'")
    d.add_argument("--wrt", help="parameters, comma-separated, or all (default: all)")
    for data in ("inputs", "targets"):
        d.add_argument(f"--{data}", help=f"with --expr: the names that are {data}, comma-separated")
    d.add_argument("--function", action="append", default=[], metavar="NAME[=ACTIVATION]",
                   help="with --expr, an unspecified function besides f; or the activation an "
                        "unspecified function stands for, e.g. f=sigmoid (repeatable)")
    d.add_argument("--at", help="values, e.g. yhat=0.8,y=1.0 or x=[0.5,-0.2]; with a spec, "
                                "they replace the spec's values of those names and keep "
                                "its others")
    d.add_argument("--learning-rate", help="add one gradient-descent step with this rate")
    d.add_argument("--title", help="the document's title")
    d.add_argument("--format", choices=FORMATS, help="output format (default: from -o, else markdown)")
    d.add_argument("--detail", choices=DETAILS,
                   help="level of detail (default: the spec's, else standard)")
    d.add_argument("--view", choices=VIEWS,
                   help="for a network: per unit (index), in matrices (matrix) or both "
                        "(default: the spec's, else both for a network)")
    d.add_argument("--markdown-flavour", choices=FLAVOURS, default="github",
                   help="math delimiters for GitHub, MkDocs (arithmatex) or GitBook (default: github)")
    notation_options(d)
    d.add_argument("-o", "--output", help="write to this file instead of standard output")
    d.add_argument("--templates", action="append", default=[], metavar="DIR",
                   help="a template folder searched before the defaults (repeatable)")
    d.add_argument("--heading-level", type=int, default=1, metavar="N",
                   help="the title's level: LaTeX 0 (chapter) to 3, Markdown and HTML 1 to 6 "
                        "(default: 1, a section or #)")
    d.add_argument("--numbered", action="store_true", help="numbered LaTeX headings")
    d.add_argument("--figures-from", metavar="DIR",
                   help="for a LaTeX fragment or beamer frames with -o: the folder of the "
                        "document that inputs them, which finds the figures from there "
                        "(default: the current folder)")
    limit_options(d)
    d.set_defaults(run=_derive)
    g = commands.add_parser("gallery", help="regenerate output/ from examples/")
    g.add_argument("--examples", default="examples", help="folder of spec files (default: examples)")
    g.add_argument("--output", default="output", help="folder for the documents (default: output)")
    g.add_argument("--check", action="store_true", help="only report stale documents; exit 1 if any")
    jobs_option(g, "specs")
    g.set_defaults(run=_gallery)
    e = _exercises_parser(commands)
    for command in (d, g, e):
        global_options(command, top=False)
        command.add_argument("--no-verify", dest="verify", action="store_false",
                             help="skip checking every step numerically against sympy.diff")
    return parser


def _derive(args: argparse.Namespace) -> int:
    spec = _quick_spec(args) if args.spec is None else _spec_with_overrides(args)
    fmt = args.format or _format_for(args.output)
    folder = _figure_folder(args, fmt)  # every option checked before the work starts
    derivation = derive_spec(spec, source=args.spec, verify=args.verify)
    beside = args.output and not special_file(args.output)  # a device or pipe has no folder of files
    shown, files = _pictures(derivation, spec, fmt, args.output, folder) if beside else (None, {})
    text = render_derivation(derivation, fmt, args.detail or spec.detail, source=args.spec, pictures=shown,
                             view=args.view or spec.view, template_dirs=tuple(args.templates),
                             flavour=args.markdown_flavour, notation=spec.notation,
                             heading_level=args.heading_level, numbered=args.numbered)
    if args.output:
        with Writes(keep=[args.spec]) as writes:  # all of the files, or none of them
            if fmt == "html" and beside:
                write_katex(Path(args.output).parent, writes)
            for name, data in files.items():
                writes.write(Path(args.output).parent / name, data)
            writes.write(Path(args.output), text, special=True)
    else:
        write_stdout(text)
    return 0


def _pictures(derivation: Derivation, spec: Spec, fmt: str, output: str,
              folder: str) -> tuple[Pictures, dict[str, str | bytes]]:
    """The pictures a document written to ``output`` shows, and their files by name."""
    from ..pictures import pictures  # deferred: standard output shows no pictures
    from ..render.pictures import picture_files
    with using(written_in(derivation.graph, spec.notation)):  # the pictures' labels
        shown = pictures(derivation, Path(output).stem, folder)
        return shown, picture_files(shown, fmt)


INPUT_FORMATS = ("latex-fragment", "beamer")
"""The formats meant to be ``\\input`` into a document of the user's, which may be elsewhere."""
TEX_SPECIALS = set("\\%#{}$&^~")


def _figure_folder(args: argparse.Namespace, fmt: str) -> str:
    """The figures' folder as a fragment's ``\\includegraphics`` writes it (``Pictures.folder``):
    the output's folder relative to ``--figures-from`` (default: the current folder)."""
    if args.figures_from is not None and (fmt not in INPUT_FORMATS or not args.output):
        raise SpecError(f"--figures-from is for {' and '.join(INPUT_FORMATS)} written with -o")
    if fmt not in INPUT_FORMATS or not args.output:
        return ""
    folder = Path(os.path.relpath(Path(args.output).resolve().parent,
                                  Path(args.figures_from or ".").resolve())).as_posix()
    if TEX_SPECIALS & set(folder):
        raise SpecError(f"figures' folder {folder!r}: LaTeX cannot read a file name with any "
                        f"of {' '.join(sorted(TEX_SPECIALS))}")
    return "" if folder == "." else folder + "/"


def _quick_spec(args: argparse.Namespace) -> Spec:
    if args.expr is None:
        raise SpecError("give a spec file or --expr")
    at = None if args.at is None else parse_assignments(args.at)
    data = {k: top_level_split(getattr(args, k)) for k in ("inputs", "targets") if getattr(args, k)}
    functions = function_options(args.function)
    graph = specified(from_expression(args.expr, **data, functions=list(functions)), functions)
    return Spec(graph, split(args.wrt) if args.wrt else "all", at,
                args.learning_rate, args.title, notation=chosen_notation(args, DEFAULT),
                limits=_limits(args))


def _spec_with_overrides(args: argparse.Namespace) -> Spec:
    if args.expr is not None:
        raise SpecError("give a spec file or --expr, not both")
    if args.inputs or args.targets:
        raise SpecError("--inputs and --targets go with --expr (a spec has the keys inputs, targets)")
    spec = load_spec(args.spec, args.notation, limits=_limits(args))
    return Spec(specified(spec.graph, function_options(args.function)),
                split(args.wrt) if args.wrt else spec.wrt,
                _merged_at(spec.at, args.at),
                args.learning_rate if args.learning_rate is not None else spec.learning_rate,
                args.title or spec.title, spec.detail, spec.view, chosen_notation(args, spec.notation),
                spec.limits)


def _merged_at(at: Any, given: str | None) -> Any:
    """The spec's ``at`` with the values ``--at`` gives in place of those it names; the
    spec's other values stay."""
    if not given:
        return at
    return {**(at or {}), **parse_assignments(given)}


def _limits(args: argparse.Namespace) -> Limits | None:
    """The limits of work the command line was given (``--max-parameters``, ``--max-inputs``,
    ``--max-nodes``; None: the defaults), the one place they are read: the spec keeps them,
    the spec reader checks a network's size with them before it is built, and ``derive``
    the derivation's."""
    given = {f"max_{n}": getattr(args, f"max_{n}") for n in ("parameters", "inputs", "nodes")}
    given = {k: v for k, v in given.items() if v is not None}
    return Limits(**given) if given else None


def _format_for(output: str | None) -> str:
    suffix = Path(output).suffix if output else ""
    by_suffix = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".json": "json",
                 ".ipynb": "notebook", ".html": "html"}
    return by_suffix.get(suffix, "markdown")


# --- exercise sheets --------------------------------------------------------------------


def _exercises_parser(commands: Any) -> argparse.ArgumentParser:
    e = commands.add_parser("exercises", help="a problem sheet and its answer key: variants "
                                              "of a spec with random, well-conditioned values")
    e.add_argument("spec", help="a YAML spec file, optionally with an exercises: block")
    e.add_argument("--count", type=int, help="how many problems (default: the spec's, else 4)")
    e.add_argument("--seed", type=int, help="the random seed (default: the spec's, else 0)")
    e.add_argument("--activations", help="activations to draw from, e.g. sigmoid,tanh")
    e.add_argument("--losses", help="losses to draw from, e.g. squared_error,binary_cross_entropy")
    e.add_argument("--format", choices=SHEET_FORMATS,
                   help="output format (default: from -o, else markdown)")
    e.add_argument("-o", "--output", help="the sheet (default: SPEC_NAME.md, or .tex, .ipynb)")
    e.add_argument("--key", help="the answer key (default: the sheet's name with .key before "
                                 "its suffix, e.g. sheet.key.md)")
    notation_options(e)
    jobs_option(e, "the variants")
    e.set_defaults(run=_exercises)
    return e


def _gallery(args: argparse.Namespace) -> int:
    from . import gallery  # deferred: only the commands of many documents load the teaching stage
    return gallery.run_gallery(args)


def _exercises(args: argparse.Namespace) -> int:
    from . import gallery  # deferred, as for _gallery
    return gallery.run_exercises(args)


if __name__ == "__main__":
    sys.exit(main())
