"""Alert rules over the monitoring metrics, and the alerts they open and resolve.

Rules live in ``pyproject.toml``, one table each, so they are reviewed like code::

    [tool.nbops.alerts.feature-drift]
    metric = "drift.share"          # any metric log_batch records
    op = ">="                       # >=, <=, >, <, ==
    threshold = 0.3
    window = 2                      # fires when the last 2 batches all breach
    severity = "critical"           # info | warning | critical
    model = "churn"                 # optional: only this model
    retrain = "notebooks/retrain.ipynb"            # optional: see monitoring.retrain
    retrain_parameters = { data_path = "data/latest.csv" }
    gate_parameters = { data_path = "data/holdout.csv" }

An *episode* starts when a rule fires and ends at the first batch where its metric no longer
breaches. One alert is opened per episode — not one per batch — so a retrain starts once. A batch
that did not record the metric (no labels that day, say) leaves the alert as it is: missing data
neither opens nor closes anything, and a NaN never fires.

Alerts are runs of the ``nbops-alerts`` experiment (their state in tags), and each opening and
resolution is an audit event, so the sidebar and ``nbops monitor check`` read the same record.
"""

from __future__ import annotations

import contextlib
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import audit, config, store
from ..errors import ConfigError, InvalidInput
from ..filters import literal

_Start = Path | str | None

EXPERIMENT = "nbops-alerts"
TAG = "nbops.alert."
OPEN, RESOLVED = "open", "resolved"
SEVERITIES = ("info", "warning", "critical")
OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Rule:
    name: str
    metric: str
    op: str
    threshold: float
    window: int = 1
    severity: str = "warning"
    model: str | None = None
    retrain: str | None = None
    retrain_parameters: dict[str, Any] = field(default_factory=dict)
    gate_parameters: dict[str, Any] = field(default_factory=dict)

    def breached(self, value: float) -> bool:
        return math.isfinite(value) and OPS[self.op](value, self.threshold)

    def applies_to(self, model: str) -> bool:
        return self.model is None or self.model == model


def rules(start: _Start = None) -> list[Rule]:
    """The rules of ``[tool.nbops.alerts]``, checked; a broken rule is a ``ConfigError`` naming it."""
    settings = config.resolve(start)
    table = settings.tool.get("alerts", {})
    where = f"[tool.nbops.alerts] in {settings.pyproject}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must hold one table per rule, e.g. [tool.nbops.alerts.drift].")
    found = []
    for name, spec in table.items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: {name} must be a table with metric, op and threshold.")
        found.append(_rule(name, spec, f"[tool.nbops.alerts.{name}] in {settings.pyproject}"))
    return found


def _rule(name: str, spec: dict[str, Any], where: str) -> Rule:
    unknown = set(spec) - {f for f in Rule.__dataclass_fields__ if f != "name"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}.")
    metric, op, threshold = spec.get("metric"), spec.get("op", ">="), spec.get("threshold")
    if not isinstance(metric, str) or not metric:
        raise ConfigError(f'{where}: metric must name a monitoring metric, e.g. metric = "drift.share".')
    if op not in OPS:
        raise ConfigError(f"{where}: op must be one of {', '.join(OPS)}, not {op!r}.")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ConfigError(f"{where}: threshold must be a number.")
    window = spec.get("window", 1)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ConfigError(f"{where}: window must be a whole number of batches >= 1.")
    severity = spec.get("severity", "warning")
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}: severity must be one of {', '.join(SEVERITIES)}.")
    for key in ("retrain_parameters", "gate_parameters"):
        if not isinstance(spec.get(key, {}), dict):
            raise ConfigError(f'{where}: {key} must be a table, e.g. {key} = {{ data_path = "x.csv" }}.')
    for key in ("model", "retrain"):
        if spec.get(key) is not None and not isinstance(spec[key], str):
            raise ConfigError(f"{where}: {key} must be text.")
    return Rule(
        name=name,
        metric=metric,
        op=op,
        threshold=float(threshold),
        window=window,
        severity=severity,
        model=spec.get("model"),
        retrain=spec.get("retrain"),
        retrain_parameters=dict(spec.get("retrain_parameters", {})),
        gate_parameters=dict(spec.get("gate_parameters", {})),
    )


# --- evaluating ------------------------------------------------------------------------------------


def evaluate(name: str, version: str, batch: int | None = None, start: _Start = None) -> list[dict[str, Any]]:
    """Apply every rule to a version's latest batches; open and resolve alerts. Returns what changed.

    ``batch`` is the batch just logged: a rule whose metric that batch did not record is skipped.
    """
    from .batches import monitoring_run_id

    applicable = [r for r in rules(start) if r.applies_to(name)]
    if not applicable:
        return []
    run_id = monitoring_run_id(name, version, start, create=False)
    if run_id is None:
        return []
    client = store.client(start)
    changes = []
    for rule in applicable:
        history = sorted(client.get_metric_history(run_id, rule.metric), key=lambda m: m.step)
        if not history or (batch is not None and history[-1].step != batch):
            continue
        last = history[-rule.window :]
        firing = len(last) == rule.window and all(rule.breached(m.value) for m in last)
        current = _open_alert(client, rule, name, version, start)
        if firing and current is None:
            alert = _open(client, rule, name, version, history[-1], start)
            if rule.retrain:
                from . import retrain

                alert = retrain.run(rule, alert, start=start)
            changes.append(alert)
        elif current is not None and not rule.breached(history[-1].value):
            changes.append(_resolve(client, current, history[-1], start))
    return changes


def check(model: str | None = None, start: _Start = None) -> list[dict[str, Any]]:
    """Evaluate the rules on every monitored version (of ``model``); return the alerts still open.

    For cron or CI: ``nbops monitor check`` exits non-zero when this is not empty.
    """
    from .batches import monitored_versions

    for entry in monitored_versions(model, start):
        evaluate(entry["model"], entry["version"], start=start)
    return alerts(model=model, state=OPEN, start=start)


def _experiment_id(start: _Start) -> str:
    return store.ensure_experiment(EXPERIMENT, start)


def _open_alert(client: Any, rule: Rule, name: str, version: str, start: _Start) -> dict[str, Any] | None:
    found = client.search_runs(
        [_experiment_id(start)],
        filter_string=(
            f"tags.`{TAG}rule` = {literal(rule.name)} and tags.`{TAG}model` = {literal(name)} "
            f"and tags.`{TAG}version` = '{version}' and tags.`{TAG}state` = '{OPEN}'"
        ),
        max_results=1,
    )
    return _alert(found[0]) if found else None


def _message(rule: Rule, name: str, version: str, value: float) -> str:
    span = f"the last {rule.window} batches" if rule.window > 1 else "the last batch"
    return f"{rule.metric} {rule.op} {rule.threshold:g} over {span} of {name} v{version} (now {value:.4g})"


def _open(client: Any, rule: Rule, name: str, version: str, point: Any, start: _Start) -> dict[str, Any]:
    message = _message(rule, name, version, point.value)
    tags = {
        f"{TAG}rule": rule.name,
        f"{TAG}model": name,
        f"{TAG}version": str(version),
        f"{TAG}metric": rule.metric,
        f"{TAG}op": rule.op,
        f"{TAG}threshold": f"{rule.threshold:g}",
        f"{TAG}window": str(rule.window),
        f"{TAG}severity": rule.severity,
        f"{TAG}state": OPEN,
        f"{TAG}value": repr(point.value),
        f"{TAG}opened_at": _iso(point.timestamp),
        f"{TAG}opened_batch": str(point.step),
        f"{TAG}message": message,
        "mlflow.note.content": message,
    }
    run = client.create_run(_experiment_id(start), tags=tags, run_name=f"{rule.name}: {name} v{version}")
    client.set_terminated(run.info.run_id, "FINISHED")
    audit.append(
        "alert",
        model=name,
        version=str(version),
        reason=message,
        source="monitoring",
        details={
            "rule": rule.name,
            "severity": rule.severity,
            "batch": str(point.step),
            "alert": run.info.run_id,
        },
        start=start,
    )
    return _alert(client.get_run(run.info.run_id))


def _resolve(client: Any, alert: dict[str, Any], point: Any, start: _Start) -> dict[str, Any]:
    run_id = alert["id"]
    client.set_tag(run_id, f"{TAG}state", RESOLVED)
    client.set_tag(run_id, f"{TAG}resolved_at", _iso(point.timestamp))
    client.set_tag(run_id, f"{TAG}resolved_batch", str(point.step))
    audit.append(
        "alert-resolved",
        model=alert["model"],
        version=alert["version"],
        reason=f"{alert['metric']} back to {point.value:.4g} at batch {point.step}",
        source="monitoring",
        details={"rule": alert["rule"], "alert": run_id},
        start=start,
    )
    return _alert(client.get_run(run_id))


def set_fields(alert: dict[str, Any], values: dict[str, str], start: _Start = None) -> dict[str, Any]:
    """Record more about an alert (what its retrain did, say); returns the alert as stored."""
    client = store.client(start)
    for key, value in values.items():
        client.set_tag(alert["id"], f"{TAG}{key}", value)
    return _alert(client.get_run(alert["id"]))


# --- reading ---------------------------------------------------------------------------------------


def alerts(model: str | None = None, state: str | None = None, start: _Start = None) -> list[dict[str, Any]]:
    """Alerts, newest first, optionally of one model and in one state (``open`` / ``resolved``)."""
    if state not in (None, OPEN, RESOLVED):
        raise InvalidInput(f"state must be {OPEN} or {RESOLVED}, not {state!r}.")
    client = store.client(start)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return []
    filters = []
    if model:
        filters.append(f"tags.`{TAG}model` = {literal(model)}")
    if state:
        filters.append(f"tags.`{TAG}state` = '{state}'")
    found, token = [], None
    while True:
        page = client.search_runs(
            [experiment.experiment_id],
            filter_string=" and ".join(filters),
            order_by=["attributes.start_time DESC"],
            max_results=1000,
            page_token=token,
        )
        found.extend(_alert(run) for run in page)
        token = page.token
        if not token:
            return found


def open_alert_counts(start: _Start = None) -> dict[str, int]:
    """Model name → number of open alerts (models without open alerts are absent)."""
    counts: dict[str, int] = {}
    for alert in alerts(state=OPEN, start=start):
        counts[alert["model"]] = counts.get(alert["model"], 0) + 1
    return counts


def _alert(run: Any) -> dict[str, Any]:
    tags = run.data.tags
    fields = {k.removeprefix(TAG): v for k, v in tags.items() if k.startswith(TAG)}
    out: dict[str, Any] = {"id": run.info.run_id, **fields}
    for key in ("threshold", "value"):
        if key in out:
            with contextlib.suppress(ValueError):
                out[key] = float(out[key])
    for key in ("window", "opened_batch", "resolved_batch"):
        if key in out and out[key].isdigit():
            out[key] = int(out[key])
    return out


def _iso(millis: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
