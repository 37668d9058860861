"""What a user waits for at the command line: the quick example's CPU time (start-up is
most of it), and the gallery with ``--jobs 1`` and ``--jobs N``.

    python benchmarks/batch.py [--runs 5] [--jobs 2] [--no-gallery]

Each command runs in a fresh interpreter, as a user types it; a quick derive reports the
least CPU time (user + sys) of ``--runs`` runs, the first run warming the file cache; the
gallery (``--check``, so nothing is written) reports wall and CPU time of one run each.
Issue 12's ceiling for the quick example is 1 s of CPU.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICK = ["derive", "--expr", "1/2*(yhat - y)**2", "--wrt", "yhat", "--at", "yhat=0.8,y=1.0"]


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + sys of the children) seconds of ``python -m symgrad argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "symgrad", *argv], cwd=ROOT, check=False,
                   stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - start, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-gallery", dest="gallery", action="store_false")
    args = parser.parse_args()
    timed(QUICK)  # the file cache
    for fmt in ("markdown", "json"):
        cpu = min(timed(QUICK + ["--format", fmt])[1] for _ in range(args.runs))
        print(f"quick derive, {fmt:8s}: {cpu:.2f} s CPU (least of {args.runs})")
    if args.gallery:
        for jobs in (1, args.jobs):
            wall, cpu = timed(["gallery", "--check", "--jobs", str(jobs)])
            print(f"gallery --check --jobs {jobs}: {wall:.1f} s wall, {cpu:.1f} s CPU")


if __name__ == "__main__":
    main()
