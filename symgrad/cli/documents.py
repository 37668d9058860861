"""The documents the command line makes from specs: one derived and rendered
(``derive_spec``, ``render_derivation``, errors naming the spec file), and the gallery's, many
at once (``gallery_documents``, ``exercise_documents``), each spec a job that any
``concurrent.futures`` executor can run.
"""

from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from ..calculus.derivation import Derivation
from ..calculus.engine import derive
from ..errors import SpecError, SymgradError
from ..pictures import Pictures, pictures
from ..render.document import EXTENSIONS, render, written_in
from ..render.notation import DEFAULT, Notation, using
from ..render.pictures import picture_files
from ..spec import Spec, load_spec
from ..teaching.batch import run_all
from ..teaching.exercises import exercises, load_exercises
from ..teaching.sheets import EXTENSIONS as SHEET_EXTENSIONS, FORMATS as SHEET_FORMATS, render_sheet
from .progress import track

GALLERY_FORMATS = ("markdown", "latex")
GALLERY_PAGES = ("02_seed_neuron", "03_two_layer_network")
"""The examples whose gallery also has an HTML page (in html/, with KaTeX in html/katex/)
and beamer frames (in beamer/)."""
GALLERY_NOTEBOOKS = ("02_seed_neuron",)
"""The examples whose gallery also has a Jupyter notebook."""
GALLERY_PICTURES = ("02_seed_neuron", "03_two_layer_network", "14_neuron_weight_and_bias")
"""The examples whose documents (and HTML pages and beamer frames) show their pictures (the
computational graph and the plots of the loss), with the picture files beside them."""



def derive_spec(spec: Spec, *, source: str | None = None, verify: bool = True) -> Derivation:
    """Derive (and by default verify) what ``spec`` asks for; errors name ``source``."""
    try:
        return derive(spec.graph, spec.wrt, at=spec.at, learning_rate=spec.learning_rate,
                      title=spec.title, verify=verify)
    except SymgradError as error:
        raise error.located(source=source) from None


def render_derivation(derivation: Derivation, fmt: str, detail: str, *,
                      source: str | None = None, view: str | None = None,
                      template_dirs: tuple[str, ...] = (), pictures: Pictures | None = None,
                      flavour: str = "github", notation: Notation = DEFAULT,
                      **headings: Any) -> str:
    """Render a derivation at a level of detail, in a view, a notation and (Markdown) a
    flavour, with ``render``'s ``heading_level`` and ``numbered``; errors name ``source``."""
    try:
        return render(derivation, fmt, detail=detail, view=view, template_dirs=template_dirs, pictures=pictures,
                      flavour=flavour, notation=notation, **headings)
    except SymgradError as error:
        raise error.located(source=source) from None



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


