"""What ``pip install`` gives a user: a wheel carrying the built lab extension and server config."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent


def _build_wheel(tmp_path: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            tmp_path,
            ROOT,
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("nbops-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_wheel(tmp_path_factory.mktemp("wheel"))


def test_wheel_contains_the_prebuilt_lab_extension_and_the_server_config(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    data = "nbops-0.1.0.data/data/"
    labext = f"{data}share/jupyter/labextensions/nbops/"
    assert f"{labext}package.json" in names
    assert f"{labext}install.json" in names
    assert f"{labext}schemas/nbops/plugin.json" in names
    assert any(re.fullmatch(rf"{labext}static/remoteEntry\.[0-9a-f]+\.js", n) for n in names)
    config = f"{data}etc/jupyter/jupyter_server_config.d/nbops.json"
    assert json.loads(zipfile.ZipFile(wheel).read(config)) == {
        "ServerApp": {"jpserver_extensions": {"nbops": True}}
    }
    assert "nbops/server/openapi.yaml" in names
    assert not [n for n in names if "/node_modules/" in n or n.endswith(".ts")]


def test_an_installed_package_finds_its_shipped_gates_outside_any_checkout(
    wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    for gate in ("performance", "data_validation", "fairness", "latency"):
        packaged = site / "nbops" / "gate_notebooks" / f"{gate}.ipynb"
        assert packaged.read_bytes() == (ROOT / "notebooks" / "gates" / f"{gate}.ipynb").read_bytes()
    project = tmp_path / "project"
    project.mkdir()
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "import nbops, pathlib; from nbops.gates import shipped_gate;"
            "print(nbops.__file__); print(shipped_gate('latency', pathlib.Path.cwd()))",
        ],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert found == [
        str(site / "nbops" / "__init__.py"),
        str(site / "nbops" / "gate_notebooks" / "latency.ipynb"),
    ]


def _jupyter(*args: str) -> str:
    done = subprocess.run([BIN / "jupyter", *args], capture_output=True, text=True, check=True)
    return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)


def test_jupyter_lists_the_lab_extension_enabled_and_ok() -> None:
    assert re.search(r"nbops v0\.1\.0 enabled OK", _jupyter("labextension", "list"))


def test_jupyter_lists_the_server_extension_enabled_and_ok() -> None:
    listing = _jupyter("server", "extension", "list")
    assert re.search(r"nbops enabled", listing)
    assert re.search(r"nbops 0\.1\.0 OK", listing)
