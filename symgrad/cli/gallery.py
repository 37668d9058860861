"""The commands that make many documents: ``gallery`` (every example, in every format,
and the exercise sheets of ``examples/exercises``) and ``exercises`` (a sheet and its key).
Each spec or variant is a job that any ``concurrent.futures`` executor can run; ``--jobs N``
runs them in a pool of processes.

The command line imports this module only when one of these commands runs, so that
``symgrad derive`` does not load the teaching stage and the pictures.
"""

from __future__ import annotations

import argparse
import contextlib
import warnings
from concurrent.futures import Executor
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

from ..calculus.derivation import Derivation
from ..errors import SpecError, SymgradError, SymgradWarning
from ..pictures import pictures
from ..render.document import EXTENSIONS, written_in
from ..render.notation import using
from ..render.pictures import picture_files
from ..spec import Spec, load_spec
from ..teaching import SHEET_EXTENSIONS, SHEET_FORMATS
from ..teaching.batch import run_all
from ..teaching.exercises import exercises, load_exercises
from ..teaching.sheets import render_sheet
from .documents import derive_spec, render_derivation
from .files import Writes, read_back, stale_katex, write_katex
from .options import chosen_notation, top_level_split
from .progress import Bar, track


GALLERY_FORMATS = ("markdown", "latex")
GALLERY_PAGES = ("02_seed_neuron", "03_two_layer_network")
"""The examples whose gallery also has an HTML page (in html/, with KaTeX in html/katex/)
and beamer frames (in beamer/)."""
GALLERY_NOTEBOOKS = ("02_seed_neuron",)
"""The examples whose gallery also has a Jupyter notebook."""
GALLERY_PICTURES = ("02_seed_neuron", "03_two_layer_network", "14_neuron_weight_and_bias")
"""The examples whose documents (and HTML pages and beamer frames) show their pictures (the
computational graph and the plots of the loss), with the picture files beside them."""


def gallery_documents(examples: Path, verify: bool = True,
                      executor: Executor | None = None) -> dict[str, str | bytes]:
    """Every gallery document, by file name, rendered in memory from the specs in
    ``examples`` (and the pictures beside those in ``GALLERY_PICTURES``, as bytes): each
    spec derived once, in each format at the spec's level of detail
    and in its view (and as a notebook for those in ``GALLERY_NOTEBOOKS``), and the exercise
    sheets of ``examples/exercises``. Each spec is a job of its own, run on ``executor``
    (any ``concurrent.futures.Executor``; None: one after another, here); the documents
    are the same, byte for byte, in the same order, either way."""
    specs = sorted(examples.glob("*.yaml"))
    if not specs:
        raise SpecError(f"no spec files (*.yaml) in {examples}")
    jobs = [(_spec_documents, path, verify) for path in specs] + \
           [(_sheet_documents, path, verify) for path in sorted((examples / EXERCISES).glob("*.yaml"))]
    documents: dict[str, str | bytes] = {}
    for done in track(run_all(_gallery_job, jobs, executor), "gallery", total=len(jobs)):
        documents.update(done)
    return documents


def _gallery_job(make: Any, path: Path, verify: bool) -> dict[str, str | bytes]:
    """One gallery job: the documents ``make`` (``_spec_documents`` or
    ``_sheet_documents``) renders from the spec at ``path``."""
    return make(path, verify)


def _spec_documents(path: Path, verify: bool) -> dict[str, str | bytes]:
    """The gallery's documents of the example spec at ``path`` (see ``gallery_documents``)."""
    spec = load_spec(path)
    derivation = derive_spec(spec, source=str(path), verify=verify)
    with using(written_in(derivation.graph, spec.notation)):
        return _example_documents(path, spec, derivation)


def _example_documents(path: Path, spec: Spec, derivation: Derivation) -> dict[str, str | bytes]:
    """The gallery's documents of one example, by file name (see ``gallery_documents``)."""
    documents: dict[str, str | bytes] = {}
    shown = pictures(derivation, path.stem) if path.stem in GALLERY_PICTURES else None
    formats = GALLERY_FORMATS + (("notebook",) if path.stem in GALLERY_NOTEBOOKS else ())
    pages = ("html", "beamer") if path.stem in GALLERY_PAGES else ()
    for fmt, folder in [(fmt, "") for fmt in formats] + [(fmt, f"{fmt}/") for fmt in pages]:
        documents[f"{folder}{path.stem}{EXTENSIONS[fmt]}"] = render_derivation(
            derivation, fmt, spec.detail, source=str(path), view=spec.view, pictures=shown,
            notation=spec.notation)
        if shown is not None:
            documents.update({folder + name: data for name, data in picture_files(shown, fmt).items()})
    return documents


EXERCISES = "exercises"
"""The folder of ``examples`` with exercise specs, and of ``output`` with their sheets."""


def exercise_documents(folder: Path, verify: bool = True) -> dict[str, str]:
    """The gallery's exercise sheets and answer keys, by file name under ``exercises/``:
    for each spec in ``folder``, drawn with its ``exercises:`` block, in every format."""
    documents: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        documents.update(_sheet_documents(path, verify))
    return documents


def _sheet_documents(path: Path, verify: bool) -> dict[str, str]:
    """The sheet and key of the exercise spec at ``path``, in every format, by file name."""
    spec, settings = load_exercises(path)
    try:
        sheet = exercises(spec, settings.count, settings.seed, settings.activations,
                          settings.losses, verify=verify)
    except SymgradError as error:
        raise error.located(source=str(path)) from None
    documents = {}
    for fmt in SHEET_FORMATS:
        for key in (False, True):
            name = path.stem + (".key" if key else "") + SHEET_EXTENSIONS[fmt]
            documents[f"{EXERCISES}/{name}"] = render_sheet(sheet, fmt, key=key)
    return documents


@contextlib.contextmanager
def process_pool(jobs: int) -> Iterator[Executor | None]:
    """A pool of ``jobs`` processes for the command's jobs, or None (run here) for one."""
    if jobs == 1:
        yield None
        return
    from concurrent.futures import ProcessPoolExecutor  # multiprocessing, only for a pool
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield pool


def run_gallery(args: argparse.Namespace) -> int:
    """``symgrad gallery``: rewrite the stale documents of ``output`` (or, with ``--check``,
    name them and exit 1). Plots that another matplotlib than ``PINNED_MATPLOTLIB`` drew
    are neither compared nor rewritten (``unpinned_plots``)."""
    output = Path(args.output)
    with process_pool(args.jobs) as executor:
        documents = gallery_documents(Path(args.examples), verify=args.verify, executor=executor)
    skipped = unpinned_plots(documents, output)
    stale = [name for name, text in documents.items()
             if name not in skipped and read_back(output / name, type(text)) != text]
    pages = any(name.startswith("html/") for name in documents)
    if args.check:
        for name in stale:
            print(f"stale: {output / name}")
        katex = stale_katex(output / "html") if pages else []
        for path in katex:
            print(f"stale: {path}")
        return 1 if stale or katex else 0
    with Writes() as writes:  # all of the stale files, or none of them
        if pages:
            write_katex(output / "html", writes)
        for name in stale:
            writes.write(output / name, documents[name])
    print(f"{len(documents)} documents in {output}/ ({len(stale)} rewritten)")
    return 0


PINNED_MATPLOTLIB = "3.11.2"
"""The matplotlib that drew the gallery's plots (``pip install symgrad[gallery]`` installs
it): another version draws them in other bytes, so with another the plots are left alone."""


def matplotlib_version() -> str:
    """The version of the matplotlib installed (the one that draws the plots)."""
    import matplotlib  # the pictures stage has loaded it already
    return matplotlib.__version__


def drawn_by_matplotlib(data: str | bytes) -> bool:
    """Whether a gallery file is a plot matplotlib drew: a PDF (the graph of a LaTeX
    document is TikZ) or an SVG with matplotlib's figure (symgrad draws the graph's SVG)."""
    return isinstance(data, bytes) and (data.startswith(b"%PDF") or b'<g id="figure_1">' in data)


def unpinned_plots(documents: dict[str, str | bytes], output: Path) -> set[str]:
    """The names of the plots in ``output`` not to compare or rewrite, with a warning
    that says so: those matplotlib drew, when it is not ``PINNED_MATPLOTLIB`` (none when
    it is). A plot missing from ``output`` is written still."""
    version = matplotlib_version()
    if version == PINNED_MATPLOTLIB:
        return set()
    plots = {name for name, data in documents.items()
             if drawn_by_matplotlib(data) and (output / name).is_file()}
    if plots:
        warnings.warn(SymgradWarning(
            f"{len(plots)} plots not compared: matplotlib {version} is installed and the gallery "
            f"is pinned to {PINNED_MATPLOTLIB} (pip install 'symgrad[gallery]')"))
    return plots


def run_exercises(args: argparse.Namespace) -> int:
    """``symgrad exercises``: write a sheet of variants of a spec and its answer key."""
    spec, settings = load_exercises(args.spec, args.notation)
    spec = replace(spec, notation=chosen_notation(args, spec.notation))
    fmt = args.format or _sheet_format(args.output)
    sheet_path = Path(args.output or Path(args.spec).stem + SHEET_EXTENSIONS[fmt])
    key_path = Path(args.key) if args.key else key_path_for(sheet_path)
    if key_path.resolve() == sheet_path.resolve():
        raise SpecError(f"--key: the answer key would overwrite the sheet {sheet_path}")
    for option, path in (("-o", sheet_path), ("--key", key_path)):
        if path.exists() and Path(args.spec).is_file() and path.samefile(args.spec):
            raise SpecError(f"{option}: {path} is the spec {args.spec} (give another file)")
    try:
        with Bar("exercises") as bar, process_pool(args.jobs) as executor:
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
    with Writes(keep=[args.spec]) as writes:
        for path, text in texts.items():
            writes.write(path, text, special=True)
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
    return default if text is None else tuple(top_level_split(text))


def key_path_for(sheet: Path) -> Path:
    """Where the answer key of ``sheet`` goes: ``sheet.md`` -> ``sheet.key.md``."""
    return sheet.with_name(f"{sheet.stem}.key{sheet.suffix}")
