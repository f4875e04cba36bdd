"""What monitoring compares against, kept with the model version in the store.

At registration nbops stores a *reference profile* of the training data (``profile.build``) as an
artifact of the version's run, and tags the version with where it is. Monitoring then never needs
the raw training data again, and a team sharing an MLflow server shares the profiles too. A
profile never changes once written, so it is cached per process.

The *baseline* of the performance metrics is what the version was accepted on: the checks of its
``performance`` gate when it ran one, else the metrics of its training run.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from .. import store
from ..errors import InvalidInput, NotFound

_Start = Path | str | None

PROFILE_TAG = "nbops.monitor.profile"
PROFILE_FILE = "reference_profile.npz"
#: Performance metrics a batch with labels reports, and the names a baseline may carry them under.
BASELINE_NAMES = {
    "accuracy": ("accuracy", "test_accuracy", "val_accuracy", "holdout_accuracy"),
    "f1": ("f1", "test_f1", "f1_score", "val_f1"),
    "roc_auc": ("roc_auc", "test_roc_auc", "roc_auc_score", "val_roc_auc"),
    "rmse": ("rmse", "test_rmse", "val_rmse"),
    "mae": ("mae", "test_mae", "val_mae"),
}
_SPEC = re.compile(r"^(?:models:/)?(?P<name>[^/@]+?)(?:/(?P<version>\d+)|@(?P<alias>[^/@]+))?$")


def resolve(model: str, start: _Start = None) -> tuple[str, str]:
    """``(name, version)`` of ``NAME@ALIAS``, ``NAME/VERSION`` (``models:/`` optional) or ``NAME``.

    A bare name means its ``champion``: what serves is what is monitored.
    """
    from ..gates import resolve_model

    found = _SPEC.fullmatch(model.strip()) if isinstance(model, str) else None
    if found is None:
        raise InvalidInput(f"model must be NAME@ALIAS or NAME/VERSION (e.g. churn@champion), not {model!r}.")
    name = found["name"]
    if found["version"]:
        return resolve_model(f"models:/{name}/{found['version']}", start)
    return resolve_model(f"models:/{name}@{found['alias'] or 'champion'}", start)


def build_profile(model: Any, data: Any) -> Any:
    """The reference profile of ``data`` and of ``model``'s predictions on it.

    Built before anything is registered, so data nbops cannot profile is refused up front.
    """
    import pandas as pd

    from . import profile

    try:
        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"--data must be a table (DataFrame or 2-D array) to profile: {exc}") from None
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    if frame.empty:
        raise InvalidInput("--data has no rows (or no columns): pass the training data to compare with.")
    predict = getattr(model, "predict", None)
    predictions = predict(data) if callable(predict) else None
    return profile.build(frame, predictions)


def save_profile(name: str, version: str, run_id: str, built: Any, start: _Start) -> str:
    """Store a built profile beside the version's run and tag the version with where it is."""
    folder = f"monitoring/{name}/v{version}"
    client = store.client(start)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / PROFILE_FILE
        path.write_bytes(built.to_bytes())
        client.log_artifact(run_id, str(path), folder)
    uri = f"runs:/{run_id}/{folder}/{PROFILE_FILE}"
    client.set_model_version_tag(name, version, PROFILE_TAG, uri)
    return uri


def load_profile(name: str, version: str, start: _Start = None) -> Any:
    """The version's reference profile; ``NotFound`` says how to get one."""
    from ..registry import get_version

    return version_profile(get_version(name, version, start), start)


def version_profile(mv: Any, start: _Start = None) -> Any:
    """The reference profile of a model version already read (``ModelVersion``): no store call once cached."""
    uri = mv.tags.get(PROFILE_TAG)
    if not uri:
        raise NotFound(
            f"version {mv.version} of {mv.name!r} has no reference profile: register it with data "
            "(%register MODEL --name NAME --data X_train) so monitoring has something to compare with."
        )
    return _load(store.settings(start).tracking_uri, uri)


@lru_cache(maxsize=32)
def _load(tracking_uri: str, uri: str) -> Any:
    import mlflow.artifacts

    from . import profile

    with tempfile.TemporaryDirectory() as tmp, _quiet_download():
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp, tracking_uri=tracking_uri)
        return profile.Profile.from_bytes(Path(local).read_bytes())


@contextlib.contextmanager
def _quiet_download() -> Iterator[None]:
    """No MLflow download progress bar in the middle of a notebook's batch summary."""
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    before = os.environ.get(key)
    os.environ[key] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def baseline_metrics(name: str, version: str, start: _Start = None) -> dict[str, float]:
    """The performance the version was accepted on: its performance gate's checks, else its run's metrics."""
    from ..registry import get_version

    mv = get_version(name, version, start)
    client = store.client(start)
    sources: list[dict[str, float]] = []
    gate = mv.tags.get("nbops.gate.performance", "").split()
    if len(gate) >= 2:
        try:
            metrics = client.get_run(gate[1]).data.metrics
            sources.append(
                {k.removeprefix("check."): v for k, v in metrics.items() if k.startswith("check.")}
            )
        except Exception:  # a deleted gate run: fall back to the training run
            pass
    if mv.run_id:
        sources.append(dict(client.get_run(mv.run_id).data.metrics))
    found: dict[str, float] = {}
    for metric, names in BASELINE_NAMES.items():
        for source in sources:
            value = next((source[n] for n in names if n in source), None)
            if value is not None:
                found[metric] = float(value)
                break
    return found
