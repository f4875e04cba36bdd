"""Shadow copies as the serving process makes them: real versions loaded from a real store.

The dispatcher's part (the client's answer never waits for the shadow, a shadow that raises or
sleeps changes nothing) is tested on a running server in ``test_serving.py``; here the copy itself:
which input the shadow scores, and how the CPU budget samples a busy server's traffic.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from nbops import registry
from nbops.serving.app import _CURRENT, Exchange
from nbops.serving.engine import load_version
from nbops.serving.shadow import ShadowRunner

pytestmark = pytest.mark.sqlite_only(
    reason="the copies run in the serving process on versions already loaded: no store is read"
)
DEADLINE = 60.0


class Recorder:
    """What the inference log would receive: ``(version, exchange, status)`` per copy."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Exchange, int]] = []

    def __call__(self, version: str, exchange: Exchange, status: int, latency_ms: float) -> None:
        self.calls.append((version, exchange, status))

    def wait(self, count: int) -> list[tuple[str, Exchange, int]]:
        deadline = time.monotonic() + DEADLINE
        while len(self.calls) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {count} shadow copies")
            time.sleep(0.01)
        return self.calls


@pytest.fixture
def versions(project: Path) -> dict:
    """iris v1 (champion) and v2 (same columns), and v3 logged without a signature."""
    X, y = load_iris(return_X_y=True, as_frame=True)
    first = LogisticRegression(max_iter=500).fit(X, y)
    second = LogisticRegression(C=0.01, max_iter=500).fit(X, y)
    registry.register(first, "iris", data=X, alias="champion")
    registry.register(second, "iris", data=X, alias="challenger")
    registry.register(second, "iris", alias="unsigned")
    served = {
        alias: load_version("iris", v, alias)
        for alias, v in (("champion", "1"), ("challenger", "2"), ("unsigned", "3"))
    }
    return {"X": X, "second": second, **served}


def answered(champion, frame: pd.DataFrame, request_id: str) -> Exchange:
    """The champion's exchange as MLflow's app leaves it: the parsed input went through the wrapper."""
    exchange = Exchange(request_id)
    token = _CURRENT.set(exchange)
    try:
        champion.model.predict(frame)
    finally:
        _CURRENT.reset(token)
    return exchange


def scope_and_body(frame: pd.DataFrame) -> tuple[dict, bytes]:
    body = json.dumps({"dataframe_split": frame.to_dict(orient="split")}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/invocations", "raw_path": b"/invocations", "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
    }  # fmt: skip
    return scope, body


def copy_once(versions: dict, shadow: str, frame: pd.DataFrame, request_id: str):
    """Answer ``frame`` with the champion, copy it to ``shadow`` on an idle server; what was recorded."""
    exchange = answered(versions["champion"], frame, request_id)
    recorder = Recorder()
    runner = ShadowRunner(recorder)
    try:
        scope, body = scope_and_body(frame)
        runner.submit(versions[shadow], versions["champion"], scope, body, exchange, busy=False)
        ((version, copy, status),) = recorder.wait(1)
    finally:
        runner.close()
    return exchange, version, copy, status, runner.stats()


def test_a_shadow_with_the_champions_columns_scores_the_input_already_parsed(versions) -> None:
    frame = versions["X"].head(3)
    exchange, version, copy, status, stats = copy_once(versions, "challenger", frame, "req-1")
    assert (version, status, copy.request_id) == ("2", 200, "req-1")
    assert copy.features is exchange.features  # parsed once, for both versions
    assert np.array_equal(copy.predictions, versions["second"].predict(frame))
    assert stats == {"sent": 1, "failed": 0, "dropped": 0, "in_flight": 0}


def test_a_shadow_with_another_schema_parses_the_request_body_itself(versions) -> None:
    frame = versions["X"].head(2)
    exchange, version, copy, status, _ = copy_once(versions, "unsigned", frame, "req-2")
    assert (version, status) == ("3", 200)
    assert copy.features is not exchange.features  # MLflow's app parsed the body for the shadow
    assert np.array_equal(np.asarray(copy.predictions), versions["second"].predict(frame))


def test_while_requests_wait_the_shadow_stays_within_its_cpu_share(versions) -> None:
    frame = versions["X"].head(1)
    scope, body = scope_and_body(frame)
    recorder = Recorder()
    # A share so small that one copy spends far more than the budget refills during this test.
    runner = ShadowRunner(recorder, share=1e-9)
    try:
        for i in range(5):
            exchange = answered(versions["champion"], frame, f"busy-{i}")
            runner.submit(versions["challenger"], versions["champion"], scope, body, exchange, busy=True)
            recorder.wait(1)  # the first copy ran; it is over before the next is offered
        busy = runner.stats()
        for i in range(3):  # an idle server shadows every request, whatever the budget says
            exchange = answered(versions["champion"], frame, f"idle-{i}")
            runner.submit(versions["challenger"], versions["champion"], scope, body, exchange, busy=False)
            recorder.wait(2 + i)
    finally:
        runner.close()
    assert (busy["sent"], busy["dropped"]) == (1, 4)
    assert runner.stats()["sent"] == 4 and [c[1].request_id for c in recorder.calls] == [
        "busy-0",
        "idle-0",
        "idle-1",
        "idle-2",
    ]
