"""The monitoring runs in the store: where a version's batches live, and reading them back.

One MLflow run per model version (experiment ``nbops-monitoring``; step = batch number) holds
every batch's metrics. This module knows that layout and nothing of how batches are computed, so
the registry (model cards), alerting and the server read monitoring results through it without
reaching up into the code that logs batches (``batches``), which builds on the registry.
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import store
from ..errors import StoreError
from ..filters import literal

_Start = Path | str | None

EXPERIMENT = "nbops-monitoring"
TAG_MODEL = "nbops.monitor.model"
TAG_VERSION = "nbops.monitor.version"
BATCH_PARAM = "nbops.batch."
#: Claims that fail with the slot still free (a busy store) are retried this often before giving up.
_CLAIM_RETRIES = 3

#: (tracking URI, model, version) → (its monitoring run, the last batch number this process saw there).
#: Only a run found already in place is remembered (never one just created, which a concurrent
#: creator's older run may yet win over); a run deleted since is noticed on the next write.
_RUNS: dict[tuple[str, str, str], tuple[str, int]] = {}
#: The monitoring run a ``log_batch`` has just written to, while it evaluates alert rules and
#: refreshes the card: they look it up again (``monitoring_run_id``), and need not ask the store.
_WRITING: contextvars.ContextVar[tuple[tuple[str, str, str], str] | None] = contextvars.ContextVar(
    "nbops_monitoring_run", default=None
)


# --- the monitoring run of a version ---------------------------------------------------------------


def monitoring_run_id(name: str, version: str, start: _Start = None, create: bool = True) -> str | None:
    """The run holding ``name`` v``version``'s batches (created on first use when ``create``)."""
    writing = _WRITING.get()
    if writing is not None and writing[0] == _run_key(name, version, start):
        return writing[1]
    run, _ = _monitoring_run(store.client(start), name, str(version), start, create)
    return run.info.run_id if run is not None else None


def _run_key(name: str, version: str, start: _Start) -> tuple[str, str, str]:
    return (store.settings(start).tracking_uri, name, str(version))


def _monitoring_run(client: Any, name: str, version: str, start: _Start, create: bool) -> tuple[Any, bool]:
    """``(run, found)``: the monitoring run with its params, and whether it was there before this call."""
    if not create:  # a read: never create the experiment as a side effect
        experiment = client.get_experiment_by_name(EXPERIMENT)
        found = _find_runs(client, experiment.experiment_id, name, version) if experiment else []
        return (found[0] if found else None), bool(found)
    experiment_id = store.ensure_experiment(EXPERIMENT, start)
    found = _find_runs(client, experiment_id, name, version)
    if found:
        return found[0], True
    run = client.create_run(
        experiment_id,
        tags={TAG_MODEL: name, TAG_VERSION: str(version), "mlflow.note.content": _note(name, version)},
        run_name=f"{name}-v{version}",
    )
    client.set_terminated(run.info.run_id, "FINISHED")
    # Two processes may have created one each at the same moment: all agree on the oldest.
    winner = _find_runs(client, experiment_id, name, version)[0]
    if winner.info.run_id != run.info.run_id:
        client.delete_run(run.info.run_id)
    return winner, False


def _note(name: str, version: str) -> str:
    return (
        f"Production batches of {name} version {version}, logged by nbops.monitor.log_batch: "
        "one step per batch."
    )


def _find_runs(client: Any, experiment_id: str, name: str, version: str) -> list[Any]:
    return client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{TAG_MODEL}` = {literal(name)} and tags.`{TAG_VERSION}` = '{version}'",
        order_by=["attributes.start_time ASC"],
        max_results=10,
    )


def version_runs(client: Any, name: str, versions: Any) -> dict[str, Any]:
    """Version → the monitoring run of each of ``versions`` of ``name`` that has one, in one search.

    The oldest run of a version is the one concurrent writers agree on (``_monitoring_run``), so
    readers that judge or chart served traffic take that one too.
    """
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return {}
    wanted = {str(v) for v in versions}
    found: dict[str, Any] = {}
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{TAG_MODEL}` = {literal(name)}",
        order_by=["attributes.start_time ASC"],
        max_results=1000,
    )
    for run in runs:
        held = run.data.tags.get(TAG_VERSION, "")
        if held in wanted and held not in found:
            found[held] = run
    return found


def monitored_versions(model: str | None = None, start: _Start = None) -> list[dict[str, str]]:
    """Every version that has logged batches: ``{"model", "version", "run_id"}``, by model then version."""
    client = store.client(start)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return []
    filter_string = f"tags.`{TAG_MODEL}` = {literal(model)}" if model else ""
    found, token = {}, None
    while True:
        page = client.search_runs(
            [experiment.experiment_id], filter_string=filter_string, max_results=1000, page_token=token
        )
        for run in page:
            key = (run.data.tags.get(TAG_MODEL, ""), run.data.tags.get(TAG_VERSION, ""))
            if key[0] and key not in found:
                found[key] = run.info.run_id
        token = page.token
        if not token:
            break
    return [
        {"model": m, "version": v, "run_id": r}
        for (m, v), r in sorted(found.items(), key=lambda kv: (kv[0][0], int(kv[0][1] or 0)))
    ]


def _taken(params: dict[str, str]) -> int:
    """The highest batch number claimed in a run's params (0 for none)."""
    found = [k.removeprefix(BATCH_PARAM) for k in params if k.startswith(BATCH_PARAM)]
    return max((int(n) for n in found if n.isdigit()), default=0)


def _record(
    client: Any, name: str, version: str, metrics: dict[str, float], when: datetime, start: _Start
) -> tuple[str, int]:
    """Claim the next batch number of the version's run and write the metrics under it: ``(run_id, batch)``.

    The claim (write-once param ``nbops.batch.<n>``) goes in the first ``log_batch`` call with the
    metrics; MLflow writes a call's params before its metrics, so a claim another writer already
    holds fails the whole call and nothing of this batch is stored under that number. Only then
    is the run read, to skip past every number taken meanwhile.
    """
    from mlflow.entities import Metric, Param
    from mlflow.exceptions import MlflowException

    key = _run_key(name, version, start)
    run_id, last = _RUNS.get(key) or _lookup(client, key, name, version, start)
    number, mine, busy = last + 1, uuid.uuid4().hex, 0
    millis = int(when.timestamp() * 1000)
    for _ in range(1000):
        slot = f"{BATCH_PARAM}{number}"
        entries = [Metric(k, v, millis, number) for k, v in sorted(metrics.items())]
        try:  # MLflow splits calls beyond its limits itself; the first carries the claim
            client.log_batch(run_id, metrics=entries, params=[Param(slot, mine)])
        except MlflowException:
            try:
                run = client.get_run(run_id)
            except MlflowException:
                run = None
            if run is None or run.info.lifecycle_stage != "active":  # deleted meanwhile: find it again
                _RUNS.pop(key, None)
                run_id, last = _lookup(client, key, name, version, start)
                number = last + 1
                continue
            landed = run.data.params.get(slot)
            if landed == mine or (landed is None and busy >= _CLAIM_RETRIES):
                raise  # the store refused the metrics themselves, or keeps refusing: not a lost claim
            busy += landed is None
            number = max(_taken(run.data.params), number - 1) + 1
            continue
        _RUNS[key] = (run_id, number)
        return run_id, number
    raise StoreError("could not claim a batch number: too many concurrent writers; try again.")


def _lookup(
    client: Any, key: tuple[str, str, str], name: str, version: str, start: _Start
) -> tuple[str, int]:
    """The monitoring run (created on first use) and its highest claimed batch number."""
    run, found = _monitoring_run(client, name, version, start, create=True)
    entry = (run.info.run_id, _taken(run.data.params))
    if found:
        _RUNS[key] = entry
    return entry


@contextlib.contextmanager
def _writing(key: tuple[str, str, str], run_id: str) -> Iterator[None]:
    """While the batch's alerts and card are brought up to date, its run is known: no lookup."""
    token = _WRITING.set((key, run_id))
    try:
        yield
    finally:
        _WRITING.reset(token)


# --- reading batches back ----------------------------------------------------------------------------


def series(
    name: str, version: str | int, metrics: Any = None, start: _Start = None
) -> dict[str, list[dict[str, Any]]]:
    """Metric name → ``[{"step", "timestamp", "value"}]`` by batch, for charts.

    ``metrics`` names metrics or shell-style patterns (``drift.*.psi``); ``None`` means every
    metric that is not per feature. A version without batches gives ``{}``.
    """
    run_id = monitoring_run_id(str(name), str(version), start, create=False)
    if run_id is None:
        return {}
    client = store.client(start)
    available = sorted(client.get_run(run_id).data.metrics)
    if metrics is None:
        wanted = [k for k in available if not (k.startswith("drift.") and k.count(".") >= 2)]
    else:
        patterns = [metrics] if isinstance(metrics, str) else list(metrics)
        wanted = [k for k in available if any(fnmatch.fnmatchcase(k, p) for p in patterns)]
    out: dict[str, list[dict[str, Any]]] = {}
    for key in wanted:
        history = sorted(client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))
        out[key] = [{"step": m.step, "timestamp": m.timestamp, "value": m.value} for m in history]
    return out


def latest(name: str, version: str | int, start: _Start = None) -> dict[str, float]:
    """The last batch's value of every metric of a version (``{}`` without batches)."""
    run_id = monitoring_run_id(str(name), str(version), start, create=False)
    return dict(store.client(start).get_run(run_id).data.metrics) if run_id else {}
