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
    notify = ["oncall"]             # optional: channels told when it opens and resolves (notify)

An *episode* starts when a rule fires and ends at the first batch where its metric no longer
breaches. One alert is opened per episode — not one per batch — so a retrain starts once. A batch
that did not record the metric (no labels that day, say) leaves the alert as it is: missing data
neither opens nor closes anything, and a NaN never fires.

Alerts are runs of the ``nbops-alerts`` experiment (their state in tags), and each opening and
resolution is an audit event, so the sidebar and ``nbops monitor check`` read the same record.

Opening is a compare-and-set on MLflow's write-once params, as the audit log's chain is: episode
``n`` of a rule is the param ``nbops.alert.episode.<rule>.<n>`` on the version's monitoring run,
naming its alert. Writers (batches logged at once, ``monitor check`` on several machines) read
the newest episode, and when it is over create a ``pending`` alert and claim ``n + 1`` with it;
one claim lands, the others delete their alert and leave the episode to it. Resolving claims
``nbops.alert.resolved`` on the alert the same way, so it is resolved and audited once.

A rule with ``retrain`` queues a background job when its alert opens (``retraining``): evaluating
returns at once, and the job's state — ``queued``, ``running``, ``finished`` or ``failed`` — is
read on the alert. ``wait_for_retraining`` (``nbops monitor check --wait``) blocks until it ends.

With ``[tool.nbops.review]`` (``reviews``), ``check`` also opens a ``review-overdue`` alert
(severity ``warning``) for a registered model whose last health review is older than the period,
and resolves it once a review is recorded. Its episodes are keyed by the last review and claimed
on the model's schedule run the same way, so there is one alert per overdue period.
"""

from __future__ import annotations

import contextlib
import math
import operator
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import audit, config, store
from ..errors import ConfigError, InvalidInput
from ..filters import literal
from . import retraining

_Start = Path | str | None

EXPERIMENT = "nbops-alerts"
TAG = "nbops.alert."
OPEN, RESOLVED = "open", "resolved"
#: An alert created but not (yet) the one of its episode: never listed, never resolved.
PENDING = "pending"
EPISODE = TAG + "episode."
PARAM_RESOLVED = TAG + "resolved"
_RULE_KEY = re.compile(r"[\w\-]{1,100}", re.ASCII)
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
    notify: tuple[str, ...] = ()

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
    notify = spec.get("notify", [])
    if not isinstance(notify, list) or not all(isinstance(n, str) for n in notify):
        raise ConfigError(f'{where}: notify must be a list of channel names, e.g. notify = ["oncall"].')
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
        notify=tuple(notify),
    )


# --- evaluating ------------------------------------------------------------------------------------


def evaluate(name: str, version: str, batch: int | None = None, start: _Start = None) -> list[dict[str, Any]]:
    """Apply every rule to a version's latest batches; open and resolve alerts. Returns what changed.

    ``batch`` is the batch just logged: a rule whose metric that batch did not record is skipped.
    An alert this call opened comes back with its retraining ``queued``; the job runs on its own.
    """
    from .runs import monitoring_run_id

    applicable = [r for r in rules(start) if r.applies_to(name)]
    if not applicable:
        return []
    run_id = monitoring_run_id(name, version, start, create=False)
    if run_id is None:
        return []
    client = store.client(start)
    # The episodes as they stand now, before anything is judged: a claim made after this read
    # takes the same number this writer would, so only one of the two lands.
    claims = client.get_run(run_id).data.params
    changes = []
    for rule in applicable:
        history = sorted(client.get_metric_history(run_id, rule.metric), key=lambda m: m.step)
        if not history or (batch is not None and history[-1].step != batch):
            continue
        last = history[-rule.window :]
        firing = len(last) == rule.window and all(rule.breached(m.value) for m in last)
        episode, current = _current(client, claims, rule, name, version, start)
        if firing and current is None:
            alert = _open(client, run_id, episode + 1, rule, name, version, history[-1], start)
            if alert is None:
                continue  # another writer opened this episode's alert
            if rule.retrain and retraining.queue(alert, rule, start):
                alert = _alert(client.get_run(alert["id"]))
            _notify(rule, alert, start)
            changes.append(alert)
        elif current is not None and current["state"] == OPEN and not rule.breached(history[-1].value):
            resolved = _resolve(client, current, history[-1], start)
            if resolved is not None:
                _notify(rule, resolved, start)
                changes.append(resolved)
    return changes


def _notify(rule: Rule, alert: dict[str, Any], start: _Start) -> None:
    """Tell the rule's channels in the background, once per opening and resolution (never raises)."""
    if rule.notify:
        from .. import notify

        notify.alert_changed(alert, list(rule.notify), start)


def check(model: str | None = None, start: _Start = None) -> list[dict[str, Any]]:
    """Evaluate the rules on every monitored version (of ``model``); return the alerts still open.

    For cron or CI: ``nbops monitor check`` exits non-zero when this is not empty. An alert it
    opens queues its retraining and returns: checking never waits for, nor does, the retraining
    itself. A retraining job found dead is recorded as ``failed``.
    """
    from .runs import monitored_versions

    for entry in monitored_versions(model, start):
        evaluate(entry["model"], entry["version"], start=start)
    check_reviews(model, start)
    found = alerts(model=model, state=OPEN, start=start)
    retraining.settle_all([a["id"] for a in found if a.get("retrain_state") == retraining.FAILED], start)
    return found


def check_reviews(model: str | None = None, start: _Start = None) -> list[dict[str, Any]]:
    """Open or resolve ``review-overdue`` alerts against ``[tool.nbops.review]``; returns what changed.

    Nothing happens without the table. A model never reviewed counts from its registration.
    """
    from .. import notify
    from . import reviews

    plan = reviews.schedule(start)
    if plan is None:
        return []
    client = store.client(start)
    now = int(time.time() * 1000)
    changes = []
    names = [model] if model else reviews.reviewed_models(start)
    latest = reviews.last_reviews(names, start)  # one search for every model's newest review
    for name in names:
        registered = reviews.registered_at(name, start)
        if registered is None:  # not a registered model (a prompt, say): no schedule applies
            continue
        last = latest.get(name)
        since = last["timestamp"] if last else registered
        overdue = now - since > plan.period.total_seconds() * 1000
        current = _open_review_alert(client, name, start)
        anchor = (last or {}).get("run_id") or "never"
        if current is not None and (not overdue or current.get("review_run") != anchor):
            resolved = _resolve_review(client, current, last, start)
            if resolved is not None:
                notify.review_overdue(resolved, list(plan.notify), start)
                changes.append(resolved)
            current = None
        if overdue and current is None:
            opened = _open_review(client, name, last, anchor, plan, start)
            if opened is not None:
                notify.review_overdue(opened, list(plan.notify), start)
                changes.append(opened)
    return changes


def _open_review_alert(client: Any, name: str, start: _Start) -> dict[str, Any] | None:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return None
    found = client.search_runs(
        [experiment.experiment_id],
        filter_string=(
            f"tags.`{TAG}rule` = 'review-overdue' and tags.`{TAG}model` = {literal(name)} "
            f"and tags.`{TAG}state` = '{OPEN}'"
        ),
        max_results=1,
    )
    return _alert(found[0]) if found else None


def _open_review(
    client: Any, name: str, last: dict[str, Any] | None, anchor: str, plan: Any, start: _Start
) -> dict[str, Any] | None:
    """Open the overdue alert of the episode keyed by ``anchor`` (the last review), once."""
    from . import reviews

    holder = reviews.schedule_run(name, start)
    prefix = f"{reviews.TAG}overdue.{anchor}."
    claims = client.get_run(holder).data.params
    numbers = [
        int(k.removeprefix(prefix)) for k in claims if k.startswith(prefix) and k[len(prefix) :].isdigit()
    ]
    if numbers:  # this review's episode may be open already (another writer, just now)
        with contextlib.suppress(Exception):
            run = client.get_run(claims[f"{prefix}{max(numbers)}"])
            if run.info.lifecycle_stage == "active" and run.data.tags.get(f"{TAG}state") != RESOLVED:
                return None
    when = last["when"] if last else None
    message = (
        f"the health review of {name} is overdue: last reviewed {when[:10]}, every {plan.every}"
        if when
        else f"the health review of {name} is overdue: never reviewed since registration, every {plan.every}"
    )
    now = _iso(int(time.time() * 1000))
    tags = {
        f"{TAG}rule": reviews.RULE,
        f"{TAG}model": name,
        f"{TAG}severity": "warning",
        f"{TAG}state": PENDING,
        f"{TAG}episode": str(max(numbers, default=0) + 1),
        f"{TAG}opened_at": now,
        f"{TAG}message": message,
        f"{TAG}period": plan.every,
        f"{TAG}last_review": when or "never",
        f"{TAG}review_run": anchor,
        "mlflow.note.content": message,
    }
    if last:
        tags[f"{TAG}last_review_run"] = last["run_id"]
    return _open_claimed(
        client,
        tags,
        f"{reviews.RULE}: {name}",
        (holder, f"{prefix}{max(numbers, default=0) + 1}"),
        {"model": name, "reason": message, "details": {"rule": reviews.RULE, "severity": "warning"}},
        start,
    )


def _resolve_review(
    client: Any, alert: dict[str, Any], last: dict[str, Any] | None, start: _Start
) -> dict[str, Any] | None:
    """Resolve an overdue alert: a review was recorded (or the period no longer makes it overdue)."""
    from mlflow.entities import RunTag

    run_id = alert["id"]
    if not _claim(client, run_id, PARAM_RESOLVED, f"review {uuid.uuid4().hex}"):
        return None
    reviewed = last is not None and last["run_id"] != alert.get("review_run")
    reason = f"reviewed by {last['who']} on {last['when'][:10]}" if reviewed and last else "no longer overdue"
    client.log_batch(
        run_id,
        tags=[
            RunTag(f"{TAG}resolved_at", _iso(int(time.time() * 1000))),
            RunTag(f"{TAG}resolution", reason),
            RunTag(f"{TAG}state", RESOLVED),
        ],
    )
    audit.append(
        "alert-resolved",
        model=alert["model"],
        reason=reason,
        source="monitoring",
        details={"rule": alert["rule"], "alert": run_id},
        start=start,
    )
    return _alert(client.get_run(run_id))


def wait_for_retraining(
    model: str | None = None,
    alerts: list[dict[str, Any] | str] | None = None,
    timeout: float | None = None,
    start: _Start = None,
) -> list[dict[str, Any]]:
    """Block until retraining jobs have ended; returns their alerts as they are then.

    ``alerts`` (alert dicts, e.g. ``BatchResult.alerts``, or ids) names the alerts to wait for;
    without it, every alert (of ``model``) whose retraining is queued or running. A job found
    dead is recorded as ``failed``. ``NbopsError`` when ``timeout`` seconds pass first.
    """
    if alerts is None:
        listed = _list_alerts(model, None, start)
        ids = [a["id"] for a in listed if a.get("retrain_state") in retraining.ACTIVE]
    else:
        ids = [a if isinstance(a, str) else a["id"] for a in alerts]
    retraining.wait(ids, timeout, start)
    client = store.client(start)
    return [_alert(client.get_run(alert_id)) for alert_id in ids]


def _rule_key(rule: Rule) -> str:
    if _RULE_KEY.fullmatch(rule.name):
        return rule.name
    import hashlib

    return "sha256-" + hashlib.sha256(rule.name.encode()).hexdigest()[:16]


def _current(
    client: Any, claims: dict[str, str], rule: Rule, name: str, version: str, start: _Start
) -> tuple[int, dict[str, Any] | None]:
    """The newest episode number of ``rule`` and its alert while the episode lasts (else None)."""
    prefix = f"{EPISODE}{_rule_key(rule)}."
    numbers = [int(n) for k in claims if k.startswith(prefix) and (n := k.removeprefix(prefix)).isdigit()]
    if not numbers:  # no episode claimed yet (or alerts opened before episodes were claimed)
        return 0, _open_alert(client, rule, name, version, start)
    episode = max(numbers)
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(claims[f"{prefix}{episode}"])
    except MlflowException:  # its alert was removed for good: the episode is over
        return episode, None
    if run.info.lifecycle_stage != "active" or run.data.tags.get(f"{TAG}state") == RESOLVED:
        return episode, None
    if run.data.tags.get(f"{TAG}state") == PENDING:  # its writer is between claim and open (or died there)
        client.set_tag(run.info.run_id, f"{TAG}state", OPEN)  # the same tag its writer sets
    return episode, _alert(run)  # still ``pending`` here: not resolved before its writer is done


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


def _open(
    client: Any,
    monitoring_run: str,
    episode: int,
    rule: Rule,
    name: str,
    version: str,
    point: Any,
    start: _Start,
) -> dict[str, Any] | None:
    """Open episode ``episode``'s alert, or return None when another writer's claim landed first."""
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
        f"{TAG}state": PENDING,
        f"{TAG}episode": str(episode),
        f"{TAG}value": repr(point.value),
        f"{TAG}opened_at": _iso(point.timestamp),
        f"{TAG}opened_batch": str(point.step),
        f"{TAG}message": message,
        "mlflow.note.content": message,
    }
    return _open_claimed(
        client,
        tags,
        f"{rule.name}: {name} v{version}",
        (monitoring_run, f"{EPISODE}{_rule_key(rule)}.{episode}"),
        {
            "model": name,
            "version": str(version),
            "reason": message,
            "details": {"rule": rule.name, "severity": rule.severity, "batch": str(point.step)},
        },
        start,
    )


def _open_claimed(
    client: Any,
    tags: dict[str, str],
    run_name: str,
    claim: tuple[str, str],
    event: dict[str, Any],
    start: _Start,
) -> dict[str, Any] | None:
    """Record an alert run as pending, claim its episode (``claim``: the run and write-once key
    that hold it), then open it and audit it; None when another writer claimed the episode first.
    """
    run_id = client.create_run(_experiment_id(start), tags=tags, run_name=run_name).info.run_id
    holder, key = claim
    if not _claim(client, holder, key, run_id):
        _discard(client, run_id)
        return None
    client.set_tag(run_id, f"{TAG}state", OPEN)
    client.set_terminated(run_id, "FINISHED")
    details = {**event.pop("details"), "alert": run_id}
    audit.append("alert", source="monitoring", details=details, start=start, **event)
    return _alert(client.get_run(run_id))


def _resolve(client: Any, alert: dict[str, Any], point: Any, start: _Start) -> dict[str, Any] | None:
    """Resolve ``alert`` at ``point``; None when another writer resolved it first."""
    from mlflow.entities import RunTag

    run_id = alert["id"]
    if not _claim(client, run_id, PARAM_RESOLVED, f"{point.step} {uuid.uuid4().hex}"):
        return None
    client.log_batch(
        run_id,
        tags=[
            RunTag(f"{TAG}resolved_at", _iso(point.timestamp)),
            RunTag(f"{TAG}resolved_batch", str(point.step)),
            RunTag(f"{TAG}state", RESOLVED),
        ],
    )
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


def _claim(client: Any, run_id: str, key: str, value: str) -> bool:
    """Write-once param ``key`` = ``value`` on ``run_id``; True if this value is the one that landed."""
    from mlflow.exceptions import MlflowException

    with contextlib.suppress(MlflowException):  # refused: another writer's value is there; read it
        client.log_param(run_id, key, value)
    return client.get_run(run_id).data.params.get(key) == value


def _discard(client: Any, run_id: str) -> None:
    """A losing writer's alert goes; left behind, it stays ``pending`` and is never listed."""
    from mlflow.exceptions import MlflowException

    with contextlib.suppress(MlflowException):
        client.delete_run(run_id)


# --- reading ---------------------------------------------------------------------------------------


def alerts(model: str | None = None, state: str | None = None, start: _Start = None) -> list[dict[str, Any]]:
    """Alerts, newest first, optionally of one model and in one state (``open`` / ``resolved``).

    A retraining whose job died shows as ``failed`` (``retraining.state``).
    """
    return _list_alerts(model, state, start)


def _list_alerts(model: str | None, state: str | None, start: _Start) -> list[dict[str, Any]]:
    if state not in (None, OPEN, RESOLVED):
        raise InvalidInput(f"state must be {OPEN} or {RESOLVED}, not {state!r}.")
    client = store.client(start)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return []
    filters = []
    if model:
        filters.append(f"tags.`{TAG}model` = {literal(model)}")
    filters.append(f"tags.`{TAG}state` = '{state}'" if state else f"tags.`{TAG}state` != '{PENDING}'")
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
    return retraining.state(out)


def _iso(millis: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
