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
        with pytest.raises(NbopsError, match=r"mlflow\.end_run\(\)"), nbops.track("second"):
            pass
        assert len(MlflowClient(tracking_uri).search_runs(experiment_ids=["0"])) == 1


def test_empty_run_name_is_refused(tracking_uri: str) -> None:
    with pytest.raises(InvalidInput, match="run name is empty"), nbops.track("  "):
        pass


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


def test_recent_runs_newest_first_across_experiments_with_paging(tracking_uri: str) -> None:
    for name, experiment in [("a", None), ("b", "exp-1"), ("c", "exp-2")]:
        with nbops.track(name, experiment=experiment):
            pass
    first = tracking.recent_runs(max_results=2)
    assert [r["run_name"] for r in first["runs"]] == ["c", "b"]
    assert [r["experiment_name"] for r in first["runs"]] == ["exp-2", "exp-1"]
    assert first["next_page_token"]
    second = tracking.recent_runs(max_results=2, page_token=first["next_page_token"])
    assert [r["run_name"] for r in second["runs"]] == ["a"]
    assert second["next_page_token"] is None
    row = second["runs"][0]
    assert row["status"] == "FINISHED" and row["duration_ms"] >= 0
    assert row["end_time"] >= row["start_time"]


def test_recent_runs_does_not_create_a_store_just_to_read_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "pyproject.toml").write_text("")
    page = tracking.recent_runs(start=tmp_path)
    assert page["runs"] == [] and page["next_page_token"] is None
    assert page["store"] == f"sqlite:///{tmp_path.resolve() / '.nbops' / 'mlflow.db'}"
    assert not (tmp_path / ".nbops").exists()


@pytest.mark.parametrize("bad", [0, 1001])
def test_recent_runs_rejects_page_sizes_out_of_range(bad: int, tracking_uri: str) -> None:
    with pytest.raises(InvalidInput, match="between 1 and 1000"):
        tracking.recent_runs(max_results=bad)


def test_unwritable_store_folder_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(NbopsError, match="cannot create the MLflow store"):
        store.prepare(f"sqlite:///{blocker / 'sub' / 'mlflow.db'}")


@pytest.mark.parametrize(("ms", "text"), [(850, "850 ms"), (12_340, "12.3 s"), (245_000, "4 min 5 s")])
def test_format_duration(ms: int, text: str) -> None:
    assert tracking.format_duration(ms) == text
