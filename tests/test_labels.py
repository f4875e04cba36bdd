"""Delayed labels: joined by request ID to what a served model answered, scored on their batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score
from test_inference_log import register, sample

from nbops import monitor
from nbops.errors import InvalidInput, NotFound
from nbops.serving.inference_log import InferenceLog
from nbops.serving.settings import ServingSettings


def serve(model, versions: dict[str, list[int]], batch_rows: int, rows: int = 1) -> dict[str, np.ndarray]:
    """Serve one request per seed to each version and log them in batches; request ID → predictions."""
    log = InferenceLog("scorer", ServingSettings(batch_rows=batch_rows, batch_seconds=3600))
    answered = {}
    try:
        for version, seeds in versions.items():
            for seed in seeds:
                X, _ = sample(rows, seed)
                answered[f"req-{seed}"] = model.predict(X)
                log.record(version, f"req-{seed}", X, answered[f"req-{seed}"], 1.0, 200)
    finally:
        log.close(timeout=60)
    assert log.stats()["pending_rows"] == 0 and log.stats()["last_error"] is None
    return answered


def truth(seed: int, rows: int = 1) -> np.ndarray:
    return sample(rows, seed)[1]


def test_labels_arriving_later_score_the_batches_their_requests_were_in(project: Path) -> None:
    model = register()
    answered = serve(model, {"1": list(range(8))}, batch_rows=4)  # batches 1 (req-0..3) and 2 (req-4..7)
    said = {f"req-{i}": int(answered[f"req-{i}"][0]) for i in range(8)}
    given = {**said, "req-1": 1 - said["req-1"], "req-6": 1 - said["req-6"], "req-7": 1 - said["req-7"]}

    def accuracy(seeds: range) -> float:
        ids = [f"req-{i}" for i in seeds]
        return accuracy_score([given[i] for i in ids], [said[i] for i in ids])

    ids = [f"req-{i}" for i in range(6)]
    result = monitor.log_labels("scorer/1", [*ids, "req-unknown"], [given[i] for i in ids] + [1])
    assert (result.matched, result.unknown, result.unknown_ids) == (6, 1, ["req-unknown"])
    assert [(b["batch"], b["labelled_rows"]) for b in result.batches] == [(1, 4), (2, 2)]
    points = monitor.series("scorer", 1, ["performance.accuracy"])["performance.accuracy"]
    assert [(p["step"], p["value"]) for p in points] == [(1, 0.75), (2, 1.0)]

    # The rest of batch 2's labels come a day later: the batch is scored on all four now.
    monitor.log_labels("scorer@champion", ["req-6", "req-7"], [given["req-6"], given["req-7"]])
    latest = _latest("scorer", "1")
    assert latest["performance.accuracy"] == accuracy(range(4, 8)) == 0.5
    assert latest["labels.rows"] == 4


def _latest(name: str, version: str) -> dict[str, float]:
    """The newest value of each metric of a version's monitoring run, as the sidebar reads it."""
    from nbops.monitoring.runs import latest

    return latest(name, version)


def test_a_request_of_several_rows_takes_a_list_of_labels_or_one_row_at_a_time(project: Path) -> None:
    model = register()
    answered = serve(model, {"1": [0, 1]}, batch_rows=10, rows=3)
    result = monitor.log_labels("scorer", ["req-0", "req-1#2"], [truth(0, 3).tolist(), int(truth(1, 3)[2])])
    assert result.matched == 2 and result.batches[0]["labelled_rows"] == 4
    expected = accuracy_score([*truth(0, 3), truth(1, 3)[2]], [*answered["req-0"], answered["req-1"][2]])
    assert _latest("scorer", "1")["performance.accuracy"] == pytest.approx(expected)


def test_a_bare_model_name_joins_every_version_that_answered_the_request(project: Path) -> None:
    model = register(versions=2)
    serve(model, {"1": [0, 1], "2": [1, 2]}, batch_rows=2)  # req-1 went to both (a shadow copy)
    result = monitor.log_labels("scorer", ["req-0", "req-1", "req-2"], [1, 1, 1])
    assert result.matched == 3 and result.unknown == 0
    assert sorted((b["version"], b["labelled_rows"]) for b in result.batches) == [("1", 2), ("2", 2)]


def test_labels_that_match_nothing_are_one_line_saying_what_to_check(project: Path) -> None:
    model = register()
    serve(model, {"1": [0]}, batch_rows=1)
    with pytest.raises(NotFound) as raised:
        monitor.log_labels("scorer/1", ["nope-1", "nope-2"], [0, 1])
    message = str(raised.value)
    assert "none of the 2 request ID(s) is among the predictions logged for scorer (version 1)" in message
    assert "X-Request-Id" in message and "\n" not in message
    with pytest.raises(InvalidInput, match="labels has 1 values but request_ids has 2"):
        monitor.log_labels("scorer/1", ["req-0", "req-1"], [0])
    with pytest.raises(NotFound, match="no batches have been logged for 'other'"):
        monitor.log_labels("other", ["req-0"], [0])


def test_an_alert_rule_on_performance_fires_on_delayed_labels(project: Path) -> None:
    with (project / "pyproject.toml").open("a") as f:
        f.write(
            '\n[tool.nbops.alerts.accuracy]\nmetric = "performance.accuracy"\nop = "<"\n'
            "threshold = 0.5\nwindow = 1\n"
        )
    model = register()
    answered = serve(model, {"1": [0, 1, 2, 3]}, batch_rows=4)
    wrong = [1 - int(answered[f"req-{i}"][0]) for i in range(4)]
    result = monitor.log_labels("scorer/1", [f"req-{i}" for i in range(4)], wrong)
    assert result.batches[0]["metrics"]["performance.accuracy"] == 0.0
    (alert,) = result.alerts
    assert alert["state"] == "open" and alert["metric"] == "performance.accuracy"
