"""What the sidebar shows of one model server: its traffic over time and its canary so far.

A server's record (``serving.deployments``) says what it serves now; what it served is already in
the store as inference batches: each served version's monitoring run (``nbops-monitoring``) holds
per batch its rows, latency percentiles and errors (``monitoring.batches``). This module reads them
back for the versions a server served since it started and turns them into the three series an
operator watches: requests per minute, p95 latency and error rate per batch time.

It also ends a server's canary from the sidebar through the same core calls as
``nbops canary promote|abort`` (``serving.canary_records``), so the policy and the audit are theirs;
a refusal by the policy names the missing gates, as a refused model promotion does.

Store calls per ``traffic``: the deployment run, the model's aliases, one search of the model's
monitoring runs, then one metric history per series and version (four per version).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import store
from .errors import NotFound
from .identifiers import check_model_name, check_run_id

_Start = Path | str | None

#: The batch metrics one point is made of (``monitoring.batches.log_batch`` writes them).
ROWS, P95, ERRORS, CLIENT_ERRORS = "batch.rows", "latency.p95_ms", "health.errors", "health.client_errors"
SERIES_METRICS = (ROWS, P95, ERRORS, CLIENT_ERRORS)
#: The canary state's fields the sidebar shows (the server's snapshot holds a few more).
CANARY_FIELDS = ("state", "verdict", "reason", "step", "steps", "share", "alias", "version",
                 "champion_alias", "champion_version", "min_requests", "requests", "rules", "updated")  # fmt: skip


def traffic(deployment_id: str, start: _Start = None) -> dict[str, Any]:
    """Per batch of each version the server served since it started: rate, p95 latency, error rate.

    ``points`` are ordered by version, then time. ``requests_per_minute`` counts the rows a batch
    holds (answered, failed and refused; a request of one row is one) over the minutes since the
    version's previous batch, or since the server started for its first. ``error_rate`` is the
    share of rows that failed with a 5xx (refused 4xx requests are the caller's, not the model's).
    A version's batches come from every server of it: monitoring runs are per version.
    """
    from mlflow.exceptions import MlflowException

    from .serving.canary_records import STATE_TAG
    from .serving.deployments import EXPERIMENT, PREFIX

    check_run_id(deployment_id)
    client = store.client(start)
    missing = NotFound(f"no deployment {deployment_id!r}; GET /nbops/api/deployments lists them.")
    try:
        run = client.get_run(deployment_id)
    except MlflowException:
        raise missing from None
    tags = run.data.tags
    model = tags.get(PREFIX + "model")
    experiment = client.get_experiment(run.info.experiment_id)
    if not model or experiment.name != EXPERIMENT:
        raise missing
    started = _number(tags.get(PREFIX + "started"))
    stopped = _number(tags.get(PREFIX + "stopped"))
    canary = _canary(tags.get(STATE_TAG))
    roles = _served_versions(client, model, tags, canary)
    points = _points(client, model, roles, started, stopped)
    return {
        "deployment_id": deployment_id,
        "model": model,
        "alias": tags.get(PREFIX + "alias", ""),
        "started": started,
        "stopped": stopped,
        "versions": [{"version": v, "role": r} for v, r in sorted(roles.items(), key=lambda i: int(i[0]))],
        "points": points,
        "canary": canary,
    }


def _served_versions(
    client: Any, model: str, tags: dict[str, str], canary: dict[str, Any] | None
) -> dict[str, str]:
    """Version → role (``champion``, ``canary`` or ``shadow``) of what the server served."""
    from mlflow.exceptions import MlflowException

    from .serving.deployments import PREFIX

    roles: dict[str, str] = {}
    if canary:
        roles[str(canary["champion_version"])] = "champion"
        roles[str(canary["version"])] = "canary"
    split = _json(tags.get(PREFIX + "canary")) or {}
    shadow = tags.get(PREFIX + "shadow") or ""
    if split or shadow:  # which versions the canary and shadow aliases name now: one store call
        try:
            aliases = {a: str(v) for a, v in client.get_registered_model(model).aliases.items()}
        except MlflowException:
            aliases = {}
        for alias in split:
            if alias in aliases:
                roles.setdefault(aliases[alias], "canary")
        if shadow in aliases:
            roles.setdefault(aliases[shadow], "shadow")
    version = tags.get(PREFIX + "version")
    if version:
        roles[version] = "champion"
    return {v: r for v, r in roles.items() if v.isdigit()}


def _points(
    client: Any, model: str, roles: dict[str, str], started: float | None, stopped: float | None
) -> list[dict[str, Any]]:
    from .monitoring.runs import version_runs

    if not roles:
        return []
    found = version_runs(client, model, roles)
    run_of = {version: run.info.run_id for version, run in found.items() if ROWS in run.data.metrics}
    low = started * 1000 if started is not None else None
    high = stopped * 1000 if stopped is not None else None
    points: list[dict[str, Any]] = []
    for version in sorted(run_of, key=int):
        history = {key: _by_step(client.get_metric_history(run_of[version], key)) for key in SERIES_METRICS}
        previous = low
        for step in sorted(history[ROWS]):
            when, rows = history[ROWS][step]
            if (low is not None and when < low) or (high is not None and when > high):
                continue
            errors = history[ERRORS].get(step, (when, 0.0))[1]
            refused = history[CLIENT_ERRORS].get(step, (when, 0.0))[1]
            total = rows + errors + refused
            minutes = (when - previous) / 60_000 if previous is not None else None
            points.append(
                {
                    "version": version,
                    "role": roles[version],
                    "batch": step,
                    "time": when,
                    "rows": int(total),
                    "requests_per_minute": total / minutes if minutes else None,
                    "p95_ms": history[P95][step][1] if step in history[P95] else None,
                    "error_rate": errors / (rows + errors) if rows + errors else None,
                }
            )
            previous = when
    return points


def _by_step(history: list[Any]) -> dict[int, tuple[int, float]]:
    """Batch number → (timestamp ms, value); a batch logged twice keeps its last value."""
    return {m.step: (m.timestamp, m.value) for m in sorted(history, key=lambda m: (m.step, m.timestamp))}


def _canary(text: str | None) -> dict[str, Any] | None:
    state = _json(text)
    if not isinstance(state, dict) or "state" not in state:
        return None
    return {key: state.get(key) for key in CANARY_FIELDS}


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


# --- ending a canary from the sidebar --------------------------------------------------------------


def promote_canary(model: str, reason: Any, start: _Start = None, actor: str | None = None) -> dict[str, Any]:
    """``nbops canary promote MODEL``: the challenger becomes champion, under the promotion policy.

    A refusal by the policy is a ``PolicyError`` naming the gates the challenger still misses (the
    sidebar says which to run), raised before anything is written.
    """
    from .catalog import check_reason
    from .serving import canary_records

    check_model_name(model)
    return canary_records.promote(model, check_reason(reason), start=start, actor=actor)


def abort_canary(model: str, reason: Any, start: _Start = None, actor: str | None = None) -> dict[str, Any]:
    """``nbops canary abort MODEL``: 0 % to the challenger; the champion keeps serving."""
    from .catalog import check_reason
    from .serving import canary_records

    check_model_name(model)
    return canary_records.abort(model, check_reason(reason), start=start, actor=actor)
