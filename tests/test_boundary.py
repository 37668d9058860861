"""The command line's error boundary and the spec reader, and a fuzzer of mutated specs.

Bad input is one line on standard error and exit 2; an unexpected exception is one line
saying it is a bug (exit 3, the traceback with --debug); no run that fails leaves a file.
The fuzzer mutates every spec in examples/ (keys deleted, renamed or given twice, values of
another type, numbers huge, negative, NaN or text, deep nesting, truncation) and runs each
through the command line: ``SYMGRAD_FUZZ_EXAMPLES`` cases (default 150), drawn with the seed
``SYMGRAD_FUZZ_SEED`` (default 13), most in-process and every tenth as a subprocess.
"""

from __future__ import annotations

import copy
import importlib
import json
import math
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from symgrad.cli.main import main
from symgrad.errors import SpecError, SymgradError
from symgrad.spec import MAX_SPEC_BYTES, MAX_SPEC_DEPTH, MAX_SPEC_NODES, load_spec, parse_spec

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
cli = importlib.import_module("symgrad.cli.main")  # the module (symgrad.cli.main is also the function)
CASE_TIMEOUT = 120
"""Seconds one fuzzed run may take before it counts as a hang (generous: a slow machine)."""


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def subprocess_run(*argv: str, timeout: float = CASE_TIMEOUT, **kwargs: Any):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if "stdout" not in kwargs:
        kwargs["capture_output"] = True
    return subprocess.run([sys.executable, "-m", "symgrad", *argv], text=True, timeout=timeout,
                          env=env, **kwargs)


def write(folder: Path, text: str, name: str = "spec.yaml") -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- the boundary -----------------------------------------------------------------------


def _raising(error: BaseException) -> Callable[..., int]:
    def run_command(args: Any) -> int:
        raise error
    return run_command


def test_an_unexpected_exception_is_one_line_saying_it_is_a_bug(capsys, monkeypatch):
    monkeypatch.setattr(cli, "_derive", _raising(TypeError("unsupported operand\nsecond line")))
    code, out, err = run(capsys, "derive", "--expr", "x**2")
    assert code == 3 and out == ""
    assert err == ("symgrad: internal error (a bug in symgrad, please report it): TypeError: "
                   "unsupported operand second line ; run with --debug for the traceback\n")


@pytest.mark.parametrize("where", [["--debug", "derive"], ["derive", "--debug"]])
def test_debug_prints_the_traceback_before_the_line(capsys, monkeypatch, where):
    monkeypatch.setattr(cli, "_derive", _raising(ZeroDivisionError("boom")))
    code, _, err = run(capsys, *where, "--expr", "x**2")
    assert code == 3
    assert err.startswith("Traceback (most recent call last):") and "ZeroDivisionError: boom" in err
    assert err.splitlines()[-1] == ("symgrad: internal error (a bug in symgrad, please report "
                                    "it): ZeroDivisionError: boom")


def _warning(args: Any) -> int:
    import numpy as np
    with np.errstate(over="warn"):
        np.exp(np.float64(1000.0))  # numpy's "overflow encountered in exp", as a plot may meet
    return 0


@pytest.mark.parametrize("where, shown", [(["derive"], False), (["--debug", "derive"], True)])
def test_a_librarys_warning_is_shown_only_with_debug(capsys, monkeypatch, where, shown):
    monkeypatch.setattr(cli, "_derive", _warning)
    code, _, err = run(capsys, *where, "--expr", "x**2")
    assert code == 0 and ("overflow encountered in exp" in err) == shown


def test_an_interrupt_is_one_word_and_exit_130(capsys, monkeypatch):
    monkeypatch.setattr(cli, "_derive", _raising(KeyboardInterrupt()))
    assert run(capsys, "derive", "--expr", "x**2") == (130, "", "symgrad: interrupted\n")


def test_bad_input_is_one_line_and_exit_2(capsys):
    code, out, err = run(capsys, "derive", "--expr", "x**2", "--wrt", "w")
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("symgrad: error: ")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_standard_output_on_a_full_disk_is_one_line():
    with open("/dev/full", "w") as full:
        done = subprocess_run("derive", "--expr", "1/2*(yhat - y)**2", stdout=full,
                              stderr=subprocess.PIPE)
    assert done.returncode == 2
    assert done.stderr == "symgrad: error: cannot write to standard output: No space left on device\n"


def test_a_closed_pipe_ends_quietly():
    reader, writer = os.pipe()
    os.close(reader)  # nobody reads: the first write meets EPIPE
    try:
        done = subprocess_run("derive", "--expr", "1/2*(yhat - y)**2", stdout=writer,
                              stderr=subprocess.PIPE)
    finally:
        os.close(writer)
    assert done.returncode == 141 and done.stderr == ""


# --- reading a spec ---------------------------------------------------------------------


@pytest.mark.parametrize("text, message", [
    ("expression: x**2\nat:\n  x: 1\nwrt: x\nat: {x: 2}\n", "duplicate key 'at' (lines 2 and 5)"),
    ("expression: x**2\nat:\n  x: 1\n  x: 2\n", "duplicate key 'x' (lines 3 and 4)"),
    ("model:\n  inputs: 2\n  layers:\n    - {units: 1, units: 2}\nloss: mse\n",
     "duplicate key 'units' (lines 4 and 4)"),
])
def test_a_key_given_twice_is_refused_with_both_lines(text, message):
    with pytest.raises(SpecError) as raised:
        parse_spec(text, "spec.yaml")
    assert str(raised.value) == f"spec.yaml: {message}"


def test_a_merge_key_is_not_a_duplicate():
    text = "at: &v {x: 1}\nexpression: x**2\n"
    assert parse_spec(text).at == {"x": 1}
    merged = parse_spec("expression: x*y\nat: {<<: {x: 1, y: 2}, y: 3}\n")
    assert merged.at == {"x": 1, "y": 3}


def _bomb(levels: int = 9, key: str = "learning_rate") -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    body = "\n".join(f"  {line}" for line in lines)
    return f"expression: x**2\nat:\n  x: 1\n{body}\n{key}: *a{levels}\n"


@pytest.mark.parametrize("key", ["learning_rate", "notation", "title"])
def test_an_alias_bomb_is_refused_naming_the_limit(key):
    with pytest.raises(SpecError) as raised:
        parse_spec(_bomb(key=key), "bomb.yaml")
    assert str(raised.value) == (f"bomb.yaml: the YAML expands to more than {MAX_SPEC_NODES:,} "
                                 f"values (a YAML alias repeated?), the most symgrad reads")


def test_an_alias_bomb_on_the_command_line_ends_quickly(tmp_path):
    """Generous bound against a hang: the bomb expands to 9^10 strings (gigabytes)."""
    done = subprocess_run("derive", write(tmp_path, _bomb()), timeout=60)
    assert done.returncode == 2 and "expands to more than" in done.stderr
    assert done.stderr.count("\n") == 1


def test_a_spec_that_contains_itself_is_refused():
    with pytest.raises(SpecError, match="contains itself"):
        parse_spec("expression: x**2\nat: &a {x: *a}\n")


def test_deep_nesting_is_refused_not_a_crash(tmp_path):
    """libyaml's composer recursed in C: 100,000 brackets killed the interpreter."""
    text = "expression: x**2\nat: {x: " + "[" * 100_000 + "]" * 100_000 + "}\n"
    done = subprocess_run("derive", write(tmp_path, text))
    assert done.returncode == 2, done.stderr
    assert done.stderr.endswith(f"lists and mappings nested more than {MAX_SPEC_DEPTH} deep "
                                f"(line 2), the most symgrad reads\n")


def test_all_unknown_keys_at_once_each_with_its_closest():
    with pytest.raises(SpecError) as raised:
        parse_spec("expression: x**2\nlerning_rate: 0.1\nfoo: 1\ndetial: full\n", "s")
    assert str(raised.value).startswith(
        "s: unknown keys 'lerning_rate' (did you mean 'learning_rate'?), 'foo', 'detial' (did you "
        "mean 'detail'?) (known: title, expression,")


@pytest.mark.parametrize("text, message", [
    ("model: [sigmoid]\nloss: mse\n", "model: model must be a mapping: {activation, bias} for "
                                       "a neuron or {inputs, layers, batch} for a network"),
    ("model: {activation: sigmoid}\nloss: 1\n", "loss: loss must be a loss's name, such as "
                                                 "squared_error; got 1"),
    ("model: {activation: sigmoid}\nloss: [mse]\n", "loss: loss must be a loss's name"),
    ("model: {activation: sigmoid}\nloss: {mse: 1}\n", "loss: loss must be a loss's name"),
    ("model: {inputs: 2, layers: 5}\nloss: mse\n", "model.layers: layers must be a non-empty list"),
    ("model: {activation: [relu]}\nloss: mse\n", "model.activation: activation must be a name"),
    ("model: {inputs: 2, layers: [{units: 1, activation: 3}]}\nloss: mse\n",
     "model.layers[0].activation: activation must be a name, such as sigmoid; got 3"),
    ("expression: x**2\nnotation: [nielsen]\n", "notation: notation must be a preset's name"),
    ("expression: x**2\nat: {x: 1}\nlearning_rate: [0.1]\n",
     "learning_rate: learning_rate must be a number; got [0.1]"),
    ("expression: x**2\nat: {x: 2001-13-45}\n", "a value YAML cannot read: month must be in 1..12"),
    ("model: {inputs: 1" + "0" * 5000 + ", layers: [{units: 1}]}\nloss: mse\n",
     "a value YAML cannot read: Exceeds the limit (4300 digits)"),
])
def test_a_value_of_the_wrong_type_is_one_line_naming_the_key(text, message):
    with pytest.raises(SpecError) as raised:
        parse_spec(text, "spec.yaml")
    assert str(raised.value).startswith(f"spec.yaml: {message}")


def test_a_huge_value_is_quoted_short():
    with pytest.raises(SpecError) as raised:
        parse_spec("expression: x**2\nat: {x: 1}\nlearning_rate: [" + "1, " * 5000 + "1]\n", "s")
    assert str(raised.value) == "s: learning_rate: learning_rate must be a number; got a list of 5001 items"


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfeexpression: x\n", "cannot read spec: not UTF-8 text (byte 0xff at offset 0)"),
    (b"", "the spec is empty: give an expression, a softmax or a model"),
    (b"# only a comment\n", "the spec is empty"),
    (b" " * (MAX_SPEC_BYTES + 1), f"the spec is larger than {MAX_SPEC_BYTES:,} bytes"),
])
def test_a_file_that_is_no_spec_is_one_line(tmp_path, content, message):
    path = tmp_path / "spec.yaml"
    path.write_bytes(content)
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    assert str(raised.value).startswith(f"{path}: {message}")


def test_a_folder_is_no_spec(tmp_path):
    with pytest.raises(SpecError, match="cannot read spec: Is a directory"):
        load_spec(tmp_path)


# --- --at merges, --max-parameters ------------------------------------------------------


def test_at_on_the_command_line_replaces_only_the_names_it_gives(capsys):
    """02_seed_neuron: yhat = sigmoid(w x), L = (yhat - y)^2 at x = 1.5, y = 1 from the spec
    and w = 0.5 from --at: dL/dw = 2 (yhat - y) yhat (1 - yhat) x, worked by hand here."""
    code, out, _ = run(capsys, "derive", str(ROOT / "examples" / "02_seed_neuron.yaml"),
                       "--at", "w=0.5", "--format", "json")
    assert code == 0
    yhat = 1 / (1 + math.exp(-0.5 * 1.5))
    assert math.isclose(json.loads(out)["gradients"]["w"],
                        2 * (yhat - 1) * yhat * (1 - yhat) * 1.5, rel_tol=1e-12)


def test_at_refuses_a_name_given_twice(capsys):
    code, _, err = run(capsys, "derive", "--expr", "x**2", "--at", "x=1,x=2")
    assert code == 2 and err == "symgrad: error: --at: 'x' is given twice\n"


NETWORK = "model: {inputs: 2, layers: [{units: 1}]}\nloss: mse\n"  # W1 (1x2) and b1: 3 parameters


def test_max_parameters_refuses_a_bigger_network(capsys, tmp_path):
    spec = write(tmp_path, NETWORK)
    code, _, err = run(capsys, "derive", spec, "--max-parameters", "2")
    assert code == 2 and err == (f"symgrad: error: {spec}: model: a network of 3 parameters is over "
                                 f"the limit of 2 (--max-parameters N or Limits(max_parameters=N) "
                                 f"raises it)\n")
    assert run(capsys, "derive", spec, "--max-parameters", "3", "--no-verify")[0] == 0


def test_max_parameters_reaches_the_derivation(capsys, tmp_path):
    wide = "model: {inputs: 2, layers: [{units: 700}, {units: 1}]}\nloss: mse\n"  # 2,801
    spec = write(tmp_path, wide)
    code, _, err = run(capsys, "derive", spec, "--no-verify")
    assert code == 2 and "2,801 parameters is over the limit of 2,000" in err
    code, _, err = run(capsys, "derive", spec, "--no-verify", "--max-parameters", "3000",
                       "--max-nodes", "5")
    assert code == 2 and "over the limit of 5 (--max-nodes N" in err


@pytest.mark.parametrize("model, fragment", [
    ("{inputs: 100000000000000000000, layers: [{units: 1}]}",
     "100,000,000,000,000,000,000 input values is over the limit of 1,000"),
    ("{inputs: 2, layers: [{units: 1}], batch: 100000000}",
     "200,000,000 input values is over the limit of 1,000"),
])
def test_a_network_beyond_the_limits_is_refused_before_it_is_built(model, fragment):
    with pytest.raises(SymgradError, match=fragment):
        parse_spec(f"model: {model}\nloss: mse\n")


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_max_parameters_must_be_a_whole_number(capsys, value):
    code, _, err = run(capsys, "derive", "--expr", "x", "--max-parameters", value)
    assert code == 2 and err.startswith("symgrad: error: argument --max-parameters: expected a whole")


# --- the fuzzer -------------------------------------------------------------------------


WEIRD = [10**20, -1, 0, -0.5, float("nan"), float("inf"), -1e308, 1e-320, "abc", "", "x**",
         True, None, [], {}, [1, [2]], {"a": 1}, "sigmoid", "1/0", "zoo", 2**64, 1e5, 10**6]


def _paths(data: Any, path: tuple = ()) -> list[tuple]:
    """Every path to a node of ``data`` (keys and indexes), the root's the empty one."""
    found = [path]
    children = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, child in children:
        found += _paths(child, path + (key,))
    return found


def _at(data: Any, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


def _mutate_data(data: Any, rng: random.Random) -> tuple[str, Any]:
    """One change to the spec's data at a random node."""
    data = copy.deepcopy(data)
    path = rng.choice(_paths(data)[1:])
    parent, key = _at(data, path[:-1]), path[-1]
    kind = rng.choice(["delete", "retype", "number", "number", "number", "rename", "nest"])
    if kind == "delete":
        del parent[key]
    elif kind == "retype":
        parent[key] = rng.choice([[parent[key]], {"v": parent[key]}, str(parent[key]), 7, None])
    elif kind == "number":
        numbers = [p for p in _paths(data) if isinstance(_at(data, p), (int, float))] or [path]
        path = rng.choice(numbers)
        _at(data, path[:-1])[path[-1]] = rng.choice(WEIRD)
    elif kind == "rename" and isinstance(parent, dict):
        new = rng.choice([key[:-1], key + "s", key.upper(), "foo"]) if isinstance(key, str) else "foo"
        parent[new] = parent.pop(key)
    else:
        value = parent[key]
        for _ in range(rng.choice([3, 20, 60])):
            value = [value]
        parent[key] = value
    return kind, data


def _mutate_text(text: str, rng: random.Random) -> tuple[str, str]:
    """One change to the spec's text itself."""
    lines = text.splitlines(keepends=True)
    kind = rng.choice(["truncate", "duplicate", "bomb", "garbage"])
    if kind == "truncate":
        return kind, text[:rng.randrange(len(text))]
    if kind == "duplicate":
        keyed = [i for i, line in enumerate(lines) if ":" in line and not line.lstrip().startswith("#")]
        i = rng.choice(keyed)
        return kind, "".join(lines[:i + 1] + [lines[i]] + lines[i + 1:])
    if kind == "bomb":
        key = rng.choice(["learning_rate", "notation", "title", "wrt"])
        kept = "".join(line for line in lines if not line.startswith(f"{key}:"))
        bomb = _bomb(8, key).split("at:\n  x: 1\n", 1)[1]
        return kind, kept + "bomb_anchors:\n" + bomb.replace(f"{key}: *a8", "") + f"{key}: *a8\n"
    position = rng.randrange(len(text))
    return kind, text[:position] + rng.choice(["\t", "{", "]", ": :", "&x", "*y", "\x00", "---\n"]) + text[position:]


AT_TEXTS = ["1e999", "-1e308", "nan", "[1, 2, 3]", "[[1]]", "{a: 1}", "abc", "", "[", "1" * 5000,
            "&a [*a]", "0x10", "1_000", "~", "[1, [2, [3]]]"]


def _cases(count: int, seed: int) -> list[tuple[str, str, str, bool, tuple[str, ...]]]:
    """(id, spec text, output suffix, in a subprocess, more arguments) for each fuzzed run:
    one in six also gives a value of the spec's ``at`` on the command line (``--at``)."""
    rng = random.Random(seed)
    cases = []
    for n in range(count):
        example = EXAMPLES[n % len(EXAMPLES)]
        text = example.read_text(encoding="utf-8")
        if rng.random() < 0.7:
            kind, data = _mutate_data(yaml.safe_load(text), rng)
            try:
                text = yaml.safe_dump(data, sort_keys=False)
            except (ValueError, OverflowError):
                continue
        else:
            kind, text = _mutate_text(text, rng)
        suffix = rng.choice([".md", ".md", ".json", ".tex", ".html", ".ipynb"])
        names = list((yaml.safe_load(example.read_text(encoding="utf-8")).get("at") or {"x": 0}))
        more = ("--at", f"{rng.choice(names)}={rng.choice(AT_TEXTS)}") if rng.random() < 1 / 6 else ()
        cases.append((f"{n}-{example.stem}-{kind}{'-at' if more else ''}", text, suffix, n % 10 == 9, more))
    return cases


CASES = _cases(int(os.environ.get("SYMGRAD_FUZZ_EXAMPLES", "150")),
               int(os.environ.get("SYMGRAD_FUZZ_SEED", "13")))


class _Overtime(BaseException):
    """Raised by the alarm in an in-process run past ``CASE_TIMEOUT`` (not an Exception:
    the command line's boundary must not catch it)."""


def _in_process(capsys, argv: list[str]) -> tuple[int, str]:
    def overtime(*_: Any) -> None:
        raise _Overtime()
    previous = signal.signal(signal.SIGALRM, overtime)
    signal.alarm(CASE_TIMEOUT)
    try:
        code = main(argv)
    except _Overtime:
        pytest.fail(f"over {CASE_TIMEOUT} s: symgrad {' '.join(argv)}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, capsys.readouterr().err


@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="the in-process time bound needs SIGALRM")
@pytest.mark.parametrize("text, suffix, separate, more", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_mutated_spec_gives_a_document_or_one_line(capsys, tmp_path, text, suffix, separate, more):
    spec = write(tmp_path, text)
    output = tmp_path / f"out{suffix}"
    argv = ["derive", spec, "-o", str(output), *more]
    if separate:
        try:
            done = subprocess_run(*argv)
        except subprocess.TimeoutExpired:
            pytest.fail(f"over {CASE_TIMEOUT} s: symgrad {' '.join(argv)}")
        code, err = done.returncode, done.stderr
    else:
        code, err = _in_process(capsys, argv)
    assert code in (0, 2), f"exit {code}: {err[-2000:]}"
    assert "Traceback" not in err, err[-2000:]
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("symgrad: error: "), err
        assert [p.name for p in tmp_path.iterdir()] == ["spec.yaml"], "a failed run left files"
    else:
        assert output.is_file() and output.stat().st_size > 0
        assert all(line.startswith("symgrad: warning: ") for line in err.splitlines()), err


@pytest.mark.parametrize("argv, close", [(["derivee", "x.yaml"], "derive"),
                                         (["derive", "--expr", "w", "--format", "markdwn"], "markdown")])
def test_a_misspelt_command_or_choice_gets_the_closest(capsys, argv, close):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.endswith(f"did you mean '{close}'?")
