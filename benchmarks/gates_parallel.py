"""Four gate notebooks: the papermill CLI one after another, against ``nbops gate run --parallel 2``.

Both judge the same registered model on the same data in a fresh SQLite store. The baseline is
what a CI script would do without nbops: four ``papermill`` commands in sequence. nbops runs the
same four gates two at a time (each in its own process group) and also records every verdict.

    python benchmarks/gates_parallel.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]
GATES = ("performance", "data_validation", "fairness", "latency")


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="nbops-bench-"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder / 'mlflow.db'}"
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from nbops import gates, registry

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    rng = np.random.default_rng(0)
    train, holdout = folder / "train.csv", folder / "holdout.csv"
    X_train.assign(target=y_train, group=rng.choice(["a", "b"], len(X_train))).to_csv(train, index=False)
    X_test.assign(target=y_test, group=rng.choice(["a", "b"], len(X_test))).to_csv(holdout, index=False)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_train, y_train)
    version = registry.register(model, "bench", data=X_train)
    common = {"data_path": str(holdout)}
    extra = {"data_validation": {"reference_path": str(train), "max_out_of_range": 0.05}}

    started = time.perf_counter()
    for gate in GATES:
        params = {"model_uri": version.model_uri, **common, **extra.get(gate, {})}
        flags = [arg for key, value in params.items() for arg in ("-p", key, str(value))]
        notebook = ROOT / "notebooks" / "gates" / f"{gate}.ipynb"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "papermill",
                "--no-progress-bar",
                str(notebook),
                str(folder / f"seq-{gate}.ipynb"),
                *flags,
            ],
            check=True,
            capture_output=True,
        )
    sequential = time.perf_counter() - started

    scoped = {f"{gate}.{key}": value for gate, values in extra.items() for key, value in values.items()}
    started = time.perf_counter()
    report = gates.run(
        list(GATES), version.model_uri, {**common, **scoped}, parallel=2, report=folder / "report"
    )
    parallel = time.perf_counter() - started
    assert report.passed, report.summary_table()

    print(f"papermill CLI, 4 gates in sequence     {sequential:6.1f} s")
    print(f"nbops gate run --parallel 2 (recorded) {parallel:6.1f} s")
    print(f"ratio {parallel / sequential:.2f}   (target: at most 0.65)")


if __name__ == "__main__":
    main()
