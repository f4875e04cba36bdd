"""Monitoring on a real store: reference profiles, batches, alerts, retraining, reviews."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient

import nbops
from nbops import audit, monitor, registry, store
from nbops.errors import InvalidInput, NotFound
from nbops.monitoring import runs

ROOT = Path(__file__).parents[1]


def sample(n: int, seed: int, shift: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(shift, 1, n)
    x2 = rng.normal(0, 1, n)
    region = rng.choice(["north", "south", "east"], n, p=[0.4, 0.4, 0.2] if not shift else [0.1, 0.2, 0.7])
    group = rng.choice(["a", "b"], n)
    y = (x1 + 0.5 * x2 + rng.normal(0, 0.5, n) > shift).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "region": region, "group": group}), y


def fit(X: pd.DataFrame, y: np.ndarray):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    columns = ColumnTransformer(
        [("n", "passthrough", ["x1", "x2"]), ("c", OneHotEncoder(handle_unknown="ignore"), ["region"])]
    )
    return make_pipeline(columns, LogisticRegression()).fit(X, y)


def register(
    name: str = "loans", alias: str | None = "champion", seed: int = 0, accuracy: float | None = None
):
    X, y = sample(2000, seed)
    model = fit(X, y)
    with nbops.track(f"train-{name}"):
        if accuracy is not None:
            nbops.log_metric("accuracy", accuracy)
        version = registry.register(model, name, data=X, alias=alias)
    return model, version


def configure(project: Path, text: str) -> None:
    with (project / "pyproject.toml").open("a") as f:
        f.write(text)


# --- reference profile -----------------------------------------------------------------------------


def test_registering_with_data_stores_a_reference_profile_monitoring_reads_back(project: Path) -> None:
    from nbops.monitoring import reference

    _, version = register()
    mv = registry.get_version("loans", version.version)
    assert mv.tags[reference.PROFILE_TAG].endswith("reference_profile.npz")
    profile = reference.load_profile("loans", version.version)
    assert list(profile.features) == ["x1", "x2", "region", "group"]
    assert profile.rows == 2000
    assert profile.prediction is not None  # the model's predictions on the training data


def test_a_version_without_a_profile_still_logs_everything_else_and_says_why(project: Path) -> None:
    X, y = sample(500, 0)
    with nbops.track("plain"):
        registry.register(fit(X, y), "bare")
    result = monitor.log_batch("bare/1", X, predictions=y, labels=y)
    assert result.drift is None
    assert "no reference profile" in result.notes[0]
    assert result.metrics["performance.accuracy"] == 1.0


# --- logging batches -------------------------------------------------------------------------------


def test_batches_are_steps_of_one_run_per_version_with_their_timestamps(project: Path) -> None:
    model, _ = register()
    day = datetime(2026, 3, 1, tzinfo=UTC)
    for batch in range(3):
        X, y = sample(400, 10 + batch, shift=1.5 if batch == 2 else 0.0)
        monitor.log_batch("loans@champion", X, model.predict(X), y, timestamp=day + timedelta(days=batch))
    client = MlflowClient(store.settings().tracking_uri)
    (run,) = client.search_runs([client.get_experiment_by_name("nbops-monitoring").experiment_id])
    assert run.data.tags["nbops.monitor.model"] == "loans" and run.data.tags["nbops.monitor.version"] == "1"
    history = client.get_metric_history(run.info.run_id, "drift.share")
    assert [m.step for m in sorted(history, key=lambda m: m.step)] == [1, 2, 3]
    assert sorted(m.timestamp for m in history) == [
        int((day + timedelta(days=d)).timestamp() * 1000) for d in range(3)
    ]
    shares = [p["value"] for p in monitor.series("loans", 1, ["drift.share"])["drift.share"]]
    assert shares[0] < 0.5 and shares[2] >= 0.5  # the shifted batch drifted
    per_feature = monitor.series("loans", 1, ["drift.*.psi"])
    assert set(per_feature) == {"drift.x1.psi", "drift.x2.psi", "drift.region.psi", "drift.group.psi"}


def test_performance_latency_and_fairness_match_a_direct_computation(project: Path) -> None:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    model, _ = register(accuracy=0.9)
    X, y = sample(1000, 7)
    predictions, scores = model.predict(X), model.predict_proba(X)
    latency = np.random.default_rng(0).gamma(2, 5, len(X))
    result = monitor.log_batch("loans", X, predictions, y, latency, sensitive="group", scores=scores)
    m = result.metrics
    assert m["performance.accuracy"] == pytest.approx(accuracy_score(y, predictions))
    assert m["performance.f1"] == pytest.approx(f1_score(y, predictions))
    assert m["performance.roc_auc"] == pytest.approx(roc_auc_score(y, scores[:, 1]))
    assert m["performance.accuracy.change"] == pytest.approx(accuracy_score(y, predictions) - 0.9)
    assert m["latency.p95_ms"] == pytest.approx(np.percentile(latency, 95))
    rates = {g: (predictions[X["group"] == g] == 1).mean() for g in ("a", "b")}
    assert m["fairness.selection_rate.a"] == pytest.approx(rates["a"])
    assert m["fairness.demographic_parity_difference"] == pytest.approx(abs(rates["a"] - rates["b"]))
    tprs = {g: (predictions[(X["group"] == g) & (y == 1)] == 1).mean() for g in ("a", "b")}
    assert m["fairness.equal_opportunity_difference"] == pytest.approx(abs(tprs["a"] - tprs["b"]))
    assert m["health.missing_rate"] == 0.0 and m["health.schema_violations"] == 0.0


def test_bad_batches_are_refused_in_one_line_and_nothing_is_written(project: Path) -> None:
    model, _ = register()
    X, y = sample(100, 1)
    with pytest.raises(InvalidInput, match="labels has 99 values but the batch has 100 rows"):
        monitor.log_batch("loans", X, model.predict(X), y[:99])
    with pytest.raises(InvalidInput, match="sensitive column 'gender' is not in the batch"):
        monitor.log_batch("loans", X, model.predict(X), sensitive="gender")
    with pytest.raises(InvalidInput, match="labels need predictions"):
        monitor.log_batch("loans", X, labels=y)
    with pytest.raises(NotFound):
        monitor.log_batch("nope@champion", X)
    with pytest.raises(InvalidInput, match="timestamp must be"):
        monitor.log_batch("loans", X, timestamp="last tuesday")
    assert monitor.series("loans", 1) == {}


def test_schema_problems_and_an_empty_batch_give_defined_health_numbers(project: Path) -> None:
    register()
    X, _ = sample(200, 3)
    X.loc[:49, "x2"] = np.nan
    result = monitor.log_batch("loans", X.drop(columns=["region"]))
    assert result.metrics["health.schema_violations"] == 1.0
    assert result.metrics["health.missing_rate"] == pytest.approx(50 / (200 * 3))
    row = result.drift.set_index("feature").loc["region"]
    assert row["note"] and not row["drifted"]
    empty = monitor.log_batch("loans", X.iloc[:0])
    assert empty.metrics["batch.rows"] == 0 and empty.metrics["drift.share"] == 0.0
    assert all(np.isfinite(v) for v in empty.metrics.values())


def test_scoring_in_nbops_measures_latency_cpu_memory_cost_and_errors(project: Path) -> None:
    configure(project, "\n[tool.nbops.monitoring]\nprice_per_cpu_hour = 3.6\n")
    register()
    X, y = sample(500, 4)
    X["x1"] = X["x1"].astype(object)
    X.loc[450, "x1"] = "broken"  # the last request (rows 400-499) fails to score
    result = monitor.score_and_log("loans@champion", X, y, request_size=100)
    m = result.metrics
    assert m["health.errors"] == 100 and "100 row(s) failed to score" in result.notes[-1]
    assert m["batch.rows"] == 400  # the failed rows have no prediction to judge
    assert m["latency.p50_ms"] > 0 and m["resource.cpu_seconds"] > 0 and m["resource.peak_memory_mb"] > 0
    assert m["cost.per_1k_predictions"] == pytest.approx(3.6 * m["resource.cpu_seconds"] / 3600 / 400 * 1000)


def test_two_processes_logging_at_once_get_distinct_batch_numbers(project: Path) -> None:
    register()
    X, _ = sample(300, 5)
    X.to_csv(project / "batch.csv", index=False)
    code = (
        "import pandas as pd, nbops\n"
        "X = pd.read_csv('batch.csv')\n"
        "for _ in range(3):\n"
        "    nbops.monitor.log_batch('loans@champion', X)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=project) for _ in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    steps = sorted(p["step"] for p in monitor.series("loans", 1, ["batch.rows"])["batch.rows"])
    assert steps == [1, 2, 3, 4, 5, 6]


def store_operations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tracking and registry store operations made from now on, outermost only.

    The real stores are spied on, not replaced: one operation is one database session on the
    embedded store and one HTTP request to a tracking server.
    """
    import inspect
    import threading

    client = store.client()
    calls: list[str] = []
    depth = threading.local()
    for cls in {type(client._tracking_client.store), type(client._get_registry_client().store)}:
        for attr in dir(cls):
            method = inspect.getattr_static(cls, attr)
            if attr.startswith("_") or not inspect.isfunction(method):
                continue

            def spy(self, *args, _method=method, _name=f"{cls.__module__}.{attr}", **kwargs):
                if not getattr(depth, "inside", False):
                    calls.append(_name)
                outer, depth.inside = getattr(depth, "inside", False), True
                try:
                    return _method(self, *args, **kwargs)
                finally:
                    depth.inside = outer

            monkeypatch.setattr(cls, attr, spy)
    return calls


def test_a_batch_costs_two_store_round_trips_however_many_features_it_has(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    counted = {}
    for width in (2, 60):
        X = pd.DataFrame(rng.normal(size=(500, width)), columns=[f"f{i}" for i in range(width)])
        model = LinearRegression().fit(X, X.sum(axis=1))
        registry.register(model, f"wide{width}", data=X)
        monitor.log_batch(f"wide{width}/1", X, model.predict(X))  # the first batch creates the run
        with monkeypatch.context() as patched:
            calls = store_operations(patched)
            result = monitor.log_batch(f"wide{width}/1", X, model.predict(X))
        counted[width] = list(calls)
        assert result.batch == 2 and len(result.metrics) > 6 * width
        stored = monitor.series(f"wide{width}", 1, ["drift.*.psi"])
        assert len(stored) == width and all([p["step"] for p in h] == [1, 2] for h in stored.values())
    # one read of the version (profile location included), one write of the claim with every metric
    assert [len(c) for c in counted.values()] == [2, 2], counted
    assert all(c[-1].endswith(".log_batch") for c in counted.values())


def test_a_batch_number_another_writer_holds_is_skipped_and_left_as_it_was(project: Path) -> None:
    register()
    X, _ = sample(300, 8)
    first = monitor.log_batch("loans", X)
    client = store.client()
    client.log_param(first.run_id, f"{runs.BATCH_PARAM}2", "another writer")  # claimed elsewhere
    second = monitor.log_batch("loans", X)
    assert second.batch == 3 and second.run_id == first.run_id
    assert client.get_run(first.run_id).data.params[f"{runs.BATCH_PARAM}2"] == "another writer"
    assert [m.step for m in client.get_metric_history(first.run_id, "batch.rows")] == [1, 3]


def test_a_deleted_monitoring_run_is_replaced_on_the_next_batch(project: Path) -> None:
    register()
    X, _ = sample(300, 9)
    first = monitor.log_batch("loans", X)
    store.client().delete_run(first.run_id)
    again = monitor.log_batch("loans", X)
    assert again.run_id != first.run_id and again.batch == 1
    assert runs.monitoring_run_id("loans", "1", create=False) == again.run_id


def test_compare_lines_up_champion_and_challenger_on_their_latest_batches(project: Path) -> None:
    champion, _ = register()
    challenger, _ = register(alias="challenger", seed=1)
    X, y = sample(500, 6)
    monitor.log_batch("loans@champion", X, champion.predict(X), y)
    monitor.log_batch("loans@challenger", X, challenger.predict(X), y)
    table = monitor.compare("loans")
    assert list(table.columns) == ["champion (v1)", "challenger (v2)", "difference"]
    row = table.loc["performance.accuracy"]
    assert row["difference"] == pytest.approx(row["challenger (v2)"] - row["champion (v1)"])


# --- alerts ----------------------------------------------------------------------------------------

RULE = """
[tool.nbops.alerts.drifting]
metric = "drift.share"
op = ">="
threshold = 0.5
window = 2
severity = "critical"
"""


def test_an_alert_opens_once_per_episode_resolves_and_is_audited(project: Path) -> None:
    configure(project, RULE)
    model, _ = register()
    shifts = [0, 1.5, 1.5, 1.5, 0, 1.5]
    opened = []
    for batch, shift in enumerate(shifts):
        X, y = sample(400, 20 + batch, shift)
        result = monitor.log_batch("loans", X, model.predict(X), y)
        opened.append([a["state"] for a in result.alerts])
    # batch 3 completes a window of two drifted batches; 4 keeps it open; 5 is clean; 6 alone is not enough
    assert opened == [[], [], ["open"], [], ["resolved"], []]
    (alert,) = monitor.alerts(model="loans")
    assert alert["state"] == "resolved" and alert["severity"] == "critical"
    assert alert["opened_batch"] == 3 and alert["resolved_batch"] == 5
    assert "drift.share >= 0.5 over the last 2 batches of loans v1" in alert["message"]
    assert [e.action for e in audit.events(model="loans") if e.action.startswith("alert")] == [
        "alert",
        "alert-resolved",
    ]


def test_monitor_check_exits_1_while_an_alert_is_open(project: Path) -> None:
    from nbops.cli import main

    configure(project, RULE.replace("window = 2", "window = 1"))
    model, _ = register()
    runner = CliRunner()
    X, y = sample(400, 30)
    monitor.log_batch("loans", X, model.predict(X), y)
    clean = runner.invoke(main, ["monitor", "check"])
    assert clean.exit_code == 0 and "no open alerts" in clean.output
    X, y = sample(400, 31, shift=1.5)
    monitor.log_batch("loans", X, model.predict(X), y)
    firing = runner.invoke(main, ["monitor", "check", "--model", "loans"])
    assert firing.exit_code == 1
    assert "critical" in firing.output and "drifting" in firing.output
    assert monitor.open_alert_counts() == {"loans": 1}


def test_a_nan_metric_never_fires_and_a_broken_rule_is_named(project: Path) -> None:
    from nbops.errors import ConfigError
    from nbops.monitoring import alerting

    configure(project, RULE.replace('metric = "drift.share"', 'metric = "performance.accuracy"'))
    model, _ = register()
    X, _ = sample(400, 40, shift=1.5)
    result = monitor.log_batch("loans", X, model.predict(X))  # no labels: no accuracy to judge
    assert result.alerts == [] and "performance.accuracy" not in result.metrics
    configure(project, '\n[tool.nbops.alerts.broken]\nmetric = "drift.share"\nop = "~"\nthreshold = 1\n')
    with pytest.raises(ConfigError, match=r"\[tool.nbops.alerts.broken\].*op must be one of"):
        alerting.rules()


# --- retraining ------------------------------------------------------------------------------------


def test_a_firing_rule_retrains_gates_the_challenger_and_audits_every_step(project: Path) -> None:
    configure(
        project,
        f"""
[tool.nbops.policy]
champion = ["performance"]

[tool.nbops.alerts.drifting]
metric = "drift.share"
op = ">="
threshold = 0.3
window = 1
retrain = "{ROOT / "notebooks" / "retrain.ipynb"}"
retrain_parameters = {{ rows = 3000, holdout_path = "{{report_dir}}/holdout.csv" }}
gate_parameters = {{ data_path = "{{report_dir}}/holdout.csv", min_accuracy = 0.7, min_f1 = 0.7, min_roc_auc = 0.7 }}
""",
    )
    sys.path.insert(0, str(ROOT / "notebooks"))
    try:
        from lending import make_model
        from lending import sample as lending_sample
    finally:
        sys.path.remove(str(ROOT / "notebooks"))
    X, y = lending_sample(2000, seed=0)
    with nbops.track("v1"):
        registry.register(make_model().fit(X, y), "monitored-classifier", data=X)
    registry.promote("monitored-classifier", 1, "champion", reason="first", force=True)
    X_new, y_new = lending_sample(500, seed=9, drift=1.0)
    result = monitor.score_and_log("monitored-classifier", X_new, y_new)
    (alert,) = monitor.wait_for_retraining(alerts=result.alerts)
    assert alert["retrain_state"] == "finished", alert.get("retrain_error")
    assert alert["challenger_version"] == "2" and alert["gates"] == "passed"
    assert Path(alert["retrain_notebook"]).is_file()
    mv = registry.get_version("monitored-classifier", 2)
    assert mv.tags["nbops.gate.performance"].startswith("passed ")
    assert registry.alias_holder("monitored-classifier", "champion") == "1"  # never promoted by itself
    steps = [
        e.details.get("step") for e in audit.events(model="monitored-classifier") if e.action == "retrain"
    ]
    assert steps == ["started", "trained", "gated", "finished"]
    # The same episode does not retrain again.
    again = monitor.score_and_log("monitored-classifier", X_new, y_new)
    assert again.alerts == []
    assert len([e for e in audit.events(model="monitored-classifier") if e.action == "retrain"]) == 4


def test_a_retrain_notebook_that_fails_keeps_the_alert_and_says_why(project: Path) -> None:
    broken = project / "retrain.ipynb"
    import nbformat

    nb = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3"},
            "language_info": {"name": "python"},
        }
    )
    params = nbformat.v4.new_code_cell("model_name = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("raise RuntimeError('warehouse unreachable')")]
    nbformat.write(nb, broken)
    configure(project, RULE.replace("window = 2", 'window = 1\nretrain = "retrain.ipynb"'))
    model, _ = register()
    X, y = sample(400, 50, shift=1.5)
    (alert,) = monitor.wait_for_retraining(alerts=monitor.log_batch("loans", X, model.predict(X), y).alerts)
    assert alert["state"] == "open" and alert["retrain_state"] == "failed"
    assert "warehouse unreachable" in alert["retrain_error"]
    assert Path(alert["retrain_notebook"]).is_file()  # the executed notebook is kept
    assert [e.details["step"] for e in audit.events(model="loans") if e.action == "retrain"] == [
        "started",
        "failed",
    ]


# --- faces -----------------------------------------------------------------------------------------


def test_the_health_review_renders_versions_alerts_and_charts(project: Path) -> None:
    configure(project, RULE.replace("window = 2", "window = 1"))
    model, _ = register()
    for batch, shift in enumerate([0, 1.5]):
        X, y = sample(400, 60 + batch, shift)
        monitor.log_batch("loans", X, model.predict(X), y, sensitive="group")
    page = monitor.review("loans", output=project / "review.html")
    html = page.read_text()
    assert "Health review: loans" in html and "(template)" not in html
    assert "drift.share &gt;= 0.5" in html or "drift.share >= 0.5" in html
    assert html.count("<img") >= 1  # the charts
    assert "def " not in html and "import " not in html  # code is hidden
    assert page.with_suffix(".ipynb").is_file()


def test_the_monitor_magic_logs_a_batch_and_shows_the_drift_report(project: Path, capsys) -> None:
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    model, _ = register()
    ip = InteractiveShell.instance()
    ip.run_line_magic("reload_ext", "nbops")
    X, y = sample(300, 70, shift=1.5)
    ip.user_ns.update(batch=X, preds=model.predict(X), truth=y)
    ip.run_line_magic("monitor", "loans@champion batch --predictions preds --labels truth --sensitive group")
    out = capsys.readouterr().out
    assert "loans v1 batch 1: 300 rows" in out and "accuracy" in out
    with pytest.raises(UsageError, match="--labels names 'nothing', which is not defined"):
        ip.run_line_magic("monitor", "loans batch --labels nothing")
    assert runs.latest("loans", 1)["batch.rows"] == 300


def test_the_model_card_reports_monitoring_and_the_runs_list_hides_its_bookkeeping(project: Path) -> None:
    from nbops import runs

    configure(project, RULE.replace("window = 2", "window = 1"))
    model, _ = register()
    assert "Not monitored yet" in registry.model_card("loans", 1)
    X, y = sample(400, 80, shift=1.5)
    monitor.log_batch("loans", X, model.predict(X), y, sensitive="group")
    card = registry.model_card("loans", 1)
    assert "**1 batch(es)** logged" in card and "open alerts: 1" in card
    assert "demographic parity difference in the latest batch" in card
    import mlflow.artifacts

    folder = registry.get_version("loans", 1).tags[registry.CARD_TAG]  # the stored copy is refreshed too
    store.fluent()  # points MLflow's fluent API at the project's store
    stored = mlflow.artifacts.load_text(f"{folder}/model_card.md")
    assert "open alerts: 1" in stored
    names = {r["experiment_name"] for r in runs.recent(50)["runs"]}
    assert not names & {"nbops-monitoring", "nbops-alerts", "nbops-audit"}
