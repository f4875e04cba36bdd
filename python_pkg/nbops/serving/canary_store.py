"""Judging a canary from the store, for servers that run no canary themselves (Kubernetes).

In a cluster, Argo Rollouts splits the traffic between stable pods (``nbops serve MODEL/<champion>``)
and canary pods running the new version; each pod is its own ``nbops serve`` with no in-process
canary, and the AnalysisTemplate asks a *stable* pod ``GET /nbops/canary?model=M&version=V``. That
pod never saw the canary's requests, but every pod logs its traffic to the same tracking store:
one ``nbops-monitoring`` run per version, one batch per ``batch_rows`` rows or ``batch_seconds``
seconds, with ``batch.rows`` (answered rows), ``health.errors`` (rows answered with a 5xx),
``health.client_errors`` (4xx) and ``latency.p95_ms``. This module judges the canary on those
batches with the rules of ``[tool.nbops.canary]`` and the very same ``canary_rules.evaluate`` the
in-process analysis uses.

**The window** is everything since the canary version's first logged batch: the champion's
batches from that moment on are compared with all of the canary's. A rollout's background
analysis starts with the rollout, so the canary's whole life is what Argo asks about, and a
verdict only gets better founded as traffic accrues (a sliding window would forget a failure
and could flip back to passing). A version tried before carries its earlier batches into a
new rollout: register a new version to start from a clean slate.

**Counting** is per row (one-row requests make rows and requests the same): ``requests`` are all
rows a version answered, ``errors`` the 5xx ones. The store keeps each batch's percentiles, not
every latency, so a side's p95 is the mean of its batches' p95s weighted by their timed rows (an
estimate, on both sides alike). ``prediction_drift`` reads the predictions of the newest batches'
``inference/batch-<n>.jsonl`` (bounded), ``performance`` the versions' latest labelled metric.

**The verdict**: ``running`` while the canary has no batch yet ("no traffic yet") or either side
has fewer than ``min_requests`` rows in the window; ``failed`` naming each failing rule with its
values; otherwise ``passed``. ``passed`` rather than ``running`` once every rule holds on enough
traffic, because Argo Rollouts drives the steps and the promotion, and a step's own analysis
(``count: 1``) needs an answer that means "judged and good", which ``running`` (also "too few
requests") cannot say; Argo's background analysis counts both as successful measurements.

Cheap on purpose: Argo polls every interval from every analysis run, so one judgement costs a
search for the monitoring runs and a few metric histories, and is kept for ``CACHE_SECONDS``.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .canary_config import CanarySettings
from .canary_rules import MAX_VALUES, Counters, evaluate

_Start = Path | str | None

#: How long one judgement is reused: every analysis run of every rollout polls the stable pods.
CACHE_SECONDS = 5.0
#: The per-batch metrics a judgement reads (one history call each, per version).
METRICS = ("batch.rows", "health.errors", "health.client_errors", "latency.p95_ms")
#: At most this many batch artifacts are read per version for ``prediction_drift``.
MAX_ARTIFACTS = 4
#: The states of a judgement from the store, and the verdict each one is.
NO_TRAFFIC, COLLECTING, FAILING, PASSING = "no_traffic", "collecting", "failing", "passing"
VERDICTS = {NO_TRAFFIC: "running", COLLECTING: "running", FAILING: "failed", PASSING: "passed"}

_CACHE: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
_LOCK = threading.Lock()


@dataclass
class StoredCounters(Counters):
    """A version's traffic summed from its logged batches; the p95 is the batches' weighted one."""

    latency_p95_ms: float | None = None

    def p95(self) -> float | None:
        return self.latency_p95_ms


@dataclass
class _Batch:
    step: int
    timestamp: int
    metrics: dict[str, float]


def store_verdict(
    name: str, champion_version: str, version: str, settings: CanarySettings, start: _Start = None
) -> dict[str, Any]:
    """The canary verdict of ``name`` v``version`` against v``champion_version``, from the store.

    The same keys as the in-process verdict (``verdict``, ``state``, ``reason``, ``step``,
    ``steps``, ``share``, ``requests``, ``rules``), plus ``champion_version``, ``since`` (the
    window's start, ISO-8601) and ``source: "store"``. Reused for ``CACHE_SECONDS``.
    """
    from .. import store

    key = (store.settings(start).tracking_uri, name, str(champion_version), str(version))
    with _LOCK:  # one judgement at a time: concurrent polls then find it cached
        cached = _CACHE.get(key)
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        answer = _judge(name, str(champion_version), str(version), settings, start)
        for old in [k for k, (at, _) in _CACHE.items() if time.monotonic() - at >= CACHE_SECONDS]:
            del _CACHE[old]
        _CACHE[key] = (time.monotonic(), answer)
        return answer


def _judge(
    name: str, champion_version: str, version: str, settings: CanarySettings, start: _Start
) -> dict[str, Any]:
    from .. import store
    from ..monitoring.runs import version_runs

    client = store.client(start)
    runs = version_runs(client, name, (champion_version, version))
    canary_run = runs.get(version)
    canary_batches = _batches(client, canary_run.info.run_id) if canary_run else []
    if not canary_batches:
        empty = StoredCounters()
        return _answer(name, champion_version, version, settings, NO_TRAFFIC, "no traffic yet",
                       empty, empty, evaluate(settings.rules, empty, empty), None)  # fmt: skip
    since = min(b.timestamp for b in canary_batches)
    champion_run = runs.get(champion_version)
    champion_batches = [
        b
        for b in (_batches(client, champion_run.info.run_id) if champion_run else [])
        if b.timestamp >= since
    ]
    champion, challenger = _counters(champion_batches), _counters(canary_batches)
    enough = min(champion.requests, challenger.requests) >= settings.min_requests
    if enough and "prediction_drift" in settings.rules:
        champion.values = _values(client, champion_run, champion_batches)
        challenger.values = _values(client, canary_run, canary_batches)
    performance: tuple[float | None, float | None] = (None, None)
    if enough and "performance" in settings.rules:
        metric = settings.performance_metric
        performance = tuple(  # type: ignore[assignment]
            run.data.metrics.get(metric) if run else None for run in (champion_run, canary_run)
        )
    results = evaluate(settings.rules, champion, challenger, performance)
    failed = [r for r in results if r["passed"] is False]
    if not enough:
        state = COLLECTING
        reason = (
            f"{challenger.requests} canary and {champion.requests} champion requests logged since the "
            f"canary's first batch, of {settings.min_requests} needed"
        )
    elif failed:
        state = FAILING
        reason = "; ".join(
            f"rule {r['rule']} failed: {r['value']:.4g} > limit {r['limit']:g} ({r['note']})" for r in failed
        )
    else:
        state = PASSING
        judged = [f"{r['rule']} {r['value']:.3g} <= {r['limit']:g}" for r in results if r["passed"]]
        reason = f"every rule holds on the traffic so far: {', '.join(judged) or 'no rule had data'}"
    return _answer(
        name, champion_version, version, settings, state, reason, champion, challenger, results, since
    )


def _answer(
    name: str,
    champion_version: str,
    version: str,
    settings: CanarySettings,
    state: str,
    reason: str,
    champion: Counters,
    challenger: Counters,
    results: list[dict[str, Any]],
    since: int | None,
) -> dict[str, Any]:
    return {
        "model": name,
        "version": version,
        "champion_version": champion_version,
        "source": "store",
        "verdict": VERDICTS[state],
        "state": state,
        "reason": reason,
        "step": None,  # Argo Rollouts holds the step and the traffic weight, not the store
        "steps": list(settings.steps),
        "share": None,
        "min_requests": settings.min_requests,
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since / 1000)) if since else None,
        "requests": {"champion": champion.summary(), "challenger": challenger.summary()},
        "rules": results,
    }


def _batches(client: Any, run_id: str) -> list[_Batch]:
    """A monitoring run's batches with the metrics a judgement needs (one call per metric)."""
    steps: dict[int, _Batch] = {}
    for key in METRICS:
        for point in client.get_metric_history(run_id, key):
            batch = steps.setdefault(point.step, _Batch(point.step, point.timestamp, {}))
            batch.metrics[key] = point.value
            if key == "batch.rows":
                batch.timestamp = point.timestamp
    return sorted((b for b in steps.values() if "batch.rows" in b.metrics), key=lambda b: b.step)


def _counters(batches: list[_Batch]) -> StoredCounters:
    counters = StoredCounters()
    weighted, weights = 0.0, 0
    for batch in batches:
        answered = int(batch.metrics.get("batch.rows", 0))
        errors = int(batch.metrics.get("health.errors", 0))
        refused = int(batch.metrics.get("health.client_errors", 0))
        counters.requests += answered + errors + refused
        counters.errors += errors
        counters.timed += answered + errors
        p95 = batch.metrics.get("latency.p95_ms")
        if p95 is not None and answered + errors:
            weighted += p95 * (answered + errors)
            weights += answered + errors
    counters.latency_p95_ms = weighted / weights if weights else None
    return counters


def _values(client: Any, run: Any, batches: list[_Batch]) -> list[Any]:
    """Predictions of the newest batches in the window, from their artifacts (bounded)."""
    from mlflow.exceptions import MlflowException

    from .inference_log import ARTIFACT_DIR, batch_artifact

    values: list[Any] = []
    if run is None:
        return values
    for batch in sorted(batches, key=lambda b: b.step, reverse=True)[:MAX_ARTIFACTS]:
        with tempfile.TemporaryDirectory(prefix="nbops-canary-") as folder:
            try:
                local = client.download_artifacts(
                    run.info.run_id, f"{ARTIFACT_DIR}/{batch_artifact(batch.step)}", folder
                )
                lines = Path(local).read_text(encoding="utf-8").splitlines()
            except (MlflowException, OSError):
                continue
        for line in lines:
            if not line.strip():
                continue
            row = json.loads(line)
            if row.get("status", 200) < 400 and row.get("prediction") is not None:
                values.append(row["prediction"])
        if len(values) >= MAX_VALUES:
            break
    return values[:MAX_VALUES]


def forget() -> None:
    """Drop cached judgements (tests, or after changing the store under a running server)."""
    with _LOCK:
        _CACHE.clear()
