import hashlib
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

import nbops
from nbops import store, tracking
from nbops.errors import InvalidInput, NbopsError


def _only_run(uri: str):
    runs = MlflowClient(uri).search_runs(experiment_ids=["0"])
    assert len(runs) == 1
    return runs[0]


def test_track_records_a_finished_run_with_what_the_block_logged(tracking_uri: str) -> None:
    with nbops.track("baseline") as run:
        mlflow.log_metric("accuracy", 0.93)
    stored = MlflowClient(tracking_uri).get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.info.run_name == "baseline"
    assert stored.data.metrics == {"accuracy": 0.93}
    assert mlflow.active_run() is None


def test_an_exception_marks_the_run_failed_and_still_propagates(tracking_uri: str) -> None:
    with pytest.raises(ZeroDivisionError), nbops.track("broken"):
        mlflow.log_metric("before_crash", 1.0)
        1 / 0  # noqa: B018
    stored = _only_run(tracking_uri)
    assert stored.info.status == "FAILED"
    assert stored.data.metrics == {"before_crash": 1.0}
    assert stored.data.tags[tracking.ERROR_TAG] == "ZeroDivisionError: division by zero"
    assert mlflow.active_run() is None


def test_keyboard_interrupt_marks_the_run_killed(tracking_uri: str) -> None:
    with pytest.raises(KeyboardInterrupt), nbops.track("stopped"):
        raise KeyboardInterrupt
    assert _only_run(tracking_uri).info.status == "KILLED"


def test_a_long_error_message_is_shortened_not_lost(tracking_uri: str) -> None:
    with pytest.raises(ValueError), nbops.track():
        raise ValueError("x" * 5000)
    tag = _only_run(tracking_uri).data.tags[tracking.ERROR_TAG]
    assert tag.startswith("ValueError: xxx") and tag.endswith("…") and len(tag) == 1000


def test_a_run_already_active_is_refused_with_advice(tracking_uri: str) -> None:
    with mlflow.start_run():
        with pytest.raises(NbopsError, match=r"mlflow\.end_run\(\) or pass --nested"), nbops.track("second"):
            pass
        assert len(MlflowClient(tracking_uri).search_runs(experiment_ids=["0"])) == 1


def test_empty_run_name_is_refused(tracking_uri: str) -> None:
    with pytest.raises(InvalidInput, match="run name is empty"), nbops.track("  "):
        pass


@pytest.mark.sqlite_only  # artifacts beside a SQLite file; a server keeps them itself
def test_named_experiment_is_created_with_artifacts_beside_the_store(tracking_uri: str) -> None:
    with nbops.track("r", experiment="churn model") as run:
        mlflow.log_text("hello", "note.txt")
    experiment = MlflowClient(tracking_uri).get_experiment_by_name("churn model")
    assert experiment is not None and run.info.experiment_id == experiment.experiment_id
    store_folder = Path(tracking_uri.removeprefix("sqlite:///")).parent
    assert experiment.artifact_location.startswith(str(store_folder / "artifacts" / "churn-model-"))
    assert (Path(run.info.artifact_uri.removeprefix("file://")) / "note.txt").read_text() == "hello"


def test_embedded_store_is_created_on_first_use(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "pyproject.toml").write_text("")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    monkeypatch.chdir(notebooks)  # a kernel starts in the notebook's folder
    try:
        with nbops.track("first"):
            mlflow.log_text("x", "a.txt")
    finally:
        while mlflow.active_run():
            mlflow.end_run()
    db = tmp_path / ".nbops" / "mlflow.db"
    assert db.is_file()
    assert (tmp_path / ".nbops" / ".gitignore").read_text().endswith("*\n")
    assert not (notebooks / "mlruns").exists()
    assert list((tmp_path / ".nbops" / "artifacts" / "0").glob("*/artifacts/a.txt"))
    assert _only_run(f"sqlite:///{db}").info.status == "FINISHED"


def test_unwritable_store_folder_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(NbopsError, match="cannot create the MLflow store"):
        store.prepare(f"sqlite:///{blocker / 'sub' / 'mlflow.db'}")


@pytest.mark.parametrize(("ms", "text"), [(850, "850 ms"), (12_340, "12.3 s"), (245_000, "4 min 5 s")])
def test_format_duration(ms: int, text: str) -> None:
    assert tracking.format_duration(ms) == text


def test_params_tags_and_lineage_are_recorded_without_user_code(tracking_uri: str) -> None:
    with nbops.track("r", params={"lr": 0.01}, tags={"team": "churn"}, cell=("x = 1\n", 7)) as run:
        pass
    client = MlflowClient(tracking_uri)
    stored = client.get_run(run.info.run_id)
    assert stored.data.params == {"lr": "0.01"}
    tags = stored.data.tags
    assert tags["team"] == "churn"
    assert tags["nbops.cell.execution_count"] == "7"
    assert tags["nbops.cell.sha256"] == hashlib.sha256(b"x = 1\n").hexdigest()
    paths = {a.path for a in client.list_artifacts(run.info.run_id, "lineage")}
    assert paths == {"lineage/cell.py"}
    requirements = client.download_artifacts(run.info.run_id, "environment/requirements.txt")
    text = Path(requirements).read_text()
    assert f"mlflow=={mlflow.__version__}" in text.splitlines()
    assert tags["nbops.env.sha256"] == hashlib.sha256(text.encode()).hexdigest()


def test_the_traceback_is_stored_with_a_failed_run(tracking_uri: str) -> None:
    def train() -> None:
        raise RuntimeError("loss is NaN")

    with pytest.raises(RuntimeError), nbops.track("broken") as run:
        train()
    path = MlflowClient(tracking_uri).download_artifacts(run.info.run_id, tracking.TRACEBACK_ARTIFACT)
    text = Path(path).read_text()
    assert text.startswith("Traceback (most recent call last):")
    assert "in train" in text and text.rstrip().endswith("RuntimeError: loss is NaN")


def test_buffered_metrics_are_all_written_before_the_run_is_marked_failed(tracking_uri: str) -> None:
    with pytest.raises(ValueError), nbops.track("crash") as run:
        for step in range(5000):
            nbops.log_metric("loss", 1 / (step + 1), step=step)
        nbops.log_metrics({"a": 1, "b": 2.5}, step=3)
        raise ValueError("diverged")
    client = MlflowClient(tracking_uri)
    assert client.get_run(run.info.run_id).info.status == "FAILED"
    history = client.get_metric_history(run.info.run_id, "loss")
    assert sorted(m.step for m in history) == list(range(5000))
    assert client.get_run(run.info.run_id).data.metrics["b"] == 2.5


def test_logging_outside_a_tracked_run_says_what_to_do(tracking_uri: str) -> None:
    with pytest.raises(NbopsError, match="inside a %%track cell"):
        nbops.log_metric("x", 1)
    with pytest.raises(NbopsError, match="inside a %%track cell"):
        nbops.log_param("x", 1)


@pytest.mark.parametrize("bad", ["high", None, True, [1]])
def test_non_numeric_metrics_are_refused(tracking_uri: str, bad) -> None:
    with nbops.track("r"), pytest.raises(InvalidInput, match="must be a number"):
        nbops.log_metric("acc", bad)


def test_numpy_values_are_metrics(tracking_uri: str) -> None:
    import numpy as np

    with nbops.track("r") as run:
        nbops.log_metrics({"f32": np.float32(0.5), "i64": np.int64(3), "zero_d": np.array(2.0)})
    assert MlflowClient(tracking_uri).get_run(run.info.run_id).data.metrics == {
        "f32": 0.5,
        "i64": 3.0,
        "zero_d": 2.0,
    }


def test_sklearn_autolog_records_the_fit_and_is_switched_off_afterwards(tracking_uri: str) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    with nbops.track("auto", autolog=True) as run:
        LogisticRegression(max_iter=300, C=0.5).fit(X, y)
    stored = MlflowClient(tracking_uri).get_run(run.info.run_id)
    assert stored.data.params["C"] == "0.5"
    assert stored.data.metrics["training_accuracy_score"] > 0.9
    with nbops.track("plain", autolog=False) as plain:
        LogisticRegression(max_iter=300, C=0.7).fit(X, y)
    assert MlflowClient(tracking_uri).get_run(plain.info.run_id).data.params == {}
