"""The canary verdict of a server that runs no canary: judged from the store, as in Kubernetes.

Argo Rollouts asks a *stable* pod (``nbops serve iris@champion``, no ``--canary``) about the canary
version its own pods serve. Here the canary pods' traffic is logged with the core
``nbops.monitoring.log_batch`` (no cluster can run here), and a real server of the champion only,
on 127.0.0.1, answers ``/nbops/canary`` for each canary version. Each stage asks about its own
version, since a judgement is reused for a few seconds (Argo polls from every analysis run).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
import requests
from backends import BACKENDS, module_project
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import nbops
from nbops import monitoring, registry

CANARY_TABLE = """
[tool.nbops.canary]
min_requests = 20
rules = { error_rate = 0.05, latency_p95 = 1.5 }
"""


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """This module's own backend fixture: one champion server per backend, shared by its tests."""
    return request.param


@pytest.fixture(scope="module")
def stable(backend, tmp_path_factory, new_store, request) -> Iterator[dict]:
    """``iris`` v1 champion (served), v2–v5 canary versions whose pods' batches the tests log."""
    root = module_project("canary-store", backend, tmp_path_factory, new_store, request, CANARY_TABLE)
    X, y = load_iris(return_X_y=True, as_frame=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.delenv("NBOPS_SERVE_TOKEN", raising=False)
        patch.chdir(root)
        fitted = LogisticRegression(max_iter=300).fit(X, y)
        registry.register(fitted, "iris", data=X, alias="champion")  # v1
        for _ in range(4):  # v2..v5: the canaries of the tests
            registry.register(fitted, "iris")
        # The champion's pods: one bad hour before any canary (half errors), then a clean batch.
        began = time.time() - 3600
        pods(X, fitted, "1", rows=30, errors=30, at=began)
        pods(X, fitted, "1", rows=30, errors=0, at=began + 100)
        server = nbops.serve("iris@champion", start=root)
        try:
            yield {"server": server, "X": X, "fitted": fitted, "began": began}
        finally:
            server.stop()
            from backends import forget_process_state

            forget_process_state()


def pods(X, fitted, version: str, *, rows: int, errors: int, at: float, latency: float = 10.0) -> None:
    """What the inference log of ``version``'s pods writes for one batch (core ``log_batch``)."""
    features = X.head(rows)
    monitoring.log_batch(
        f"iris/{version}",
        features,
        fitted.predict(features),
        latency_ms=np.full(rows, latency),
        errors=errors,
        timestamp=at,
    )


def verdict(stable: dict, version: str, model: str = "iris") -> requests.Response:
    url = stable["server"].url
    return requests.get(f"{url}/nbops/canary", params={"model": model, "version": version}, timeout=30)


def test_a_canary_the_store_never_saw_served_is_running_not_404(stable) -> None:
    answer = verdict(stable, "2")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["verdict"], body["state"], body["reason"]) == ("running", "no_traffic", "no traffic yet")
    assert set(body) >= {"verdict", "state", "reason", "step", "steps", "share", "requests", "rules"}
    assert body["source"] == "store" and body["champion_version"] == "1"
    other = verdict(stable, "2", model="ghost")
    assert other.status_code == 404 and "serves 'iris', not 'ghost'" in other.json()["message"]


def test_too_few_requests_in_the_window_is_running(stable) -> None:
    pods(stable["X"], stable["fitted"], "3", rows=10, errors=0, at=stable["began"] + 50)
    body = verdict(stable, "3").json()
    assert (body["verdict"], body["state"]) == ("running", "collecting")
    # The window starts at the canary's first batch: the champion's bad hour before it is left out.
    assert body["requests"]["champion"]["requests"] == 30 and body["requests"]["challenger"]["requests"] == 10
    assert "10 canary and 30 champion requests" in body["reason"] and "of 20 needed" in body["reason"]


def test_a_canary_with_more_errors_fails_naming_the_rule(stable) -> None:
    # 10 errors in 40 rows against the champion's 0 in 30 since the canary began. Counting the
    # champion's bad hour before the canary would make it look no worse (and pass).
    pods(stable["X"], stable["fitted"], "4", rows=30, errors=10, at=stable["began"] + 50)
    body = verdict(stable, "4").json()
    assert (body["verdict"], body["state"]) == ("failed", "failing")
    assert "rule error_rate failed: 0.25 > limit 0.05" in body["reason"]
    (failed,) = [r for r in body["rules"] if r["passed"] is False]
    assert failed["rule"] == "error_rate" and failed["value"] == pytest.approx(0.25)
    assert body["requests"]["challenger"]["errors"] == 10


def test_a_slower_canary_fails_on_latency(stable) -> None:
    pods(stable["X"], stable["fitted"], "5", rows=30, errors=0, at=stable["began"] + 50, latency=40.0)
    body = verdict(stable, "5").json()
    assert body["verdict"] == "failed" and "rule latency_p95 failed: 4 > limit 1.5" in body["reason"]


def test_a_good_canary_passes_once_judged_on_enough_traffic(stable) -> None:
    registry.register(stable["fitted"], "iris")  # v6
    pods(stable["X"], stable["fitted"], "6", rows=30, errors=0, at=stable["began"] + 50)
    body = verdict(stable, "6").json()
    assert (body["verdict"], body["state"]) == ("passed", "passing"), body
    assert all(r["passed"] for r in body["rules"]), body["rules"]
    assert body["step"] is None and body["steps"] == [10, 50, 100]
    # The champion's own version has passed as ever, without reading the store.
    assert verdict(stable, "1").json()["verdict"] == "passed"
