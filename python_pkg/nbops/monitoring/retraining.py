"""Retraining as a background job, watched through the alert that asked for it.

Retraining takes minutes to an hour (a notebook, then the gates), so whoever logged the batch
that opened the alert must not wait for it: a scoring service would stall, and ``nbops monitor
check`` would change the registry while only meaning to look. ``queue`` starts the job in its
own process (``python -m nbops.monitoring.retrain_job JOB.json``, a new session, output in
``job.log`` beside the report) and returns at once.

The job's state lives on the alert, as tags beside the alert's own, so the sidebar, the CLI and
``wait`` read one record: ``retrain_state`` goes ``queued`` → ``running`` → ``finished`` or
``failed`` (with ``retrain_error``), and the outcome adds ``challenger_version``, ``retrain_run``,
``gates``, ``gate_runs`` and, if it was promoted, ``promoted`` / ``promotion_event``.

Two write-once MLflow params make it safe with concurrent callers, as the audit log's chain is:
``nbops.alert.retrain_job`` names the one job of an alert (a second ``queue`` loses and starts
nothing), and ``nbops.alert.retrain_end`` is claimed by whoever records the end, so an end is
recorded once. The job's owner (host, pid, process start) is recorded too: a job whose process
is gone without an end — killed, out of memory, its machine restarted — reads as ``failed``
(``state``), and ``settle`` records that for good. Only this host's processes can be judged.

This module is storage and processes only: the work itself is ``retrain``, which the job runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import audit, config, store
from ..errors import NbopsError

_Start = Path | str | None

#: The alert's tag prefix (``alerting.TAG``): the job's fields are fields of the alert.
TAG = "nbops.alert."
PARAM_JOB = TAG + "retrain_job"
PARAM_END = TAG + "retrain_end"
QUEUED, RUNNING, FINISHED, FAILED = "queued", "running", "finished", "failed"
ACTIVE = (QUEUED, RUNNING)
JOB_MODULE = "nbops.monitoring.retrain_job"
POLL_SECONDS = 0.5
_OWNER = ("retrain_host", "retrain_pid", "retrain_process_start")


def queue(alert: dict[str, Any], rule: Any, start: _Start = None) -> bool:
    """Start the retraining job ``rule`` asks for on ``alert``; False if the alert has one already.

    Returns as soon as the job's process is started. Everything the job needs is written to its
    ``job.json`` now, so a rule edited later does not change a job already queued.
    """
    client = store.client(start)
    alert_id = alert["id"]
    if not _claim(client, alert_id, PARAM_JOB, uuid.uuid4().hex):
        return False
    settings = config.resolve(start)
    notebook = Path(rule.retrain)
    if not notebook.is_absolute():
        notebook = settings.project_root / notebook
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = settings.project_root / "monitoring-reports" / f"retrain-{alert['model']}-{stamp}-{alert_id[:8]}"
    folder.mkdir(parents=True, exist_ok=True)
    job_file, log = folder / "job.json", folder / "job.log"
    request = {
        "model": alert["model"],
        "version": str(alert["version"]),
        "alert_id": alert_id,
        "reason": alert.get("message", ""),
        "rule": rule.name,
        "notebook": str(notebook),
        "folder": str(folder),
        "retrain_parameters": dict(rule.retrain_parameters),
        "gate_parameters": dict(rule.gate_parameters),
    }
    job_file.write_text(
        json.dumps({"project_root": str(settings.project_root), "request": request}, indent=2)
    )
    _write(
        client,
        alert_id,
        {
            "retrain_notebook": str(folder / notebook.name),
            "retrain_log": str(log),
            "retrain_queued_at": _now(),
            **_owner(os.getpid()),  # until the job's process exists, the caller answers for it
            "retrain_state": QUEUED,
        },
    )
    env = os.environ | {config.ENV_TRACKING_URI: settings.tracking_uri}
    try:
        with log.open("ab") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", JOB_MODULE, str(job_file)],
                stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                cwd=settings.project_root, env=env, start_new_session=True,
            )  # fmt: skip
    except OSError as exc:
        end(alert_id, {"retrain_state": FAILED, "retrain_error": f"could not start the job: {exc}"}, start)
        return True
    # Reaped when it ends, so a long-lived kernel collects no zombies; the job outlives a short caller.
    threading.Thread(target=proc.wait, name=f"nbops-retrain-{proc.pid}", daemon=True).start()
    _write(client, alert_id, _owner(proc.pid))
    return True


def begin(alert_id: str, start: _Start = None) -> bool:
    """The job's process says it runs; False when the alert's retraining already ended (do nothing)."""
    client = store.client(start)
    if client.get_run(alert_id).data.params.get(PARAM_END):
        return False
    _write(client, alert_id, {**_owner(os.getpid()), "retrain_started_at": _now(), "retrain_state": RUNNING})
    return True


def end(alert_id: str, outcome: dict[str, str], start: _Start = None) -> bool:
    """Record how the retraining ended, once; False when someone else recorded the end first."""
    client = store.client(start)
    if not _claim(client, alert_id, PARAM_END, f"{outcome['retrain_state']} {uuid.uuid4().hex}"):
        return False
    _write(client, alert_id, {**outcome, "retrain_ended_at": _now()})
    with contextlib.suppress(Exception):  # the end is recorded; telling the channels is best effort
        from .. import notify  # the ``retraining`` channels hear of each end once, detached

        notify.retraining_ended(_fields(client, alert_id), start)
    return True


def state(fields: dict[str, Any]) -> dict[str, Any]:
    """An alert's fields as they stand: a job that is still queued or running but whose process
    is gone reads as ``failed``, with why and where its log is."""
    if fields.get("retrain_state") not in ACTIVE or _alive(fields) is not False:
        return fields
    return {**fields, "retrain_state": FAILED, "retrain_error": _death(fields)}


def settle(alert: dict[str, Any], start: _Start = None) -> bool:
    """Record for good that the job of ``alert`` died (``alert`` as read, before ``state``).

    True when this call recorded it; the failure is audited like any other retraining step.
    """
    if alert.get("retrain_state") not in ACTIVE or _alive(alert) is not False:
        return False
    error = _death(alert)
    if not end(alert["id"], {"retrain_state": FAILED, "retrain_error": error}, start):
        return False
    audit.append(
        "retrain",
        model=alert.get("model"),
        version=str(alert.get("version", "")) or None,
        reason=alert.get("message") or None,
        source="monitoring",
        details={"step": "failed", "rule": alert.get("rule", ""), "alert": alert["id"], "error": error[:500]},
        start=start,
    )
    return True


def settle_all(alert_ids: list[str], start: _Start = None) -> None:
    """``settle`` each of these alerts whose job died (read afresh: ``state`` already judged them)."""
    client = store.client(start)
    for alert_id in alert_ids:
        settle(_fields(client, alert_id), start)


def wait(alert_ids: list[str], timeout: float | None = None, start: _Start = None) -> None:
    """Block until the retraining of every alert in ``alert_ids`` has ended (alerts without one: at once).

    A job found dead is settled as ``failed``. ``NbopsError`` when ``timeout`` seconds pass first.
    """
    client = store.client(start)
    deadline = None if timeout is None else time.monotonic() + timeout
    pending = list(dict.fromkeys(alert_ids))
    while True:
        still = []
        for alert_id in pending:
            fields = _fields(client, alert_id)
            if fields.get("retrain_state") in ACTIVE:
                settle(fields, start)
                if state(fields)["retrain_state"] in ACTIVE:  # alive, or on a host this one cannot judge
                    still.append(fields)
        if not still:
            return
        if deadline is not None and time.monotonic() >= deadline:
            first = still[0]
            raise NbopsError(
                f"the retraining for alert {first['id']} is still {first.get('retrain_state')} after "
                f"{timeout:g} s; wait longer (--timeout) or follow its log {first.get('retrain_log', '')}."
            )
        pending = [f["id"] for f in still]
        time.sleep(POLL_SECONDS)


# --- storage -----------------------------------------------------------------------------------


def _claim(client: Any, run_id: str, key: str, value: str) -> bool:
    """Write-once param ``key`` = ``value`` on ``run_id``; True if this value is the one that landed."""
    from mlflow.exceptions import MlflowException

    with contextlib.suppress(MlflowException):  # refused: another value is there; read which
        client.log_param(run_id, key, value)
    return client.get_run(run_id).data.params.get(key) == value


def _write(client: Any, run_id: str, fields: dict[str, str]) -> None:
    """All fields in one call, so a reader never sees a state without what goes with it."""
    from mlflow.entities import RunTag

    client.log_batch(run_id, tags=[RunTag(TAG + key, str(value)) for key, value in fields.items()])


def _fields(client: Any, run_id: str) -> dict[str, Any]:
    tags = client.get_run(run_id).data.tags
    return {"id": run_id, **{k.removeprefix(TAG): v for k, v in tags.items() if k.startswith(TAG)}}


def _owner(pid: int) -> dict[str, str]:
    import psutil

    try:
        started = f"{psutil.Process(pid).create_time():.3f}"
    except psutil.Error:  # already gone: an unknown start time still lets the pid be judged
        started = ""
    return {"retrain_host": socket.gethostname(), "retrain_pid": str(pid), "retrain_process_start": started}


def _alive(fields: dict[str, Any]) -> bool | None:
    """Whether the job's process lives: None when another host owns it (or nothing says)."""
    from .. import lineage, liveness

    host, pid, started = (fields.get(key) for key in _OWNER)
    if not host or not pid:
        return None
    return liveness.owner_alive(
        {lineage.TAG_HOST: host, lineage.TAG_PID: pid, lineage.TAG_PROCESS_START: started or "nan"}
    )


def _death(fields: dict[str, Any]) -> str:
    where = fields.get("retrain_log")
    return (
        f"the retraining job (pid {fields.get('retrain_pid')} on {fields.get('retrain_host')}) ended while "
        f"{fields.get('retrain_state')}, without recording an outcome (killed, or its machine restarted)"
        + (f"; see {where}" if where else "")
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
