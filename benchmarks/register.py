"""Registering a fitted scikit-learn pipeline: MLflow's default against ``nbops.registry.register``.

Baseline: ``mlflow.sklearn.log_model(..., input_example=..., registered_model_name=...)`` with MLflow's
defaults, which infer the model's requirements by loading it in a subprocess. nbops pins requirements
from this environment's metadata for the packages the pipeline's classes come from, and also writes
the version's lineage tags, its model card and an audit event. Both run in one process on the same
fresh SQLite store, after a warm-up that pays the one-time imports for both.

    python benchmarks/register.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ["MLFLOW_TRACKING_URI"] = (
        f"sqlite:///{Path(tempfile.mkdtemp(prefix='nbops-bench-')) / 'mlflow.db'}"
    )

    import mlflow.sklearn
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from nbops import registry, store

    store.fluent()
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    example = X.head(5)

    def baseline() -> None:
        with mlflow.start_run():
            mlflow.sklearn.log_model(
                model, name="model", input_example=example, registered_model_name="baseline"
            )

    def nbops_register() -> None:
        registry.register(model, "nbops", data=X)

    baseline()  # warm-up: imports and first-use costs, for both
    nbops_register()
    timings: dict[str, list[float]] = {
        "mlflow.sklearn.log_model (default)": [],
        "nbops.registry.register": [],
    }
    for _ in range(args.repeat):
        for name, fn in zip(timings, (baseline, nbops_register), strict=True):
            started = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    for name, value in medians.items():
        print(f"{name:38s} median {value:6.2f} s")
    ratio = medians["nbops.registry.register"] / medians["mlflow.sklearn.log_model (default)"]
    print(f"\nnbops takes {ratio:.2f}x the baseline's time (target: at most 0.1x), with pinned requirements,")
    print("lineage tags, a model card and an audit event included.")


if __name__ == "__main__":
    main()
