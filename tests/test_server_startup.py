"""The Jupyter server's first requests, asked the moment it starts: answered, never a 500.

The server loads MLflow in the background while JupyterLab's page loads, and the sidebar asks for
its lists right away; those store calls must wait for the load rather than import the same modules
at the same time (Python cannot import one package's circular modules from two threads at once).
Each start here is a real ``jupyter server`` subprocess on a project whose store already exists,
with cold bytecode caches (so the imports are slow, as after an install or an upgrade), and every
read route is requested at once as soon as the port accepts connections.

To make the overlap certain rather than likely, the server runs with an import hook that pauses
20 ms before each SQLAlchemy and Alembic module executes: the real modules load, just more slowly.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from nbops import store
from nbops.server import store_threads

#: Server starts per backend: each one imports MLflow from cold caches (seconds, a minute on a
#: busy machine). With the slowed imports, one start of the unguarded server failed every time.
STARTS = 1
#: Seconds the server gets to start and answer, on a loaded machine (a safety net, not a measure).
PATIENCE = 600

#: Runs ``jupyter server`` with every SQLAlchemy and Alembic module slowed down a little.
SLOW_IMPORTS = """
import importlib.machinery, sys, time

class SlowLoader(importlib.machinery.SourceFileLoader):
    def exec_module(self, module):
        time.sleep(0.02)
        super().exec_module(module)

class SlowFinder:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.partition(".")[0] not in ("sqlalchemy", "alembic"):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = SlowLoader(name, spec.origin)
        return spec

sys.meta_path.insert(0, SlowFinder)
from jupyter_server.serverapp import main
sys.exit(main())
"""

READ_ROUTES = [
    "status",
    "runs",
    "models",
    "models/churn/versions",
    "models/churn/versions/1",
    "models/churn/versions/1/monitoring",
    "audit",
    "alerts",
    "deployments",
    "prompts",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def first_answers(root: Path, workdir: Path) -> tuple[dict[str, int], str]:
    """Start a server on ``root`` with cold caches, ask every read route at once; status per route and the log."""
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}  # the project's store
    cache = workdir / "pycache"
    cache.mkdir()
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPYCACHEPREFIX=str(cache))
    log_path = workdir / "jupyter.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-c", SLOW_IMPORTS, "--no-browser", "--allow-root", f"--port={port}",
                "--ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
                "--ServerApp.jpserver_extensions={'nbops': True}",
            ],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + PATIENCE
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"jupyter server did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.01)
        answers: dict[str, int] = {}

        def ask(route: str) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PATIENCE)
            connection.request("GET", f"/nbops/api/{route}", headers={"Authorization": f"token {token}"})
            response = connection.getresponse()
            response.read()
            answers[route] = response.status

        askers = [threading.Thread(target=ask, args=(route,)) for route in READ_ROUTES]
        for asker in askers:
            asker.start()
        for asker in askers:
            asker.join()
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return answers, log_path.read_text()


def test_every_read_route_answers_the_moment_the_server_starts(project: Path, tmp_path: Path) -> None:
    client = store.client(project)
    client.create_registered_model("churn")
    client.create_model_version("churn", "s3://nowhere/model")
    for start in range(STARTS):
        workdir = tmp_path / f"start-{start}"
        workdir.mkdir()
        answers, log = first_answers(project, workdir)
        assert answers == dict.fromkeys(READ_ROUTES, 200), f"start {start + 1}: {answers}\n{log[-4000:]}"
        assert "Traceback" not in log, log[-4000:]


# --- a load that fails -----------------------------------------------------------------------------


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config["ServerApp"]["jpserver_extensions"]["nbops"] = True
    return jp_server_config


async def test_a_failed_load_is_reported_and_retried_by_the_next_request(
    jp_fetch, tracking_uri, monkeypatch
) -> None:
    """An import that fails is a 503 saying what is missing, and does not stick once it works again.

    The failing import is of a module that does not exist, added to what the server loads.
    """
    assert (await jp_fetch("nbops", "api", "runs")).code == 200  # the server's own load is over
    modules = store_threads.ROUTE_MODULES
    monkeypatch.setattr(store_threads, "_loaded", False)
    monkeypatch.setattr(store_threads, "ROUTE_MODULES", (*modules, "nbops_module_that_is_missing"))
    for _ in range(2):  # not remembered as a success, nor as a failure
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("nbops", "api", "runs")
        body = json.loads(info.value.response.body)
        assert info.value.code == 503 and body["error"] == "StoreError"
        assert "cannot load nbops_module_that_is_missing" in body["message"]
        assert "Traceback" not in info.value.response.body.decode()
    status = await jp_fetch("nbops", "api", "status")  # needs no MLflow: answers meanwhile
    assert status.code == 200
    monkeypatch.setattr(store_threads, "ROUTE_MODULES", modules)  # installed again
    response = await jp_fetch("nbops", "api", "runs")
    assert response.code == 200 and json.loads(response.body)["runs"] == []
    assert store_threads._loaded
