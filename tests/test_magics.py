"""The notebook face, driven through a real IPython shell."""

import subprocess
import sys

import pytest
from IPython.core.interactiveshell import InteractiveShell
from mlflow import MlflowClient


@pytest.fixture
def shell(tracking_uri: str):
    ip = InteractiveShell.instance()
    ip.run_line_magic("colors", "nocolor")
    ip.run_line_magic("reload_ext", "nbops")
    yield ip
    ip.user_ns.pop("mlflow", None)


def runs(uri: str):
    return MlflowClient(uri).search_runs(experiment_ids=["0"], order_by=["attributes.start_time DESC"])


def test_load_ext_is_instant_because_mlflow_is_not_imported() -> None:
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance().run_line_magic('load_ext', 'nbops')\n"
        "heavy = sorted(m for m in ('mlflow', 'sklearn', 'pandas', 'tornado') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_track_cell_finishes_a_run_and_keeps_the_cell_variables(shell, tracking_uri, capsys) -> None:
    result = shell.run_cell(
        "%%track my-first-run\nimport mlflow\nscore = 0.9\nmlflow.log_metric('score', score)"
    )
    assert result.success
    assert shell.user_ns["score"] == 0.9
    (run,) = runs(tracking_uri)
    assert (run.info.run_name, run.info.status) == ("my-first-run", "FINISHED")
    assert run.data.metrics == {"score": 0.9}
    assert "✓ run 'my-first-run' FINISHED" in capsys.readouterr().out


def test_failing_cell_records_failed_run_and_the_error_reaches_the_notebook(
    shell, tracking_uri, capsys
) -> None:
    result = shell.run_cell("%%track broken\npartial = 1\nraise ValueError('bad data')")
    assert isinstance(result.error_in_exec, ValueError)
    assert shell.user_ns["partial"] == 1
    (run,) = runs(tracking_uri)
    assert run.info.status == "FAILED"
    assert run.data.tags["nbops.error"] == "ValueError: bad data"
    out = capsys.readouterr().out
    assert "✗ run 'broken' FAILED" in out
    assert "ValueError: bad data" in out  # the user's own traceback is shown
    assert "raise ValueError('bad data')" in out  # with the cell's source line


def test_last_expression_is_displayed_like_a_normal_cell(shell, tracking_uri, capsys) -> None:
    shell.run_cell("%%track\n6 * 7").raise_error()
    assert "42" in capsys.readouterr().out


def test_magics_inside_the_tracked_cell_still_work(shell, tracking_uri) -> None:
    shell.run_cell("%%track\n%env NBOPS_TEST_VAR=hello\nvalue = %env NBOPS_TEST_VAR").raise_error()
    assert shell.user_ns["value"] == "hello"


def test_experiment_option_logs_to_a_named_experiment(shell, tracking_uri) -> None:
    shell.run_cell("%%track tuned --experiment churn\npass").raise_error()
    experiment = MlflowClient(tracking_uri).get_experiment_by_name("churn")
    (run,) = MlflowClient(tracking_uri).search_runs([experiment.experiment_id])
    assert run.info.run_name == "tuned"


def test_refusal_is_one_line_and_the_cell_does_not_run(shell, tracking_uri, capsys) -> None:
    shell.run_cell("import mlflow\nmlflow.start_run()").raise_error()
    try:
        result = shell.run_cell("%%track second\nran = True")
    finally:
        shell.run_cell("mlflow.end_run()")
    assert not result.success
    assert "ran" not in shell.user_ns
    err = capsys.readouterr().err
    assert "UsageError: run " in err and "end it with mlflow.end_run()" in err
    assert "Traceback" not in err


def test_help_describes_the_magic(shell, capsys) -> None:
    shell.run_cell("%%track?")
    out = capsys.readouterr().out
    assert "Run this cell as an MLflow run" in out
    assert "--experiment" in out
