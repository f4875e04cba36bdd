"""Autologged fits in a tracked block print no warning about MLflow's own calls into scikit-learn."""

from __future__ import annotations

import warnings

import numpy as np
import sklearn.metrics
from mlflow import MlflowClient
from sklearn.ensemble import RandomForestClassifier

import nbops


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def test_autologged_training_metrics_raise_no_renamed_keyword_warning(tracking_uri: str) -> None:
    X, y = _data()
    original = sklearn.metrics.log_loss
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with nbops.track("forest", autolog=True) as run:
            RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    renamed = [w for w in caught if "y_proba" in str(w.message)]
    assert renamed == []
    metrics = MlflowClient(tracking_uri).get_run(run.info.run_id).data.metrics
    assert metrics["training_log_loss"] >= 0  # MLflow still computed it
    assert sklearn.metrics.log_loss is original  # scikit-learn's own function is back


def test_the_users_own_deprecated_call_still_warns_inside_a_tracked_block(tracking_uri: str) -> None:
    X, y = _data()
    with nbops.track("forest", autolog=True):
        model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sklearn.metrics.log_loss(y, y_pred=model.predict_proba(X))
    assert any("y_proba" in str(w.message) for w in caught)
