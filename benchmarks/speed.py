"""How fast symgrad is in every path a user takes (issue 12), in one run.

(a) The command a user types, ``python -m symgrad derive SPEC --format F``, for dense
    sigmoid networks from 12 to 12,610 parameters with values for every quantity, ``wrt:
    all``, a learning rate and verification on: wall time including start-up, CPU time and
    peak memory of the child process, in each format, and the log-log slope of time
    against parameters per format.
(b) The compiled gradient (loss and every parameter) against a hand-written numpy matrix
    backprop, torch autograd and ``jax.jit(jax.value_and_grad)``, at widths 4, 16, 64 and
    batches of 1, 64 and 4096 columns: median seconds per call, measured round-robin in
    one process, as multiples of the hand-written numpy.
(c) ``symgrad.derive(graph, "all")`` and ``symgrad.compile(d)`` by size, each in a fresh
    process (``scale.py``'s measurement).
(d) ``import symgrad`` in a fresh process, and the CPU time of the seed's quick example.

    python benchmarks/speed.py              # everything (the slowest runs stop after 120 s)
    python benchmarks/speed.py --quick      # small sizes and few repeats (a minute or two)
    python benchmarks/speed.py --check      # also exit 1 if a target is missed

A column whose interface the checkout does not have yet (a compile backend, ``prepared()``)
shows "n/a", and counts as a missed target.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import math
import os
import random
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
"""In this process (each unless set already), numpy's OpenBLAS on one thread and torch's
OpenMP threads sleeping, not spinning, when idle. Spinning threads of one library starve the
next candidate on a small machine: beside torch's and XLA's pools a call of the hand-written
numpy took up to 50 times longer than alone (0.6 s instead of 12 ms at H=16, N=4096), and
torch on its default threads up to 900 times the hand numpy at N=64. The hand numpy and
symgrad's numpy share OpenBLAS, so their ratio stays fair. The commands this script runs get
the environment as it was."""
THREADS_SET_HERE = [k for k in THREADS if k not in os.environ]
os.environ.update({k: THREADS[k] for k in THREADS_SET_HERE})

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]  # the checkout this script is in, and scale.py beside it
import scale
import symgrad

FORMATS = ("json", "markdown", "latex", "html", "beamer", "notebook")
TARGET_FORMATS = ("json", "markdown", "latex", "html")
"""The formats the targets name; beamer and notebook are measured when asked for."""
CLI_SECONDS = {"16x4": 3.0, "64x3": 30.0}
"""Wall time of the command, start-up included, by size, in every format of TARGET_FORMATS."""
SLOPE_TARGET = 1.15
MEMORY_TARGET = {"64x3": 2 ** 30}
"""Peak memory of the command, bytes, by size."""
RATIO_TARGET = 1.2
"""symgrad's prepared numpy function, as a multiple of the hand-written numpy, at every size."""
QUICK_EXAMPLE_CPU = 1.0
QUICK_EXAMPLE = ["derive", "--expr", "1/2*(yhat - y)**2", "--wrt", "yhat", "--at", "yhat=0.8,y=1.0"]
WIDTHS, BATCHES = (4, 16, 64), (1, 64, 4096)
AGREEMENT = 1e-9
"""Relative tolerance of every candidate's loss and gradients against the hand-written numpy."""


# (a) The command a user types

def spec(size: scale.Size, seed: int = 0) -> dict[str, Any]:
    """A spec of ``size`` with sigmoid units, the half squared error, a value for every
    quantity and a learning rate. Weights in +-0.5, biases in +-0.1 and inputs in +-1 keep
    every weighted sum small, so no sigmoid saturates; targets are in (0, 1)."""
    draw = random.Random(seed)

    def numbers(count: int, bound: float, low: float | None = None) -> list[float]:
        return [round(draw.uniform(-bound if low is None else low, bound), 3) for _ in range(count)]

    at: dict[str, Any] = {"x": numbers(size.inputs, 1.0), "y": numbers(size.widths[-1], 1.0, 0.0)}
    before = size.inputs
    for number, units in enumerate(size.widths, 1):
        at[f"W{number}"] = [numbers(before, 0.5) for _ in range(units)]
        at[f"b{number}"] = numbers(units, 0.1)
        before = units
    layers = [{"units": units, "activation": "sigmoid"} for units in size.widths]
    return {"title": f"A {size.name} sigmoid network", "model": {"inputs": size.inputs, "layers": layers},
            "loss": "half_squared_error", "wrt": "all", "at": at, "learning_rate": 0.1}


@dataclass(frozen=True)
class Run:
    """One child process: wall and CPU (user + sys) seconds, peak resident memory in bytes,
    the bytes it wrote; ``stopped`` when killed at the timeout, ``error`` its last line of
    standard error when it failed."""

    wall: float
    cpu: float
    peak: int
    written: int = 0
    stopped: bool = False
    error: str = ""


TIME = Path("/usr/bin/time")
"""GNU time, which reports the peak memory of the command it starts. The rusage of a child
of this script would not do: a process keeps the peak of the memory it had before exec,
here this script's (with torch and jax imported), while GNU time is small."""


def run(arguments: Sequence[str], timeout: float, folder: Path) -> Run:
    """Run ``python arguments`` on this checkout through GNU time, standard output to a
    file; its process group is killed after ``timeout`` seconds. Without GNU time, CPU
    time comes from ``os.wait4`` and the peak memory is unknown (-1)."""
    environment = {k: v for k, v in os.environ.items() if k not in THREADS_SET_HERE}
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    out, err, usage_file = folder / "stdout", folder / "stderr", folder / "usage"
    usage_file.unlink(missing_ok=True)
    timing = [str(TIME), "-o", str(usage_file), "-f", "%M %U %S"] if TIME.exists() else []
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        start = time.perf_counter()
        child = subprocess.Popen([*timing, sys.executable, *arguments], stdout=stdout,
                                 stderr=stderr, env=environment, cwd=folder, start_new_session=True)
        timer = threading.Timer(timeout, os.killpg, (child.pid, signal.SIGKILL))
        timer.start()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        timer.cancel()
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    stopped = child.returncode == -signal.SIGKILL
    lines = err.read_text(errors="replace").strip().splitlines()
    error = "" if child.returncode == 0 or stopped else (lines[-1] if lines else f"exit {child.returncode}")
    peak, cpu = -1, usage.ru_utime + usage.ru_stime
    if timing and not stopped:
        kilobytes, user, system = usage_file.read_text().split()[-3:]
        peak, cpu = int(kilobytes) * 1024, float(user) + float(system)
    return Run(wall, cpu, peak, out.stat().st_size, stopped, error)


def cli_runs(sizes: Sequence[scale.Size], formats: Sequence[str], timeout: float,
             folder: Path) -> dict[tuple[str, str], Run | str]:
    """Each format at each size, smallest first; once a size is stopped or fails in a
    format, the larger sizes are not run in it (they would take longer)."""
    for size in sizes:
        with open(folder / f"{size.name}.yaml", "w") as file:
            yaml.safe_dump(spec(size), file)
    results: dict[tuple[str, str], Run | str] = {}
    given_up: dict[str, str] = {}
    for size in sizes:
        for fmt in formats:
            if fmt in given_up:
                results[size.name, fmt] = f"not run ({given_up[fmt]})"
                continue
            done = run(["-m", "symgrad", "derive", f"{size.name}.yaml", "--format", fmt], timeout, folder)
            results[size.name, fmt] = done
            if done.stopped or done.error:
                given_up[fmt] = f"{size.name} " + (f"> {timeout:g} s" if done.stopped else "failed")
            print(f"  {size.name} {fmt}: {cli_cell(done, timeout)}", file=sys.stderr, flush=True)
    return results


def slope(points: Sequence[tuple[float, float]]) -> float:
    """The least-squares slope of log y against log x."""
    xs, ys = zip(*((math.log(x), math.log(y)) for x, y in points))
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def format_slope(sizes: Sequence[scale.Size], results: dict, fmt: str) -> float | None:
    """The growth exponent of ``fmt``'s wall time over every size; None unless all finished."""
    runs = [results[s.name, fmt] for s in sizes]
    if len(sizes) < 2 or not all(isinstance(r, Run) and not (r.stopped or r.error) for r in runs):
        return None
    return slope([(parameters(s), r.wall) for s, r in zip(sizes, runs)])


def parameters(size: scale.Size) -> int:
    widths = (size.inputs,) + size.widths
    return sum((before + 1) * units for before, units in zip(widths, widths[1:]))


def cli_cell(result: Run | str, timeout: float) -> str:
    if isinstance(result, str):
        return result
    if result.stopped:
        return f"> {timeout:g} s"
    if result.error:
        return f"failed: {result.error[:80]}"
    memory = "? MB" if result.peak < 0 else f"{result.peak / 2 ** 20:,.0f} MB"
    return f"{result.wall:.2f} s, {result.cpu:.2f} s CPU, {memory}"


def cli_table(sizes: Sequence[scale.Size], formats: Sequence[str], results: dict,
              timeout: float) -> str:
    """Sizes down, formats across; each cell wall s, CPU s, peak MB; then the slopes."""
    rows = [f"| MLP | parameters | {' | '.join(formats)} |", "|---|---|" + "---|" * len(formats)]
    for size in sizes:
        cells = [cli_cell(results[size.name, f], timeout) for f in formats]
        rows.append(f"| {size.name} | {parameters(size):,} | {' | '.join(cells)} |")
    slopes = [format_slope(sizes, results, f) for f in formats]
    rows.append("| slope of log wall time on log parameters | | "
                + " | ".join("n/a" if s is None else f"{s:.2f}" for s in slopes) + " |")
    return "\n".join(rows)


def cli_missed(sizes: Sequence[scale.Size], formats: Sequence[str], results: dict,
               timeout: float) -> list[str]:
    """One line per target of the command missed: time, memory, slope, by format."""
    missed = []
    for fmt in (f for f in formats if f in TARGET_FORMATS):
        for size in sizes:
            result = results[size.name, fmt]
            limit = CLI_SECONDS.get(size.name)
            finished = isinstance(result, Run) and not (result.stopped or result.error)
            if limit is not None and not (finished and result.wall <= limit):
                missed.append(f"derive {size.name} --format {fmt}: {cli_cell(result, timeout)} "
                              f"(target {limit:g} s)")
            memory = MEMORY_TARGET.get(size.name)
            if memory is not None and finished and not 0 <= result.peak < memory:
                missed.append(f"derive {size.name} --format {fmt}: peak memory "
                              f"{result.peak / 2 ** 20:,.0f} MB (target under {memory / 2 ** 20:,.0f} MB)")
        if len(sizes) == len(scale.SIZES):
            measured = format_slope(sizes, results, fmt)
            if measured is None or measured > SLOPE_TARGET:
                shown = "n/a (not every size finished)" if measured is None else f"{measured:.2f}"
                missed.append(f"--format {fmt}: time grows with parameters to the power {shown} "
                              f"(target {SLOPE_TARGET})")
    return missed


# (b) The compiled gradient

def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def hand_numpy(x: np.ndarray, y: np.ndarray, *weights: np.ndarray) -> tuple[float, list[np.ndarray]]:
    """The reference: the loss sum over columns and outputs of 1/2 (yhat - y)^2 and its
    gradient, by matrix backprop. ``weights`` are W1, b1, W2, b2, ...; every layer is sigmoid
    but the last, which is linear. The forward activations are kept and reused backwards
    (sigma'(z) = a (1 - a))."""
    pairs = list(zip(weights[::2], weights[1::2]))
    activations = [x]
    for number, (W, b) in enumerate(pairs, 1):
        Z = W @ activations[-1] + b[:, None]
        activations.append(Z if number == len(pairs) else sigmoid(Z))
    error = activations[-1] - y
    loss = 0.5 * float(np.sum(error * error))
    delta, gradients = error, []
    for number in range(len(pairs), 0, -1):
        before = activations[number - 1]
        gradients[:0] = [delta @ before.T, delta.sum(axis=1)]
        if number > 1:
            delta = (pairs[number - 1][0].T @ delta) * before * (1.0 - before)
    return loss, gradients


def network_graph(width: int) -> symgrad.Graph:
    """``width`` inputs, two sigmoid layers of ``width``, two linear outputs."""
    layers = [(width, "sigmoid"), (width, "sigmoid"), (2, "identity")]
    return symgrad.with_loss(symgrad.network(width, layers), "half_squared_error")


def arrays(width: int, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs, targets and weights by group name, weights in +-0.5 (no sigmoid saturates)."""
    draw = np.random.default_rng(seed)
    shapes = [(width, width), (width, width), (2, width)]
    values = {"x": draw.uniform(-1, 1, (width, batch)), "y": draw.uniform(0, 1, (2, batch))}
    for number, (units, before) in enumerate(shapes, 1):
        values[f"W{number}"] = draw.uniform(-0.5, 0.5, (units, before))
        values[f"b{number}"] = draw.uniform(-0.1, 0.1, units)
    return values


NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")
"""The parameters' names, the order of every candidate's gradients."""


def torch_autograd(values: dict[str, np.ndarray]) -> Callable[[], tuple]:
    """The same network and loss in torch, differentiated by autograd."""
    import torch
    x, y = (torch.tensor(values[k]) for k in "xy")
    weights = [torch.tensor(values[k], requires_grad=True) for k in NAMES]

    def call() -> tuple:
        A = x
        for number in range(3):
            W, b = weights[2 * number], weights[2 * number + 1]
            Z = W @ A + b[:, None]
            A = Z if number == 2 else torch.sigmoid(Z)
        loss = 0.5 * ((A - y) ** 2).sum()
        return loss, torch.autograd.grad(loss, weights)
    return call


def jax_jit(values: dict[str, np.ndarray]) -> Callable[[], tuple]:
    """The same network and loss in jax, ``jax.jit(jax.value_and_grad)`` in float64."""
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def loss(weights, x, y):
        A = x
        for number in range(3):
            W, b = weights[2 * number], weights[2 * number + 1]
            Z = W @ A + b[:, None]
            A = Z if number == 2 else jax.nn.sigmoid(Z)
        return 0.5 * jnp.sum((A - y) ** 2)
    gradient = jax.jit(jax.value_and_grad(loss))
    weights = tuple(jnp.asarray(values[k]) for k in NAMES)
    x, y = jnp.asarray(values["x"]), jnp.asarray(values["y"])
    return lambda: jax.block_until_ready(gradient(weights, x, y))


def prepared(derivation: symgrad.Derivation, values: dict[str, np.ndarray],
             backend: str | None) -> Callable[[], tuple]:
    """symgrad's fast path, ``symgrad.compile(d, backend=...).prepared()``, given the
    backend's own arrays in the order of ``arguments``; its gradients put in NAMES' order."""
    compiled = symgrad.compile(derivation) if backend is None else \
        symgrad.compile(derivation, backend=backend)
    function = compiled.prepared()
    convert = {None: np.asarray, "jax": _jax_array, "torch": _torch_tensor}[backend]
    given = [convert(values[name]) for name in compiled.arguments]
    order = [list(compiled.gradient_names).index(name) for name in NAMES]
    if backend == "jax":
        import jax
        call = lambda: jax.block_until_ready(function(*given))
    else:
        call = lambda: function(*given)
    return lambda: _reordered(call(), order)


def _reordered(result: tuple, order: list[int]) -> tuple:
    loss, gradients = result
    return loss, [gradients[i] for i in order]


def _jax_array(value: np.ndarray):
    import jax
    jax.config.update("jax_enable_x64", True)
    return jax.numpy.asarray(value)


def _torch_tensor(value: np.ndarray):
    import torch
    return torch.from_numpy(np.ascontiguousarray(value))


def keyword(derivation: symgrad.Derivation, values: dict[str, np.ndarray],
            form: str | None) -> Callable[[], tuple]:
    """The documented call ``c(**values)``, of the default form or ``form``."""
    compiled = symgrad.compile(derivation) if form is None else symgrad.compile(derivation, form=form)

    def call() -> tuple:
        result = compiled(**values)
        return result.loss, [result.gradients[name] for name in NAMES]
    return call


def one_thread(call: Callable[[], tuple]) -> Callable[[], tuple]:
    """``call``, to be timed with torch on one thread (``timed`` sets it outside the clock)."""
    def pinned() -> tuple:
        with torch_threads(1):
            return call()
    pinned.threads = 1  # type: ignore[attr-defined]
    pinned.unpinned = call  # type: ignore[attr-defined]
    return pinned


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Torch's intra-op threads set to ``count`` (None: left alone) for the block."""
    if count is None:
        yield
        return
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


CANDIDATES: dict[str, Callable[[symgrad.Derivation, dict], Callable[[], tuple]]] = {
    "hand numpy": lambda d, v: lambda: hand_numpy(v["x"], v["y"], *(v[k] for k in NAMES)),
    "torch autograd": lambda d, v: torch_autograd(v),
    "torch autograd 1 thread": lambda d, v: one_thread(torch_autograd(v)),
    "jax.jit": lambda d, v: jax_jit(v),
    "symgrad numpy prepared": lambda d, v: prepared(d, v, None),
    "symgrad jax prepared": lambda d, v: prepared(d, v, "jax"),
    "symgrad torch prepared": lambda d, v: prepared(d, v, "torch"),
    "symgrad torch prepared 1 thread": lambda d, v: one_thread(prepared(d, v, "torch")),
    "symgrad c(**values)": lambda d, v: keyword(d, v, None),
    "symgrad index form c(**values)": lambda d, v: keyword(d, v, "index"),
}
"""Each candidate, made from the derivation and the values: a call computing the loss and
the gradients in NAMES' order. The hand-written numpy is first, the reference."""


def as_numpy(result: tuple, shapes: Sequence[tuple[int, ...]]) -> tuple[float, list[np.ndarray]]:
    """A candidate's loss and gradients as float64 numpy; a value per column (the keyword
    call of a derivation without a batch computes one loss per column) is summed."""
    def plain(value: Any) -> np.ndarray:
        if hasattr(value, "detach"):
            value = value.detach()
        return np.asarray(value, dtype=float)
    loss, gradients = result
    summed = [plain(g).reshape(shape + (-1,)).sum(axis=-1) for g, shape in zip(gradients, shapes)]
    return float(plain(loss).sum()), summed


def disagreement(got: tuple[float, list[np.ndarray]], want: tuple[float, list[np.ndarray]]) -> str:
    """Empty when ``got`` agrees with ``want`` to AGREEMENT, relative to each array's largest
    entry; else what disagrees."""
    for name, g, w in zip(("loss",) + NAMES, [got[0], *got[1]], [want[0], *want[1]]):
        if np.shape(g) != np.shape(w):
            return f"{name} has shape {np.shape(g)}, not {np.shape(w)}"
        scale_ = float(np.max(np.abs(w))) or 1.0
        if not np.allclose(g, w, rtol=AGREEMENT, atol=AGREEMENT * scale_):
            return f"{name} differs by up to {float(np.max(np.abs(np.subtract(g, w)))):.3g}"
    return ""


def candidates(derivation: symgrad.Derivation, values: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """The candidates that exist and agree with the hand numpy, and for the others why not."""
    shapes = [np.shape(values[k]) for k in NAMES]
    reference = as_numpy(CANDIDATES["hand numpy"](derivation, values)(), shapes)
    ready, absent = {}, {}
    for name, make in CANDIDATES.items():
        try:
            call = make(derivation, values)
            problem = disagreement(as_numpy(call(), shapes), reference)
        except (TypeError, AttributeError, ImportError) as error:  # not in this checkout
            absent[name] = "n/a"
            print(f"  {name}: n/a ({type(error).__name__}: {error})", file=sys.stderr)
            continue
        except Exception as error:  # a failure to report, not to stop at
            absent[name], problem = "wrong", f"{type(error).__name__}: {error}"
        if problem:
            absent[name] = "wrong"
            print(f"FAILURE: {name} disagrees with the hand-written numpy: {problem}", flush=True)
        else:
            ready[name] = call
    return ready, absent


def timed(calls: dict[str, Callable[[], Any]], budget: float, least: int = 5,
          most: int = 2000) -> dict[str, float]:
    """Median seconds per call of each, round-robin: every repeat calls each candidate once,
    so a change in the machine's load falls on all of them alike. As many repeats as fit in
    ``budget`` seconds (after one warm-up round), within ``least`` and ``most``."""
    def clocked(call: Callable[[], Any]) -> int:
        with torch_threads(getattr(call, "threads", None)):
            call = getattr(call, "unpinned", call)
            start = time.perf_counter_ns()
            call()
            return time.perf_counter_ns() - start
    warm = sum(clocked(call) for call in calls.values()) / 1e9
    repeats = int(min(most, max(least, budget / max(warm, 1e-9))))
    times: dict[str, list[int]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            times[name].append(clocked(call))
    return {name: statistics.median(t) / 1e9 for name, t in times.items()}


def compiled_results(widths: Sequence[int], batches: Sequence[int], budget: float) -> dict:
    """Seconds per call (or "n/a", "wrong") of every candidate at each (width, batch)."""
    results = {}
    for width in widths:
        derivation = symgrad.derive(network_graph(width), "all")
        for batch in batches:
            ready, absent = candidates(derivation, arrays(width, batch))
            results[width, batch] = {**absent, **timed(ready, budget)}
            print(f"  H={width} N={batch} done", file=sys.stderr, flush=True)
    return results


def compiled_table(results: dict) -> str:
    """(width, batch) down, candidates across: the hand numpy's seconds, the others' ratios."""
    names = list(CANDIDATES)
    rows = ["| H | N | hand numpy s | " + " | ".join(f"{n} x" for n in names[1:]) + " |",
            "|---|---|---|" + "---|" * (len(names) - 1)]
    for (width, batch), measured in results.items():
        base = measured["hand numpy"]
        cells = [measured[n] if isinstance(measured[n], str) else f"{measured[n] / base:.2f}"
                 for n in names[1:]]
        rows.append(f"| {width} | {batch} | {base:.2e} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def compiled_missed(results: dict) -> list[str]:
    """symgrad's prepared numpy over RATIO_TARGET, or absent, at any size; any disagreement."""
    missed = []
    for (width, batch), measured in results.items():
        for name, value in measured.items():
            if value == "wrong":
                missed.append(f"H={width} N={batch}: {name} disagrees with the hand-written numpy")
        ours = measured["symgrad numpy prepared"]
        if isinstance(ours, str) or ours / measured["hand numpy"] > RATIO_TARGET:
            shown = ours if isinstance(ours, str) else f"{ours / measured['hand numpy']:.2f}x"
            missed.append(f"H={width} N={batch}: symgrad numpy prepared is {shown} the "
                          f"hand-written numpy (target {RATIO_TARGET}x)")
    return missed


# (c) derive + compile, (d) start-up

def derive_compile_table(sizes: Sequence[scale.Size], repeat: int) -> str:
    """scale.py's derive and compile seconds, fresh processes, median of ``repeat``."""
    rows = ["| MLP | parameters | derive s | compile s | derive + compile s |", "|---|---|---|---|---|"]
    for size in sizes:
        b = scale.measure_backprop(size, repeat)
        rows.append(f"| {size.name} | {b['parameters']:,} | {b['derive_s']:.2f} | "
                    f"{b['compile_s']:.2f} | {b['total_s']:.2f} |")
    return "\n".join(rows)


FLOOR = "import sympy, numpy; sympy.Symbol('a') - sympy.Symbol('b')"
"""What any program on SymPy and numpy pays before its own work: both imported, and the first
sum (SymPy's Add loads sympy.tensor and sympy.combinatorics then)."""


def start_up(repeat: int, timeout: float, folder: Path) -> tuple[str, list[str]]:
    """Python alone, the floor (``FLOOR``), ``import symgrad`` and the quick example, each in
    fresh processes, interleaved round by round: median wall and CPU seconds; and the quick
    example's CPU target if missed. The package's bytecode is compiled first, as an install
    does (with PYTHONDONTWRITEBYTECODE set, each run would compile every changed module)."""
    compileall.compile_dir(ROOT / "symgrad", quiet=1)
    commands = {"bare": ["-c", "pass"], "floor": ["-c", FLOOR], "import": ["-c", "import symgrad"],
                "example": ["-m", "symgrad", *QUICK_EXAMPLE]}
    runs: dict[str, list[Run]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, arguments in commands.items():
            runs[name].append(run(arguments, timeout, folder))
            if runs[name][-1].stopped or runs[name][-1].error:
                raise SystemExit(f"python {' '.join(arguments)} failed: {runs[name][-1].error or 'stopped'}")
    (bare, floor, imported, example) = (
        (statistics.median(r.wall for r in runs[n]), statistics.median(r.cpu for r in runs[n]))
        for n in commands)
    lines = [f"- Python alone: {bare[0]:.2f} s wall, {bare[1]:.2f} s CPU; SymPy and numpy imported "
             f"and a first sum (the floor of any program on them): {floor[0]:.2f} s wall, "
             f"{floor[1]:.2f} s CPU",
             f"- `import symgrad`: {imported[0]:.2f} s wall, {imported[1]:.2f} s CPU",
             f"- `python -m symgrad {shlex.join(QUICK_EXAMPLE)}`: {example[0]:.2f} s wall, "
             f"{example[1]:.2f} s CPU (target {QUICK_EXAMPLE_CPU:g} s CPU), of which "
             f"{example[1] - floor[1]:.2f} s CPU over the floor"]
    missed = [] if example[1] <= QUICK_EXAMPLE_CPU else [
        f"the quick example took {example[1]:.2f} s CPU (target {QUICK_EXAMPLE_CPU:g} s; "
        f"the floor of SymPy and numpy alone took {floor[1]:.2f} s)"]
    return "\n".join(lines), missed


def machine() -> str:
    """scale.py's machine line with the versions of torch and jax."""
    versions = []
    for module in ("torch", "jax"):
        try:
            versions.append(f"{module} {__import__(module).__version__}")
        except ImportError:
            versions.append(f"{module} not installed")
    threads = ", ".join(f"{k}={os.environ[k]}" for k in THREADS if k in os.environ)
    pinned = f" (timing in-process with {threads})" if threads else ""
    return f"{scale.machine()}, {', '.join(versions)}{pinned}"


PARTS = ("cli", "compiled", "derive", "start-up")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="the two smallest networks, widths 4 and 16, batches 1 and 64, few repeats")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                        help="stop a command after this long (default 120)")
    parser.add_argument("--sizes", nargs="+", choices=list(scale.BY_NAME))
    parser.add_argument("--formats", nargs="+", choices=FORMATS)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--budget", type=float, metavar="SECONDS",
                        help="seconds of round-robin repeats per (H, N) (default 3, --quick 0.5)")
    parser.add_argument("--repeat", type=int,
                        help="fresh processes per start-up and derive + compile figure "
                             "(default 5 and 3, --quick 3 and 1)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.sizes = args.sizes or list(scale.BY_NAME)[:2 if quick else None]
    args.formats = args.formats or list(TARGET_FORMATS if quick else FORMATS)
    args.widths, args.batches = (WIDTHS[:2], BATCHES[:2]) if quick else (WIDTHS, BATCHES)
    args.budget = args.budget or (0.5 if quick else 3.0)
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    sizes = [scale.BY_NAME[name] for name in args.sizes]
    typed = shlex.join(sys.argv[1:] if argv is None else argv)
    print(f"Measured {machine()}; `python benchmarks/speed.py {typed}`.", flush=True)
    missed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="symgrad-speed-") as folder:
        if "cli" in args.parts:
            results = cli_runs(sizes, args.formats, args.timeout, Path(folder))
            print("\n## The command: wall time (start-up included), CPU time, peak memory\n")
            print(cli_table(sizes, args.formats, results, args.timeout), flush=True)
            missed += cli_missed(sizes, args.formats, results, args.timeout)
        if "compiled" in args.parts:
            results = compiled_results(args.widths, args.batches, args.budget)
            print("\n## The compiled gradient: seconds per call of the hand-written numpy, "
                  "the others as multiples of it\n")
            print(compiled_table(results), flush=True)
            missed += compiled_missed(results)
        if "derive" in args.parts:
            print("\n## derive + compile, in a fresh process (scale.py)\n")
            print(derive_compile_table(sizes, args.repeat or (1 if args.quick else 3)), flush=True)
        if "start-up" in args.parts:
            text, late = start_up(args.repeat or (3 if args.quick else 5), args.timeout, Path(folder))
            print(f"\n## Start-up, fresh processes\n\n{text}", flush=True)
            missed += late
    print("\nTargets: " + ("all met." if not missed else "missed:\n- " + "\n- ".join(missed)))
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
