"""How symgrad scales with the network, against naive ``sympy.diff`` of the composed loss.

For each dense sigmoid MLP with the mean squared error: its parameters; the operation count
(``sympy.count_ops``) of the forward definitions, and of the whole backprop program
(forward definitions + deltas + gradients) with their ratio; the seconds to build the graph,
derive every gradient and compile them to numpy; and naive ``sympy.diff`` of the fully
composed loss with respect to every parameter (its operation count, its ratio to the
composed loss, its time), each size in a fresh process, stopped after a timeout.

    python benchmarks/scale.py              # everything (naive sympy.diff up to 240 s a size)
    python benchmarks/scale.py --quick      # backprop only, no naive sympy.diff
    python benchmarks/scale.py --check      # also exit 1 if a target is missed

Targets (issue 4): backprop ops at most 2.2 times the forward ops at every size; derive and
compile in at most 1 s for 16x4 and 5 s for 64x3.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy
import sympy as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout this script is in
import symgrad
from symgrad.calculus.matrix import matrix_network
from symgrad.numeric.matrix import compile_matrix

ACTIVATION, LOSS = "sigmoid", "mse"
RATIO_TARGET = 2.2
SECONDS_TARGET = {"16x4": 1.0, "64x3": 5.0}
"""derive + compile, in seconds, by size."""


@dataclass(frozen=True)
class Size:
    """An MLP: ``inputs`` inputs, then layers of ``widths`` units (the last is the output)."""

    name: str
    inputs: int
    widths: tuple[int, ...]

    def graph(self) -> symgrad.Graph:
        layers = [(w, ACTIVATION) for w in self.widths]
        return symgrad.with_loss(symgrad.network(self.inputs, layers), LOSS)


SIZES = (
    Size("2-2-2", 2, (2, 2)),
    Size("4-4-4-4-2", 4, (4, 4, 4, 2)),
    Size("16-16-16-2", 16, (16, 16, 2)),
    Size("16x4", 16, (16, 16, 16, 16, 2)),
    Size("64x3", 64, (64, 64, 64, 2)),
)
BY_NAME = {s.name: s for s in SIZES}


def backprop(size: Size) -> dict[str, Any]:
    """Build, derive and compile ``size`` once; count the operations of what was derived."""
    start = time.perf_counter()
    graph = size.graph()
    built = time.perf_counter()
    derivation = symgrad.derive(graph, "all")
    derived = time.perf_counter()
    symgrad.compile(derivation)
    compiled = time.perf_counter()
    forward = sum(sp.count_ops(d.expr) for d in derivation.definitions)
    deltas = sum(sp.count_ops(a.value) for a in derivation.adjoints if a.named)
    inlined = sum(sp.count_ops(a.value) for a in derivation.adjoints if not a.named)
    gradients = sum(sp.count_ops(g.result) for g in derivation.gradients)
    return {"parameters": len(derivation.parameters), "forward_ops": forward,
            "backprop_ops": forward + deltas + gradients,
            "with_inlined_ops": forward + deltas + inlined + gradients,
            "build_s": built - start, "derive_s": derived - built, "compile_s": compiled - derived}


def naive(size: Size) -> dict[str, Any]:
    """sympy.diff of the composed loss with respect to every parameter, and its size."""
    graph = size.graph()
    composed = graph.composed()
    parameters = [s for g in graph.parameters for s in g.symbols]
    start = time.perf_counter()
    gradients = [sp.diff(composed, p) for p in parameters]
    seconds = time.perf_counter() - start
    return {"loss_ops": sp.count_ops(composed), "ops": sum(sp.count_ops(g) for g in gradients),
            "seconds": seconds}


def matrix_form(size: Size) -> dict[str, Any]:
    """Derive + compile ``size`` in matrix form (``symgrad.layers``), a few equations per
    layer, and count their operations as for the index form."""
    layers = [(w, ACTIVATION) for w in size.widths]
    start = time.perf_counter()
    form = matrix_network(size.inputs, layers, LOSS)
    derived = time.perf_counter()
    compile_matrix(form)
    compiled = time.perf_counter()
    forward = sum(sp.count_ops(l.weighted_sum) + sp.count_ops(l.activated) for l in form.layers)
    backward = sp.count_ops(form.output.matrix) + sum(sp.count_ops(e) for _, e in form.backward)
    gradients = sum(sp.count_ops(l.weight_gradient) + sp.count_ops(l.bias_gradient)
                    for l in form.layers)
    return {"forward_ops": forward, "backprop_ops": forward + backward + gradients,
            "derive_s": derived - start, "compile_s": compiled - derived,
            "total_s": compiled - start}


WIDTHS = (16, 64, 256, 1024)
"""Widths at which the matrix form's derive + compile time is shown not to grow."""

MEASURES = {"backprop": backprop, "naive": naive, "matrix": matrix_form, "width": matrix_form}


def in_fresh_process(measure: str, size: Size, timeout: float) -> dict[str, Any] | None:
    """``measure`` of ``size`` in a new Python process; None when not done after ``timeout``."""
    command = [sys.executable, os.path.abspath(__file__), "--child", measure, size.name]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"{measure} {size.name} failed:\n{error.stderr}") from None
    return json.loads(done.stdout.splitlines()[-1])


def measure_backprop(size: Size, repeat: int) -> dict[str, Any]:
    """The counts of one run and the median of each time over ``repeat`` fresh runs."""
    runs = [in_fresh_process("backprop", size, timeout=900) for _ in range(repeat)]
    result = dict(runs[0])
    for key in ("build_s", "derive_s", "compile_s"):
        result[key] = statistics.median(r[key] for r in runs)
    result["total_s"] = result["derive_s"] + result["compile_s"]
    return result


def measure_naive(sizes: list[Size], timeout: float) -> dict[str, dict[str, Any] | str]:
    """Naive sympy.diff, smallest size first; once one is not done, larger ones are not run."""
    results: dict[str, dict[str, Any] | str] = {}
    stopped = None
    for size in sizes:
        if stopped:
            results[size.name] = f"not run ({stopped} not done after {timeout:g} s)"
            continue
        result = in_fresh_process("naive", size, timeout)
        if result is None:
            stopped = size.name
            results[size.name] = f"not done after {timeout:g} s"
        else:
            results[size.name] = result
    return results


def table(sizes: list[Size], backprops: dict, naives: dict, matrices: dict) -> str:
    """The results as a Markdown table."""
    header = ["MLP", "parameters", "forward ops", "backprop ops", "ratio",
              "(with inlined adjoints)", "build s", "derive s", "compile s",
              "derive + compile s", "naive diff ops", "naive ratio", "naive diff s",
              "matrix ops ratio", "matrix derive + compile s"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for size in sizes:
        b = backprops[size.name]
        cells = [size.name, f"{b['parameters']:,}", f"{b['forward_ops']:,}",
                 f"{b['backprop_ops']:,}", f"{b['backprop_ops'] / b['forward_ops']:.2f}",
                 f"{b['with_inlined_ops'] / b['forward_ops']:.2f}", f"{b['build_s']:.2f}",
                 f"{b['derive_s']:.2f}", f"{b['compile_s']:.2f}", f"{b['total_s']:.2f}"]
        cells += naive_cells(naives.get(size.name, "not run (--quick)"))
        m = matrices[size.name]
        cells += [f"{m['backprop_ops'] / m['forward_ops']:.2f}", f"{m['total_s']:.3f}"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def naive_cells(result: dict[str, Any] | str) -> list[str]:
    if isinstance(result, str):
        return ["", "", result]
    return [f"{result['ops']:,}", f"{result['ops'] / result['loss_ops']:.0f}",
            f"{result['seconds']:.2f}"]


def missed_targets(backprops: dict, matrices: dict) -> list[str]:
    """One line per target missed, by the index form and by the matrix form."""
    missed = []
    for name, m in matrices.items():
        ratio = m["backprop_ops"] / m["forward_ops"]
        if ratio > RATIO_TARGET:
            missed.append(f"{name}: matrix-form ops are {ratio:.2f} times the forward ops")
        if name in SECONDS_TARGET and m["total_s"] > SECONDS_TARGET[name]:
            missed.append(f"{name}: matrix-form derive + compile took {m['total_s']:.2f} s")
    for name, b in backprops.items():
        ratio = b["backprop_ops"] / b["forward_ops"]
        if ratio > RATIO_TARGET:
            missed.append(f"{name}: backprop ops are {ratio:.2f} times the forward ops "
                          f"(target {RATIO_TARGET})")
        if name in SECONDS_TARGET and b["total_s"] > SECONDS_TARGET[name]:
            missed.append(f"{name}: derive + compile took {b['total_s']:.2f} s (derive "
                          f"{b['derive_s']:.2f} s, compile {b['compile_s']:.2f} s; target "
                          f"{SECONDS_TARGET[name]:g} s)")
    return missed


def machine() -> str:
    """Where and when the figures were measured."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = f" (load average {os.getloadavg()[0]:.1f} before the run)" \
        if hasattr(os, "getloadavg") else ""
    return (f"{date.today().isoformat()}, {cpu}, {os.cpu_count()} CPUs{load}, Python "
            f"{platform.python_version()}, SymPy {sp.__version__}, numpy {numpy.__version__}, "
            f"symgrad {symgrad.__version__}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip naive sympy.diff")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--naive-timeout", type=float, default=240.0, metavar="SECONDS",
                        help="stop naive sympy.diff of a size after this long (default 240)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="fresh runs per size; times are their median (default 3)")
    parser.add_argument("--sizes", nargs="+", choices=list(BY_NAME), default=list(BY_NAME))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        measure, name = args.child
        size = BY_NAME.get(name) or Size(name, int(name[1:]), (int(name[1:]),) * 3 + (2,))
        print(json.dumps(MEASURES[measure](size)))
        return 0
    sizes = [BY_NAME[name] for name in args.sizes]
    where = machine()
    backprops = {s.name: measure_backprop(s, args.repeat) for s in sizes}
    naives = {} if args.quick else measure_naive(sizes, args.naive_timeout)
    matrices = {s.name: in_fresh_process("matrix", s, timeout=900) for s in sizes}
    print(f"Measured {where}.\n")
    print(table(sizes, backprops, naives, matrices))
    missed = missed_targets(backprops, matrices)
    print("\nMatrix form, derive + compile by width (3 hidden layers): " + ", ".join(
        f"{w}: {in_fresh_process('width', Size(f'w{w}', w, (w, w, w, 2)), 900)['total_s']:.3f} s"
        for w in WIDTHS))
    print("\nTargets: " + ("all met." if not missed else "missed:\n- " + "\n- ".join(missed)))
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
