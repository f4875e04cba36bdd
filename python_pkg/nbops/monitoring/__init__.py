"""Watching deployed model versions: drift, performance, latency, fairness, cost and health.

``nbops.monitor.log_batch("churn@champion", features=df, predictions=p, labels=y)`` computes
everything a batch of production data can tell and records it as metrics of one MLflow run per
model version (experiment ``nbops-monitoring``; step = batch number, timestamp = the batch's
time), so the history is plain MLflow and the sidebar can chart it. Alert rules from
``[tool.nbops.alerts]`` are evaluated on each batch; a rule may start a retraining notebook.

Modules: ``profile`` (the reference profile stored at registration), ``drift`` (the statistics),
``quality`` (performance, latency, fairness, health, cost), ``reference`` (profiles and baselines
in the store), ``batches`` (logging and reading batches), ``alerting``, ``retraining`` (the
background job an alert queues: ``retrain_job`` runs ``retrain``), ``review``.
``nbops.monitor`` is the public face gathering their functions. Importing this package is cheap;
numpy, pandas, scipy and MLflow load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .alerting import alerts, check, open_alert_counts, wait_for_retraining
    from .batches import compare, log_batch, score_and_log
    from .reviews import last_review
    from .runs import monitored_versions, series

# Functions whose names are not also submodule names (``drift`` and ``review`` are both: use
# ``nbops.monitor.drift`` / ``nbops.monitor.review`` for the functions).
_WHERE = {
    "log_batch": "batches",
    "score_and_log": "batches",
    "series": "runs",
    "compare": "batches",
    "monitored_versions": "runs",
    "alerts": "alerting",
    "check": "alerting",
    "open_alert_counts": "alerting",
    "wait_for_retraining": "alerting",
    "last_review": "reviews",
}

__all__ = [
    "alerts",
    "check",
    "compare",
    "last_review",
    "log_batch",
    "monitored_versions",
    "open_alert_counts",
    "score_and_log",
    "series",
    "wait_for_retraining",
]


__getattr__ = lazy.exports(__name__, _WHERE)
