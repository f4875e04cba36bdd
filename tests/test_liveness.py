"""No run stays RUNNING after its kernel died: real kernels, real SIGKILLs."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator

import pytest
from jupyter_client.manager import KernelManager
from mlflow import MlflowClient

import nbops
from nbops import lineage, liveness

LONG_CELL = "%%track doomed\nimport time\nfor _ in range(600):\n    time.sleep(0.1)"


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def kernel(tracking_uri: str) -> Iterator[KernelManager]:
    managers: list[KernelManager] = []

    def start() -> KernelManager:
        km = KernelManager(kernel_name="python3")
        km.start_kernel(env={**os.environ})
        managers.append(km)
        client = km.blocking_client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        km.nbops_client = client  # type: ignore[attr-defined]
        return km

    yield start
    for km in managers:
        km.nbops_client.stop_channels()  # type: ignore[attr-defined]
        if km.is_alive():
            km.shutdown_kernel(now=True)


def running_run(uri: str):
    runs = MlflowClient(uri).search_runs(["0"], "attributes.status = 'RUNNING'")
    return runs[0] if runs else None


def test_a_sigkilled_kernels_run_is_marked_killed_by_the_next_load_ext(kernel, tracking_uri: str) -> None:
    victim = kernel()
    victim.nbops_client.execute_interactive("%load_ext nbops", timeout=60)
    victim.nbops_client.execute(LONG_CELL)
    run = wait_for(lambda: running_run(tracking_uri), what="the run to start")
    assert run.data.tags[lineage.TAG_PID] == str(victim.provisioner.process.pid)
    os.kill(victim.provisioner.process.pid, signal.SIGKILL)
    wait_for(lambda: not victim.is_alive(), what="the kernel to die")
    assert MlflowClient(tracking_uri).get_run(run.info.run_id).info.status == "RUNNING"

    survivor = kernel()
    survivor.nbops_client.execute_interactive("%load_ext nbops", timeout=60)
    stored = wait_for(
        lambda: (r := MlflowClient(tracking_uri).get_run(run.info.run_id)).info.status == "KILLED" and r,
        what="the background sweep",
    )
    assert "ended while the run was RUNNING" in stored.data.tags[liveness.KILLED_REASON_TAG]
    assert stored.info.end_time is not None


def test_a_live_owner_keeps_its_run(kernel, tracking_uri: str) -> None:
    owner = kernel()
    owner.nbops_client.execute_interactive("%load_ext nbops", timeout=60)
    owner.nbops_client.execute(LONG_CELL)
    run = wait_for(lambda: running_run(tracking_uri), what="the run to start")
    assert liveness.sweep() == []
    assert MlflowClient(tracking_uri).get_run(run.info.run_id).info.status == "RUNNING"
    owner.interrupt_kernel()
    stored = wait_for(
        lambda: (r := MlflowClient(tracking_uri).get_run(run.info.run_id)).info.status != "RUNNING" and r,
        what="the interrupted run to end",
    )
    assert stored.info.status == "KILLED"  # KeyboardInterrupt


def test_owner_alive_tells_dead_recycled_and_foreign_owners(tracking_uri: str) -> None:
    me = lineage.owner_tags()
    assert liveness.owner_alive(me) is True
    assert liveness.owner_alive({**me, lineage.TAG_PROCESS_START: "1.0"}) is False  # pid reused
    assert liveness.owner_alive({**me, lineage.TAG_PID: "999999999"}) is False
    assert liveness.owner_alive({**me, lineage.TAG_HOST: socket.gethostname() + "-elsewhere"}) is None
    assert liveness.owner_alive({}) is None


def test_cli_runs_sweeps_first(tracking_uri: str, tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    with nbops.track("orphan") as run:
        pass
    client = MlflowClient(tracking_uri)
    # Make it look like a run left behind by a process that no longer exists.
    client.set_tag(run.info.run_id, lineage.TAG_PID, "999999999")
    client.update_run(run.info.run_id, status="RUNNING")
    out = subprocess.run(
        [Path(sys.executable).parent / "nbops", "runs"],
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "orphan    KILLED" in out or "KILLED" in out.splitlines()[1]
    assert client.get_run(run.info.run_id).info.status == "KILLED"
