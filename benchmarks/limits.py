"""How long the command a user types takes at and past symgrad's limits of work.

Two tables, each row one ``symgrad derive ... -o FILE`` in a fresh process (wall seconds,
the median of ``--repeat`` runs, sizes interleaved so that a noisy machine slows all alike):

- *near the limits*: the largest requests symgrad accepts (an expression nested
  ``MAX_DEPTH`` levels deep, a hidden layer just under ``max_parameters``, a power at
  ``MAX_EXPONENT``) and smaller ones, in every output format, to show that what is accepted
  finishes in seconds;
- *past the limits*: requests that are refused up front (each must exit 2 at once, with
  the limit named), among them those of issue 13 that ran for minutes before.

    python benchmarks/limits.py              # both tables, 3 runs each
    python benchmarks/limits.py --repeat 1   # a quick look
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout this script is in
from symgrad.model.limits import DEFAULT_LIMITS, MAX_DEPTH, MAX_EXPONENT  # noqa: E402

FORMATS = (".md", ".tex", ".html", ".ipynb", ".json")


def nested(depth: int) -> str:
    """Sums and products nested ``depth`` levels: the shape whose documents grow fastest."""
    text = "w"
    for level in range(depth - 1):
        text = f"(w + x*{text})" if level % 2 else f"(x*(w + {text}))"
    return text


def network(units: int, folder: Path) -> str:
    """A spec of 2 inputs, a hidden sigmoid layer of ``units`` and one output, with values."""
    r = random.Random(units)
    spec = {"model": {"inputs": 2, "layers": [{"units": units, "activation": "sigmoid"},
                                              {"units": 1, "activation": "sigmoid"}]},
            "loss": "half_squared_error", "learning_rate": 0.1,
            "at": {"x": [0.5, -0.2], "y": [1.0],
                   "W1": [[r.uniform(-1, 1) for _ in range(2)] for _ in range(units)],
                   "b1": [0.1] * units, "W2": [[r.uniform(-1, 1) for _ in range(units)]],
                   "b2": [0.0]}}
    path = folder / f"hidden{units}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def bomb(folder: Path) -> str:
    """A YAML "billion laughs" in the learning rate."""
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = folder / "bomb.yaml"
    path.write_text("\n".join(lines) + "\nexpression: w**2\nlearning_rate: *a8\n")
    return str(path)


def cases(folder: Path) -> tuple[list[tuple[str, list[str]]], list[tuple[str, list[str]]]]:
    """(name, derive arguments) near the limits and past them."""
    most = DEFAULT_LIMITS.max_parameters
    under = (most - 1) // 4  # 2 inputs -> units: 3 units' weights and bias each, + 1 output
    near = []
    for depth in (10, 15, MAX_DEPTH):
        near.append((f"depth {depth}", ["--expr", nested(depth), "--wrt", "w",
                                        "--at", "w=0.5,x=0.3", "--learning-rate", "0.1"]))
    for units in (100, under):
        near.append((f"hidden {units} ({4 * units + 1} parameters)", [network(units, folder)]))
    near.append((f"x**{MAX_EXPONENT}", ["--expr", f"x**{MAX_EXPONENT}", "--wrt", "x",
                                       "--at", "x=0.8"]))
    past = [
        ("x**(10**10)", ["--expr", "x**(10**10)", "--wrt", "x", "--at", "x=0.8"]),
        ("((10**1000)**1000)**1000*x", ["--expr", "((10**1000)**1000)**1000*x", "--wrt", "x"]),
        (f"depth {MAX_DEPTH + 1}", ["--expr", nested(MAX_DEPTH + 1), "--wrt", "w"]),
        ("hidden 1000", [network(1000, folder)]),
        ("inputs: 100000", [_write(folder, "inputs.yaml",
                                   "model: {inputs: 100000, layers: [{units: 1}]}\nloss: mse\n")]),
        ("alias bomb", [bomb(folder)]),
    ]
    return near, past


def _write(folder: Path, name: str, text: str) -> str:
    (folder / name).write_text(text)
    return str(folder / name)


def timed(arguments: list[str], out: Path) -> tuple[float, int, str]:
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "symgrad", "derive", *arguments, "-o", str(out)],
                         capture_output=True, text=True, cwd=ROOT, timeout=900)
    return time.perf_counter() - start, run.returncode, run.stderr.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        near, past = cases(folder)
        times: dict[tuple[str, str], list[float]] = {}
        codes: dict[tuple[str, str], int] = {}
        said: dict[str, str] = {}
        for _ in range(args.repeat):
            for case, arguments in near:
                for suffix in FORMATS:
                    seconds, code, _ = timed(arguments, folder / f"doc{suffix}")
                    times.setdefault((case, suffix), []).append(seconds)
                    codes[(case, suffix)] = code
            for case, arguments in past:
                seconds, code, err = timed(arguments, folder / "doc.md")
                times.setdefault((case, ".md"), []).append(seconds)
                codes[(case, ".md")] = code
                said[case] = err
        print(f"## Near the limits: seconds (median of {args.repeat}), exit status\n")
        print("| request | " + " | ".join(FORMATS) + " |")
        print("|---|" + "---|" * len(FORMATS))
        for case, _ in near:
            cells = [f"{statistics.median(times[(case, s)]):.2f} ({codes[(case, s)]})"
                     for s in FORMATS]
            print(f"| {case} | " + " | ".join(cells) + " |")
        print(f"\n## Past the limits: seconds (median of {args.repeat}), exit status, message\n")
        print("| request | seconds | exit | message |")
        print("|---|---|---|---|")
        for case, _ in past:
            message = said[case].replace("|", "\\|")[:140]
            print(f"| {case} | {statistics.median(times[(case, '.md')]):.2f} | "
                  f"{codes[(case, '.md')]} | {message} |")


if __name__ == "__main__":
    main()
