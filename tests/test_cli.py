"""The ``nbops`` command as a user runs it: a real process on a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nbops

BIN = Path(sys.executable).parent


def nbops_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {"PATH": str(BIN), "HOME": str(cwd)}
    return subprocess.run(
        [BIN / "nbops", *args], cwd=cwd, env={**base, **(env or {})}, capture_output=True, text=True
    )


def test_info_reports_the_embedded_store_of_the_project(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    out = nbops_cli("info", cwd=tmp_path / "notebooks").stdout
    assert f"project root: {tmp_path.resolve()}" in out
    assert f"store:        sqlite:///{tmp_path.resolve()}/.nbops/mlflow.db (from default)" in out


def test_runs_on_a_new_project_says_how_to_start_and_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    done = nbops_cli("runs", cwd=tmp_path)
    assert done.returncode == 0
    assert "No runs yet" in done.stdout and "%%track" in done.stdout
    assert not (tmp_path / ".nbops").exists()


def test_runs_lists_tracked_runs_as_a_table_and_as_json(tracking_uri: str, tmp_path: Path) -> None:
    with nbops.track("baseline"):
        pass
    with pytest.raises(ValueError), nbops.track("broken"):
        raise ValueError
    env = {"MLFLOW_TRACKING_URI": tracking_uri}
    lines = nbops_cli("runs", cwd=tmp_path, env=env).stdout.splitlines()
    assert lines[0].split() == ["RUN", "STATUS", "STARTED", "DURATION", "EXPERIMENT"]
    assert [line.split()[:2] for line in lines[1:]] == [["broken", "FAILED"], ["baseline", "FINISHED"]]
    page = json.loads(nbops_cli("runs", "--json", "-n", "1", cwd=tmp_path, env=env).stdout)
    assert [r["run_name"] for r in page["runs"]] == ["broken"] and page["next_page_token"]


def test_a_config_error_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.nbops]\ntracking_uri = 3\n")
    done = nbops_cli("runs", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("nbops: error: tracking_uri under")


def test_help_and_version() -> None:
    done = nbops_cli("--help", cwd=Path(os.getcwd()))
    assert "embedded SQLite store" in done.stdout and "runs" in done.stdout
    assert (
        nbops_cli("--version", cwd=Path(os.getcwd())).stdout.strip() == f"nbops, version {nbops.__version__}"
    )


def test_registry_promote_rollback_from_the_terminal(tracking_uri: str, tmp_path: Path) -> None:
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    from nbops import audit, registry

    X, y = load_iris(return_X_y=True, as_frame=True)
    model = DecisionTreeClassifier(max_depth=2).fit(X, y)
    registry.register(model, "cli-model", data=X, alias="champion")
    registry.register(model, "cli-model", data=X)
    env = {"MLFLOW_TRACKING_URI": tracking_uri}

    listing = nbops_cli("registry", "list", cwd=tmp_path, env=env).stdout.splitlines()
    assert listing[0].split() == ["MODEL", "LATEST", "ALIASES"]
    assert listing[1].split() == ["cli-model", "2", "champion→v1"]
    versions = json.loads(nbops_cli("registry", "list", "cli-model", "--json", cwd=tmp_path, env=env).stdout)
    assert [(v["version"], v["aliases"]) for v in versions] == [("2", []), ("1", ["champion"])]

    done = nbops_cli(
        "promote", "cli-model", "2", "--to", "champion", "--reason", "better", cwd=tmp_path, env=env
    )
    assert done.returncode == 0 and done.stdout.strip() == "cli-model@champion → version 2 (was version 1)"
    back = nbops_cli("rollback", "cli-model", "--reason", "regression", "--json", cwd=tmp_path, env=env)
    assert json.loads(back.stdout)["to_version"] == "1"
    (event,) = [e for e in audit.events(model="cli-model") if e.action == "rollback"]
    assert (event.source, event.reason) == ("cli", "regression")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ("promote", "ghost", "1", "--to", "champion", "--reason", "x"),
            4,
            "no registered model named 'ghost'",
        ),
        (("promote", "ghost", "1", "--to", "champion"), 2, "Missing option '--reason'"),
        (("rollback", "ghost", "--reason", "x"), 4, "no registered model named 'ghost'"),
        (("registry", "list", "ghost"), 4, "no registered model named 'ghost'"),
    ],
)
def test_registry_errors_have_meaningful_exit_codes(tracking_uri, tmp_path, args, code, message) -> None:
    done = nbops_cli(*args, cwd=tmp_path, env={"MLFLOW_TRACKING_URI": tracking_uri})
    assert done.returncode == code
    assert message in done.stderr
