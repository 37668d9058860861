"""Writing the command line's files: each whole or not at all (``write_atomically``), and
the copy of KaTeX beside HTML pages (``write_katex``, ``stale_katex``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..errors import SpecError
from ..render.environment import KATEX_DIR


def write_atomically(path: Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` through a temporary file, so no partial file is ever left."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        binary = isinstance(text, bytes)
        with os.fdopen(handle, "wb" if binary else "w", encoding=None if binary else "utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except OSError as error:
        raise SpecError(f"cannot write {path}: {error.strerror or error}") from None


def stale_katex(folder: Path) -> list[Path]:
    """The files of KaTeX (``KATEX_DIR``) missing from ``folder/katex`` or different there."""
    stale = []
    for source in sorted(p for p in KATEX_DIR.rglob("*") if p.is_file()):
        target = folder / "katex" / source.relative_to(KATEX_DIR)
        if not target.is_file() or target.read_bytes() != source.read_bytes():
            stale.append(target)
    return stale


def write_katex(folder: Path) -> None:
    """Copy KaTeX into ``folder/katex``, where an HTML page in ``folder`` loads it from."""
    try:
        for target in stale_katex(folder):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(KATEX_DIR / target.relative_to(folder / "katex"), target)
    except OSError as error:
        raise SpecError(f"cannot copy KaTeX into {folder}: {error.strerror or error}") from None


def read_back(path: Path, kind: type = str) -> str | bytes | None:
    """What ``path`` holds, as text or bytes (``kind``); None when it cannot be read."""
    try:
        return path.read_bytes() if kind is bytes else path.read_text(encoding="utf-8")
    except OSError:
        return None

