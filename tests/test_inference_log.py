"""The inference log of a served model: requests become monitoring batches, whatever the store does.

Requests are recorded as the serving engine records them (one call per answered request); the
batches land in a real store (both backends), and a store outage is a real tracking server
stopped and started again on the same port.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nbops
from nbops import config, monitor, registry, store
from nbops.errors import ConfigError
from nbops.serving.inference_log import InferenceLog, batch_artifact
from nbops.serving.settings import ServingSettings

DEADLINE = 60.0


def wait_until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` at the deadline (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def sample(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x1": rng.normal(0, 1, n), "x2": rng.normal(0, 1, n)})
    return X, (X["x1"] + 0.5 * X["x2"] > 0).astype(int).to_numpy()


def register(name: str = "scorer", versions: int = 1, start: Path | None = None):
    from sklearn.linear_model import LogisticRegression

    X, y = sample(300, 0)
    model = LogisticRegression().fit(X, y)
    for _ in range(versions):
        with nbops.track(f"train-{name}", start=start):
            registry.register(model, name, data=X, alias="champion", start=start)
    return model


def serve_rows(log: InferenceLog, model, version: str, first: int, requests: int, rows: int = 1) -> list[str]:
    """Record ``requests`` answered requests of ``rows`` rows each, as the engine would; their IDs."""
    ids = []
    for i in range(first, first + requests):
        X, _ = sample(rows, i)
        ids.append(f"req-{i}")
        log.record(version, f"req-{i}", X, model.predict(X), 2.5 + i % 3, 200)
    return ids


def artifact_lines(name: str, version: str, batch: int) -> list[dict]:
    from nbops.monitoring.runs import monitoring_run_id

    run_id = monitoring_run_id(name, version, create=False)
    local = store.client().download_artifacts(run_id, f"inference/{batch_artifact(batch)}")
    return [json.loads(line) for line in Path(local).read_text().splitlines()]


# --- [tool.nbops.serving] ------------------------------------------------------------------------


def settings_of(tmp_path: Path, table: str) -> ServingSettings:
    (tmp_path / "pyproject.toml").write_text(f"[tool.nbops.serving]\n{table}\n")
    return ServingSettings.from_settings(config.resolve(tmp_path, environ={}))


def test_serving_settings_are_read_from_the_project_over_the_defaults(tmp_path: Path) -> None:
    found = settings_of(
        tmp_path, "batch_rows = 100\nbatch_seconds = 5\nkeep_payloads = true\nshadow_share = 1"
    )
    assert (found.batch_rows, found.batch_seconds, found.keep_payloads) == (100, 5, True)
    assert (found.shadow_share, ServingSettings().shadow_share) == (1, 0.05)
    assert found.max_buffer_rows == ServingSettings().max_buffer_rows == 50_000
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert ServingSettings.from_settings(config.resolve(tmp_path, environ={})) == ServingSettings()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("batch_row = 100", "unknown key 'batch_row' under [tool.nbops.serving]"),
        ("batch_rows = 0", "batch_rows under [tool.nbops.serving]"),
        ("batch_rows = 2.5", "must be a whole number >= 1, not 2.5"),
        ("batch_seconds = -1", "batch_seconds under [tool.nbops.serving]"),
        ('heartbeat_seconds = "10"', "must be a number of seconds > 0, not '10'"),
        ('keep_payloads = "yes"', "must be true or false, not 'yes'"),
        ("shadow_share = 0", "must be a fraction above 0 and at most 1 (0.05 is 5 % of one core), not 0."),
        ("shadow_share = 1.5", "must be a fraction above 0 and at most 1 (0.05 is 5 % of one core), not 1.5"),
        ("batch_rows = 100\nmax_buffer_rows = 10", "max_buffer_rows (10) must be at least batch_rows (100)"),
    ],
)
def test_a_bad_serving_setting_names_the_key_and_what_it_accepts(
    tmp_path: Path, table: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_of(tmp_path, table)
    assert message in str(raised.value) and "\n" not in str(raised.value)
    if "unknown key" in message:
        assert "the keys are batch_rows, batch_seconds, keep_payloads" in str(raised.value)


# --- batches -------------------------------------------------------------------------------------


def test_requests_become_batches_per_version_by_rows_or_by_time(project: Path) -> None:
    model = register(versions=2)
    log = InferenceLog("scorer", ServingSettings(batch_rows=6, batch_seconds=0.5, max_buffer_rows=100))
    try:
        ids = serve_rows(log, model, "1", 0, 3, rows=2)  # 6 rows: the batch closes on its size
        serve_rows(log, model, "2", 10, 2)
        log.record("2", "req-broken", pd.DataFrame({"x1": [1.0], "x2": [2.0]}), None, 40.0, 500)
        log.record("2", "req-refused", None, None, 0.4, 400)  # the caller's fault, not the model's
        wait_until(lambda: log.stats()["logged_batches"] == 2, "both versions' batches")  # v2: on time
        stats = log.stats()
        assert stats["logged_rows"] == 6 + 4 and stats["pending_rows"] == 0 and stats["dropped_rows"] == 0
        assert stats["last_error"] is None
    finally:
        log.close()

    one = monitor.series("scorer", 1, ["batch.rows", "health.*", "latency.p50_ms"])
    assert [p["value"] for p in one["batch.rows"]] == [6.0]
    assert one["health.errors"][0]["value"] == 0 and one["health.client_errors"][0]["value"] == 0
    assert one["latency.p50_ms"][0]["value"] == pytest.approx(3.5)  # the requests' own latencies
    two = monitor.series("scorer", 2, ["batch.rows", "health.errors", "health.client_errors"])
    assert [p["value"] for p in two["batch.rows"]] == [2.0]  # the answered rows
    assert two["health.errors"][0]["value"] == 1.0 and two["health.client_errors"][0]["value"] == 1.0

    lines = artifact_lines("scorer", "1", 1)
    assert [(line["request_id"], line["row"]) for line in lines] == [(i, r) for i in ids for r in (0, 1)]
    X, _ = sample(2, 0)
    assert [line["prediction"] for line in lines[:2]] == model.predict(X).tolist()
    assert "features" not in lines[0]  # payloads are kept only when asked for
    statuses = {line["request_id"]: line["status"] for line in artifact_lines("scorer", "2", 1)}
    assert statuses == {"req-10": 200, "req-11": 200, "req-broken": 500, "req-refused": 400}


def test_keep_payloads_keeps_each_rows_features_beside_its_prediction(project: Path) -> None:
    model = register()
    log = InferenceLog("scorer", ServingSettings(batch_rows=2, batch_seconds=60, keep_payloads=True))
    serve_rows(log, model, "1", 0, 2)
    wait_until(lambda: log.stats()["logged_batches"] == 1, "the batch")
    log.close()
    X, _ = sample(1, 1)
    (_, second) = artifact_lines("scorer", "1", 1)
    assert second["features"] == pytest.approx(X.iloc[0].to_dict())


def test_close_logs_what_is_pending_and_stops_the_thread(project: Path) -> None:
    model = register()
    log = InferenceLog("scorer", ServingSettings(batch_rows=1000, batch_seconds=3600))
    serve_rows(log, model, "1", 0, 5)
    assert log.stats()["pending_rows"] == 5
    log.close(timeout=30)
    assert log.stats()["logged_rows"] == 5 and log.stats()["pending_rows"] == 0
    assert not log._thread.is_alive()
    log.record("1", "late", None, [1], 1.0, 200)  # after close: counted, never raised
    assert log.stats()["dropped_rows"] == 1
    assert monitor.series("scorer", 1, ["batch.rows"])["batch.rows"][0]["value"] == 5.0


def test_record_never_raises_on_what_it_cannot_read(project: Path) -> None:
    class Unmeasurable:
        def __len__(self) -> int:
            raise RuntimeError("no length")

    log = InferenceLog("scorer", ServingSettings(batch_rows=10, batch_seconds=3600))
    try:
        log.record("1", "odd", Unmeasurable(), None, 1.0, 200)
        assert "could not record request 'odd'" in log.stats()["last_error"]
    finally:
        log.close(timeout=1)


# --- the store goes away -------------------------------------------------------------------------


def test_an_unreachable_store_keeps_requests_bounded_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backends import free_port

    (tmp_path / "pyproject.toml").write_text(
        f'[tool.nbops]\ntracking_uri = "http://127.0.0.1:{free_port()}"\n'
    )
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    log = InferenceLog(
        "scorer", ServingSettings(batch_rows=5, batch_seconds=0.05, max_buffer_rows=20), start=tmp_path
    )
    X = pd.DataFrame({"x1": [0.1], "x2": [0.2]})
    for i in range(50):
        log.record("1", f"req-{i}", X, [1], 1.0, 200)
    stats = log.stats()
    assert stats["pending_rows"] == 20 and stats["dropped_rows"] == 30  # the oldest went first
    wait_until(lambda: log.stats()["last_error"] is not None, "the failed write")
    assert "cannot reach the MLflow tracking server" in log.stats()["last_error"]
    log.close(timeout=0.5)
    assert log.stats()["dropped_rows"] == 50
    wait_until(lambda: not log._thread.is_alive(), "the thread to end after its last probe")


def test_a_tracking_server_outage_is_ridden_out_and_the_dropped_rows_reported(
    team_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import backends

    port = backends.free_port()
    monkeypatch.setattr(backends, "free_port", lambda: port)  # the restarted server comes back on it
    database = team_server.new_database("nbops_outage")
    server = backends.MlflowServer.start(database, team_server.artifacts, tmp_path / "outage-1.log")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(f'[tool.nbops]\ntracking_uri = "{server.url}"\n')
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(project)
    log = None
    try:
        model = register()
        settings = ServingSettings(batch_rows=5, batch_seconds=0.2, max_buffer_rows=20)
        log = InferenceLog("scorer", settings, start=project)
        serve_rows(log, model, "1", 0, 5)
        wait_until(lambda: log.stats()["logged_batches"] == 1, "the first batch")

        server.stop()
        serve_rows(log, model, "1", 100, 40)
        assert log.stats()["pending_rows"] == 20 and log.stats()["dropped_rows"] == 20
        wait_until(lambda: log.stats()["last_error"] is not None, "the failed write")
        assert "cannot reach the MLflow tracking server" in log.stats()["last_error"]

        caplog.set_level(logging.WARNING, logger="nbops.serving.inference_log")
        server = backends.MlflowServer.start(database, team_server.artifacts, tmp_path / "outage-2.log")
        wait_until(lambda: log.stats()["pending_rows"] == 0, "the waiting rows to be logged", 120)
        stats = log.stats()
        assert stats["logged_rows"] == 25 and stats["dropped_rows"] == 20 and stats["last_error"] is None
        dropped = monitor.series("scorer", 1, ["health.dropped_rows"], start=project)["health.dropped_rows"]
        assert sum(p["value"] for p in dropped) == 20
        assert "20 row(s) of scorer v1 were dropped" in caplog.text
    finally:
        if log is not None:
            log.close(timeout=5)
        server.stop()
        backends.forget_process_state()
