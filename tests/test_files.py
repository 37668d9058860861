"""The command line's files are safe to write into someone else's folder (symgrad.cli.files):
never through a planted symbolic link, never over the spec, straight into a device or a
pipe, with the mode a file had (else the umask's), all of a run's files or none of them;
and the gallery leaves alone the plots of a matplotlib other than the pinned one."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import symgrad.cli.files as files
from symgrad.cli import gallery
from symgrad.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
NEURON = ROOT / "examples" / "02_seed_neuron.yaml"  # a spec whose documents show pictures
EXERCISE = ROOT / "examples" / "exercises" / "15_neuron_exercises.yaml"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding the neuron's spec as ``s.yaml``, made the current folder."""
    shutil.copy(NEURON, tmp_path / "s.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def everything(folder: Path) -> set[str]:
    """Every file, link and folder under ``folder``, hidden ones too, relative to it."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def derive(*args: str) -> int:
    return main(["derive", "s.yaml", "--no-verify", *args])


# --- 1. never through a symbolic link -------------------------------------------------------

def test_a_link_planted_in_katex_is_replaced_and_its_target_untouched(folder: Path) -> None:
    victim = folder / "victim"
    victim.write_text("precious")
    (folder / "katex").mkdir()
    (folder / "katex" / "katex.min.js").symlink_to(victim)
    assert derive("-o", "page.html") == 0
    assert victim.read_text() == "precious"
    js = folder / "katex" / "katex.min.js"
    assert not js.is_symlink() and js.read_bytes() == (files.KATEX_DIR / "katex.min.js").read_bytes()
    assert files.stale_katex(folder) == []


def test_links_at_the_document_and_its_pictures_are_replaced(folder: Path) -> None:
    victims = {name: folder / f"victim-{name}" for name in ("s.md", "s.graph.svg", "s.tangent.svg")}
    for name, victim in victims.items():
        victim.write_text("precious")
        (folder / name).symlink_to(victim)
    assert derive("-o", "s.md") == 0
    for name, victim in victims.items():
        assert victim.read_text() == "precious"
        assert not (folder / name).is_symlink() and (folder / name).stat().st_size > 100


def test_a_katex_folder_that_is_a_link_is_refused(folder: Path, capsys: pytest.CaptureFixture) -> None:
    elsewhere = folder / "elsewhere"
    elsewhere.mkdir()
    (folder / "out").mkdir()
    (folder / "out" / "katex").symlink_to(elsewhere)
    before = everything(folder)
    assert derive("-o", "out/page.html") == 2
    err = capsys.readouterr().err
    assert "katex is a symbolic link" in err and err.count("\n") == 1
    assert everything(folder) == before and list(elsewhere.iterdir()) == []


# --- 2. never over the spec ----------------------------------------------------------------

@pytest.mark.parametrize("output", ["s.yaml", "link.yaml", "hard.yaml", "./sub/../s.yaml"])
def test_derive_never_writes_over_its_spec(folder: Path, output: str,
                                           capsys: pytest.CaptureFixture) -> None:
    (folder / "link.yaml").symlink_to(folder / "s.yaml")
    os.link(folder / "s.yaml", folder / "hard.yaml")
    (folder / "sub").mkdir()
    before = everything(folder)
    assert derive("-o", output) == 2
    err = capsys.readouterr().err
    assert err.startswith("symgrad: error: ") and "is the spec" in err and err.count("\n") == 1
    assert (folder / "s.yaml").read_bytes() == NEURON.read_bytes()
    assert everything(folder) == before and (folder / "link.yaml").is_symlink()


def exercises(folder: Path, spec: str, *args: str) -> int:
    shutil.copy(EXERCISE, folder / spec)
    return main(["exercises", spec, "--count", "1", "--no-verify", *args])


@pytest.mark.parametrize("spec, args", [("e.yaml", ["--key", "e.yaml"]), ("e.yaml", ["-o", "e.yaml",
                         "--format", "markdown"]), ("e.md", []), ("e.key.md", ["-o", "e.md"])])
def test_exercises_never_write_over_their_spec(folder: Path, spec: str, args: list[str],
                                               capsys: pytest.CaptureFixture) -> None:
    """``exercises e.md``: the default sheet is ``e.md``, the spec itself; with ``-o e.md``
    the default key is ``e.key.md``."""
    assert exercises(folder, spec, *args) == 2
    err = capsys.readouterr().err
    assert "is the spec" in err and err.count("\n") == 1
    assert (folder / spec).read_bytes() == EXERCISE.read_bytes()
    assert everything(folder) == {"s.yaml", spec}


# --- 3. devices and pipes --------------------------------------------------------------------

def test_a_link_to_a_device_is_written_through_and_stays_a_link(folder: Path) -> None:
    (folder / "null").symlink_to(os.devnull)
    assert derive("-o", "null") == 0
    assert (folder / "null").is_symlink() and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert everything(folder) == {"s.yaml", "null"}  # no pictures beside a device


def test_a_pipe_gets_the_document_and_stays_a_pipe(folder: Path) -> None:
    os.mkfifo(folder / "pipe")
    read: list[bytes] = []
    reader = threading.Thread(target=lambda: read.append((folder / "pipe").read_bytes()))
    reader.start()
    assert derive("-o", "pipe", "--format", "markdown") == 0
    reader.join(timeout=60)
    assert stat.S_ISFIFO(os.lstat(folder / "pipe").st_mode)
    assert read and read[0].startswith(b"# The chain rule through one neuron")
    assert everything(folder) == {"s.yaml", "pipe"}


def test_a_full_device_is_one_line_and_exit_2(folder: Path, capsys: pytest.CaptureFixture) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    (folder / "full").symlink_to("/dev/full")
    assert derive("-o", "full") == 2
    assert capsys.readouterr().err == "symgrad: error: cannot write full: No space left on device\n"
    assert everything(folder) == {"s.yaml", "full"}


def test_a_link_to_standard_output_writes_there_and_stays_a_link(folder: Path) -> None:
    """Like ``-o /dev/stdout`` with standard output sent to a file: the file gets the
    document, and the link (``/dev/stdout``'s stand-in) is not replaced."""
    (folder / "stdout").symlink_to("/proc/self/fd/1")
    with open(folder / "captured", "wb") as captured:
        done = subprocess.run([sys.executable, "-m", "symgrad", "derive", "s.yaml", "--no-verify",
                               "-o", "stdout"], stdout=captured, env=ENV, timeout=300)
    assert done.returncode == 0 and (folder / "stdout").is_symlink()
    assert (folder / "captured").read_bytes().startswith(b"# The chain rule through one neuron")
    assert everything(folder) == {"s.yaml", "stdout", "captured"}


# --- 4. modes ----------------------------------------------------------------------------------

def test_an_existing_file_keeps_its_mode_and_a_new_one_gets_the_umasks(folder: Path) -> None:
    (folder / "s.md").write_text("old")
    os.chmod(folder / "s.md", 0o604)
    mask = os.umask(0o027)
    try:
        assert derive("-o", "s.md") == 0
        assert derive("-o", "page.html") == 0
    finally:
        os.umask(mask)
    assert stat.S_IMODE(os.stat(folder / "s.md").st_mode) == 0o604
    new = ["page.html", "s.graph.svg", "s.tangent.svg", "page.tangent.svg", "katex/katex.min.js"]
    for name in new:
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o640, name


# --- 5. all of a run's files, or none ---------------------------------------------------------

def test_an_output_that_is_a_folder_leaves_nothing(folder: Path, capsys: pytest.CaptureFixture) -> None:
    (folder / "out.md").mkdir()
    assert derive("-o", "out.md") == 2
    assert capsys.readouterr().err == "symgrad: error: cannot write out.md: Is a directory\n"
    assert everything(folder) == {"s.yaml", "out.md"}


@pytest.mark.parametrize("failing", range(1, 5))  # the graph, the two plots, the document
def test_a_full_disk_during_any_write_leaves_nothing(folder: Path, failing: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = files._write_all

    def half_then_full(handle: int, data: bytes) -> None:
        calls.append(1)
        if len(calls) == failing:
            real(handle, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(handle, data)

    monkeypatch.setattr(files, "_write_all", half_then_full)
    (folder / "out").mkdir()
    assert derive("-o", "out/new/s.md") == 2
    assert everything(folder) == {"s.yaml", "out"}  # the folder it made, gone too


@pytest.mark.parametrize("failing", range(1, 5))
def test_a_failed_rename_undoes_the_renames_before_it(folder: Path, failing: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = os.replace

    def full(source: str, target: str) -> None:
        calls.append(1)
        if len(calls) == failing:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(source, target)

    monkeypatch.setattr(os, "replace", full)
    assert derive("-o", "s.md") == 2
    assert everything(folder) == {"s.yaml"}


def test_ctrl_c_during_a_write_leaves_nothing(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(handle: int, data: bytes) -> None:
        os.write(handle, data[:10])
        raise KeyboardInterrupt

    monkeypatch.setattr(files, "_write_all", interrupted)
    try:
        derive("-o", "page.html")
    except KeyboardInterrupt:
        pass  # main may report it instead: either way, no file
    assert everything(folder) == {"s.yaml"}


def test_a_file_size_limit_is_one_line_and_leaves_nothing(folder: Path) -> None:
    script = ("import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)); "
              "from symgrad.cli.main import main; "
              "sys.exit(main(['derive', 's.yaml', '--no-verify', '-o', 's.md']))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=ENV, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("symgrad: error: cannot write s.") and "File too large" in done.stderr
    assert done.stderr.count("\n") == 1 and everything(folder) == {"s.yaml"}


def test_the_transaction_keeps_every_file_whole(tmp_path: Path) -> None:
    """Staged files appear only at the end, each whole; an exception leaves none."""
    with files.Writes() as writes:
        writes.write(tmp_path / "a" / "one.txt", "one")
        writes.write(tmp_path / "two.bin", b"\x00two")
        assert everything(tmp_path) - {"a"} == {p for p in everything(tmp_path) if ".tmp" in p}
    assert (tmp_path / "a" / "one.txt").read_text() == "one"
    assert (tmp_path / "two.bin").read_bytes() == b"\x00two" and len(everything(tmp_path)) == 3
    with pytest.raises(ZeroDivisionError), files.Writes() as writes:
        writes.write(tmp_path / "b" / "c" / "three.txt", "three")
        writes.write(tmp_path / "a" / "one.txt", "changed")
        1 / 0
    assert everything(tmp_path) == {"a", "a/one.txt", "two.bin"}
    assert (tmp_path / "a" / "one.txt").read_text() == "one"


# --- the gallery ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A gallery of the one example with pictures, HTML, beamer and a notebook:
    its examples folder and its output folder, as ``gallery`` wrote it."""
    root = tmp_path_factory.mktemp("gallery")
    (root / "examples").mkdir()
    shutil.copy(NEURON, root / "examples" / NEURON.name)
    assert main(["gallery", "--examples", str(root / "examples"), "--output", str(root / "out"),
                 "--no-verify"]) == 0
    return root / "examples", root / "out"


def gallery_run(examples: Path, output: Path, *args: str) -> int:
    return main(["gallery", "--examples", str(examples), "--output", str(output), "--no-verify", *args])


def test_two_galleries_at_once_into_one_folder_leave_complete_files(
        built: tuple[Path, Path], tmp_path: Path) -> None:
    examples, expected = built
    command = [sys.executable, "-m", "symgrad", "gallery", "--examples", str(examples),
               "--output", str(tmp_path / "out"), "--no-verify"]
    runs = [subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)]
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
    made = tmp_path / "out"
    assert everything(made) == everything(expected)  # no temporary file left
    for name in (p for p in everything(expected) if (expected / p).is_file()):
        assert (made / name).read_bytes() == (expected / name).read_bytes(), name


def test_the_pin_is_the_gallery_extras() -> None:
    import tomllib
    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml")
                            .read_text(encoding="utf-8"))["project"]
    assert project["optional-dependencies"]["gallery"] == \
        [f"matplotlib=={gallery.PINNED_MATPLOTLIB}"]


def test_plots_are_recognised_by_their_content(built: tuple[Path, Path]) -> None:
    _, out = built
    made = [p for p in everything(out) if (out / p).is_file() and "katex" not in p]
    drawn = {p for p in made if gallery.drawn_by_matplotlib((out / p).read_bytes())}
    assert drawn == {p for p in made if p.endswith((".pdf", ".svg")) and "graph" not in p}
    assert {p for p in drawn if p.endswith(".pdf")} and not gallery.drawn_by_matplotlib("<svg>")


@pytest.fixture
def tampered(built: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the built gallery whose Markdown document, graph and one plot changed."""
    examples, out = built
    shutil.copytree(out, tmp_path / "out")
    for name in ("02_seed_neuron.md", "02_seed_neuron.graph.svg", "02_seed_neuron.tangent.svg"):
        (tmp_path / "out" / name).write_bytes(b"changed")
    return examples, tmp_path / "out"


def test_with_the_pinned_matplotlib_every_file_is_compared(
        tampered: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    examples, out = tampered
    monkeypatch.setattr("matplotlib.__version__", gallery.PINNED_MATPLOTLIB)
    assert gallery_run(examples, out, "--check") == 1
    stale = capsys.readouterr()
    assert stale.out.count("stale: ") == 3 and "tangent.svg" in stale.out and stale.err == ""


def test_another_matplotlib_leaves_the_plots_alone_and_compares_the_rest(
        tampered: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    examples, out = tampered
    monkeypatch.setattr("matplotlib.__version__", "3.0.0")
    (out / "02_seed_neuron.training.pdf").unlink()  # a missing plot is written still
    assert gallery_run(examples, out, "--check") == 1
    check = capsys.readouterr()
    assert sorted(check.out.splitlines()) == sorted(
        f"stale: {out / name}" for name in ("02_seed_neuron.md", "02_seed_neuron.graph.svg",
                                            "02_seed_neuron.training.pdf"))
    assert check.err.count("\n") == 1 and "matplotlib 3.0.0 is installed" in check.err
    assert f"pinned to {gallery.PINNED_MATPLOTLIB}" in check.err and "symgrad[gallery]" in check.err
    assert gallery_run(examples, out) == 0
    assert "3 rewritten" in capsys.readouterr().out
    assert (out / "02_seed_neuron.tangent.svg").read_bytes() == b"changed"  # not rewritten
    assert (out / "02_seed_neuron.md").read_bytes() != b"changed"
    assert (out / "02_seed_neuron.training.pdf").read_bytes().startswith(b"%PDF")
