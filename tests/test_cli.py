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


# --- exit codes: one enum, each code from the situation it names ---------------------------------------


def test_help_lists_every_exit_code_and_what_it_means() -> None:
    from nbops.cli import EXIT_MEANINGS, ExitCode

    out = nbops_cli("--help", cwd=Path(os.getcwd())).stdout
    assert "Exit codes:" in out
    for code in ExitCode:
        assert f"{int(code):>3}  {EXIT_MEANINGS[code]}" in out
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 5, 70, 130]


def test_exit_ok_and_usage(tmp_path: Path) -> None:
    from nbops.cli import ExitCode

    (tmp_path / "pyproject.toml").write_text("")
    assert nbops_cli("info", cwd=tmp_path).returncode == ExitCode.OK
    done = nbops_cli("promote", "m", "1", "--to", "champion", cwd=tmp_path)  # no --reason
    assert done.returncode == ExitCode.USAGE and "Missing option '--reason'" in done.stderr


def test_exit_check_failed_while_an_alert_is_open(tracking_uri: str, tmp_path: Path) -> None:
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    from nbops import monitor, registry
    from nbops.cli import ExitCode

    (tmp_path / "pyproject.toml").write_text(
        '[tool.nbops.alerts.any-batch]\nmetric = "batch.rows"\nop = ">="\nthreshold = 1\nwindow = 1\n'
    )
    X, y = load_iris(return_X_y=True, as_frame=True)
    registry.register(DecisionTreeClassifier(max_depth=2).fit(X, y), "cli-alerting", data=X)
    env = {"MLFLOW_TRACKING_URI": tracking_uri}
    assert nbops_cli("monitor", "check", cwd=tmp_path, env=env).returncode == ExitCode.OK
    monitor.log_batch("cli-alerting/1", X.head(20))
    done = nbops_cli("monitor", "check", cwd=tmp_path, env=env)
    assert done.returncode == ExitCode.CHECK_FAILED, done.stderr
    assert "cli-alerting" in done.stdout


def test_gate_verdicts_map_to_exit_codes_in_the_cli(tmp_path: Path) -> None:
    from nbops.cli import ExitCode, _gate_exit_code
    from nbops.gates import ERROR, FAILED, PASSED, GateOutcome, GateReport

    def report(*results: str) -> GateReport:
        outcomes = [GateOutcome(f"g{i}", r, "", None) for i, r in enumerate(results)]
        return GateReport("m", "1", outcomes, tmp_path, tmp_path / "junit.xml")

    assert _gate_exit_code(report(PASSED, PASSED)) == ExitCode.OK
    assert _gate_exit_code(report(PASSED, FAILED)) == ExitCode.CHECK_FAILED
    assert _gate_exit_code(report(FAILED, ERROR)) == ExitCode.USAGE  # could not run outranks failed
    assert _gate_exit_code(report()) == ExitCode.CHECK_FAILED  # no gate ran: nothing passed


def test_exit_audit_tampered(tracking_uri: str, tmp_path: Path) -> None:
    from mlflow import MlflowClient
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    from nbops import audit, registry
    from nbops.cli import ExitCode

    X, y = load_iris(return_X_y=True, as_frame=True)
    registry.register(DecisionTreeClassifier(max_depth=1).fit(X, y), "cli-audited")
    env = {"MLFLOW_TRACKING_URI": tracking_uri}
    assert nbops_cli("audit", "--verify", cwd=tmp_path, env=env).returncode == ExitCode.OK
    (event,) = audit.events(model="cli-audited")
    MlflowClient(tracking_uri).set_tag(event.run_id, "nbops.audit.reason", "nothing happened")
    done = nbops_cli("audit", "--verify", cwd=tmp_path, env=env)
    assert done.returncode == ExitCode.AUDIT_TAMPERED and "was edited" in done.stdout


def test_exit_not_found(tracking_uri: str, tmp_path: Path) -> None:
    from nbops.cli import ExitCode

    done = nbops_cli(
        "rollback", "ghost", "--reason", "x", cwd=tmp_path, env={"MLFLOW_TRACKING_URI": tracking_uri}
    )
    assert done.returncode == ExitCode.NOT_FOUND and done.stderr.count("\n") == 1


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_exit_store_when_the_tracking_server_is_not_running(tmp_path: Path) -> None:
    from nbops.cli import ExitCode

    uri = f"http://127.0.0.1:{_free_port()}"
    done = nbops_cli("runs", cwd=tmp_path, env={"MLFLOW_TRACKING_URI": uri})
    assert done.returncode == ExitCode.STORE
    assert done.stderr.count("\n") == 1 and "connection refused" in done.stderr


def test_exit_interrupted_by_ctrl_c_while_waiting_for_a_silent_server(tmp_path: Path) -> None:
    import signal
    import socket

    from nbops.cli import ExitCode

    with socket.socket() as silent:  # accepts the connection and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent.settimeout(120)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        env = {"PATH": str(BIN), "HOME": str(tmp_path), "MLFLOW_TRACKING_URI": uri}
        process = subprocess.Popen(
            [BIN / "nbops", "runs"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        connection, _ = silent.accept()  # nbops is now waiting inside its first request
        with connection:
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=60)
    assert process.returncode == ExitCode.INTERRUPTED
    assert err == "nbops: interrupted\n"


def test_an_unexpected_error_exits_70_in_one_line_with_the_traceback_in_a_log(tmp_path: Path) -> None:
    # A bug cannot be produced on purpose by real code, so this stands one in: the runs listing is
    # replaced by a function that raises, and the real CLI runs around it in its own process.
    from nbops.cli import ExitCode

    (tmp_path / "pyproject.toml").write_text("")
    script = (
        "import nbops.runs\n"
        "def broken(**kwargs):\n"
        "    raise RuntimeError('stand-in for a bug\\nwith a second line')\n"
        "nbops.runs.recent = broken\n"
        "from nbops.cli import main\n"
        "main(['runs'], prog_name='nbops')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PATH": str(BIN), "HOME": str(tmp_path), "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == ExitCode.UNEXPECTED
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("nbops: unexpected error (RuntimeError: stand-in for a bug); this is a bug")
    (log,) = tmp_path.glob("nbops-error-*.log")
    assert done.stderr.rstrip().endswith(f"the traceback is in {log}")
    text = log.read_text()
    assert (
        "Traceback (most recent call last)" in text and "in broken" in text and "with a second line" in text
    )
