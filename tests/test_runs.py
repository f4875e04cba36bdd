"""nbops.runs: reading runs back from a real MLflow store, filtered, ordered and paged by it."""

from __future__ import annotations

import time
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

import nbops
from nbops import runs
from nbops.errors import InvalidInput, NotFound


def _tracked(name: str, experiment: str | None = None, **values: float | str) -> str:
    """A finished run with float values logged as metrics and strings as params.

    Runs start at least a few milliseconds apart so "newest first" is never a tie.
    """
    time.sleep(0.005)
    with nbops.track(name, experiment=experiment) as run:
        for key, value in values.items():
            if isinstance(value, str):
                mlflow.log_param(key, value)
            else:
                mlflow.log_metric(key, value)
    return run.info.run_id


def _names(page: dict) -> list[str]:
    return [r["run_name"] for r in page["runs"]]


def test_run_details_has_everything_a_card_shows(tracking_uri: str) -> None:
    with nbops.track("baseline", experiment="churn", tags={"team": "risk"}) as run:
        mlflow.log_param("model", "rf")
        mlflow.log_metric("accuracy", 0.5, step=0)
        mlflow.log_metric("accuracy", 0.93, step=1)
    details = runs.run_details(run.info.run_id)
    assert details["run_id"] == run.info.run_id
    assert details["run_name"] == "baseline"
    assert details["status"] == "FINISHED"
    assert details["experiment_name"] == "churn"
    assert details["experiment_id"] == run.info.experiment_id
    assert details["params"] == {"model": "rf"}
    assert details["metrics"] == {"accuracy": 0.93}  # the final value, not the history
    assert details["error"] is None
    assert details["tags"] == {"team": "risk"}  # no mlflow.* / nbops.* bookkeeping
    assert details["end_time"] >= details["start_time"]
    assert details["duration_ms"] == details["end_time"] - details["start_time"]


def test_run_details_of_a_failed_run_carries_the_error(tracking_uri: str) -> None:
    with pytest.raises(ZeroDivisionError), nbops.track("broken") as run:
        1 / 0  # noqa: B018
    details = runs.run_details(run.info.run_id)
    assert details["status"] == "FAILED"
    assert details["error"] == "ZeroDivisionError: division by zero"
    assert "nbops.error" not in details["tags"]


def test_unknown_run_id_is_not_found_with_advice(tracking_uri: str) -> None:
    with pytest.raises(
        NotFound, match=r"no run with id 'nope'; check the id \(nbops runs lists recent runs\)"
    ):
        runs.run_details("nope")


def test_search_orders_by_metric_in_the_store_across_pages(tracking_uri: str) -> None:
    for name, accuracy in [("low", 0.5), ("top", 0.9), ("mid", 0.7), ("none", None)]:
        _tracked(name, **({"accuracy": accuracy} if accuracy is not None else {}))
    ids = runs.experiment_ids()
    first = runs.search(ids, order_by=["metrics.`accuracy` DESC"], max_results=2)
    assert _names(first) == ["top", "mid"]
    assert isinstance(first["next_page_token"], str)  # the SQL store hands out bytes
    assert first["total"] is None  # more pages: only count() knows
    second = runs.search(
        ids, order_by=["metrics.`accuracy` DESC"], max_results=2, page_token=first["next_page_token"]
    )
    assert _names(second) == ["low", "none"]  # runs without the metric come last
    assert second["next_page_token"] is None
    ascending = runs.search(ids, order_by=[runs.order_clause("metrics.accuracy", descending=False)])
    assert _names(ascending)[:3] == ["low", "mid", "top"]
    assert ascending["total"] == 4  # one page is the whole answer


def test_search_orders_by_param_as_the_store_does_text(tracking_uri: str) -> None:
    for name, model in [("b", "svm"), ("a", "rf"), ("c", "xgb")]:
        _tracked(name, model=model)
    page = runs.search(runs.experiment_ids(), order_by=[runs.order_clause("params.model", descending=False)])
    assert _names(page) == ["a", "b", "c"]
    page = runs.search(runs.experiment_ids(), order_by=["attributes.start_time DESC"])
    assert _names(page) == ["c", "a", "b"]


def test_search_filters_in_the_store(tracking_uri: str) -> None:
    _tracked("weak", accuracy=0.4, model="rf")
    _tracked("strong", accuracy=0.95, model="rf")
    _tracked("other", accuracy=0.99, model="svm")
    page = runs.search(runs.experiment_ids(), "metrics.accuracy > 0.9 and params.model = 'rf'")
    assert _names(page) == ["strong"]
    assert page["runs"][0]["params"] == {"model": "rf"}
    assert page["total"] == 1


def test_search_reads_named_experiments_and_names_them(tracking_uri: str) -> None:
    _tracked("in-default", accuracy=0.1)
    _tracked("in-churn", experiment="churn", accuracy=0.2)
    ids = runs.experiment_ids(["churn", "Default"])
    page = runs.search(ids, order_by=["metrics.`accuracy` DESC"])
    assert [(r["run_name"], r["experiment_name"]) for r in page["runs"]] == [
        ("in-churn", "churn"),
        ("in-default", "Default"),
    ]


def test_current_experiment_follows_mlflow_set_experiment(tracking_uri: str) -> None:
    mlflow.set_experiment("chosen")
    try:
        _tracked("here", accuracy=1.0)
        assert runs.experiment_ids() == [
            MlflowClient(tracking_uri).get_experiment_by_name("chosen").experiment_id
        ]
        assert _names(runs.search(runs.experiment_ids())) == ["here"]
    finally:
        mlflow.set_experiment(experiment_id="0")


def test_unknown_experiment_name_is_not_found_with_advice(tracking_uri: str) -> None:
    with pytest.raises(NotFound, match="no experiment named 'nope'; check the name"):
        runs.experiment_ids("nope")


@pytest.mark.parametrize(
    ("filter_string", "order_by", "message"),
    [
        ("metrics.accuracy >", None, r"^the filter 'metrics.accuracy >' is not valid: Invalid clause"),
        (
            "colour = 'red'",
            ["metrics.`accuracy` DESC"],
            r"^the filter \"colour = 'red'\" is not valid: .*'colour'",
        ),
        ("metrics.accuracy > 0", ["shoe_size DESC"], r"^cannot order by shoe_size DESC: .*'shoe_size'"),
    ],
)
def test_bad_search_input_is_one_line_invalid_input_naming_the_culprit(
    filter_string: str, order_by: list[str] | None, message: str, tracking_uri: str
) -> None:
    _tracked("r", accuracy=0.5)
    with pytest.raises(InvalidInput, match=message) as caught:
        runs.search(runs.experiment_ids(), filter_string, order_by)
    assert "\n" not in str(caught.value)


def test_a_foreign_page_token_is_refused_with_advice(tracking_uri: str) -> None:
    with pytest.raises(InvalidInput, match="page token is not one this store issued"):
        runs.search(runs.experiment_ids(), page_token="not-a-token")


@pytest.mark.parametrize("bad", [0, runs.MAX_PAGE + 1])
def test_search_page_size_is_bounded(bad: int, tracking_uri: str) -> None:
    with pytest.raises(InvalidInput, match="max_results must be between 1 and 1000"):
        runs.search(["0"], max_results=bad)


def test_count_pages_through_the_store(tracking_uri: str) -> None:
    for i in range(7):
        _tracked(f"r{i}", accuracy=i / 10)
    ids = runs.experiment_ids()
    assert runs.count(ids) == 7
    assert runs.count(ids, page_size=3) == 7  # three pages: 3 + 3 + 1
    assert runs.count(ids, page_size=7) == 7  # an exact page, then no token
    assert runs.count(ids, "metrics.accuracy >= 0.3", page_size=2) == 4
    assert runs.count(ids, "metrics.accuracy > 5") == 0


def test_count_with_a_bad_filter_is_invalid_input(tracking_uri: str) -> None:
    with pytest.raises(InvalidInput, match=r"the filter 'metrics\.x >' is not valid"):
        runs.count(["0"], "metrics.x >")


@pytest.mark.parametrize(
    ("key", "descending", "clause"),
    [
        ("metrics.accuracy", True, "metrics.`accuracy` DESC"),
        ("params.learning rate", False, "params.`learning rate` ASC"),
        ("attributes.start_time", True, "attributes.start_time DESC"),
    ],
)
def test_order_clause_quotes_names(key: str, descending: bool, clause: str) -> None:
    assert runs.order_clause(key, descending) == clause


def test_order_clause_refuses_unknown_columns() -> None:
    with pytest.raises(InvalidInput, match="cannot sort by 'accuracy'"):
        runs.order_clause("accuracy", True)


def test_recent_runs_newest_first_across_experiments_with_paging(tracking_uri: str) -> None:
    for name, experiment in [("a", None), ("b", "exp-1"), ("c", "exp-2")]:
        with nbops.track(name, experiment=experiment):
            pass
    first = runs.recent(max_results=2)
    assert [r["run_name"] for r in first["runs"]] == ["c", "b"]
    assert [r["experiment_name"] for r in first["runs"]] == ["exp-2", "exp-1"]
    assert first["next_page_token"]
    second = runs.recent(max_results=2, page_token=first["next_page_token"])
    assert [r["run_name"] for r in second["runs"]] == ["a"]
    assert second["next_page_token"] is None
    row = second["runs"][0]
    assert row["status"] == "FINISHED" and row["duration_ms"] >= 0
    assert row["end_time"] >= row["start_time"]


def test_recent_runs_leave_out_model_servers_deployment_records(tracking_uri: str) -> None:
    from nbops.serving.deployments import end_deployment, list_deployments, register_deployment

    with nbops.track("train"):
        pass
    deployment = register_deployment(
        model="iris", alias="champion", url="http://127.0.0.1:5001", version="1", canary=None, shadow=None
    )
    end_deployment(deployment)
    assert [d["model"] for d in list_deployments(stopped=True)] == ["iris"]
    assert [r["run_name"] for r in runs.recent()["runs"]] == ["train"]


def test_recent_runs_does_not_create_a_store_just_to_read_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "pyproject.toml").write_text("")
    page = runs.recent(start=tmp_path)
    assert page["runs"] == [] and page["next_page_token"] is None
    assert page["store"] == f"sqlite:///{tmp_path.resolve() / '.nbops' / 'mlflow.db'}"
    assert not (tmp_path / ".nbops").exists()


@pytest.mark.parametrize("bad", [0, 1001])
def test_recent_runs_rejects_page_sizes_out_of_range(bad: int, tracking_uri: str) -> None:
    with pytest.raises(InvalidInput, match="between 1 and 1000"):
        runs.recent(max_results=bad)
