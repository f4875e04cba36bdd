"""``nbops.monitor``: the notebook face of monitoring, one namespace for its functions.

``nbops.monitor.log_batch(...)``, ``log_labels``, ``score_and_log``, ``drift``, ``compare``, ``series``,
``alerts``, ``check``, ``wait_for_retraining``, ``review``. Each is defined in
``nbops.monitoring``; this module only gathers them under names that read well in a notebook,
imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import lazy

if TYPE_CHECKING:
    from .monitoring.alerting import alerts, check, open_alert_counts, wait_for_retraining
    from .monitoring.batches import compare, log_batch, score_and_log
    from .monitoring.drift import drift
    from .monitoring.labels import log_labels
    from .monitoring.review import review
    from .monitoring.reviews import last_review
    from .monitoring.runs import monitored_versions, series

_WHERE = {
    "log_batch": "monitoring.batches",
    "score_and_log": "monitoring.batches",
    "series": "monitoring.runs",
    "compare": "monitoring.batches",
    "monitored_versions": "monitoring.runs",
    "drift": "monitoring.drift",
    "log_labels": "monitoring.labels",
    "alerts": "monitoring.alerting",
    "check": "monitoring.alerting",
    "open_alert_counts": "monitoring.alerting",
    "wait_for_retraining": "monitoring.alerting",
    "last_review": "monitoring.reviews",
    "review": "monitoring.review",
}

__all__ = [
    "alerts",
    "check",
    "compare",
    "drift",
    "last_review",
    "log_batch",
    "log_labels",
    "monitored_versions",
    "open_alert_counts",
    "review",
    "score_and_log",
    "series",
    "wait_for_retraining",
]


__getattr__ = lazy.exports(__package__, _WHERE, owner=__name__)
