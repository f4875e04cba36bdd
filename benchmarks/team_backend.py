"""A team's MLflow server on PostgreSQL against the embedded SQLite store, side by side in one run.

The server is the suite's own (``tests/backends.py``): a throwaway PostgreSQL cluster and
``mlflow server --backend-store-uri postgresql+psycopg2://... --artifacts-destination DIR``
(proxied artifacts; ``--workers``, default 1), all on loopback, so the numbers are the price of
the REST round trip and the database rather than of a network. Each backend gets a fresh store with the
same content, built through ``MlflowClient``:

* registry listing: ``nbops.registry.list_models()`` over ``--models`` registered models with two
  versions and a ``champion`` alias each (median of ``--repeats`` listings), and the HTTP requests
  one listing sends, against asking for each model's latest version separately (one
  ``search_model_versions`` per model, as nbops did before);
* registration: ``nbops.registry.register(pipeline, name, data=X)`` of a fitted scikit-learn
  pipeline (median of ``--repeats``), and the HTTP requests one registration sends;
* metric logging: ``nbops.log_metric`` (buffered, batched by a background thread; timed until
  every point is stored) against a plain ``mlflow.log_metric`` loop (one round trip per point).

Printed: each time per backend and the server/SQLite ratio; requests per listing and per
registration on the server (counted at ``requests.Session.request``, which every MLflow REST
call and artifact transfer goes through); for logging, points per second and nbops' gain over
plain MLflow on each backend.

    python benchmarks/team_backend.py [--models 100] [--repeats 5] [--points 10000] [--baseline-points 500]
                                      [--workers 1]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))


def build_registry(uri: str, models: int) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(uri, registry_uri=uri)
    run_id = client.create_run("0", run_name="trained").info.run_id
    for i in range(models):
        name = f"model-{i:03d}"
        client.create_registered_model(name, description=f"benchmark model {i}")
        for _ in range(2):
            client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
        client.set_registered_model_alias(name, "champion", "2")


class RequestCounter:
    """HTTP requests sent by this process (all threads) while ``counting()`` is open."""

    def __init__(self) -> None:
        import requests

        self.count = 0
        self._lock = threading.Lock()
        send = requests.Session.request

        def counted(session, *args, **kwargs):
            with self._lock:
                self.count += 1
            return send(session, *args, **kwargs)

        requests.Session.request = counted

    @contextlib.contextmanager
    def counting(self) -> Iterator[list[int]]:
        """Yields a list that holds the number of requests once the block ends."""
        result: list[int] = []
        before = self.count
        try:
            yield result
        finally:
            result.append(self.count - before)


def list_per_model() -> list[dict]:
    """The listing as nbops did it before: each model's latest version asked for separately."""
    from nbops import store
    from nbops.filters import literal

    client = store.client()
    found = []
    for model in client.search_registered_models(max_results=1000):
        versions = client.search_model_versions(
            f"name = {literal(model.name)}", max_results=1, order_by=["version_number DESC"]
        )
        found.append({"name": model.name, "latest_version": str(versions[0].version) if versions else None})
    return found


def time_listing(repeats: int, counter: RequestCounter) -> dict[str, float]:
    from nbops import registry

    listed = registry.list_models()  # warm: store checked, client made
    assert {m["name"]: m["latest_version"] for m in listed} == {
        m["name"]: m["latest_version"] for m in list_per_model()
    }, "the listing disagrees with a per-model lookup"
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        listed = registry.list_models()
        times.append(time.perf_counter() - began)
    with counter.counting() as nbops_requests:
        registry.list_models()
    with counter.counting() as per_model_requests:
        list_per_model()
    return {
        "listing": statistics.median(times),
        "listed": len(listed),
        "listing_requests": nbops_requests[0],
        "per_model_requests": per_model_requests[0],
    }


def time_registration(repeats: int, counter: RequestCounter) -> dict[str, float]:
    """Median seconds, and HTTP requests, of registering a fitted pipeline with its data."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from nbops import registry

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    registry.register(model, "bench-warm-up", data=X)  # imports and first-use costs
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        registry.register(model, "bench-register", data=X)
        times.append(time.perf_counter() - began)
    with counter.counting() as requests:
        registry.register(model, "bench-register", data=X)
    return {"register": statistics.median(times), "register_requests": requests[0]}


def time_logging(points: int, baseline_points: int) -> tuple[float, float]:
    """Points per second: plain ``mlflow.log_metric``, then ``nbops.log_metric`` until stored."""
    import mlflow

    import nbops
    from nbops import store, tracking

    with nbops.track("warm-up"):
        nbops.log_metric("warm", 1.0)
    with store.fluent().start_run(run_name="baseline"):
        began = time.perf_counter()
        for step in range(baseline_points):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        baseline = baseline_points / (time.perf_counter() - began)
    with nbops.track("nbops") as run:
        began = time.perf_counter()
        for step in range(points):
            nbops.log_metric("loss", 1.0 / (step + 1), step=step)
        tracking._current().writer.close()  # the final flush, timed here rather than at run end
        buffered = points / (time.perf_counter() - began)
    stored = len(store.client().get_metric_history(run.info.run_id, "loss"))
    assert stored == points, f"only {stored} of {points} points stored"
    return baseline, buffered


def measure(uri: str, args: argparse.Namespace, counter: RequestCounter) -> dict[str, float]:
    os.environ["MLFLOW_TRACKING_URI"] = uri
    from nbops import store

    store.prepare(uri)
    build_registry(uri, args.models)
    results = time_listing(args.repeats, counter)
    assert results["listed"] == args.models, f"listed {results['listed']} of {args.models} models"
    results.update(time_registration(args.repeats, counter))
    baseline, buffered = time_logging(args.points, args.baseline_points)
    return {**results, "baseline": baseline, "buffered": buffered}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100, help="registered models to list")
    parser.add_argument("--repeats", type=int, default=5, help="listings timed (median printed)")
    parser.add_argument("--points", type=int, default=10_000, help="points logged with nbops")
    parser.add_argument("--baseline-points", type=int, default=500, help="points logged with mlflow")
    parser.add_argument("--workers", type=int, default=1, help="mlflow server worker processes")
    args = parser.parse_args()

    import backends

    counter = RequestCounter()
    folder = Path(tempfile.mkdtemp(prefix="nbops-bench-"))
    began = time.monotonic()
    postgres = backends.Postgres.start()
    server = None
    try:
        postgres.execute(f"CREATE DATABASE {backends.STORE_DB} OWNER {backends.ROLE}")
        backends.create_mlflow_schema(postgres.uri(backends.STORE_DB))
        (folder / "artifacts").mkdir()
        server = backends.MlflowServer.start(
            postgres.uri(backends.STORE_DB), folder / "artifacts", folder / "mlflow-server.log", args.workers
        )
        print(
            f"PostgreSQL + mlflow server ({args.workers} worker(s)) ready in {time.monotonic() - began:.1f} s",
            file=sys.stderr,
        )
        results = {
            "SQLite": measure(f"sqlite:///{folder / 'sqlite' / 'mlflow.db'}", args, counter),
            "server": measure(server.url, args, counter),
        }
    finally:
        if server is not None:
            server.stop()
        postgres.stop()

    sqlite, team = results["SQLite"], results["server"]
    print(f"{'':44}{'SQLite':>12}{'server':>12}{'server/SQLite':>15}")
    for key, label in (
        ("listing", f"registry.list_models(), {args.models} models"),
        ("register", "registry.register(pipeline, data=X)"),
    ):
        print(
            f"{label:44}{sqlite[key] * 1000:>9.0f} ms{team[key] * 1000:>9.0f} ms"
            f"{team[key] / sqlite[key]:>14.1f}x"
        )
    print(f"\nHTTP requests on the server{'':17}{'nbops':>12}{'before':>12}{'before/nbops':>15}")
    print(
        f"{f'one listing of {args.models} models':44}{team['listing_requests']:>12}"
        f"{team['per_model_requests']:>12}{team['per_model_requests'] / team['listing_requests']:>14.0f}x"
    )
    print(f"{'one registration':44}{team['register_requests']:>12}")
    print()
    for key, label in (("baseline", "mlflow.log_metric loop"), ("buffered", "nbops.log_metric (all stored)")):
        print(
            f"{label + ', points/s':44}{sqlite[key]:>12,.0f}{team[key]:>12,.0f}"
            f"{sqlite[key] / team[key]:>14.1f}x slower"
        )
    print(
        f"{'nbops over plain mlflow, throughput':44}{sqlite['buffered'] / sqlite['baseline']:>11.0f}x"
        f"{team['buffered'] / team['baseline']:>11.0f}x"
    )


if __name__ == "__main__":
    main()
