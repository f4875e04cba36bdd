"""Runs never stay RUNNING after their process died.

Each run started by nbops carries its owner's host, pid, process start time and
kernel id. A run still RUNNING whose owner is gone (SIGKILL, crash, kernel
restart) is marked KILLED with the reason, by whichever nbops process next looks:
a new ``%load_ext nbops`` (in a background thread), an ``nbops`` command, or the
Jupyter server when it restarts or shuts down a kernel. Only runs owned by this
host are judged; a pid on another machine says nothing here.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from pathlib import Path

from . import config, lineage, store

KILLED_REASON_TAG = "nbops.killed_reason"

log = logging.getLogger(__name__)


def owner_alive(tags: dict[str, str]) -> bool | None:
    """True/False for a run owned by this host; None when this host cannot tell."""
    if tags.get(lineage.TAG_HOST) != socket.gethostname():
        return None
    try:
        pid = int(tags[lineage.TAG_PID])
        started = float(tags.get(lineage.TAG_PROCESS_START, "nan"))
    except (KeyError, ValueError):
        return None
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        # A recycled pid belongs to a process that started later than the owner.
        return math.isnan(started) or abs(process.create_time() - started) < 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return None


def sweep(start: Path | str | None = None, kernel_id: str | None = None) -> list[str]:
    """Mark KILLED the RUNNING runs of this host whose owner process is gone.

    With ``kernel_id``, only that kernel's runs are looked at (the server's check
    after a restart). Returns the ids of the runs it marked.
    """
    settings = config.resolve(start)
    if not store.exists(settings.tracking_uri):
        return []
    client = store.client(start)
    filters = ["attributes.status = 'RUNNING'", f"tags.`{lineage.TAG_HOST}` = '{socket.gethostname()}'"]
    if kernel_id:
        filters.append(f"tags.`{lineage.TAG_KERNEL}` = '{kernel_id}'")
    experiment_ids = list(store.experiment_ids(client))
    if not experiment_ids:
        return []
    marked = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, " and ".join(filters), max_results=1000, page_token=token)
        for run in page:
            if owner_alive(run.data.tags) is False:
                reason = (
                    f"owner process {run.data.tags.get(lineage.TAG_PID)} on {socket.gethostname()} "
                    f"ended while the run was RUNNING (kernel died, was restarted or was killed)"
                )
                client.set_tag(run.info.run_id, KILLED_REASON_TAG, reason)
                client.set_terminated(run.info.run_id, status="KILLED", end_time=int(time.time() * 1000))
                marked.append(run.info.run_id)
        token = page.token
        if not token:
            return marked


def sweep_in_background(start: Path | str | None = None) -> threading.Thread:
    """Sweep (and warm lineage caches) without making the caller wait: ``%load_ext`` stays instant."""

    def work() -> None:
        lineage.pinned_requirements()  # warm the per-process cache while the user reads
        try:
            marked = sweep(start)
            if marked:
                log.info("nbops: marked %d run(s) of dead processes KILLED", len(marked))
        except Exception:  # a sweep must never disturb the notebook
            log.debug("nbops: background sweep failed", exc_info=True)

    thread = threading.Thread(target=work, name="nbops-sweep", daemon=True)
    thread.start()
    return thread
