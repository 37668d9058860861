"""Rendering an exercise ``Sheet`` as a problem sheet or its answer key.

Markdown and LaTeX come from the templates in ``templates/exercises/`` through the
Jinja environment of ``symgrad.render`` (its filters and helpers); a notebook is the
Markdown in cells, with an empty code cell under each problem of the sheet and, under
each problem of the key, the code of ``symgrad.notebook`` that recomputes its numbers.
The key says once what its problems share (the model, the notation, the activations'
conventions, the verification of the symbolic derivations) and then, for each problem, the
answers and a worked solution a grader can check line by line (exercises/solution.j2); a
network's worked solution is its backpropagation chapter at ``brief`` detail, its headings
moved two levels down so that they sit under the problem's.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Iterable


from ..render import latex
from ..calculus.derivation import Derivation, Verification
from ..errors import UnknownNameError
from . import SHEET_FORMATS as FORMATS
from .exercises import Problem, Sheet, structure
from ..render.notation import DEFAULT, Notation, using
from ..render.notebook import assemble, code, nbformat, sections
from ..render.document import render, tidy_text, written_in
from ..render.environment import environment
from ..render.numbers import group_tex

TEMPLATES = {"markdown": "exercises/sheet.md.j2", "latex": "exercises/sheet.tex.j2"}
SOLUTION_DETAIL = "brief"
LATEX_HEADINGS = {"section": r"\subsubsection*{%s}", "subsection": r"\paragraph*{%s}",
                  "subsubsection": r"\paragraph*{%s}"}
"""What each LaTeX heading of an embedded solution becomes (two levels down)."""
LATEX_HEADING = re.compile(r"^\\(section|subsection|subsubsection)\*\{(.*)\}$", re.MULTILINE)


def render_sheet(sheet: Sheet, fmt: str = "markdown", *, key: bool = False,
                 template_dirs: Iterable[str | Path] = ()) -> str:
    """The problem sheet (or with ``key``, the answer key) of ``sheet`` in ``fmt``, one
    of ``FORMATS``. Raises UnknownNameError for another format."""
    if fmt not in FORMATS:
        raise UnknownNameError(f"unknown exercise format {fmt!r} (known: {', '.join(FORMATS)})")
    dirs = tuple(str(Path(d)) for d in template_dirs)
    if fmt == "notebook":
        return _notebook(sheet, key, dirs)
    solutions = [solution(replace(p.derivation, verification=None), fmt, dirs, sheet.notation)
                 if p.derivation.graph.kind == "network" else None
                 for p in sheet.problems] if key else []
    models = verifications(sheet)
    with using(written_in(sheet.problems[0].derivation.graph, sheet.notation)):
        text = environment(dirs).get_template(TEMPLATES[fmt]).render(
            sheet=sheet, key=key, solutions=solutions, asked=asked, answer_rows=answer_rows,
            structure=structure, derivations=len(models),
            verification=sum(models, Verification()) if models else None)
    return tidy_text(text)


def verifications(sheet: Sheet) -> list[Verification]:
    """The checks of the symbolic derivations behind the sheet's problems, one for each
    activation and loss drawn (the problems that share them share one), if they were made."""
    found: dict[tuple[str | None, str | None], Verification] = {}
    for p in sheet.problems:
        if p.derivation.verification is not None:
            found.setdefault((p.activation, p.loss), p.derivation.verification)
    return list(found.values())


def solution(derivation: Derivation, fmt: str, template_dirs: tuple[str, ...] = (),
             notation: Notation = DEFAULT) -> str:
    """A network variant's worked derivation (its backpropagation chapter) at
    ``SOLUTION_DETAIL``, headings two levels down. Other variants' solutions are written by
    the key's own template (exercises/solution.j2)."""
    if fmt == "markdown":
        return render(derivation, "markdown", detail=SOLUTION_DETAIL, template_dirs=template_dirs,
                      notation=notation, heading_level=3)
    text = render(derivation, "latex-fragment", detail=SOLUTION_DETAIL, template_dirs=template_dirs,
                  notation=notation, embedded=True)
    return LATEX_HEADING.sub(lambda m: LATEX_HEADINGS[m.group(1)].replace("%s", m.group(2)), text)


def asked(derivation: Derivation) -> list[str]:
    """The quantities a problem asks the gradient for, as LaTeX: a whole vector or matrix
    by its name (W^{(1)}), single elements by theirs."""
    wanted = set(derivation.parameters)
    out = []
    for parameter in derivation.parameters:  # in the order of the answers' rows
        group = next(g for g in derivation.graph.groups if parameter in g.symbols)
        if all(s in wanted for s in group.symbols):
            if parameter == next(s for s in derivation.parameters if s in group.symbols):
                out.append(group_tex(group))
        else:
            out.append(str(latex.tex(parameter)))
    return out


def answer_rows(derivation: Derivation) -> list[list[str]]:
    """One row per parameter: its name, its gradient and (with a learning rate) its value
    after one step of gradient descent, as LaTeX."""
    worked = derivation.worked
    rows = []
    for p in derivation.parameters:
        row = [str(latex.tex(p)), latex.num(worked.gradients[p])]
        if worked.learning_rate is not None:  # an input or target is not updated
            row.append(latex.num(worked.updated[p]) if p in worked.updated else "")
        rows.append(row)
    return rows


def _notebook(sheet: Sheet, key: bool, template_dirs: tuple[str, ...]) -> str:
    """The sheet's (or key's) Markdown in cells: the introduction, then each problem
    followed by an empty code cell (sheet) or the code that recomputes its numbers (key)."""

    markdown = render_sheet(sheet, "markdown", key=key, template_dirs=template_dirs)
    intro, *problems = sections(markdown)
    cells = [nbformat().v4.new_markdown_cell(intro)]
    for problem, text in zip(sheet.problems, problems):
        cells.append(nbformat().v4.new_markdown_cell(text))
        sources = code(problem.derivation) if key else [_workspace(problem)]
        cells += [nbformat().v4.new_code_cell(source) for source in sources]
    return nbformat().writes(assemble(cells)) + "\n"


def _workspace(problem: Problem) -> str:
    return f"# Problem {problem.number}: your working (numpy is there if you want it)\nimport numpy as np\n"
