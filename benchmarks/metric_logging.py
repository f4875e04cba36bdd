"""Metric logging throughput: a plain ``mlflow.log_metric`` loop against ``nbops.log_metric``.

Both log to the same fresh SQLite store, in one process, one after the other.
The baseline writes one point per store round trip; nbops queues points and a
background thread writes them with ``log_batch``. Printed: points per second for
each (nbops measured from the first call to the end of the final flush, i.e. all
points durable), the ratio, and how long the logging loop itself took with nbops
(what a training loop feels).

    python benchmarks/metric_logging.py [--points 10000] [--baseline-points 1000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000, help="points logged with nbops")
    parser.add_argument("--baseline-points", type=int, default=1_000, help="points logged with mlflow")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="nbops-bench-"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    import mlflow

    import nbops
    from nbops import store, tracking

    mlflow_module = store.fluent()
    with nbops.track("warm-up"):  # imports, store creation and lineage caches, for both sides
        nbops.log_metric("warm", 1.0)

    with mlflow_module.start_run(run_name="baseline"):
        started = time.perf_counter()
        for step in range(args.baseline_points):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        baseline_s = time.perf_counter() - started
    baseline_rate = args.baseline_points / baseline_s

    with nbops.track("nbops") as run:
        started = time.perf_counter()
        for step in range(args.points):
            nbops.log_metric("loss", 1.0 / (step + 1), step=step)
        loop_s = time.perf_counter() - started
        tracking._current().writer.close()  # the final flush, timed here rather than at run end
        nbops_s = time.perf_counter() - started
    nbops_rate = args.points / nbops_s
    stored = len(store.client().get_metric_history(run.info.run_id, "loss"))
    assert stored == args.points, f"only {stored} of {args.points} points stored"

    print(f"mlflow.log_metric loop  {args.baseline_points:>7,} points  {baseline_rate:>9,.0f} points/s")
    print(f"nbops.log_metric        {args.points:>7,} points  {nbops_rate:>9,.0f} points/s (all stored)")
    print(f"throughput ratio        {nbops_rate / baseline_rate:.0f}x   (target: at least 40x)")
    print(f"logging loop returned in {loop_s:.3f} s before the final flush (target: at most 0.1 s)")


if __name__ == "__main__":
    main()
