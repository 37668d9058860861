"""Beamer decks a lecturer can use unedited (issue 11): no frame-title continuation
numerals (no beamer frame breaking at all), no derivation cut where its left side is
lost, no frame holding only one line, pictures on the frame of their text, and the
gallery's decks within their frame counts (compiled by pdflatex in a 4:3 presentation,
as benchmarks/pages.py and the README's beamer section say)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from render_tools import pdflatex_available, require
from test_html import compile_in_beamer
from symgrad.cli.main import main
from symgrad.render.frames import split_frames
from symgrad.render.latex import Display

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "output" / "beamer"
SEED = OUTPUT / "02_seed_neuron.tex"
NETWORK = OUTPUT / "03_two_layer_network.tex"
LOGISTIC = ROOT / "examples" / "15_neuron_cross_entropy.yaml"
FRAME = re.compile(r"\\begin\{frame\}(?:\[[^]]*\])?\{[^\n]*\}\n(.*?)\\end\{frame\}", re.S)
ALIGN = re.compile(r"\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", re.S)


@pytest.fixture(scope="module")
def logistic(tmp_path_factory) -> Path:
    """The logistic-regression neuron's deck, written with its pictures."""
    folder = tmp_path_factory.mktemp("logistic")
    out = folder / "15_neuron_cross_entropy.tex"
    assert main(["derive", str(LOGISTIC), "--format", "beamer", "-o", str(out),
                 "--figures-from", str(folder)]) == 0
    return out


def decks(logistic: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in (SEED, NETWORK, logistic)}


def bodies(tex: str) -> list[str]:
    """Each frame's body, without the room kept at its foot."""
    return [body.replace("\\par\\vspace{3.5ex}", "").strip() for body in FRAME.findall(tex)]


def test_no_frame_is_broken_by_beamer_so_no_title_gets_a_numeral(logistic):
    for name, tex in decks(logistic).items():
        breaking = "allowframebreaks" in tex or "\\framebreak" in tex
        assert not breaking or "frametitle continuation" in tex, name
        assert tex.count("\\begin{frame}") == tex.count("\\end{frame}") == len(bodies(tex)) > 8, name


def test_no_frame_holds_only_a_caption_or_one_line(logistic):
    for name, tex in decks(logistic).items():
        for body in bodies(tex):
            lines = [line for line in body.splitlines()
                     if line.strip() and not re.fullmatch(r"\s*\\(begin|end)\{[^}]*\}|\s*\\\[|\s*\\\]", line)]
            assert len(lines) >= 2, f"{name}: a frame of one line: {body[:200]}"
            prose = not re.search(r"\\begin|\\\[|\\item", body) and "\n\n" not in body
            assert not prose, f"{name}: a frame of one paragraph: {body[:200]}"
            picture = "\\includegraphics" in body or "\\begin{tikzpicture}" in body
            assert not picture or not body.startswith("\\begin{center}"), f"{name}: a picture without its text"


def test_every_chain_on_a_frame_keeps_its_left_side(logistic):
    """A display starts with its left side (``L &= ...``, or a stacked chain's left
    side on a row of its own, followed by ``&= ...``), never with ``&= ...`` alone."""
    seen = 0
    for name, tex in decks(logistic).items():
        for body in bodies(tex):
            for align in ALIGN.findall(body):
                first = align.splitlines()[0].strip()
                assert not first.startswith(("&=", "&\\quad", "&\\leftarrow")), f"{name}: {first}"
                seen += 1
    assert seen >= 10  # not vacuous: the decks have many chains


def test_a_chain_too_tall_for_a_slide_goes_on_with_its_left_side_repeated(logistic):
    """The logistic neuron's dL/dyhat, step by step, is eight rows of fractions: more
    than a slide holds, so it is cut at an = and the next frame starts again with
    dL/dyhat (the same title, so the reader sees where it goes on)."""
    tex = logistic.read_text(encoding="utf-8")
    left = "\\frac{\\partial L}{\\partial \\hat{y}} &= "
    frames = bodies(tex)
    at = next(i for i, b in enumerate(frames) if "Step by step:" in b)
    first, then = (ALIGN.findall(frames[i])[0] for i in (at, at + 1))
    assert first.startswith("  " + left) and then.startswith("  " + left)
    assert first.count("\\\\") + then.count("\\\\") + 2 >= 8


def test_a_display_is_cut_between_chains_and_inside_one_before_an_equals_sign():
    # Rows of one line each (1.2 lines, as latex.display.row_height counts a row
    # without fractions): a chain of five rows, then one of two.
    long = [("a", "= 1"), ("", "= 2"), ("", "= 3"), ("", "= 4"), ("", "= 5")]
    short = [("b", "= 6"), ("", "= 7")]
    display = Display(tuple(long + short), (0, 5))
    assert display.parts(100) == [Display(tuple(long + short))]
    # Room for 4 rows (4.8 lines): the five rows go on two frames, balanced (at most
    # 6 / 2 + 1.2 / 2 = 3.6 lines each: three rows, then two), the second part opening
    # with the left side again; the short chain fits after them.
    assert display.parts(4.8) == [Display((("a", "= 1"), ("", "= 2"), ("", "= 3"))),
                                  Display((("a", "= 4"), ("", "= 5")) + tuple(short))]
    # A stacked chain (its left side on a row of its own) repeats that row.
    stacked = Display((("", "L"), ("", "= 1"), ("", "= 2"), ("", "= 3"), ("", "= 4")), (0,))
    parts = stacked.parts(3.6)
    assert len(parts) > 1 and all(p.rows[0] == ("", "L") for p in parts)


def test_a_frame_too_tall_is_split_between_its_blocks_and_a_colon_keeps_the_next():
    sentence = "A sentence of about sixty-six characters, one line of a 4:3 slide."
    blocks = [sentence] * 12 + ["Then:", "\\[\n  x = 1\n\\]"] + [sentence] * 12
    tall = ("\\begin{frame}[shrink]{\\symgradtitle}\n\n" + "\n\n".join(blocks)
            + "\n\n\\par\\vspace{3.5ex}\n\\end{frame}")
    split = split_frames(tall)
    parts = bodies(split)
    assert len(parts) == 2 and split.count("\\begin{frame}[shrink]{\\symgradtitle}") == 2
    assert all("Then:\n\n\\[" in p or "Then:" not in p for p in parts)
    assert sum(p.count(sentence) for p in parts) == 24
    short = "\\begin{frame}[shrink]{\\symgradtitle}\n\nOne.\n\nTwo.\n\n\\par\\vspace{3.5ex}\n\\end{frame}"
    assert split_frames(short) == short


def frame_count(frames: Path, tmp_path: Path) -> int:
    log = compile_in_beamer(frames, tmp_path, "43")
    return int(re.search(r"Output written on .*?\((\d+) pages?", log, re.S).group(1))


def test_the_seed_deck_has_8_to_12_frames(tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-pictures)")
    assert 8 <= frame_count(SEED, tmp_path) <= 12


def test_the_two_layer_network_deck_has_12_to_20_frames(tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-pictures)")
    assert 12 <= frame_count(NETWORK, tmp_path) <= 20


def test_the_logistic_neuron_deck_compiles_in_a_few_frames(logistic, tmp_path):
    require("pdflatex", pdflatex_available(), "pdflatex is not installed (Debian: texlive-pictures)")
    assert 8 <= frame_count(logistic, tmp_path) <= 16


def frame(title: str, level: int, body: str) -> str:
    return (f"\\def\\symgradtitle{{{title}}}% heading level {level}\n"
            f"\\begin{{frame}}[shrink]{{\\symgradtitle}}\n\n{body}\n\n\\par\\vspace{{3.5ex}}\n\\end{{frame}}\n\n")


def test_a_frame_of_one_sentence_alone_joins_a_neighbour_under_its_heading_in_bold():
    display = "\\[\n  x = 1\n\\]"
    # An introduction (the next heading is below it) goes on top of the next frame.
    merged = split_frames(frame("Intro", 3, "Only a sentence.") + frame("Next", 4, display))
    assert merged.count("\\begin{frame}") == 1 and "{Intro}%" not in merged
    assert merged.index("\\textbf{Intro}") < merged.index("Only a sentence.") < merged.index("x = 1")
    # A closing remark (the next heading is not below it) goes at the foot of the one before.
    merged = split_frames(frame("Before", 3, display) + frame("Remark", 3, "One sentence.")
                          + frame("After", 3, display))
    assert merged.count("\\begin{frame}") == 2
    before = merged.split("\\end{frame}")[0]
    assert before.index("x = 1") < before.index("\\textbf{Remark}") < before.index("One sentence.")
