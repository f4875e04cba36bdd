"""Eight kernels logging into one store at once lose nothing: the embedded SQLite store, or a team server."""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_client.manager import KernelManager
from mlflow import MlflowClient

from nbops import config

KERNELS = 8
POINTS = 2000

CELL = """%%track writer-{i} --no-autolog
import nbops
for step in range({points}):
    nbops.log_metric("loss", 1.0 / (step + 1), step=step)
nbops.log_metrics({{"accuracy": 0.5 + {i} / 100, "kernel": {i}}})
"""


def test_eight_kernels_log_to_the_embedded_store_at_once(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    managers = []
    try:
        for _ in range(KERNELS):
            km = KernelManager(kernel_name="python3")
            km.start_kernel(env=env, cwd=str(project))
            managers.append(km)
        clients = []
        for km in managers:
            client = km.blocking_client()
            client.start_channels()
            client.wait_for_ready(timeout=120)
            client.execute_interactive("%load_ext nbops", timeout=120)
            clients.append(client)
        # All cells are sent before any reply is read: the kernels write concurrently.
        msg_ids = [c.execute(CELL.format(i=i, points=POINTS)) for i, c in enumerate(clients)]
        for client, msg_id in zip(clients, msg_ids, strict=True):
            while True:
                reply = client.get_shell_msg(timeout=180)
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            assert reply["content"]["status"] == "ok", reply["content"]
        for client in clients:
            client.stop_channels()
    finally:
        for km in managers:
            km.shutdown_kernel(now=True)

    store = MlflowClient(config.resolve(project).tracking_uri)  # the embedded store, or the team server
    runs = store.search_runs(["0"])
    assert sorted(r.info.run_name for r in runs) == sorted(f"writer-{i}" for i in range(KERNELS))
    for run in runs:
        assert run.info.status == "FINISHED"
        i = int(run.data.metrics["kernel"])
        assert run.info.run_name == f"writer-{i}"
        assert run.data.metrics["accuracy"] == 0.5 + i / 100
        history = store.get_metric_history(run.info.run_id, "loss")
        assert sorted(m.step for m in history) == list(range(POINTS))
