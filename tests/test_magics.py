"""The notebook face, driven through a real IPython shell."""

import os
import subprocess
import sys
from pathlib import Path

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


def test_load_ext_is_instant_because_mlflow_is_not_imported(tmp_path) -> None:
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance().run_line_magic('load_ext', 'nbops')\n"
        "heavy = sorted(m for m in ('mlflow', 'sklearn', 'pandas', 'tornado') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    # In a project without a store the background sweep has nothing to open either.
    (tmp_path / "pyproject.toml").write_text("")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path, env=env
    )
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


def test_params_and_tags_are_recorded_with_lineage(shell, tracking_uri) -> None:
    shell.run_cell("lr = 0.1\nlayers = [64, 32]").raise_error()
    shell.run_cell("%%track tuned --params lr,layers --tag team=churn --tag stage=dev\nx = 1").raise_error()
    (run,) = runs(tracking_uri)
    assert run.data.params == {"lr": "0.1", "layers": "[64, 32]"}
    assert run.data.tags["team"] == "churn" and run.data.tags["stage"] == "dev"
    assert len(run.data.tags["nbops.cell.sha256"]) == 64
    assert run.data.tags["nbops.env.python"].count(".") == 2
    assert run.data.tags["nbops.owner.pid"] == str(os.getpid())


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%%track r --params missing_var", "--params names missing_var, not defined in the notebook"),
        ("%%track r --tag novalue", "--tag 'novalue' is not KEY=VALUE"),
        ("%%track r --tag =x", "--tag '=x' is not KEY=VALUE"),
        ("%%track r --bogus", "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments_are_refused_before_the_cell_runs(shell, tracking_uri, capsys, line, message) -> None:
    result = shell.run_cell(f"{line}\nside_effect = True")
    assert not result.success
    assert "side_effect" not in shell.user_ns
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert runs(tracking_uri) == []


def test_a_non_numeric_metric_fails_the_run_with_a_clear_message(shell, tracking_uri, capsys) -> None:
    result = shell.run_cell(
        "%%track r\nimport nbops\nnbops.log_metric('loss', 0.5)\nnbops.log_metric('acc', 'high')"
    )
    assert not result.success
    assert "metric 'acc' must be a number, got str 'high'" in capsys.readouterr().out
    (run,) = runs(tracking_uri)
    assert run.info.status == "FAILED"
    assert run.data.metrics == {"loss": 0.5}  # what was logged before the error is kept


def test_nested_tracks_a_child_of_the_active_run(shell, tracking_uri) -> None:
    shell.run_cell("import mlflow\nparent = mlflow.start_run(run_name='sweep')").raise_error()
    try:
        shell.run_cell("%%track trial-1 --nested\npass").raise_error()
    finally:
        shell.run_cell("mlflow.end_run()")
    child = next(r for r in runs(tracking_uri) if r.info.run_name == "trial-1")
    assert child.data.tags["mlflow.parentRunId"] == shell.user_ns["parent"].info.run_id


def test_nbops_experiment_and_status(shell, tracking_uri, capsys) -> None:
    shell.run_cell("%nbops experiment churn model").raise_error()
    assert "runs of this notebook go to experiment 'churn model'" in capsys.readouterr().out
    shell.run_cell("%%track r\npass").raise_error()
    experiment = MlflowClient(tracking_uri).get_experiment_by_name("churn model")
    assert [r.info.run_name for r in MlflowClient(tracking_uri).search_runs([experiment.experiment_id])] == [
        "r"
    ]
    shell.run_cell("%nbops status").raise_error()
    out = capsys.readouterr().out
    assert f"store:      {tracking_uri} (from env)" in out
    assert f"experiment: churn model (id {experiment.experiment_id})" in out
    assert "active run: none" in out
    shell.run_cell("import mlflow\nmlflow.set_experiment(experiment_id='0')").raise_error()


@pytest.mark.parametrize("line", ["%nbops", "%nbops --help"])
def test_nbops_help_lists_the_commands(shell, capsys, line) -> None:
    shell.run_cell(line).raise_error()
    out = capsys.readouterr().out
    assert "experiment NAME" in out and "status" in out and "%%track" in out


def test_track_help_option_prints_usage_and_runs_nothing(shell, tracking_uri, capsys) -> None:
    shell.run_cell("%%track --help\nran = True").raise_error()
    assert "--params" in capsys.readouterr().out
    assert "ran" not in shell.user_ns and runs(tracking_uri) == []


def test_unknown_nbops_command_is_one_line(shell, capsys) -> None:
    assert not shell.run_cell("%nbops promote").success
    assert "unknown nbops command 'promote'" in capsys.readouterr().err


# --- %register after the cell that trained the model ---------------------------------------------

TRAIN = """%%track {run} --autolog
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True, as_frame=True)
model = LogisticRegression(max_iter=500).fit(X, y)
nbops.log_metric("holdout_accuracy", 0.9)
"""


def test_register_after_the_training_cell_attaches_to_the_run_that_made_the_model(
    shell, tracking_uri, capsys, tmp_path
) -> None:
    shell.run_cell("import nbops").raise_error()
    shell.run_cell(TRAIN.format(run="baseline")).raise_error()
    shell.run_cell("unrelated = 1").raise_error()  # a plain cell between training and registering
    (trained,) = runs(tracking_uri)
    capsys.readouterr()
    shell.run_cell("%register model --name iris --data X").raise_error()

    out = capsys.readouterr().out
    assert f"attached to run 'baseline' ({trained.info.run_id[:8]}…) that assigned model" in out
    client = MlflowClient(tracking_uri)
    (run,) = runs(tracking_uri)  # no separate register-iris run
    assert run.info.run_id == trained.info.run_id
    assert (run.info.status, run.info.end_time) == ("FINISHED", trained.info.end_time)
    version = client.get_model_version("iris", "1")
    assert version.run_id == run.info.run_id
    assert version.tags["nbops.cell.sha256"] == run.data.tags["nbops.cell.sha256"]  # the training cell
    assert version.tags["nbops.env.sha256"] == run.data.tags["nbops.env.sha256"]
    card = Path(
        client.download_artifacts(run.info.run_id, "model_cards/iris/v1/model_card.md", str(tmp_path))
    )
    text = card.read_text()
    assert "| holdout_accuracy | 0.9 |" in text and "| training_accuracy_score |" in text
    assert "| sepal length (cm) | double |" in text
    logged = client.get_logged_model(version.source.removeprefix("models:/"))
    assert logged.source_run_id == run.info.run_id
    assert {m.key for m in logged.metrics} >= {"holdout_accuracy", "training_accuracy_score"}


def test_register_finds_the_last_finished_run_that_assigned_the_variable(shell, tracking_uri, capsys) -> None:
    shell.run_cell("import nbops").raise_error()
    shell.run_cell(TRAIN.format(run="baseline")).raise_error()
    shell.run_cell(TRAIN.format(run="tuned")).raise_error()
    shell.run_cell("%register model --name iris").raise_error()
    assert "attached to run 'tuned'" in capsys.readouterr().out
    # A cell that fails after rebinding the variable leaves it with no run: that run failed.
    shell.run_cell(TRAIN.format(run="broken") + "raise ValueError('late')")
    shell.run_cell("%register model --name iris").raise_error()
    out = capsys.readouterr().out
    assert (
        "no finished tracked run of this kernel assigned model: logged into a new run 'register-iris'" in out
    )
    shell.run_cell(TRAIN.format(run="again")).raise_error()
    shell.run_cell("other = model").raise_error()
    shell.run_cell("%register other --name iris").raise_error()  # the run bound `model`, not `other`
    assert "no finished tracked run of this kernel assigned other" in capsys.readouterr().out
    shell.run_cell(
        "model = LogisticRegression(max_iter=500).fit(X, y)"
    ).raise_error()  # rebound outside a run
    shell.run_cell("%register model --name iris").raise_error()
    assert "no finished tracked run of this kernel assigned model" in capsys.readouterr().out

    client = MlflowClient(tracking_uri)
    names = {r.info.run_id: r.info.run_name for r in runs(tracking_uri)}
    versions = sorted(client.search_model_versions("name = 'iris'"), key=lambda v: int(v.version))
    assert [names[v.run_id] for v in versions] == ["tuned", "register-iris", "register-iris", "register-iris"]
    assert {r.info.run_name: r.info.status for r in runs(tracking_uri)}["tuned"] == "FINISHED"


def test_register_inside_a_tracked_cell_logs_into_that_cell_run(shell, tracking_uri, capsys) -> None:
    shell.run_cell("import nbops").raise_error()
    shell.run_cell(TRAIN.format(run="baseline")).raise_error()
    capsys.readouterr()
    shell.run_cell(TRAIN.format(run="second") + "%register model --name iris\n").raise_error()
    assert "logged into the active run 'second'" in capsys.readouterr().out
    version = MlflowClient(tracking_uri).get_model_version("iris", "1")
    assert MlflowClient(tracking_uri).get_run(version.run_id).info.run_name == "second"
