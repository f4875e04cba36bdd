"""Which model servers are running, recorded in MLflow so every machine of the team sees the same list.

Each ``nbops serve`` is one run of the ``nbops-deployments`` experiment, ``RUNNING`` while the
server is up. Its tags say what it serves (model, alias, version, canary split, shadow), where
(url, host, pid) and since when; the server rewrites the version, split, stats and heartbeat time
every ``heartbeat_seconds`` in one store call. ``end_deployment`` marks the run ``FINISHED``.

A server that died without saying so (killed, its machine gone) stops heart-beating: once its last
heartbeat is older than three heartbeat periods it lists as ``stale``, so the list never claims a
dead server is live. Nothing is kept beside the store: a side file would be seen by one machine only.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from .. import store
from ..errors import InvalidInput, NotFound
from ..filters import literal

_Start = Path | str | None

EXPERIMENT = "nbops-deployments"
PREFIX = "nbops.deployment."
LIVE, STALE, STOPPED = "live", "stale", "stopped"
#: A deployment is stale once its last heartbeat is older than this many heartbeat periods.
STALE_AFTER = 3
#: Tags read back as fields of a listed deployment (without the prefix).
FIELDS = ("model", "alias", "version", "url", "host", "pid", "shadow", "started", "heartbeat", "stopped")


def register_deployment(
    *,
    model: str,
    alias: str,
    url: str,
    version: str,
    canary: dict[str, int] | None,
    shadow: str | None,
    start: _Start = None,
) -> str:
    """Record a server that has started serving ``model@alias``; returns the deployment id (a run id)."""
    from .. import config
    from .settings import ServingSettings

    if not model or not isinstance(model, str):
        raise InvalidInput(f"model must be a registered model name, not {model!r}.")
    heartbeat_seconds = ServingSettings.from_settings(config.resolve(start)).heartbeat_seconds
    now = time.time()
    tags = {
        "model": model,
        "alias": alias,
        "version": str(version),
        "url": url,
        "host": socket.gethostname(),
        "pid": str(os.getpid()),
        "shadow": shadow or "",
        "canary": json.dumps(canary or {}, sort_keys=True),
        "heartbeat_seconds": str(heartbeat_seconds),
        "started": f"{now:.3f}",
        "heartbeat": f"{now:.3f}",
        "stats": "{}",
    }
    client = store.client(start)
    run = client.create_run(
        store.ensure_experiment(EXPERIMENT, start),
        tags={
            **{PREFIX + k: v for k, v in tags.items()},
            "mlflow.note.content": f"nbops serve {model}@{alias} at {url}: one run per server, RUNNING while it is up.",
        },
        run_name=f"serve-{model}@{alias}",
    )
    return run.info.run_id


def heartbeat(
    deployment_id: str,
    *,
    version: str,
    canary: dict[str, int] | None,
    stats: dict[str, Any],
    canary_analysis: dict[str, Any] | None = None,
    start: _Start = None,
) -> None:
    """Say the server is alive, with what it serves now, its counters and its canary; one store call."""
    from mlflow.entities import RunTag

    values = {
        "version": str(version),
        "canary": json.dumps(canary or {}, sort_keys=True),
        "stats": _stats_tag(stats),
        "heartbeat": f"{time.time():.3f}",
    }
    if canary_analysis is not None:
        values["canary_analysis"] = json.dumps(canary_analysis, default=str, sort_keys=True)
    store.client(start).log_batch(deployment_id, tags=[RunTag(PREFIX + k, v) for k, v in values.items()])


def _stats_tag(stats: dict[str, Any]) -> str:
    """The stats as JSON that fits a tag: long texts (an error message) are cut, never the JSON itself."""
    text = json.dumps(stats, default=str, sort_keys=True)
    if len(text) > 5000:
        short = {k: v[:300] if isinstance(v, str) else v for k, v in stats.items()}
        text = json.dumps(short, default=str, sort_keys=True)
    return text if len(text) <= 5000 else json.dumps({"note": "stats too long to record"})


def end_deployment(deployment_id: str, start: _Start = None) -> None:
    """Record that the server has stopped: the run ends ``FINISHED``, and lists as ``stopped``."""
    from mlflow.entities import RunTag

    client = store.client(start)
    client.log_batch(deployment_id, tags=[RunTag(PREFIX + "stopped", f"{time.time():.3f}")])
    client.set_terminated(deployment_id, "FINISHED")


def list_deployments(
    model: str | None = None, start: _Start = None, *, stopped: bool = False
) -> list[dict[str, Any]]:
    """Running servers (``live`` or ``stale``), newest first; with ``stopped``, ended ones too."""
    from mlflow.exceptions import MlflowException

    client = store.client(start)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return []
    filters = [] if stopped else ["attributes.status = 'RUNNING'"]
    if model is not None:
        filters.append(f"tags.`{PREFIX}model` = {literal(model)}")
    found, token = [], None
    while True:
        try:
            page = client.search_runs(
                [experiment.experiment_id],
                filter_string=" and ".join(filters),
                order_by=["attributes.start_time DESC"],
                max_results=1000,
                page_token=token,
            )
        except MlflowException as exc:
            raise InvalidInput(f"cannot list deployments: {store.error_reason(exc)}.") from None
        found.extend(_deployment(run) for run in page)
        token = page.token
        if not token:
            return found


def get_deployment(deployment_id: str, start: _Start = None) -> dict[str, Any]:
    """One deployment as ``list_deployments`` shows it."""
    from mlflow.exceptions import MlflowException

    try:
        run = store.client(start).get_run(deployment_id)
    except MlflowException:
        raise NotFound(f"no deployment {deployment_id!r}; nbops deployments lists them.") from None
    return _deployment(run)


def _deployment(run: Any) -> dict[str, Any]:
    tags = {k.removeprefix(PREFIX): v for k, v in run.data.tags.items() if k.startswith(PREFIX)}
    out: dict[str, Any] = {"id": run.info.run_id}
    out.update({k: tags.get(k, "") for k in FIELDS})
    out["shadow"] = out["shadow"] or None
    out["canary"] = _json(tags.get("canary"), {})
    out["stats"] = _json(tags.get("stats"), {})
    period = _number(tags.get("heartbeat_seconds")) or 10.0
    beat = _number(tags.get("heartbeat"))
    out["heartbeat_seconds"] = period
    for key in ("started", "heartbeat", "stopped"):
        out[key] = _number(out[key])
    out["heartbeat_age"] = None if beat is None else max(time.time() - beat, 0.0)
    if run.info.status != "RUNNING" or out["stopped"] is not None:
        out["status"] = STOPPED
    elif beat is None or out["heartbeat_age"] > STALE_AFTER * period:
        out["status"] = STALE
    else:
        out["status"] = LIVE
    return out


def _json(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None
