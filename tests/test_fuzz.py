"""A fuzzer in the suite: random and mutated expressions and specs, as a careless or hostile
user would type them, through the Python API and the command line.

Whatever the input, the API either returns or raises a ``SymgradError``, and the command line
exits 0 or 2; on 2 it writes one line to stderr and leaves no file behind; no input runs past
``BOUND`` seconds. Hypothesis draws the inputs with a fixed seed (``derandomize``), so a run
is the same on every machine; ``SYMGRAD_FUZZ_EXAMPLES`` sets how many inputs each test draws
(a few hundred in all by default; ``SYMGRAD_FUZZ_EXAMPLES=2000`` for a long hunt, another
seed with ``SYMGRAD_FUZZ_SEED``, and
``SYMGRAD_FUZZ_COLLECT=FILE`` to log every failure to FILE rather than stop at the first).
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import signal
import tempfile
import traceback
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import symgrad
from symgrad.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SPECS = sorted(EXAMPLES.glob("*.yaml"))
BOUND = 30
"""Seconds any one input may take, through any path (a generous bound against hangs: work
beyond symgrad's limits is refused up front, well before this)."""
COUNT = int(os.environ.get("SYMGRAD_FUZZ_EXAMPLES", "80"))

SEED = os.environ.get("SYMGRAD_FUZZ_SEED")
"""Another fixed seed than the derandomized one (``SYMGRAD_FUZZ_SEED=7``), for a hunt that
draws other inputs."""


def FUZZ(test):
    """``test`` run by hypothesis on ``COUNT`` inputs, with a fixed seed."""
    test = settings(max_examples=COUNT, derandomize=SEED is None, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))(test)
    return test if SEED is None else seed(int(SEED))(test)

FORMATS = {"markdown": ".md", "latex": ".tex", "latex-fragment": ".tex", "beamer": ".tex",
           "html": ".html", "notebook": ".ipynb", "json": ".json"}


class OverTime(BaseException):
    """Raised by the alarm in an input that ran past ``BOUND`` (a BaseException, so that no
    ``except Exception`` in symgrad can swallow it)."""


@contextlib.contextmanager
def bounded(what: str):
    """Fail with ``what`` if the block runs past ``BOUND`` seconds."""
    def ring(signum, frame):
        raise OverTime(f"over {BOUND} s: {what}")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, BOUND)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


COLLECT = os.environ.get("SYMGRAD_FUZZ_COLLECT")
"""A file to append each failure to, instead of failing at the first: a long hunt counts
every kind of failure (the log is the result; the tests pass)."""


def failed(message: str, details: str = "") -> None:
    """Fail the test with ``message``, or with ``SYMGRAD_FUZZ_COLLECT`` append it to that file."""
    if not COLLECT:
        pytest.fail(f"{message}\n{details}", pytrace=False)
    with open(COLLECT, "a", encoding="utf-8") as log:
        log.write(message.replace("\n", " | ")[:2000] + "\n")


# --- expressions --------------------------------------------------------------------------

NAMES = ["w", "x", "y", "z", "b", "yhat", "w1", "x_2", "self", "np", "lambda_", "L", "E",
         "sigmod", "u", "s", "v"]
NUMBERS = ["0", "1", "2", "0.5", "-3", "1e-300", "1e308", "1e309", "1e-400", "10**1000",
           "12345678901234567890123456789", "9" * 400, "2**2**2**2**2", "10**10", "0.0", "1/0",
           "nan", "inf", "zoo", "pi", "E", "3.", ".5", "1_000", "0x10", "1j"]
FUNCTIONS = ["sigmoid", "tanh", "relu", "softplus", "log", "exp", "sqrt", "abs", "sin", "cos",
             "leaky_relu", "max", "min", "softmax", "f", "sigmod", "eval", "__import__",
             "exec", "open"]
SEEDS = ["1/2*(yhat - y)**2", "(sigmoid(w*x) - y)**2", "-(y*log(sigmoid(w*x + b)) + "
         "(1 - y)*log(1 - sigmoid(w*x + b)))", "log(1 + exp(w*x))", "softplus(w*x + b)**2",
         "max(w, x)*min(w, x)", "tanh(w*x)**2 + relu(w - b)", "leaky_relu(w*x, 0.1)",
         "(w*x - y)**2/(1 + w**2)", "sqrt(w**2 + 1)*log(w)"]
ALPHABET = "wxyzb()+-*/.,^ 0123456789eE_[]{}'\"\\$#!@;:<>=|&%~`\n\tsigmoidtanhlog"

PLAIN = ["w", "x", "y", "b", "0.5", "2", "1", "3", "0.1"]

leaves = st.one_of(st.sampled_from(PLAIN), st.sampled_from(PLAIN), st.sampled_from(NAMES),
                   st.sampled_from(NUMBERS))


def _call(children):
    function = st.sampled_from(FUNCTIONS)
    known = st.sampled_from(FUNCTIONS[:12])
    return st.one_of(
        st.tuples(known, children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(function, st.lists(children, min_size=0, max_size=3))
        .map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        children.map(lambda c: f"-{c}"),
    )


grammar = st.recursive(leaves, _call, max_leaves=12)


@st.composite
def mutated(draw, seeds: list[str]) -> str:
    """A seed with a few characters inserted, deleted or replaced."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 4]))):
        where = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "repeat"]))
        char = draw(st.sampled_from(ALPHABET))
        if kind == "insert":
            text = text[:where] + char + text[where:]
        elif kind == "delete":
            text = text[:where] + text[where + 1:]
        elif kind == "replace":
            text = text[:where] + char + text[where + 1:]
        else:
            text = text[:where] + text[where:where + 8] * draw(st.integers(2, 60)) + text[where:]
    return text


deep = st.one_of(st.integers(1, 300).map(lambda n: "(" * n + "w" + ")" * n),
                st.integers(1, 300).map(lambda n: "sigmoid(" * n + "w" + ")" * n),
                st.integers(1, 200).map(lambda n: "*".join(["w"] * n)))
expressions = st.one_of(grammar, grammar, grammar, grammar, st.sampled_from(SEEDS),
                        st.sampled_from(SEEDS), mutated(SEEDS), st.text(ALPHABET, max_size=40),
                        deep)
VALUES = [0.0, 0.8, -3.0, 1.0, 40.0, -800.0, 1e308, -1e-300, 1e4]


def _names(expression: str) -> list[str]:
    """The names of ``expression`` among the fuzzer's, to give values and a ``wrt`` to."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", expression))
    return [n for n in NAMES if n in words] or ["w"]


@st.composite
def requests(draw):
    """An expression with a ``wrt``, values (sometimes missing or odd) and a learning rate."""
    expression = draw(expressions)
    names = _names(expression)
    wrt = draw(st.one_of(st.sampled_from(names), st.sampled_from(names), st.just("all"),
                         st.just(names[:2]), st.sampled_from(["nosuch", 5, None, ["w", 3], ""])))
    values = st.fixed_dictionaries({n: st.sampled_from(VALUES) for n in names})
    at = draw(st.one_of(values, values, values, st.none(), st.sampled_from(
        [{"w": "abc"}, {"w": [1, 2]}, 5, {"w": float("nan")}, {}])))
    odd = draw(st.integers(0, 5)) == 5  # hypothesis favours 0: the odd rate is the rare one
    rate = draw(st.sampled_from([-1.0, "x", float("inf"), 0, 1e308, True] if odd else
                                [None, None, None, 0.1, 0.5]))
    return expression, wrt, at, rate


def _api(expression, wrt, at, rate, fmt) -> None:
    """derive, render and compile ``expression``; a ``SymgradError`` is a fine answer."""
    try:
        d = symgrad.derive(expression, wrt=wrt, at=at, learning_rate=rate)
        symgrad.render(d, fmt)
        if isinstance(at, dict) and at:
            f = symgrad.compile(d)
            f(**{k: v for k, v in at.items() if k in f.arguments})
    except symgrad.SymgradError as error:
        assert "\n" not in str(error), f"a message of more than one line: {error!r}"


@FUZZ
@given(requests(), st.sampled_from(list(FORMATS)))
def test_api_takes_any_expression(request, fmt):
    expression, wrt, at, rate = request
    call = f"derive({expression!r}, wrt={wrt!r}, at={at!r}, learning_rate={rate!r}), {fmt}"
    try:
        with bounded(call):
            _api(expression, wrt, at, rate, fmt)
    except (Exception, OverTime) as error:
        failed(f"{call}: {type(error).__name__}: {error}", traceback.format_exc())


# --- the command line ---------------------------------------------------------------------

def _run(argv: list[str], folder: Path, out: Path, spec: str = "") -> None:
    """``symgrad argv`` in-process: exit 0 with ``out`` written, or exit 2 with one line on
    stderr and nothing new in ``folder``."""
    before = set(folder.rglob("*"))
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), \
                bounded(f"symgrad {argv}"):
            try:
                code = main(argv)
            except SystemExit as exit_:
                code = exit_.code
    except (Exception, OverTime) as error:
        failed(f"symgrad {argv}: {type(error).__name__}: {error} {spec!r}", traceback.format_exc())
        return
    err = stderr.getvalue()
    if spec:
        argv = [*argv, f"(the spec: {spec!r})"]
    left = sorted(str(p.relative_to(folder)) for p in set(folder.rglob("*")) - before)
    if "Traceback" in err or code not in (0, 2):
        failed(f"symgrad {argv} exited {code}: {err.strip()[-600:]}")
    elif code == 0 and not (out.is_file() and out.stat().st_size > 0):
        failed(f"symgrad {argv} exited 0 but wrote no {out.name}")
    elif code == 2 and len(err.strip().splitlines()) != 1:
        failed(f"symgrad {argv}: exit 2 with stderr of {len(err.strip().splitlines())} lines: {err}")
    elif code == 2 and left:
        failed(f"symgrad {argv} failed but left {left}")


def _at_option(at) -> list[str]:
    if not isinstance(at, dict) or not at:
        return []
    return ["--at", ",".join(f"{k}={v}" for k, v in at.items())]


@FUZZ
@given(requests(), st.sampled_from(list(FORMATS)))
def test_cli_takes_any_expression(request, fmt):
    expression, wrt, at, rate = request
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        out = folder / f"doc{FORMATS[fmt]}"
        argv = ["derive", "--expr", expression, "--format", fmt, "-o", str(out), *_at_option(at)]
        if isinstance(wrt, str):
            argv += ["--wrt", wrt]
        if rate is not None:
            argv += ["--learning-rate", str(rate)]
        _run(argv, folder, out)


# --- spec files ---------------------------------------------------------------------------

ODD = [None, "", "sigmod", -1, 0, 10**20, 1e309, float("nan"), [], {}, [[1, 2], [3]], True,
       "1e999", "x" * 200, {"units": 10**6}, [0.1] * 2000, "{{ 1 }}", "../../etc/passwd"]


def _paths(data, prefix=()):
    """Every (path, value) in a loaded spec."""
    yield prefix, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _paths(value, prefix + (index,))


def _set(data, path, value):
    """``data`` with the item at ``path`` replaced by ``value`` (``...`` deletes it)."""
    if not path:
        return value
    target = data
    for step in path[:-1]:
        target = target[step]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@st.composite
def specs(draw) -> str:
    """The text of an example's spec, mutated in its structure or in its characters."""
    source = draw(st.sampled_from(SPECS)).read_text(encoding="utf-8")
    kind = draw(st.sampled_from(["value", "value", "delete", "rename", "text", "lines"]))
    rng = random.Random(draw(st.integers(0, 2**32)))
    if kind in ("text", "lines"):
        lines = source.splitlines(keepends=True)
        for _ in range(rng.randint(1, 3)):
            where = rng.randrange(len(lines))
            if kind == "lines":
                choice = rng.choice(["drop", "double", "indent", "cut"])
                if choice == "drop":
                    del lines[where]
                elif choice == "double":
                    lines.insert(where, lines[where])
                elif choice == "indent":
                    lines[where] = "  " + lines[where]
                else:
                    lines = lines[:where] + [lines[where][:rng.randrange(len(lines[where]) + 1)]]
                lines = lines or ["{}\n"]
            else:
                line = lines[where]
                at = rng.randrange(len(line) + 1)
                lines[where] = line[:at] + rng.choice(ALPHABET + "&*!|>-?") + line[at:]
        return "".join(lines)
    data = yaml.safe_load(source)
    paths = [p for p, _ in _paths(data) if p]
    path = rng.choice(paths)
    if kind == "value":
        data = _set(data, path, rng.choice(ODD))
    elif kind == "delete":
        data = _set(data, path, ...)
    elif isinstance(path[-1], str):
        target = data
        for step in path[:-1]:
            target = target[step]
        target[path[-1][:-1] + rng.choice("sxe_")] = target.pop(path[-1])
    return yaml.safe_dump(data, sort_keys=False)


@FUZZ
@given(specs(), st.sampled_from(list(FORMATS)))
def test_cli_takes_any_spec(text, fmt):
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        spec = folder / "spec.yaml"
        spec.write_text(text, encoding="utf-8")
        out = folder / f"doc{FORMATS[fmt]}"
        _run(["derive", str(spec), "--format", fmt, "-o", str(out)], folder, out, text)
