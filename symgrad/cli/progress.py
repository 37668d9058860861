"""A progress bar on standard error, drawn only when standard error is a terminal.

Long batch jobs (an exercise sheet's variants, the gallery) report their progress here;
redirected to a file or a pipe, or under a test runner, they stay quiet. A dozen lines
of our own rather than a dependency: one bar, one line, no threads, no terminal queries.
"""

from __future__ import annotations

import sys
from typing import IO, Iterable, Iterator, TypeVar

WIDTH = 30
"""Characters in the bar itself."""

T = TypeVar("T")


class Bar:
    """``label [#####.....] done/total`` redrawn in place on ``stream`` (default: standard
    error) while it is a terminal; nothing at all otherwise. Use it as a context manager,
    calling ``update(done, total)``; leaving the block ends the line."""

    def __init__(self, label: str, stream: IO[str] | None = None):
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        self.shown = _is_terminal(self.stream)
        self.drawn = False

    def __enter__(self) -> "Bar":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()

    def update(self, done: int, total: int) -> None:
        """Draw the bar at ``done`` of ``total``."""
        if not self.shown or total <= 0:
            return
        filled = WIDTH * done // total
        bar = "#" * filled + "." * (WIDTH - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total}")
        self.stream.flush()
        self.drawn = True


def track(items: Iterable[T], label: str, stream: IO[str] | None = None, *,
          total: int | None = None) -> Iterator[T]:
    """Yield ``items``, with a ``Bar`` counting them as each one is finished: ``total`` of
    them (default: all of ``items``, read first), so a generator of results still running
    elsewhere moves the bar as each arrives."""
    if total is None:
        items = list(items)
        total = len(items)
    with Bar(label, stream) as bar:
        bar.update(0, total)
        for done, item in enumerate(items, start=1):
            yield item
            bar.update(done, total)


def _is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):
        return False
