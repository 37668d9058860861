"""The ``symgrad`` command: derive a spec or a quick expression, and rebuild the gallery.

Thin by design: it calls only the public API. Bad input prints one line and exits 2;
nothing is written unless the whole document rendered.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, Iterator, Sequence

import yaml

from .. import __version__
from ..errors import SpecError, SymgradError, SymgradWarning
from ..model.graph import from_expression
from ..render.notation import DEFAULT, PRESETS, Notation, get_notation, using
from ..render.flavours import FLAVOURS
from ..pictures import pictures
from ..render.chapter import VIEWS
from ..render.document import DETAILS, FORMATS, written_in
from ..render.pictures import picture_files
from ..spec import Spec, function_options, load_spec, specified
from ..teaching.exercises import exercises, load_exercises
from ..teaching.batch import job_count
from ..teaching.sheets import EXTENSIONS as SHEET_EXTENSIONS, FORMATS as SHEET_FORMATS, render_sheet
from .documents import (derive_spec, exercise_documents, gallery_documents,  # noqa: F401
                        render_derivation)  # (exercise_documents: the gallery's API, here too)
from .files import read_back, stale_katex, write_atomically, write_katex
from .progress import Bar


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise SpecError(message)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 1 stale gallery, 2 bad input).
    Each warning (``SymgradWarning``) is one line on standard error, once."""
    parser = _build_parser()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SymgradWarning)
        try:
            args = parser.parse_args(argv)
            code = args.run(args)
        except SymgradError as error:
            print(f"symgrad: error: {error}", file=sys.stderr)
            return 2
    for other in (w for w in caught if w.category is not SymgradWarning):
        warnings.showwarning(other.message, other.category, other.filename, other.lineno)
    for message in dict.fromkeys(str(w.message) for w in caught if w.category is SymgradWarning):
        print(f"symgrad: warning: {message}", file=sys.stderr)
    return code


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symgrad", description="Derive neural-network gradients step by step.")
    parser.add_argument("--version", action="version", version=f"symgrad {__version__}")
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
    d.add_argument("--at", help="values, e.g. yhat=0.8,y=1.0 or x=[0.5,-0.2]")
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
    _notation_options(d)
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
    d.set_defaults(run=_derive)
    g = commands.add_parser("gallery", help="regenerate output/ from examples/")
    g.add_argument("--examples", default="examples", help="folder of spec files (default: examples)")
    g.add_argument("--output", default="output", help="folder for the documents (default: output)")
    g.add_argument("--check", action="store_true", help="only report stale documents; exit 1 if any")
    _jobs_option(g, "specs")
    g.set_defaults(run=_gallery)
    e = _exercises_parser(commands)
    for command in (d, g, e):
        command.add_argument("--no-verify", dest="verify", action="store_false",
                             help="skip checking every step numerically against sympy.diff")
    return parser


def _derive(args: argparse.Namespace) -> int:
    spec = _quick_spec(args) if args.spec is None else _spec_with_overrides(args)
    fmt = args.format or _format_for(args.output)
    derivation = derive_spec(spec, source=args.spec, verify=args.verify)
    folder = _figure_folder(args, fmt)
    with using(written_in(derivation.graph, spec.notation)):  # the pictures' labels
        shown = pictures(derivation, Path(args.output).stem, folder) if args.output else None
        files = picture_files(shown, fmt) if shown is not None else {}
    text = render_derivation(derivation, fmt, args.detail or spec.detail, source=args.spec, pictures=shown,
                             view=args.view or spec.view, template_dirs=tuple(args.templates),
                             flavour=args.markdown_flavour, notation=spec.notation,
                             heading_level=args.heading_level, numbered=args.numbered)
    if args.output:
        if fmt == "html":
            write_katex(Path(args.output).parent)
        for name, data in files.items():
            write_atomically(Path(args.output).parent / name, data)
        write_atomically(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 0


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
    data = {k: _top_level_split(getattr(args, k)) for k in ("inputs", "targets") if getattr(args, k)}
    functions = function_options(args.function)
    graph = specified(from_expression(args.expr, **data, functions=list(functions)), functions)
    return Spec(graph, _split(args.wrt) if args.wrt else "all", at,
                args.learning_rate, args.title, notation=_notation(args, DEFAULT))


def _spec_with_overrides(args: argparse.Namespace) -> Spec:
    if args.expr is not None:
        raise SpecError("give a spec file or --expr, not both")
    if args.inputs or args.targets:
        raise SpecError("--inputs and --targets go with --expr (a spec has the keys inputs, targets)")
    spec = load_spec(args.spec, args.notation)
    return Spec(specified(spec.graph, function_options(args.function)),
                _split(args.wrt) if args.wrt else spec.wrt,
                parse_assignments(args.at) if args.at else spec.at,
                args.learning_rate if args.learning_rate is not None else spec.learning_rate,
                args.title or spec.title, spec.detail, spec.view, _notation(args, spec.notation))


def _notation_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--notation", choices=PRESETS,
                         help="the letters the documents write: symgrad's, Nielsen's, Goodfellow "
                              "et al.'s or Ng's (default: the spec's, else symgrad)")
    command.add_argument("--names", metavar="Q=NAME,...",
                         help="rename quantities, e.g. yhat=a,z=net,L=E (after --notation)")


def _notation(args: argparse.Namespace, notation: Notation) -> Notation:
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


def _format_for(output: str | None) -> str:
    suffix = Path(output).suffix if output else ""
    by_suffix = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".json": "json",
                 ".ipynb": "notebook", ".html": "html"}
    return by_suffix.get(suffix, "markdown")


def _split(text: str) -> list[str] | str:
    parts = _top_level_split(text)
    return parts[0] if len(parts) == 1 else parts


def _top_level_split(text: str) -> list[str]:
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
    for part in _top_level_split(text):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise SpecError(f"{option}: expected name=value, got {part!r}")
        try:
            values[name.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise SpecError(f"{option}: cannot read the value of {name.strip()}: {value!r}") from None
    return values


def _jobs_option(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument("--jobs", type=job_count, default=1, metavar="N",
                         help=f"derive {what} in N processes at once; 0 or auto: one per CPU "
                              "(default: 1, one after another); the output is the same")


@contextlib.contextmanager
def _executor(jobs: int) -> Iterator[Executor | None]:
    """A pool of ``jobs`` processes for the command's jobs, or None (run here) for one."""
    if jobs == 1:
        yield None
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield pool


def _gallery(args: argparse.Namespace) -> int:
    output = Path(args.output)
    with _executor(args.jobs) as executor:
        documents = gallery_documents(Path(args.examples), verify=args.verify, executor=executor)
    stale = [name for name, text in documents.items() if read_back(output / name, type(text)) != text]
    pages = any(name.startswith("html/") for name in documents)
    if args.check:
        for name in stale:
            print(f"stale: {output / name}")
        katex = stale_katex(output / "html") if pages else []
        for path in katex:
            print(f"stale: {path}")
        return 1 if stale or katex else 0
    if pages:
        write_katex(output / "html")
    for name in stale:
        write_atomically(output / name, documents[name])
    print(f"{len(documents)} documents in {output}/ ({len(stale)} rewritten)")
    return 0


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
    _notation_options(e)
    _jobs_option(e, "the variants")
    e.set_defaults(run=_exercises)
    return e


def _exercises(args: argparse.Namespace) -> int:
    spec, settings = load_exercises(args.spec, args.notation)
    spec = replace(spec, notation=_notation(args, spec.notation))
    fmt = args.format or _sheet_format(args.output)
    sheet_path = Path(args.output or Path(args.spec).stem + SHEET_EXTENSIONS[fmt])
    key_path = Path(args.key) if args.key else key_path_for(sheet_path)
    if key_path.resolve() == sheet_path.resolve():
        raise SpecError(f"--key: the answer key would overwrite the sheet {sheet_path}")
    try:
        with Bar("exercises") as bar, _executor(args.jobs) as executor:
            sheet = exercises(spec, settings.count if args.count is None else args.count,
                              settings.seed if args.seed is None else args.seed,
                              _split_names(args.activations, settings.activations),
                              _split_names(args.losses, settings.losses),
                              verify=args.verify, progress=bar.update, executor=executor)
    except SymgradError as error:
        option = {"exercises.activations": "--activations", "exercises.losses": "--losses"}
        cli = error.key in option and getattr(args, error.key.split(".")[1]) is not None
        raise error.located(source=args.spec, key=option[error.key] if cli else None) from None
    texts = {path: render_sheet(sheet, fmt, key=key) for path, key in ((sheet_path, False), (key_path, True))}
    for path, text in texts.items():
        write_atomically(path, text)
    print(f"{len(sheet.problems)} problems: the sheet in {sheet_path}, the answer key in {key_path}")
    return 0


def _sheet_format(output: str | None) -> str:
    formats = {ext: fmt for fmt, ext in SHEET_EXTENSIONS.items()}
    suffix = Path(output).suffix if output else ".md"
    if suffix not in formats:
        raise SpecError(f"-o: an exercise sheet is written as {', '.join(formats)}; "
                        f"give one of these suffixes or --format")
    return formats[suffix]


def _split_names(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    return default if text is None else tuple(_top_level_split(text))


def key_path_for(sheet: Path) -> Path:
    """Where the answer key of ``sheet`` goes: ``sheet.md`` -> ``sheet.key.md``."""
    return sheet.with_name(f"{sheet.stem}.key{sheet.suffix}")


if __name__ == "__main__":
    sys.exit(main())
