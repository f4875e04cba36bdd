"""What ``pip install`` gives a user: a wheel carrying the built lab extension and server config."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent


def test_wheel_contains_the_prebuilt_lab_extension_and_the_server_config(tmp_path: Path) -> None:
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
    assert not [n for n in names if "node_modules" in n or n.endswith(".ts")]


def _jupyter(*args: str) -> str:
    done = subprocess.run([BIN / "jupyter", *args], capture_output=True, text=True, check=True)
    return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)


def test_jupyter_lists_the_lab_extension_enabled_and_ok() -> None:
    assert re.search(r"nbops v0\.1\.0 enabled OK", _jupyter("labextension", "list"))


def test_jupyter_lists_the_server_extension_enabled_and_ok() -> None:
    listing = _jupyter("server", "extension", "list")
    assert re.search(r"nbops enabled", listing)
    assert re.search(r"nbops 0\.1\.0 OK", listing)
