"""Independent jobs (the gallery's documents, an exercise sheet's variants) run in order on
any ``concurrent.futures.Executor``: a process pool on this machine, or a Dask client's
``get_executor()`` on a cluster.

The results come back in the jobs' order whatever order they finish in, and the warnings a
job issues are issued again here, in that order, so a parallel run prints what a serial one
prints. A job's result must pickle to cross into another process; SymPy expressions do not
(an unevaluated product comes back evaluated), so jobs return text or plain numbers.
"""

from __future__ import annotations

import os
import threading
import warnings
from concurrent.futures import Executor, Future
from typing import Any, Callable, Iterator, Sequence

from ..errors import SpecError

JOBS_PER_CPU = 4
"""``--jobs`` beyond this many processes per CPU is refused as a typo: SymPy's work is
CPU-bound, so more processes than CPUs only share them."""

_WARNINGS = threading.RLock()
"""``warnings.catch_warnings`` changes the whole process: jobs on threads of one process
(a thread pool, a Dask worker's threads) take turns recording theirs. SymPy's pure-Python
work holds the GIL anyway, so threads lose no speed by it. Re-entrant, for a job that runs
jobs of its own here (a gallery's exercise sheet, its variants)."""


def run_all(function: Callable[..., Any], jobs: Sequence[tuple],
            executor: Executor | None = None) -> Iterator[Any]:
    """Yield ``function(*job)`` for each of ``jobs``, in order: on ``executor`` (all
    submitted at once), or here, one after another, when it is None. The first job to
    fail, in order, raises its error here and the jobs not yet started are cancelled."""
    registry: dict = {}  # a warning shown once per place, as the jobs' own code would show it
    if executor is None:
        for job in jobs:
            yield _reissued(_recorded(function, job), registry)
        return
    futures = [executor.submit(_recorded, function, job) for job in jobs]
    try:
        for future in futures:
            yield _reissued(future.result(), registry)
    finally:
        _cancel(futures)


def job_count(text: str) -> int:
    """The processes that ``--jobs`` asks for: a whole number from 1 up to ``JOBS_PER_CPU``
    per CPU, or ``0`` or ``auto`` for one per CPU."""
    cpus = os.cpu_count() or 1
    if text.strip().lower() in ("0", "auto"):
        return cpus
    try:
        jobs = int(text)
    except ValueError:
        raise SpecError(f"--jobs: expected a whole number or auto, got {text!r}") from None
    if not 1 <= jobs <= JOBS_PER_CPU * cpus:
        raise SpecError(f"--jobs: expected 1 to {JOBS_PER_CPU * cpus} ({JOBS_PER_CPU} per CPU "
                        f"here), or 0 or auto for one per CPU; got {jobs}")
    return jobs


def _recorded(function: Callable[..., Any], job: tuple) -> tuple[Any, list[tuple]]:
    """``function(*job)`` and the warnings it issued, as (message, category, file, line)."""
    with _WARNINGS, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = function(*job)
    return result, [(str(w.message), w.category, w.filename, w.lineno) for w in caught]


def _reissued(recorded: tuple[Any, list[tuple]], registry: dict) -> Any:
    result, issued = recorded
    for message, category, filename, lineno in issued:
        warnings.warn_explicit(message, category, filename, lineno, registry=registry)
    return result


def _cancel(futures: list[Future]) -> None:
    for future in futures:
        future.cancel()
