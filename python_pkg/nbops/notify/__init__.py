"""Notifications: alerts and registry events sent to webhooks, Slack and e-mail.

``channels`` reads and checks ``[tool.nbops.notify]``, ``messages`` says what a notification
says, ``delivery`` sends it (a detached process, bounded retries, every attempt recorded).

The hooks here (``alert_changed``, ``registry_changed``, ``gates_failed``, ``retraining_ended``,
``canary_decided``, ``review_overdue``) are what monitoring, the registry, the gate runner and
serving call. They never raise and never wait: building the event and
starting the sender is all they do, so a channel that is down cannot delay ``log_batch``, a gate
or a promotion, and a broken channel table cannot break them either (it is reported by ``nbops
notify list`` and recorded as the delivery's failure). This package imports only the base
(``config``, ``store``, ``errors``) and the audit log, so every service may call it.
"""

from __future__ import annotations

import logging
from typing import Any

from .. import config
from ..errors import ConfigError
from .channels import EVENTS, Channel, channels, readiness, rule_channels, subscriptions
from .delivery import DELIVERED, FAILED, RETRYING, Attempt, attempt, outcomes, signature
from .messages import event

__all__ = [
    "DELIVERED",
    "EVENTS",
    "FAILED",
    "RETRYING",
    "Attempt",
    "Channel",
    "alert_changed",
    "attempt",
    "canary_decided",
    "channels",
    "event",
    "gates_failed",
    "listing",
    "outcomes",
    "registry_changed",
    "retraining_ended",
    "review_overdue",
    "send_test",
    "signature",
]

_log = logging.getLogger(__name__)
_Start = config.Start


def _dispatch(ev: dict[str, Any], names: list[str], start: _Start) -> None:
    from .delivery import spawn

    spawn(ev, names, start)


def alert_changed(alert: dict[str, Any], names: list[str], start: _Start = None) -> None:
    """An alert opened or resolved: tell ``names`` (the rule's ``notify``) in the background."""
    try:
        if not names:
            return
        resolved = alert.get("state") == "resolved"
        op, threshold, value = alert.get("op", ""), alert.get("threshold"), alert.get("value")
        facts = [
            ("Rule", alert.get("rule", "")),
            ("Severity", alert.get("severity", "")),
            ("Threshold", f"{alert.get('metric', '')} {op} {_num(threshold)}"),
            ("Value when opened", _num(value)),
            ("Window", f"{alert.get('window', 1)} batch(es)"),
            ("Opened", f"{alert.get('opened_at', '')} at batch {alert.get('opened_batch', '')}"),
        ]
        if resolved:
            facts.append(
                ("Resolved", f"{alert.get('resolved_at', '')} at batch {alert.get('resolved_batch', '')}")
            )
        if alert.get("retrain_state"):
            facts.append(("Retraining", str(alert["retrain_state"])))
        ev = event(
            "alert-resolved" if resolved else "alert-opened",
            title=("back within bounds: " if resolved else "")
            + str(alert.get("message", alert.get("rule", ""))),
            model=alert.get("model"),
            version=alert.get("version"),
            facts=facts,
            run_id=alert.get("id"),
            record=alert.get("id"),
        )
        _dispatch(ev, list(names), start)
    except Exception as exc:  # monitoring goes on whatever happens here
        _log.warning("nbops: could not start the notification for alert %s: %s", alert.get("id"), exc)


def registry_changed(change: dict[str, Any], reason: str, start: _Start = None) -> None:
    """An alias moved (``registry.promote``/``rollback``'s result): tell the subscribed channels."""
    try:
        action = "rollback" if change.get("action") == "rollback" else "promotion"
        forced = bool(change.get("forced"))
        wanted = subscriptions(start)
        names = list(wanted.get(action, []))
        if forced:
            names += wanted.get("forced_promotion", [])
        if not names:
            return
        kind = "forced-promotion" if forced else action
        moved = (
            f"{change['alias']}: v{change.get('from_version') or '-'} -> v{change.get('to_version') or '-'}"
        )
        facts = [("Alias", moved), ("Reason", reason), ("Audit event", str(change.get("seq", "")))]
        if change.get("policy_gaps"):
            facts.append(("Policy overridden", str(change["policy_gaps"])))
        ev = event(
            kind,
            title=moved,
            model=change.get("model"),
            version=change.get("to_version"),
            alias=change.get("alias"),
            facts=facts,
        )
        _dispatch(ev, names, start)
    except Exception as exc:  # the promotion is done and recorded; a notification cannot undo it
        _log.warning("nbops: could not start the notification for %s: %s", change.get("alias"), exc)


def gates_failed(report: Any, start: _Start = None) -> None:
    """``nbops gate run`` ended with a gate failed or not run: tell the ``gate_failure`` channels."""
    try:
        names = subscriptions(start).get("gate_failure", [])
        if not names:
            return
        bad = [o for o in report.outcomes if o.result != "passed"]
        facts = [(f"Gate {o.name}", f"{o.result}: {o.reason}") for o in bad]
        ev = event(
            "gate-failure",
            title=f"{len(bad)} of {len(report.outcomes)} gates did not pass: {', '.join(o.name for o in bad)}",
            model=report.model,
            version=report.version,
            facts=facts,
            run_id=next((o.run_id for o in bad if o.run_id), None),
        )
        _dispatch(ev, names, start)
    except Exception as exc:  # the gate's verdict stands and is recorded
        _log.warning("nbops: could not start the gate-failure notification: %s", exc)


def retraining_ended(alert: dict[str, Any], start: _Start = None) -> None:
    """A retraining job finished or failed (the alert with its outcome): tell the ``retraining`` channels."""
    try:
        names = subscriptions(start).get("retraining", [])
        if not names:
            return
        failed = alert.get("retrain_state") != "finished"
        challenger = alert.get("challenger_version")
        promoted = alert.get("promoted") == "true"
        facts = [
            ("Rule", alert.get("rule", "")),
            ("Alert", f"{alert.get('message', '')} (v{alert.get('version', '')})"),
            ("Challenger", f"v{challenger}" if challenger else "none registered"),
            ("Gates", alert.get("gates") or "not run"),
            ("Promoted", f"yes (audit event {alert.get('promotion_event', '')})" if promoted else "no"),
        ]
        if failed:
            facts.append(("Error", str(alert.get("retrain_error", ""))))
        if failed:
            title = f"retraining failed: {alert.get('retrain_error', '')}"
        elif promoted:
            title = f"retrained: v{challenger} passed the gates and is champion now"
        else:
            title = f"retrained: v{challenger}, gates {alert.get('gates', '')}, not promoted"
        ev = event(
            "retraining-failed" if failed else "retraining-finished",
            title=title,
            model=alert.get("model"),
            version=challenger or alert.get("version"),
            alias=("champion" if promoted else "challenger") if challenger else None,
            facts=facts,
            run_id=alert.get("retrain_run") or alert.get("id"),
        )
        _dispatch(ev, names, start)
    except Exception as exc:  # the outcome is recorded on the alert whatever happens here
        _log.warning("nbops: could not start the retraining notification for %s: %s", alert.get("id"), exc)


#: A canary's verdicts, as ``canary_decided`` takes them.
CANARY_VERDICTS = ("promoted", "rolled_back", "aborted", "blocked")


def canary_decided(decision: dict[str, Any], start: _Start = None) -> None:
    """A canary rollout reached a verdict: tell the ``canary`` channels in the background.

    ``decision`` holds ``model``, ``version`` (the canary), ``alias`` (the one it was tried
    against), ``champion_version``, ``verdict`` (one of ``CANARY_VERDICTS``), ``reason`` and
    ``step``, and may hold ``run_id`` (linked to). Never raises, never waits.
    """
    try:
        verdict = str(decision.get("verdict", ""))
        if verdict not in CANARY_VERDICTS:
            raise ValueError(f"unknown canary verdict {verdict!r}")
        names = subscriptions(start).get("canary", [])
        if not names:
            return
        version, champion = decision.get("version"), decision.get("champion_version")
        facts = [
            ("Verdict", verdict.replace("_", " ")),
            ("Reason", str(decision.get("reason", ""))),
            ("Canary", f"v{version}"),
            ("Champion", f"v{champion}" if champion else "none"),
            ("Step", str(decision.get("step", ""))),
        ]
        ev = event(
            f"canary-{verdict.replace('_', '-')}",
            title=f"canary v{version} against {decision.get('alias', '')} "
            f"v{champion or '-'} {verdict.replace('_', ' ')}: {decision.get('reason', '')}",
            model=decision.get("model"),
            version=None if version is None else str(version),
            alias=decision.get("alias"),
            facts=facts,
            run_id=decision.get("run_id"),
        )
        _dispatch(ev, names, start)
    except Exception as exc:  # the rollout's verdict stands; a notification cannot change it
        _log.warning("nbops: could not start the canary notification: %s", exc)


def review_overdue(alert: dict[str, Any], names: list[str], start: _Start = None) -> None:
    """A review-overdue alert opened or resolved: tell ``names`` and the ``review_overdue`` channels.

    ``names`` are the review schedule's own ``notify`` channels (as a rule's). The opening goes out
    once per episode and channel (the same claim as an alert's); a resolution is an ordinary
    ``alert-resolved`` message.
    """
    try:
        every = list(dict.fromkeys([*names, *subscriptions(start).get("review_overdue", [])]))
        if not every:
            return
        if alert.get("state") == "resolved":
            alert_changed(alert, every, start)
            return
        facts = [
            ("Rule", alert.get("rule", "")),
            ("Severity", alert.get("severity", "")),
            ("Last review", alert.get("last_review") or "never"),
            ("Period", alert.get("period", "")),
            ("Opened", alert.get("opened_at", "")),
        ]
        ev = event(
            "review-overdue",
            title=str(alert.get("message", "")),
            model=alert.get("model"),
            version=alert.get("version") or None,
            facts=facts,
            run_id=alert.get("last_review_run") or alert.get("id"),
            record=alert.get("id"),
        )
        _dispatch(ev, every, start)
    except Exception as exc:  # the alert is open and recorded whatever happens here
        _log.warning("nbops: could not start the notification for alert %s: %s", alert.get("id"), exc)


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value if value is not None else "")


def listing(start: _Start = None) -> list[dict[str, Any]]:
    """Each channel: its type, where it delivers, which rules and events use it, and what stops it.

    Raises ``ConfigError`` for a broken table, or a rule or event naming a channel that does not exist.
    """
    known = channels(start)
    users: dict[str, list[str]] = {name: [] for name in known}
    for rule, names in rule_channels(start).items():
        for name in names:
            users[name].append(f"rule {rule}")
    for ev, names in subscriptions(start).items():
        for name in names:
            users[name].append(f"event {ev}")
    return [
        {
            "name": name,
            "type": channel.type,
            "target": channel.describe(),
            "used_by": users[name],
            "problem": readiness(channel),
        }
        for name, channel in known.items()
    ]


def send_test(name: str, start: _Start = None) -> Attempt:
    """Send one test message to channel ``name`` now (no retries); returns what the receiver answered."""
    from .delivery import enrich

    known = channels(start)
    if name not in known:
        listed = ", ".join(known) or "none; add [tool.nbops.notify.NAME] to pyproject.toml"
        raise ConfigError(f"no notification channel named {name!r} (channels: {listed}).")
    problem = readiness(known[name])
    if problem:
        raise ConfigError(problem)
    settings = config.resolve(start)
    ev = event(
        "test",
        title=f"test message from nbops for channel {name}",
        facts=[("Project", str(settings.project_root)), ("Store", config.redact_uri(settings.tracking_uri))],
    )
    return attempt(known[name], enrich(ev, start))
