"""Logging an ordinary batch end to end: ``nbops.monitor.log_batch`` with exact KS p-values against the default.

A model with 20 numeric features is registered with its reference profile in an embedded store (a
temporary project); then batches of 1,000, 10,000 and 50,000 rows are logged against references of
5,000 and 50,000 rows, each timed end to end (profile from the cache, drift, quality, the store
writes, the alert rules). Two ways, in this one process, alternating:

* **old-exact**: ``ks_method = "exact"`` (scipy's ``ks_2samp(method="auto")`` p-values, exact up to
  10,000 values per side) with the one-sided Smirnov tail left to scipy's scalar loop below 20,000,
  which is what every batch paid before ``ks_method`` existed;
* **new**: the default ``ks_method = "auto"`` (exact only while ``m*n <= 1,000,000``, the asymptotic
  formula otherwise, the Smirnov tail in numpy at every size). ``python_pkg/nbops/monitoring/drift.py``
  documents the p-values' tolerance against scipy.

The target is every batch size logged in at most 0.3 s with the new default. The store's writes
(claiming the batch number, about 130 metrics, the alert rules) cost the same both ways, and on a busy
machine they dominate; so the drift computation alone (``nbops.monitor.drift`` against the stored
profile, the part ``ks_method`` changes) is timed and compared as well.

    python benchmarks/batch_logging.py [--repeat 5] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = 20
TARGET_S = 0.3


def frame(rows: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {f"f{i:02d}": rng.normal(shift * (i % 3), 1.0 + i / 20, rows) for i in range(FEATURES)}
    )


def use(project: Path, ks_method: str) -> None:
    """Point ``[tool.nbops.monitoring] ks_method`` of the project at one way (read on every batch)."""
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "bench"\n\n[tool.nbops.monitoring]\nks_method = "{ks_method}"\n'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed batches per cell and way (median)")
    parser.add_argument("--quick", action="store_true", help="two repeats")
    args = parser.parse_args()
    repeat = 2 if args.quick else args.repeat

    project = Path(tempfile.mkdtemp(prefix="nbops-bench-batches-"))
    os.chdir(project)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    use(project, "auto")

    from sklearn.linear_model import LinearRegression

    from nbops import monitor, registry
    from nbops.monitoring import drift, reference

    print(
        f"{FEATURES} numeric features, medians of {repeat}; embedded store in {project}; "
        f"load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    print(f"{'':19s} {'log_batch end to end':^28s}   {'drift alone':^28s}")
    print(
        f"{'reference':>10s} {'batch':>8s} {'old-exact':>10s} {'new':>8s} {'ratio':>7s}   "
        f"{'old-exact':>10s} {'new':>8s} {'ratio':>7s}"
    )
    worst = 0.0
    for ref_rows in (5_000, 50_000):
        data = frame(ref_rows, seed=ref_rows, shift=0.0)
        target = data.sum(axis=1) + np.random.default_rng(1).normal(size=ref_rows)
        model = LinearRegression().fit(data, target)
        name = f"bench-{ref_rows}"
        registry.register(model, name, data=data)
        profile = reference.load_profile(name, "1")
        for rows in (1_000, 10_000, 50_000):
            batch = frame(rows, seed=rows + ref_rows, shift=0.02)
            predictions = model.predict(batch)
            use(project, "auto")
            monitor.log_batch(f"{name}/1", batch, predictions)  # warm-up
            times: dict[str, list[float]] = {"old": [], "new": [], "old drift": [], "new drift": []}
            for _ in range(repeat):
                for way in ("old", "new"):
                    method = "exact" if way == "old" else "auto"
                    use(project, method)
                    drift.FAST_SMIRNOV_MIN_N = 20_000 if way == "old" else 140
                    started = time.perf_counter()
                    monitor.log_batch(f"{name}/1", batch, predictions)
                    times[way].append(time.perf_counter() - started)
                    started = time.perf_counter()
                    drift.drift(profile, batch, ks_method=method)
                    times[f"{way} drift"].append(time.perf_counter() - started)
            drift.FAST_SMIRNOV_MIN_N = 140
            old, new, old_d, new_d = (
                statistics.median(times[k]) for k in ("old", "new", "old drift", "new drift")
            )
            worst = max(worst, new)
            print(
                f"{ref_rows:>10,d} {rows:>8,d} {old:>9.3f}s {new:>7.3f}s {old / new:>6.1f}x   "
                f"{old_d:>9.3f}s {new_d:>7.3f}s {old_d / new_d:>6.1f}x",
                flush=True,
            )
    verdict = "met" if worst <= TARGET_S else "NOT met"
    print(
        f"\nslowest batch with the new default: {worst:.3f} s end to end (target <= {TARGET_S} s: {verdict})"
    )
    sys.exit(0)


if __name__ == "__main__":
    main()
