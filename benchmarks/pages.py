"""How long the gallery's documents are when printed: pages of each LaTeX document and answer
key, frames of each beamer deck, counted in the PDFs pdflatex makes of ``output/``.

    python benchmarks/pages.py            # the table
    python benchmarks/pages.py --check    # also exit 1 if a ceiling below is missed

The documents are compiled as they are in ``output/`` (``symgrad gallery`` writes them):
each ``.tex`` document with pdflatex at its own options (an article), each beamer fragment
inside a 4:3 presentation that loads what the README says it needs. Needs pdflatex and
pdfinfo (Debian: texlive-latex-recommended, texlive-pictures, poppler-utils).

Ceilings (issue 11): the 2-2-2 network with one training step at most 5 pages, the 3-4-3
softmax network at most 7; its beamer deck 12 to 20 frames, the seed neuron's 8 to 12; an
answer key at most about a page per neuron problem (the sheet's problems plus one).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "output"

BEAMER = r"""\documentclass{beamer}
\usepackage{amssymb}
\usepackage{tikz}
\graphicspath{{%s/}}
\begin{document}
\input{%s}
\end{document}
"""

CEILINGS = {
    "03_two_layer_network.tex": (None, 5),
    "12_tanh_softmax_network.tex": (None, 7),
    "beamer/03_two_layer_network.tex": (12, 20),
    "beamer/02_seed_neuron.tex": (8, 12),
}
"""Pages (frames for a deck) each document may take: (at least, at most); None: no floor."""
PROBLEM = re.compile(r"\\subsection\*\{Problem \d+")
"""How an answer key heads each problem (its ceiling: a page a problem, plus one)."""


def pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.MULTILINE).group(1))


def compile_pdf(source: Path, work: Path) -> Path:
    """``source`` compiled twice (for references) from its folder into ``work``."""
    for _ in range(2):
        run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                              f"-output-directory={work}", source.name], cwd=source.parent,
                             capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
        if run.returncode != 0:
            raise SystemExit(f"pages: pdflatex failed on {source}:\n{run.stdout[-1500:]}")
    return work / f"{source.stem}.pdf"


def documents(output: Path) -> list[tuple[str, Path, str]]:
    """(name, source to compile, kind) for each LaTeX document of the gallery."""
    found = [(p.name, p, "pages") for p in sorted(output.glob("*.tex"))]
    found += [(f"exercises/{p.name}", p, "pages") for p in sorted((output / "exercises").glob("*.tex"))]
    found += [(f"beamer/{p.name}", p, "frames") for p in sorted((output / "beamer").glob("*.tex"))]
    return found


def count(output: Path = OUTPUT) -> dict[str, tuple[str, int, str]]:
    """Each document's (kind, count, ceiling as text), compiled in a temporary folder."""
    counts = {}
    with tempfile.TemporaryDirectory(prefix="symgrad-pages-") as folder:
        work = Path(folder)
        for name, source, kind in documents(output):
            target = source
            if kind == "frames":
                target = work / f"deck_{source.stem}.tex"
                target.write_text(BEAMER % (source.parent.resolve().as_posix(),
                                            source.resolve().as_posix()), encoding="utf-8")
            n = pages(compile_pdf(target, work))
            counts[name] = (kind, n, _ceiling(name, source))
    return counts


def _ceiling(name: str, source: Path) -> str:
    if name in CEILINGS:
        low, high = CEILINGS[name]
        return f"at most {high}" if low is None else f"{low} to {high}"
    if name.startswith("exercises/") and ".key." in name:
        return f"at most {len(PROBLEM.findall(source.read_text(encoding='utf-8'))) + 1}"
    return ""


def missed(counts: dict[str, tuple[str, int, str]]) -> list[str]:
    out = []
    for name, (kind, n, ceiling) in counts.items():
        numbers = [int(x) for x in re.findall(r"\d+", ceiling)]
        if numbers and not (numbers[0] <= n <= numbers[-1] if len(numbers) == 2 else n <= numbers[0]):
            out.append(f"{name}: {n} {kind}, {ceiling}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a ceiling is missed")
    parser.add_argument("--output", default=str(OUTPUT), help="the gallery folder (default: output)")
    args = parser.parse_args()
    for tool in ("pdflatex", "pdfinfo"):
        if shutil.which(tool) is None:
            print(f"pages: {tool} is not installed", file=sys.stderr)
            return 2
    counts = count(Path(args.output))
    print("| document | pages / frames | ceiling |\n|---|---|---|")
    for name, (kind, n, ceiling) in counts.items():
        print(f"| {name} | {n} {kind} | {ceiling} |")
    wrong = missed(counts)
    if wrong:
        print("\nCeilings missed:\n" + "\n".join(f"- {line}" for line in wrong))
    return 1 if args.check and wrong else 0


if __name__ == "__main__":
    sys.exit(main())
