"""Build symgrad's sdist and wheel, install the wheel into a fresh venv, and use it.

These tests check what a user of the released package gets: the CLI entry
point works from any folder and the default templates ship inside the wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
INSTALL_TIMEOUT = 900

TEMPLATE_PROBE = """
import json, sysconfig, symgrad
from symgrad.render.environment import TEMPLATE_DIR
print(json.dumps({
    "package": str(symgrad.__file__),
    "template_dir": str(TEMPLATE_DIR),
    "purelib": sysconfig.get_paths()["purelib"],
}))
"""


def clean_env() -> dict[str, str]:
    """Return the environment without anything that points Python at this checkout."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    return {key: value for key, value in os.environ.items() if key not in drop}


def run(command: list[str], cwd: Path, timeout: int = INSTALL_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run a command, failing the test with its output if it exits non-zero."""
    proc = subprocess.run(
        command,
        cwd=cwd,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, (
        f"{command} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    )
    return proc


@pytest.fixture(scope="module")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the sdist, then the wheel from that sdist, with ``python -m build``."""
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)], cwd=out)
    return out


def only(folder: Path, pattern: str) -> Path:
    """Return the single file in folder matching pattern."""
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {folder}, found {found}"
    return found[0]


@pytest.fixture(scope="module")
def venv_python(dist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Create a fresh venv and install the built wheel (not editable) into it."""
    venv = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", str(venv)], cwd=venv)
    python = venv / "bin" / "python"
    wheel = only(dist_dir, "symgrad-*.whl")
    run([str(python), "-m", "pip", "install", "--no-input", str(wheel)], cwd=venv)
    return python


def test_wheel_ships_templates(dist_dir: Path) -> None:
    names = set(zipfile.ZipFile(only(dist_dir, "symgrad-*.whl")).namelist())
    sources = [p for p in (REPO / "templates").rglob("*") if p.is_file()]
    assert sources, "templates/ has no files"
    expected = {f"symgrad/templates/{p.relative_to(REPO / 'templates').as_posix()}" for p in sources}
    assert expected <= names, f"missing from wheel: {sorted(expected - names)}"
    assert "symgrad/__init__.py" in names


def test_wheel_carries_its_licences(dist_dir: Path) -> None:
    wheel = zipfile.ZipFile(only(dist_dir, "symgrad-*.whl"))
    names = wheel.namelist()
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    headers = wheel.read(metadata).decode("utf-8").split("\n\n", 1)[0].splitlines()
    assert "License-Expression: MIT" in headers
    licences = {n.split(".dist-info/licenses/", 1)[1] for n in names if ".dist-info/licenses/" in n}
    assert licences == {"LICENSE", "symgrad/render/static/katex/LICENSE"}
    assert wheel.read(next(n for n in names if n.endswith("licenses/LICENSE"))).startswith(b"MIT License")


def test_sdist_has_sources(dist_dir: Path) -> None:
    with tarfile.open(only(dist_dir, "symgrad-*.tar.gz")) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for folder in ("symgrad", "templates", "tests", "examples"):
        if (REPO / folder).is_dir():
            assert any(n.startswith(f"{folder}/") for n in names), f"{folder}/ missing from sdist"
    assert not any("node_modules" in n for n in names)
    assert {"LICENSE", "CHANGELOG.md", "README.md"} <= names


def test_installed_cli_derives_mse_gradient(venv_python: Path, tmp_path: Path) -> None:
    symgrad = venv_python.parent / "symgrad"
    proc = run(
        [
            str(symgrad), "derive",
            "--expr", "1/2*(yhat - y)**2",
            "--wrt", "yhat",
            "--at", "yhat=0.8,y=1.0",
            "--format", "markdown",
        ],
        cwd=tmp_path,
        timeout=300,
    )
    assert "0.02" in proc.stdout
    assert "-0.2" in proc.stdout


def test_installed_package_finds_its_templates(venv_python: Path, tmp_path: Path) -> None:
    proc = run([str(venv_python), "-c", TEMPLATE_PROBE], cwd=tmp_path, timeout=300)
    probe = json.loads(proc.stdout.strip().splitlines()[-1])
    purelib = Path(probe["purelib"]).resolve()
    template_dir = Path(probe["template_dir"]).resolve()
    assert Path(probe["package"]).resolve().is_relative_to(purelib), probe
    assert template_dir.is_relative_to(purelib / "symgrad" / "templates"), probe
    assert any(p.is_file() for p in template_dir.rglob("*")), f"no templates under {template_dir}"
