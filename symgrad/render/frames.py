"""Beamer frames laid out for a slide: a frame whose blocks (paragraphs, displays, lists,
tables, pictures) would not fit on one slide goes on over frames of its own with the
same title (``split_frames``), cut between blocks, never inside one, and never after a
sentence that introduces what follows (one ending in a colon). Heights are estimated
in lines of text (``block_height``); what is still too tall is shrunk by beamer."""

from __future__ import annotations

import math
import re

from .latex.display import row_height
from .latex.width import width

FRAME_LINES = 18.0
"""About how many lines of body text a 4:3 slide holds below its title (at the
fragment's \\parskip), less the room kept at its foot."""
SHRINK = 1.25
"""A frame up to this many times FRAME_LINES is left whole, for beamer to shrink a
little; a taller one is split."""
LINE_CHARS = 66
"""About how many characters of prose fill a line of a 4:3 slide."""
TABLE_CHARS = 66.0
"""How wide a slide's small table may be, in ``latex.width`` units (chapter_tables fits
its tables to it)."""
TABULAR = re.compile(r"\\begin\{tabular\}\{((?:[^{}]|\{[^{}]*\})*)\}")
COLUMN = re.compile(r"[lrc]|p\{[^}]*\}")
"""One column of a tabular's alignment: l, r, c or a paragraph column p{...}."""
PICTURE_LINES = 10.0
"""A picture's height in lines (beamer/figures.j2 fits it to 0.56\\textheight)."""

FRAME = re.compile(r"(\\begin\{frame\}\[shrink\]\{\\symgradtitle\}\n)(.*?)(\\par\\vspace\{[^}]*\}\n"
                   r"\\end\{frame\})", re.S)
_ENVIRONMENT = re.compile(r"\\(begin|end)\{[^}]*\}")
_COMMAND = re.compile(r"\\[a-zA-Z]+\*?|[{}$&\\]")


HEADED = re.compile(r"\\def\\symgradtitle\{(?P<title>[^\n]*)\}% heading level (?P<level>\d+)\n"
                    r"\\begin\{frame\}\[shrink\]\{\\symgradtitle\}\n(?P<body>.*?)"
                    r"(?P<foot>\\par\\vspace\{[^}]*\}\n\\end\{frame\})", re.S)
"""A frame that opens with its heading (beamer/markup.j2's h), with the heading's level."""
LONE = re.compile(r"\s*[^\\\s][^\n]*(\n[^\\\s][^\n]*)*\s*")
"""The body of a frame that holds one paragraph of prose alone."""


def split_frames(tex: str) -> str:
    """``tex`` with each frame of one paragraph alone moved onto a neighbour
    (``merge_lone_frames``), then each frame too tall for a slide split between its
    blocks into frames of about equal height, each titled ``\\symgradtitle`` (the
    frame's own title)."""
    def split(match: re.Match[str]) -> str:
        opening, body, closing = match.groups()
        groups = _groups(_blocks(body))
        return "\n\n".join(opening + "\n" + "\n\n".join(g) + "\n\n" + closing for g in groups)
    return FRAME.sub(split, merge_lone_frames(tex))


def merge_lone_frames(tex: str) -> str:
    """``tex`` without frames that hold one paragraph alone under their heading: the
    heading (in bold) and the paragraph go at the top of the next frame when that one
    is a subheading of it (an introduction), else at the foot of the frame before."""
    frames = list(HEADED.finditer(tex))
    moved: dict[int, tuple[str, str]] = {}  # frame start -> (text on top, text at the foot)
    dropped: set[int] = set()
    for i, frame in enumerate(frames):
        if not LONE.fullmatch(frame["body"]):
            continue
        text = f"\\textbf{{{frame['title']}}}\n\n{frame['body'].strip()}\n\n"
        after = frames[i + 1] if i + 1 < len(frames) else None
        before = tex.rfind("\\begin{frame}", 0, frame.start())
        if after is not None and int(after["level"]) > int(frame["level"]) or before < 0:
            if after is None or LONE.fullmatch(after["body"]):
                continue
            top, foot = moved.get(after.start("body"), ("", ""))
            moved[after.start("body")] = (top + text, foot)
        else:
            end = tex.rfind("\\par\\vspace", 0, frame.start())
            if any(frames[j].start() <= end < frames[j].end() for j in dropped):
                continue
            top, foot = moved.get(end, ("", ""))
            moved[end] = (top, foot + "\n" + text)
        dropped.add(i)
    out, at = [], 0
    for point in sorted(set(moved) | {frames[i].start() for i in dropped}):
        out.append(tex[at:point])
        top, foot = moved.get(point, ("", ""))
        out.append(foot + top)
        at = point
        skipped = [frames[i] for i in dropped if frames[i].start() == point]
        if skipped:
            at = skipped[0].end()
    return "".join(out) + tex[at:]


def _blocks(body: str) -> list[str]:
    """The frame's blocks: runs of lines between blank lines outside any environment."""
    blocks: list[str] = []
    current: list[str] = []
    depth = 0
    for line in body.split("\n"):
        if not line.strip() and depth == 0:
            if current:
                blocks.append("\n".join(current))
            current = []
            continue
        current.append(line)
        for kind in _ENVIRONMENT.findall(line):
            depth += 1 if kind == "begin" else -1
        depth += line.count(r"\[") - line.count(r"\]")
    if current:
        blocks.append("\n".join(current))
    return blocks


def block_height(block: str) -> float:
    """About how many lines of text ``block`` takes on a slide."""
    if _picture(block):
        return PICTURE_LINES + _prose(block.split(r"\begin{center}")[0])
    height = 0.0
    for part in re.split(r"(\\begin\{align\*\}.*?\\end\{align\*\}|\\\[.*?\\\]"
                         r"|\\begin\{tabular\}.*?\\end\{tabular\}|\\item [^\n]*)", block, flags=re.S):
        if part.startswith((r"\begin{align*}", r"\[")):
            rows = [line for line in part.split("\n")[1:-1] if line.strip()]
            height += 0.8 + sum(row_height((line, "")) for line in rows)
        elif part.startswith(r"\begin{tabular}"):
            height += 0.5 + 0.9 * _table_lines(part)
        elif part.startswith(r"\item"):
            height += _prose(part) + 0.2
        else:
            height += _prose(part)
    return height + 0.3


def _table_lines(tabular: str) -> float:
    """How many lines the rows of ``tabular`` take: a row one line, or as many as the
    longest of its paragraph columns (``p{0.2\\textwidth}``) wraps to."""
    spec = TABULAR.match(tabular)
    columns = COLUMN.findall(spec.group(1)) if spec else []
    lines = 1.0  # the header
    for row in tabular.split("\\\\")[1:-1]:
        cells = row.replace(r"\hline", "").split("&")
        wrapped = [math.ceil(width(cell) / (float(c[2:].split("\\")[0]) * TABLE_CHARS))
                   for c, cell in zip(columns, cells) if c.startswith("p{") and cell.strip()]
        lines += max(wrapped + [1])
    return lines


def _picture(block: str) -> bool:
    return r"\includegraphics" in block or r"\begin{tikzpicture}" in block


def _prose(text: str) -> float:
    """Lines of running text (its markup not counted), taller with inline fractions or
    layer superscripts."""
    plain = _COMMAND.sub("", re.sub(r"\\(begin|end)\{[^}]*\}|\\renewcommand.*|\\small", "", text))
    if not plain.strip():
        return 0.0
    tall = r"\frac" in text or "^{(" in text
    return math.ceil(len(" ".join(plain.split())) / LINE_CHARS) * (1.35 if tall else 1.0)


def _groups(blocks: list[str]) -> list[list[str]]:
    """The blocks in consecutive groups, each about as tall as the others and at most a
    frame tall where a cut allows it; a block ending in a colon stays with the next, and
    a picture with the text before it."""
    heights = [block_height(b) for b in blocks]
    total = sum(heights)
    if total <= SHRINK * FRAME_LINES or len(blocks) < 2:
        return [blocks]
    room = max(total / math.ceil(total / FRAME_LINES), max(heights)) * 1.1
    groups: list[list[str]] = [[]]
    used = 0.0
    for i, (block, height) in enumerate(zip(blocks, heights)):
        joined = i > 0 and (blocks[i - 1].rstrip().endswith(":") or _picture(block))
        if groups[-1] and used + height > room and not joined:
            groups.append([])
            used = 0.0
        groups[-1].append(block)
        used += height
    if len(groups) > 1 and len(groups[-1]) == 1 and LONE.fullmatch(groups[-1][0]):
        groups[-2].extend(groups.pop())  # a sentence alone stays on the frame before
    return groups
