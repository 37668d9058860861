"""Many documents at once: ``--jobs N`` and any executor give the serial run's bytes, errors
and warnings; and a quick derive does not load what it does not use."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from symgrad.cli.gallery import gallery_documents
from symgrad.cli.main import main
from symgrad.spec import parse_spec
from symgrad.teaching.exercises import draw_variant, exercises, load_exercises
from symgrad.teaching.sheets import render_sheet

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SHEET_SPEC = EXAMPLES / "exercises" / "15_neuron_exercises.yaml"
NEURON = parse_spec("model: {activation: sigmoid, bias: true}\nloss: squared_error\n"
                    "wrt: [w, b]\nlearning_rate: 0.5\n")
TANH_CROSS_ENTROPY = "model: {activation: tanh}\nloss: binary_cross_entropy\nat: {x: 1, w: 1, b: 0, y: 1}\n"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def small_gallery(tmp_path: Path, *stems: str) -> Path:
    """A folder of a few of the gallery's examples and its exercise spec."""
    examples = tmp_path / "examples"
    (examples / "exercises").mkdir(parents=True)
    for stem in stems:
        shutil.copy(EXAMPLES / f"{stem}.yaml", examples)
    shutil.copy(SHEET_SPEC, examples / "exercises")
    return examples


class Counting(ThreadPoolExecutor):
    """A thread pool that counts the jobs handed to it."""

    submitted = 0

    def submit(self, *args, **kwargs):
        self.submitted += 1
        return super().submit(*args, **kwargs)


def test_a_parallel_gallery_writes_the_serial_bytes(capsys, tmp_path):
    examples = small_gallery(tmp_path, "01_seed_mse", "02_seed_neuron", "15_neuron_cross_entropy")
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    one = run(capsys, "gallery", "--examples", str(examples), "--output", str(serial))
    two = run(capsys, "gallery", "--examples", str(examples), "--output", str(parallel), "--jobs", "2")
    assert one[0] == two[0] == 0 and one[1].replace("serial", "parallel") == two[1]
    written = files(serial)
    assert any(name.endswith(".pdf") for name in written) and "exercises/15_neuron_exercises.key.tex" in written
    assert files(parallel) == written


def test_a_parallel_sheet_and_key_are_the_serial_bytes(capsys, tmp_path):
    outputs = []
    for jobs in ("1", "2"):
        sheet = tmp_path / f"sheet{jobs}.tex"
        code, out, err = run(capsys, "exercises", str(SHEET_SPEC), "--count", "6", "-o", str(sheet),
                             "--jobs", jobs)
        assert code == 0 and err == ""
        outputs.append((sheet.read_bytes(), sheet.with_name(f"sheet{jobs}.key.tex").read_bytes()))
    assert outputs[0] == outputs[1]
    assert outputs[0][1].count(b"Problem") >= 6


def test_any_executor_draws_the_same_sheet():
    spec, settings = load_exercises(SHEET_SPEC)
    args = (spec, 5, 3, settings.activations, settings.losses)
    serial = exercises(*args)
    with Counting(max_workers=3) as pool:
        pooled = exercises(*args, executor=pool)
    assert pool.submitted == 5  # one job per variant
    assert [p.values for p in pooled.problems] == [p.values for p in serial.problems]
    for key in (False, True):
        assert render_sheet(pooled, "markdown", key=key) == render_sheet(serial, "markdown", key=key)


def test_a_draw_leaves_its_derivation_behind_when_it_leaves_the_process():
    """SymPy expressions do not pickle unchanged, so a worker sends back only the numbers."""
    draw = draw_variant(NEURON.graph, NEURON, "0:1", frozenset())
    back = pickle.loads(pickle.dumps(draw))
    assert draw.derivation is not None and draw.derivation.worked.given
    assert back.values == draw.values and back.derivation is None


def test_the_variants_do_not_depend_on_how_many_are_asked_for():
    """Each variant has its own random stream: a longer sheet begins with the shorter one."""
    short, long = exercises(NEURON, 3, 4), exercises(NEURON, 6, 4)
    assert [p.values for p in long.problems[:3]] == [p.values for p in short.problems]
    assert len({repr(p.values) for p in long.problems}) == 6


def test_a_dask_cluster_runs_the_gallery_and_a_sheet(tmp_path):
    distributed = pytest.importorskip("dask.distributed", reason="dask[distributed] is not installed")
    examples = tmp_path / "examples"
    examples.mkdir()
    shutil.copy(EXAMPLES / "01_seed_mse.yaml", examples)
    shutil.copy(EXAMPLES / "06_sigmoid.yaml", examples)
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1,
                            dashboard_address=None) as client:
        executor = client.get_executor()
        documents = gallery_documents(examples, executor=executor)
        sheet = exercises(NEURON, 4, 8, executor=executor)
    assert documents == gallery_documents(examples)
    assert render_sheet(sheet, "latex", key=True) == render_sheet(exercises(NEURON, 4, 8), "latex", key=True)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_failing_spec_fails_alike_and_writes_nothing(capsys, tmp_path, jobs):
    examples = tmp_path / "examples"
    examples.mkdir()
    shutil.copy(EXAMPLES / "01_seed_mse.yaml", examples)
    (examples / "02_bad.yaml").write_text("expression: (w*x - y)**2\nwrt: v\n", encoding="utf-8")
    shutil.copy(EXAMPLES / "06_sigmoid.yaml", examples / "03_good.yaml")
    output = tmp_path / "output"
    code, out, err = run(capsys, "gallery", "--examples", str(examples), "--output", str(output),
                         "--jobs", jobs)
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"symgrad: error: {examples / '02_bad.yaml'}: ")
    assert not output.exists()


def test_the_same_error_line_with_any_number_of_jobs(capsys, tmp_path):
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "bad.yaml").write_text("expression: (w*x - y)**2\nwrt: v\n", encoding="utf-8")
    lines = {run(capsys, "gallery", "--examples", str(examples), "--output", str(tmp_path / "o"),
                 "--jobs", jobs)[2] for jobs in ("1", "2")}
    assert len(lines) == 1


def test_warnings_from_the_workers_are_printed_as_a_serial_run_prints_them(capsys, tmp_path):
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "a_tanh.yaml").write_text(TANH_CROSS_ENTROPY, encoding="utf-8")
    shutil.copy(EXAMPLES / "01_seed_mse.yaml", examples / "b_mse.yaml")
    errs = []
    for jobs in ("1", "2"):
        code, _, err = run(capsys, "gallery", "--examples", str(examples), "--output",
                           str(tmp_path / f"out{jobs}"), "--no-verify", "--jobs", jobs)
        assert code == 0
        errs.append(err)
    (line,) = errs[0].splitlines()
    assert line.startswith("symgrad: warning:") and "tanh, not sigmoid" in line
    assert errs[1] == errs[0]


@pytest.mark.parametrize("command", [["gallery"], ["exercises", str(SHEET_SPEC)]])
@pytest.mark.parametrize("jobs", ["-1", "x", "1.5", "10000", ""])
def test_bad_jobs_fail_with_one_line(capsys, tmp_path, command, jobs):
    code, out, err = run(capsys, *command, "--jobs", jobs, "-o" if command[0] == "exercises" else "--output",
                         str(tmp_path / "out.md"))
    assert code == 2 and out == "" and err.count("\n") == 1 and "--jobs" in err, err
    assert not any(tmp_path.iterdir())


def test_jobs_auto_is_one_per_cpu(capsys, tmp_path):
    assert run(capsys, "exercises", str(SHEET_SPEC), "--count", "1", "--jobs", "auto",
               "-o", str(tmp_path / "s.md"))[0] == 0


def test_a_quick_json_derivation_does_not_load_matplotlib():
    """Start-up: matplotlib (a fifth of a second to import) loads only to draw a picture."""
    code = ("import sys, symgrad\n"
            "d = symgrad.derive('1/2*(yhat - y)**2', wrt='yhat', at={'yhat': 0.8, 'y': 1.0}, verify=True)\n"
            "symgrad.render(d, 'json'); symgrad.render(d, 'markdown')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'nbformat')))\n")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": ""}).stdout
    assert loaded.strip() == "[]"
