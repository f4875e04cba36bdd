"""MLflow's scikit-learn autologging, with its training metrics called the way scikit-learn asks.

MLflow computes a classifier's training log-loss as ``log_loss(y_true=..., y_pred=probabilities)``;
scikit-learn 1.9 renamed that keyword to ``y_proba`` and warns about it on every ``fit`` inside a
tracked cell. The warning is about MLflow's call, not the user's code, so while nbops autologs a run
MLflow is handed a ``log_loss`` that passes ``y_pred`` on as ``y_proba`` — for callers inside MLflow
only: the user's own calls reach scikit-learn unchanged, warning included. Nothing is filtered.
"""

from __future__ import annotations

import functools
import inspect
import sys
import threading
from typing import Any

_lock = threading.Lock()
_users = 0
_original: Any = None


def _called_from_mlflow() -> bool:
    caller = sys._getframe(2).f_globals.get("__name__", "")
    return caller == "mlflow" or caller.startswith("mlflow.")


def install() -> None:
    """Hand MLflow the keyword-fixing ``log_loss`` until the matching :func:`uninstall`."""
    global _users, _original
    import sklearn.metrics

    with _lock:
        _users += 1
        if _users > 1:
            return
        original = sklearn.metrics.log_loss
        if "y_proba" not in inspect.signature(original).parameters:
            return  # an older scikit-learn: MLflow's keyword is still the right one

        @functools.wraps(original)
        def log_loss(*args: Any, **kwargs: Any) -> Any:
            if "y_pred" in kwargs and "y_proba" not in kwargs and _called_from_mlflow():
                kwargs["y_proba"] = kwargs.pop("y_pred")
            return original(*args, **kwargs)

        _original = original
        sklearn.metrics.log_loss = log_loss


def uninstall() -> None:
    """Give scikit-learn its own ``log_loss`` back once the last autologged run ends."""
    global _users, _original
    import sklearn.metrics

    with _lock:
        _users = max(0, _users - 1)
        if _users == 0 and _original is not None:
            sklearn.metrics.log_loss = _original
            _original = None
