import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

import nbops
from nbops import datasets
from nbops.errors import InvalidInput, NbopsError


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"age": [31, 45, 27], "plan": ["basic", "pro", "basic"], "spend": [9.5, 42.0, 3.25]})


def test_fingerprint_is_stable_and_sees_a_single_changed_value(frame: pd.DataFrame) -> None:
    first = datasets.fingerprint(frame, "train")
    assert first == datasets.fingerprint(frame.copy(), "train")
    changed = frame.copy()
    changed.loc[2, "spend"] = 3.26
    assert datasets.fingerprint(changed, "train").sha256 != first.sha256
    assert first.shape == (3, 3)
    assert first.schema == {"age": "int64", "plan": frame["plan"].dtype.name, "spend": "float64"}


def test_fingerprint_of_arrays_depends_on_content_dtype_and_shape() -> None:
    a = np.arange(6, dtype="float64")
    assert datasets.fingerprint(a, "x").sha256 == datasets.fingerprint(a.copy(), "x").sha256
    assert datasets.fingerprint(a.reshape(2, 3), "x").sha256 != datasets.fingerprint(a, "x").sha256
    assert datasets.fingerprint(a.astype("float32"), "x").sha256 != datasets.fingerprint(a, "x").sha256
    assert datasets.fingerprint([1, 2, 3], "y").shape == (3,)


def test_unsupported_data_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="pass a pandas DataFrame"):
        datasets.fingerprint({"a": 1}, "d")


def test_log_dataset_records_an_mlflow_dataset_input_and_the_fingerprint(
    tracking_uri: str, frame: pd.DataFrame
) -> None:
    with nbops.track("with-data") as run:
        found = nbops.log_dataset(frame, "customers", context="training")
        nbops.log_dataset(np.ones((4, 2)), "holdout", context="evaluation")
    client = MlflowClient(tracking_uri)
    stored = client.get_run(run.info.run_id)
    inputs = {d.dataset.name: d for d in stored.inputs.dataset_inputs}
    assert set(inputs) == {"customers", "holdout"}
    contexts = {tag.key: tag.value for tag in inputs["customers"].tags}
    assert contexts["mlflow.data.context"] == "training"
    assert stored.data.tags["nbops.dataset.customers.sha256"] == found.sha256
    assert stored.data.tags["nbops.dataset.customers.shape"] == "3x3"
    assert stored.data.tags["nbops.dataset.holdout.context"] == "evaluation"
    saved = json.loads(
        Path(client.download_artifacts(run.info.run_id, "datasets/customers.json")).read_text()
    )
    assert saved["sha256"] == found.sha256 and saved["schema"]["plan"]


def test_log_dataset_needs_a_tracked_run(tracking_uri: str, frame: pd.DataFrame) -> None:
    with pytest.raises(NbopsError, match="inside a %%track cell"):
        nbops.log_dataset(frame, "x")
