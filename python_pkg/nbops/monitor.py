"""``nbops.monitor``: the notebook face of monitoring, one namespace for its functions.

``nbops.monitor.log_batch(...)``, ``log_labels``, ``score_and_log``, ``drift``, ``compare``, ``series``,
``alerts``, ``check``, ``wait_for_retraining``, ``review``. Each is defined in
``nbops.monitoring``; this module only gathers them under names that read well in a notebook,
imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .monitoring.alerting import alerts, check, open_alert_counts, wait_for_retraining
    from .monitoring.batches import compare, log_batch, score_and_log
    from .monitoring.drift import drift
    from .monitoring.labels import log_labels
    from .monitoring.review import review
    from .monitoring.runs import monitored_versions, series

_WHERE = {
    "log_batch": "batches",
    "score_and_log": "batches",
    "series": "runs",
    "compare": "batches",
    "monitored_versions": "runs",
    "drift": "drift",
    "log_labels": "labels",
    "alerts": "alerting",
    "check": "alerting",
    "open_alert_counts": "alerting",
    "wait_for_retraining": "alerting",
    "review": "review",
}

__all__ = [
    "alerts",
    "check",
    "compare",
    "drift",
    "log_batch",
    "log_labels",
    "monitored_versions",
    "open_alert_counts",
    "review",
    "score_and_log",
    "series",
    "wait_for_retraining",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        from importlib import import_module

        return getattr(import_module(f".monitoring.{_WHERE[name]}", __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
