"""Reference profiles in the store: built from training data, saved beside a version's run.

The registry saves a profile when it registers a version with data, and monitoring loads it for
every batch; both meet here, below either of them. A profile never changes once written, so it
is cached per process.
"""

from __future__ import annotations

import contextlib
import os
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
