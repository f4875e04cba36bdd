"""``nbops.assess()`` over 200 models × 5 versions on the embedded store, against a naive client loop.

The store is built once under the temporary folder, keyed by the nbops version (a few minutes),
and reused: every version carries lineage and gate tags, most models a ``champion`` alias, some a
reproduction verdict; each champion has a performance gate run (with ``champion_uri``) and a
monitoring run with drift, latency and performance metrics; 50 models were promoted twice
through the audit log, 10 have canary events and 10 a recorded review; the policy requires gates
and two alert rules apply to every model.

Measured, in this one process:

* nbops: ``nbops.assess()`` for every model (median of ``--repeat`` runs after one warm-up);
* the naive baseline: the same facts with one ``MlflowClient`` call per version per test (the
  version's tags per tag-based test, a monitoring search per monitoring test, an audit search per
  audit-based test), timed on ``--baseline-models`` models and scaled to 200 (said so when scaled).

    python benchmarks/assess.py [--store DIR] [--repeat 5] [--baseline-models 20]

Target: at most 5 s for the 200 × 5 assessment.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

MODELS = 200
VERSIONS = 5
GATES = ("data_validation", "fairness", "performance")
TARGET_SECONDS = 5.0
PYPROJECT = """[project]
name = "bench"

[tool.nbops.policy]
champion = ["data_validation", "performance"]

[tool.nbops.alerts.drift]
metric = "drift.share"
op = ">="
threshold = 0.3

[tool.nbops.alerts.latency]
metric = "latency.p95_ms"
op = ">="
threshold = 250

[tool.nbops.review]
every = "90d"
"""


def build_store(folder: Path) -> str:
    """Create the store in ``folder`` unless a finished one is there; returns its URI."""
    from nbops.version import __version__

    uri = f"sqlite:///{folder / '.nbops' / 'mlflow.db'}"
    marker = folder / f"built-{__version__}"
    if marker.exists():
        return uri
    if (folder / ".nbops").exists():
        raise SystemExit(f"{folder} holds an unfinished store: remove it and run again.")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(PYPROJECT)
    os.environ["MLFLOW_TRACKING_URI"] = uri
    started = time.perf_counter()

    from mlflow.entities import Metric, Param

    from nbops import audit, lineage, store
    from nbops.monitoring import reviews
    from nbops.monitoring.runs import EXPERIMENT as MONITORING
    from nbops.monitoring.runs import TAG_MODEL, TAG_VERSION

    store.prepare(uri)
    client = store.client(folder)
    gates_experiment = store.ensure_experiment("nbops-gates", folder)
    monitoring_experiment = store.ensure_experiment(MONITORING, folder)
    now = int(time.time() * 1000)
    report = folder / "review.html"
    report.write_text("<p>reviewed</p>")
    for m in range(MODELS):
        name = f"model-{m:03d}"
        client.create_registered_model(name, description=f"Benchmark model {m}")
        champion = str(VERSIONS - 1)
        gate_run = client.create_run(gates_experiment, tags={"nbops.gate.name": "performance"})
        client.log_batch(gate_run.info.run_id, params=[Param("champion_uri", f"models:/{name}@champion")])
        client.set_terminated(gate_run.info.run_id)
        for v in range(1, VERSIONS + 1):
            tags = {
                lineage.TAG_NOTEBOOK: f"notebooks/train-{m % 10}.ipynb",
                lineage.TAG_GIT_COMMIT: f"{m:040x}",
                lineage.TAG_CELL_HASH: f"{v:064x}",
                "nbops.card": f"runs:/r/model_cards/{name}/v{v}",
            }
            for gate in GATES[: (m + v) % 4]:
                run_id = gate_run.info.run_id if gate == "performance" else "r"
                tags[f"nbops.gate.{gate}"] = f"passed {run_id} 2026-01-01T00:00:00Z"
            if (m + v) % 3 == 0:
                tags["nbops.reproduce"] = "reproduced r 2026-01-01T00:00:00Z"
            client.create_model_version(name, "s3://nowhere/model", tags=tags)
        if m % 10:
            client.set_registered_model_alias(name, "champion", champion)
            run = client.create_run(
                monitoring_experiment, tags={TAG_MODEL: name, TAG_VERSION: champion}, run_name=f"{name}-v4"
            )
            metrics = ["drift.share", "drift.income.psi", "latency.p95_ms", "performance.accuracy"]
            client.log_batch(run.info.run_id, metrics=[Metric(k, 0.1, now, 1) for k in metrics])
            client.set_terminated(run.info.run_id)
        if m < 50:
            for version in ("3", champion):
                audit.append(
                    "promote", model=name, alias="champion", to_version=version, reason="bench", start=folder
                )
        if m < 10:
            audit.append("canary-promoted", model=name, version=champion, reason="bench", start=folder)
            reviews.record(name, report, start=folder)
    print(
        f"  built {MODELS} models × {VERSIONS} versions in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )
    marker.write_text("")
    return uri


def naive(client, names: list[str]) -> int:  # type: ignore[no-untyped-def]
    """The same facts with one client call per version per test; returns the number of calls."""
    from nbops.monitoring.runs import EXPERIMENT as MONITORING

    calls = 0
    monitoring = client.get_experiment_by_name(MONITORING).experiment_id
    audit_log = client.get_experiment_by_name("nbops-audit").experiment_id
    tag_tests = ("data-1", "model-1", "model-5", "model-6", "model-7", "infrastructure-1", "infrastructure-4")
    monitor_tests = ("monitoring-2", "monitoring-6", "monitoring-7")
    audit_tests = ("infrastructure-6", "infrastructure-7", "monitoring-4")
    for name in names:
        client.get_registered_model(name)
        calls += 1
        for v in range(1, VERSIONS + 1):
            for _ in tag_tests:
                client.get_model_version(name, str(v))
            for _ in monitor_tests:
                client.search_runs(
                    [monitoring],
                    f"tags.`nbops.monitor.model` = '{name}' and tags.`nbops.monitor.version` = '{v}'",
                )
            for _ in audit_tests:
                client.search_runs([audit_log], f"tags.`nbops.audit.model` = '{name}'")
            calls += len(tag_tests) + len(monitor_tests) + len(audit_tests)
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from nbops.version import __version__

    default = Path(tempfile.gettempdir()) / f"nbops-bench-assess-{__version__}"
    parser.add_argument("--store", type=Path, default=default, help="where the store is built and kept")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-models", type=int, default=20, help="models the naive loop is timed on")
    args = parser.parse_args()

    folder = args.store.resolve()
    uri = build_store(folder)
    os.environ["MLFLOW_TRACKING_URI"] = uri
    os.chdir(folder)

    import nbops
    from nbops import store

    result = nbops.assess(start=folder)  # warm-up: imports, the store's first connection
    assert len(result.models) == MODELS, len(result.models)
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        nbops.assess(start=folder)
        times.append(time.perf_counter() - started)
    ours = statistics.median(times)

    client = store.client(folder)
    names = [f"model-{m:03d}" for m in range(min(args.baseline_models, MODELS))]
    started = time.perf_counter()
    calls = naive(client, names)
    baseline = (time.perf_counter() - started) * MODELS / len(names)
    scaled = "" if len(names) == MODELS else f" (timed on {len(names)} models, scaled to {MODELS})"

    summary = result.to_dict()["project"]
    print(f"store: {folder} ({MODELS} models × {VERSIONS} versions)")
    print(f"nbops.assess():           {ours:.2f} s (median of {args.repeat}; target ≤ {TARGET_SECONDS:g} s)")
    print(f"naive client loop:        {baseline:.2f} s{scaled}, {calls * MODELS // len(names):,} calls")
    print(f"ratio (naive / nbops):    {baseline / ours:.1f}×")
    print(f"weakest score {summary['score']:g}; counts {summary['counts']}")
    if ours > TARGET_SECONDS:
        raise SystemExit(f"nbops.assess() took {ours:.2f} s, over the {TARGET_SECONDS:g} s target")


if __name__ == "__main__":
    main()
