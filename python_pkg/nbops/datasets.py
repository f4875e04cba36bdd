"""Data lineage: fingerprint the data a run used and record it as an MLflow dataset input.

MLflow's own dataset digest hashes a sample of rows; nbops adds a hash of the full
content, so two datasets that differ in a single row are told apart, and keeps the
shape and schema beside it where model cards and monitoring can read them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from . import store, tracking
from .errors import InvalidInput

TAG_PREFIX = "nbops.dataset."


@dataclass(frozen=True)
class Fingerprint:
    name: str
    context: str
    sha256: str
    shape: tuple[int, ...]
    #: column (or "0" for an unnamed array) → dtype
    schema: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fingerprint(data: Any, name: str, context: str = "training") -> Fingerprint:
    """Hash the full content, shape and schema of a DataFrame, Series or array."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, pd.DataFrame):
        digest = hashlib.sha256()
        digest.update(json.dumps([str(c) for c in data.columns]).encode())
        digest.update(json.dumps([str(t) for t in data.dtypes]).encode())
        digest.update(pd.util.hash_pandas_object(data, index=True).to_numpy().tobytes())
        schema = {str(column): str(dtype) for column, dtype in data.dtypes.items()}
        return Fingerprint(name, context, digest.hexdigest(), tuple(data.shape), schema)
    if isinstance(data, (list, tuple)):
        data = np.asarray(data)
    if isinstance(data, np.ndarray):
        array = np.ascontiguousarray(data)
        digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
        if array.dtype.hasobject:
            digest.update(pd.util.hash_array(array.ravel()).tobytes())
        else:
            digest.update(array.tobytes())
        return Fingerprint(name, context, digest.hexdigest(), tuple(array.shape), {"0": str(array.dtype)})
    raise InvalidInput(
        f"log_dataset cannot fingerprint a {type(data).__name__}; pass a pandas DataFrame or Series, "
        "a numpy array or a list."
    )


def log_dataset(data: Any, name: str, context: str = "training") -> Fingerprint:
    """Fingerprint ``data`` and log it as a dataset input of the active tracked run."""
    if not name or not isinstance(name, str):
        raise InvalidInput("log_dataset needs a name, e.g. nbops.log_dataset(X_train, 'train').")
    run_id = tracking.active_run_id()
    found = fingerprint(data, name, context)
    store.fluent()
    import mlflow.data
    import numpy as np
    import pandas as pd

    frame = data.to_frame() if isinstance(data, pd.Series) else data
    if isinstance(frame, pd.DataFrame):
        dataset = mlflow.data.from_pandas(frame, name=name)
    else:
        dataset = mlflow.data.from_numpy(np.asarray(frame), name=name)
    mlflow.log_input(dataset, context=context)
    from mlflow.entities import RunTag

    prefix = f"{TAG_PREFIX}{name}."
    client = store.client()
    tags = {"sha256": found.sha256, "shape": "x".join(map(str, found.shape)), "context": context}
    client.log_batch(run_id, tags=[RunTag(prefix + key, value) for key, value in tags.items()])
    client.log_dict(run_id, found.to_dict(), f"datasets/{name}.json")
    return found
