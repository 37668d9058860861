"""Writing the command line's files as one transaction (``Writes``, ``write_atomically``):
each file whole or not at all, and a run's files all written or none left behind; never
through a symbolic link planted at a destination; with the mode an existing file had (else
the umask's); straight into a device or a pipe that ``-o`` names (``special_file``); never
over the spec the run reads. And the copy of KaTeX beside HTML pages (``write_katex``,
``stale_katex``)."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Iterable

from ..errors import SpecError
from ..render.environment import KATEX_DIR

NEW_FILE_MODE = 0o666
"""The mode of a new file before the umask, as ``open()`` and the shell create one."""
DESCRIPTOR = re.compile(r"/(dev|proc/[^/]+)/fd/\d+")
"""A path that names an open file descriptor of the process (``/dev/fd/1``, ``/proc/self/fd/1``)."""


class Writes:
    """The files one run writes, as a transaction. ``write`` puts each file in a temporary
    file beside its destination; leaving the ``with`` block renames them over their
    destinations (a rename replaces a symbolic link itself, never the file it points to).
    An exception (a failed write, a full disk, a file-size limit, Ctrl-C) removes every
    temporary file and every file and folder the run had made, and propagates; an
    ``OSError`` becomes a one-line ``SpecError``. ``keep`` are the run's inputs (its spec),
    which no write may replace, whatever link or hard link leads to them."""

    def __init__(self, keep: Iterable[str | Path | None] = ()) -> None:
        self._keep = [Path(p) for p in keep if p is not None and os.path.isfile(p)]
        self._temporaries: list[tuple[Path, Path]] = []  # (temporary, destination), in order
        self._direct: list[tuple[Path, bytes]] = []
        self._made: list[Path] = []  # files and folders that did not exist, in order of making
        self._mask: int | None = None

    def __enter__(self) -> Writes:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self._roll_back()
            return
        try:
            self._commit()
        except BaseException:
            self._roll_back()
            raise

    def write(self, path: Path, data: str | bytes, *, special: bool = False) -> None:
        """Stage ``data`` (text as UTF-8) for ``path``; with ``special``, a device or pipe
        at ``path`` (``special_file``) is written directly, at the commit."""
        path = Path(path)
        self._refuse_inputs(path)
        data = data if isinstance(data, bytes) else data.encode("utf-8")
        with _reported(path):
            if special and special_file(path):
                self._direct.append((path, data))
            else:
                self._stage(path, data)

    def _refuse_inputs(self, path: Path) -> None:
        for spec in self._keep:
            if os.path.exists(path) and os.path.samefile(path, spec):
                raise SpecError(f"cannot write {path}: it is the spec {spec} (give another file)")

    def _stage(self, path: Path, data: bytes) -> None:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        self._folders(path.parent)
        mode = self._mode(path)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        self._temporaries.append((Path(name), path))
        try:
            os.fchmod(handle, mode)
            _write_all(handle, data)
        finally:
            os.close(handle)

    def _folders(self, folder: Path) -> None:
        """Make ``folder`` and its missing parents, noting each one made."""
        missing = []
        while not folder.exists() and folder != folder.parent:
            missing.append(folder)
            folder = folder.parent
        for made in reversed(missing):
            with contextlib.suppress(FileExistsError):  # made meanwhile by a run beside this one
                made.mkdir()
                self._made.append(made)

    def _mode(self, path: Path) -> int:
        """The mode of the file at ``path`` (not of a link there), else the umask's."""
        with contextlib.suppress(OSError):
            status = os.lstat(path)
            if stat.S_ISREG(status.st_mode):
                return stat.S_IMODE(status.st_mode)
        if self._mask is None:
            self._mask = os.umask(0o22)
            os.umask(self._mask)
        return NEW_FILE_MODE & ~self._mask

    def _commit(self) -> None:
        for path, data in self._direct:
            with _reported(path):
                handle = os.open(path, os.O_WRONLY | os.O_TRUNC)
                try:
                    _write_all(handle, data)
                finally:
                    os.close(handle)
        while self._temporaries:
            temporary, path = self._temporaries[0]
            with _reported(path):
                existed = os.path.lexists(path)
                os.replace(temporary, path)
            self._temporaries.pop(0)
            if not existed:
                self._made.append(path)

    def _roll_back(self) -> None:
        """Remove the temporary files, then what the run made, newest first."""
        for temporary, _ in self._temporaries:
            with contextlib.suppress(OSError):
                temporary.unlink()
        self._temporaries.clear()
        for path in reversed(self._made):
            with contextlib.suppress(OSError):
                path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
        self._made.clear()


@contextlib.contextmanager
def _reported(path: Path):  # type: ignore[no-untyped-def]
    """Report an ``OSError`` while writing ``path`` as one line (a ``SpecError``)."""
    try:
        yield
    except OSError as error:
        raise SpecError(f"cannot write {path}: {error.strerror or error}") from None


def _write_all(handle: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(handle, view):]


def write_atomically(path: Path, text: str | bytes, *, keep: Iterable[str | Path | None] = (),
                     special: bool = False) -> None:
    """Write ``text`` to ``path`` as a transaction of one file (``Writes``)."""
    with Writes(keep) as writes:
        writes.write(path, text, special=special)


def special_file(path: str | Path) -> bool:
    """Whether ``path`` is a character device or a pipe (also through a link, as
    ``/dev/null``), or names an open file descriptor (``/dev/stdout``, ``/dev/fd/1``):
    such a file is written directly, since a rename would put a regular file in its place.
    A block device or a socket is refused."""
    if _names_a_descriptor(str(path)):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    if stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
        raise SpecError(f"cannot write {path}: it is a block device or a socket")
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _names_a_descriptor(path: str) -> bool:
    """Whether ``path``, or a link it leads through, is a descriptor (``DESCRIPTOR``)."""
    for _ in range(40):  # the kernel's limit on links followed
        path = os.path.abspath(path)
        if DESCRIPTOR.fullmatch(path):
            return True
        if not os.path.islink(path):
            return False
        path = os.path.join(os.path.dirname(path), os.readlink(path))
    return False


def stale_katex(folder: Path) -> list[Path]:
    """The files of KaTeX (``KATEX_DIR``) missing from ``folder/katex``, different there,
    or there only as a symbolic link."""
    stale = []
    for source in sorted(p for p in KATEX_DIR.rglob("*") if p.is_file()):
        target = folder / "katex" / source.relative_to(KATEX_DIR)
        if target.is_symlink() or not target.is_file() or target.read_bytes() != source.read_bytes():
            stale.append(target)
    return stale


def write_katex(folder: Path, writes: Writes | None = None) -> None:
    """Copy KaTeX into ``folder/katex``, where an HTML page in ``folder`` loads it from, as
    part of the transaction ``writes`` (None: one of its own). A folder of KaTeX's there
    that is a symbolic link (which could lead anywhere) is refused."""
    folders = [folder / "katex"] + [folder / "katex" / p.relative_to(KATEX_DIR)
                                    for p in sorted(KATEX_DIR.rglob("*")) if p.is_dir()]
    for linked in (f for f in folders if f.is_symlink()):
        raise SpecError(f"cannot copy KaTeX into {folder}: {linked} is a symbolic link")
    if writes is None:
        with Writes() as writes:
            return write_katex(folder, writes)
    for target in stale_katex(folder):
        writes.write(target, (KATEX_DIR / target.relative_to(folder / "katex")).read_bytes())


def read_back(path: Path, kind: type = str) -> str | bytes | None:
    """What ``path`` holds, as text or bytes (``kind``); None when it cannot be read."""
    try:
        return path.read_bytes() if kind is bytes else path.read_text(encoding="utf-8")
    except OSError:
        return None
