"""The sidebar's model list: ``GET nbops/api/models`` on a real Jupyter server against a naive client loop.

The store is a SQLite MLflow store with 200 registered models × 5 versions (lineage, requirement
and ``nbops.gate.*`` tags on every version, ``champion``/``challenger`` aliases on most models) and
5,000 runs. It is built once (a minute or two) and reused from ``--store`` on later runs.

Measured:

* ``GET models?max_results=50`` through a real ``jupyter server`` with the nbops extension (token
  auth, one kept-alive connection, HTTP and JSON included): median and p95 of 50 requests;
* the full 200 models, paged by ``next_page_token`` (4 pages of 50): median and p95 of 20 listings;
* the naive baseline in this process: the same facts for one page of 50 models with one
  ``MlflowClient`` call per model (``search_registered_models``, then ``search_model_versions``
  per model for its versions, their gate tags and the count; the total by paging every model);
* the first answers of a freshly started server: every read route asked at once the moment the
  port accepts connections, while MLflow is still loading (any 5xx stops the benchmark);
* JupyterLab's responsiveness while the sidebar loads: Jupyter's own ``GET /api/status`` idle (the
  baseline) and while heavy requests (all 200 models in one page) run back to back, median, p95
  and the ratio; nbops' ``GET status`` the same way.

    python benchmarks/models_endpoint.py [--store DIR] [--requests 50]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MODELS = 200
VERSIONS = 5
RUNS = 5_000
GATES = ("performance", "fairness", "robustness")
READY_MARKER = "built-200x5-5000"
#: Seconds a server gets to start (a few on an idle machine; far more on a busy one).
START_TIMEOUT = 300
#: Status calls per measurement (idle, and while the sidebar's heavy listings run).
STATUS_SAMPLES = 60


# --- the store -----------------------------------------------------------------------------------


def build_store(folder: Path) -> str:
    """Create the store in ``folder`` unless a finished one is there; returns its URI."""
    uri = f"sqlite:///{folder / '.nbops' / 'mlflow.db'}"
    if (folder / READY_MARKER).exists():
        return uri
    if (folder / ".nbops").exists():
        raise SystemExit(f"{folder} holds an unfinished store: remove it and run again.")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "bench"\n\n[tool.nbops.policy]\nchampion = ["performance", "fairness"]\n'
    )
    os.environ["MLFLOW_TRACKING_URI"] = uri
    started = time.perf_counter()

    import mlflow
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.pyfunc import PythonModel

    from nbops import lineage, registry, store

    store.prepare(uri)
    client = store.client(folder)
    fluent = store.fluent(folder)

    class Constant(PythonModel):
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return [0] * len(model_input)

    experiment_id = store.ensure_experiment("bench", folder)
    with fluent.start_run(experiment_id=experiment_id, run_name="model-source"):
        source = mlflow.pyfunc.log_model(name="model", python_model=Constant()).model_uri

    now = int(time.time() * 1000)
    run_ids = []
    for i in range(RUNS):
        run = client.create_run(experiment_id, start_time=now - (RUNS - i) * 1000, run_name=f"run-{i}")
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("accuracy", 0.5 + (i % 50) / 100, now, 0), Metric("loss", 1 / (i + 1), now, 0)],
            params=[Param("alpha", str(i % 7)), Param("model", "rf")],
            tags=[RunTag(lineage.TAG_NOTEBOOK, f"notebooks/train-{i % 10}.ipynb")],
        )
        client.set_terminated(run.info.run_id, "FINISHED", end_time=now - (RUNS - i) * 1000 + 500)
        run_ids.append(run.info.run_id)
    print(f"  {RUNS:,} runs in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    for m in range(MODELS):
        name = f"model-{m:03d}"
        client.create_registered_model(name, description=f"Benchmark model {m}")
        for v in range(1, VERSIONS + 1):
            run_id = run_ids[(m * VERSIONS + v) % RUNS]
            tags = {
                lineage.TAG_NOTEBOOK: f"notebooks/train-{m % 10}.ipynb",
                lineage.TAG_GIT_COMMIT: f"{m:040x}",
                lineage.TAG_PYTHON: "3.12.3",
                registry.REQUIREMENTS_TAG: "mlflow==3.4.0,scikit-learn==1.5.0",
            }
            for g, gate in enumerate(GATES[: (m + v) % 4]):
                result = "failed" if (m + v + g) % 5 == 0 else "passed"
                tags[f"nbops.gate.{gate}"] = f"{result} {run_id} 2026-01-01T00:00:00Z"
            client.create_model_version(name, source, run_id=run_id, tags=tags)
        if m % 10:
            client.set_registered_model_alias(name, "champion", str(VERSIONS - 1))
        if m % 3 == 0:
            client.set_registered_model_alias(name, "challenger", str(VERSIONS))
    print(
        f"  {MODELS} models × {VERSIONS} versions in {time.perf_counter() - started:.0f} s", file=sys.stderr
    )
    (folder / READY_MARKER).write_text("")
    return uri


# --- the naive baseline --------------------------------------------------------------------------


def naive_listing(client, max_results: int) -> dict:  # type: ignore[no-untyped-def]
    """The same facts as one ``GET models`` page, with one client call per model."""
    page = client.search_registered_models(max_results=max_results)
    rows = []
    for model in page:
        versions = client.search_model_versions(f"name = '{model.name}'", order_by=["version_number DESC"])
        shown = {str(versions[0].version)} if versions else set()
        shown |= {str(v) for v in model.aliases.values()}
        rows.append(
            {
                "name": model.name,
                "aliases": dict(model.aliases),
                "latest_version": str(versions[0].version) if versions else None,
                "versions_count": len(versions),
                "gates": {
                    str(v.version): {
                        k.removeprefix("nbops.gate."): t.split()[0]
                        for k, t in v.tags.items()
                        if k.startswith("nbops.gate.")
                    }
                    for v in versions
                    if str(v.version) in shown
                },
            }
        )
    total, token = 0, None
    while True:
        every = client.search_registered_models(max_results=1000, page_token=token)
        total += len(every)
        token = every.token
        if not token:
            break
    return {"models": rows, "total": total}


# --- the server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, uri: str, token: str) -> tuple[subprocess.Popen, int]:
    """A real ``jupyter server`` with the nbops extension on the benchmark store; its log goes to a file."""
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    server_log = (folder / "jupyter-server.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={folder}",
            "--ServerApp.jpserver_extensions={'nbops': True}",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        env=env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, port
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"jupyter server exited; see {server_log.name}") from None
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"jupyter server did not start within {START_TIMEOUT} s")


class Api:
    """One kept-alive HTTP connection to the nbops API, as a browser tab would hold."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"token {token}"}

    def get(self, path: str, prefix: str = "/nbops/api/") -> tuple[float, dict]:
        started = time.perf_counter()
        self.connection.request("GET", f"{prefix}{path}", headers=self.headers)
        response = self.connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise SystemExit(f"GET {prefix}{path} → {response.status}: {body[:300]!r}")
        return elapsed, json.loads(body)

    def jupyter_status(self) -> float:
        """Jupyter's own ``/api/status``: what every JupyterLab tab polls, served by the event loop."""
        return self.get("status", prefix="/api/")[0]


FIRST_ROUTES = ("status", "runs", "models?max_results=50", "models/model-000/versions", "audit", "alerts")


def first_answers(port: int, token: str) -> dict[str, int]:
    """Every read route, asked at once on a server that has just opened its port: status per route."""
    answers: dict[str, int] = {}

    def ask(route: str) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        connection.request("GET", f"/nbops/api/{route}", headers={"Authorization": f"token {token}"})
        response = connection.getresponse()
        response.read()
        answers[route] = response.status

    askers = [threading.Thread(target=ask, args=(route,)) for route in FIRST_ROUTES]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join()
    return answers


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--store",
        type=Path,
        default=Path(tempfile.gettempdir()) / "nbops-bench-models-200x5",
        help="project folder holding the benchmark store (built there once, then reused)",
    )
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()

    folder = args.store.resolve()
    print(f"store: {folder}", file=sys.stderr)
    uri = build_store(folder)
    os.environ["MLFLOW_TRACKING_URI"] = uri
    token = secrets.token_hex(16)
    process, port = start_server(folder, uri, token)
    try:
        started = time.perf_counter()
        answers = first_answers(port, token)
        first_seconds = time.perf_counter() - started
        if any(code >= 500 for code in answers.values()):
            raise SystemExit(f"the first requests after start-up failed: {answers}")
        api = Api(port, token)
        for _ in range(3):  # warm-up: first-use costs in the server
            api.get("models?max_results=50")
            api.get("status")

        page_times, body = [], {}
        for _ in range(args.requests):
            elapsed, body = api.get("models?max_results=50")
            page_times.append(elapsed)
        assert len(body["models"]) == 50 and body["total"] == MODELS, body.get("total")

        full_times = []
        for _ in range(20):
            started, token_ = time.perf_counter(), None
            seen = 0
            while True:
                query = "models?max_results=50" + (f"&page_token={token_}" if token_ else "")
                _, page = api.get(query)
                seen += len(page["models"])
                token_ = page["next_page_token"]
                if not token_:
                    break
            full_times.append(time.perf_counter() - started)
            assert seen == MODELS, seen

        from nbops import store

        client = store.client(folder)
        naive_listing(client, 50)  # warm-up
        naive_times = []
        for _ in range(max(10, args.requests // 2)):
            started = time.perf_counter()
            naive = naive_listing(client, 50)
            naive_times.append(time.perf_counter() - started)
        assert naive["total"] == MODELS and len(naive["models"]) == 50

        status_idle = [api.get("status")[0] for _ in range(STATUS_SAMPLES)]
        jupyter_idle = [api.jupyter_status() for _ in range(STATUS_SAMPLES)]
        heavy_done = threading.Event()
        heavy_count = [0]

        def heavy() -> None:
            heavy_api = Api(port, token)
            while not heavy_done.is_set():
                heavy_api.get("models?max_results=1000")
                heavy_count[0] += 1

        worker = threading.Thread(target=heavy)
        worker.start()
        time.sleep(0.2)
        status_busy, jupyter_busy = [], []
        for _ in range(STATUS_SAMPLES):
            jupyter_busy.append(api.jupyter_status())
            time.sleep(0.02)
            status_busy.append(api.get("status")[0])
            time.sleep(0.02)
        heavy_done.set()
        worker.join()
    finally:
        process.terminate()
        process.wait(timeout=30)

    codes = ", ".join(f"{route.split('?')[0]} {code}" for route, code in sorted(answers.items()))
    print(f"first answers after start-up   {first_seconds:7.1f} s    ({codes})")
    print(
        f"GET models?max_results=50      median {ms(statistics.median(page_times))}  p95 {ms(p95(page_times))}"
    )
    print(
        f"all 200 models, 4 pages of 50  median {ms(statistics.median(full_times))}  p95 {ms(p95(full_times))}"
    )
    print(
        f"naive client loop, 50 models   median {ms(statistics.median(naive_times))}  p95 {ms(p95(naive_times))}"
        "   (in process: no HTTP)"
    )
    ratio = statistics.median(naive_times) / statistics.median(page_times)
    ratio_p95 = p95(naive_times) / p95(page_times)
    print(
        f"speed-up over the naive loop   {ratio:5.1f}x median, {ratio_p95:5.1f}x p95   (target: at least 5x)"
    )
    print(f"p95 of one page                {ms(p95(page_times))}   (target: at most 100 ms)")
    print(
        f"Jupyter /api/status idle       median {ms(statistics.median(jupyter_idle))}  p95 {ms(p95(jupyter_idle))}"
    )
    print(
        f"Jupyter /api/status, sidebar   median {ms(statistics.median(jupyter_busy))}  p95 {ms(p95(jupyter_busy))}"
        f"   ({heavy_count[0]} heavy requests of all {MODELS} models ran meanwhile)"
    )
    print(
        f"  loaded / idle                {statistics.median(jupyter_busy) / statistics.median(jupyter_idle):5.1f}x "
        f"median, {p95(jupyter_busy) / p95(jupyter_idle):5.1f}x p95   (target: p95 at most 50 ms)"
    )
    print(
        f"nbops status idle              median {ms(statistics.median(status_idle))}  p95 {ms(p95(status_idle))}"
    )
    print(
        f"nbops status, sidebar loading  median {ms(statistics.median(status_busy))}  p95 {ms(p95(status_busy))}"
    )


if __name__ == "__main__":
    main()
