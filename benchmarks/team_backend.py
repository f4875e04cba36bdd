"""A team's MLflow server on PostgreSQL against the embedded SQLite store, side by side in one run.

The server is the suite's own (``tests/backends.py``): a throwaway PostgreSQL cluster and
``mlflow server --backend-store-uri postgresql+psycopg2://... --artifacts-destination DIR``
(proxied artifacts; ``--workers``, default 1), all on loopback, so the numbers are the price of
the REST round trip and the database rather than of a network. Each backend gets a fresh store with the
same content, built through ``MlflowClient``:

* registry listing: ``nbops.registry.list_models()`` over ``--models`` registered models with two
  versions and a ``champion`` alias each (median of ``--repeats`` listings);
* metric logging: ``nbops.log_metric`` (buffered, batched by a background thread; timed until
  every point is stored) against a plain ``mlflow.log_metric`` loop (one round trip per point).

Printed: each time per backend and the server/SQLite ratio; for logging, points per second and
nbops' gain over plain MLflow on each backend.

    python benchmarks/team_backend.py [--models 100] [--points 10000] [--baseline-points 500] [--workers 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
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


def time_listing(repeats: int) -> tuple[float, int]:
    from nbops import registry

    listed = registry.list_models()  # warm: store checked, client made
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        listed = registry.list_models()
        times.append(time.perf_counter() - began)
    return statistics.median(times), len(listed)


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


def measure(uri: str, args: argparse.Namespace) -> dict[str, float]:
    os.environ["MLFLOW_TRACKING_URI"] = uri
    from nbops import store

    store.prepare(uri)
    build_registry(uri, args.models)
    listing, count = time_listing(args.repeats)
    assert count == args.models, f"listed {count} of {args.models} models"
    baseline, buffered = time_logging(args.points, args.baseline_points)
    return {"listing": listing, "baseline": baseline, "buffered": buffered}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100, help="registered models to list")
    parser.add_argument("--repeats", type=int, default=5, help="listings timed (median printed)")
    parser.add_argument("--points", type=int, default=10_000, help="points logged with nbops")
    parser.add_argument("--baseline-points", type=int, default=500, help="points logged with mlflow")
    parser.add_argument("--workers", type=int, default=1, help="mlflow server worker processes")
    args = parser.parse_args()

    import backends

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
            "SQLite": measure(f"sqlite:///{folder / 'sqlite' / 'mlflow.db'}", args),
            "server": measure(server.url, args),
        }
    finally:
        if server is not None:
            server.stop()
        postgres.stop()

    sqlite, team = results["SQLite"], results["server"]
    print(f"{'':44}{'SQLite':>12}{'server':>12}{'server/SQLite':>15}")
    print(
        f"{f'registry.list_models(), {args.models} models':44}"
        f"{sqlite['listing'] * 1000:>9.0f} ms{team['listing'] * 1000:>9.0f} ms"
        f"{team['listing'] / sqlite['listing']:>14.1f}x"
    )
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
