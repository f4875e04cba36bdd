"""What a notification says, built once from an event and rendered per channel type.

An event is a plain dict (it crosses a process boundary as JSON): ``kind``, ``model``,
``version``, ``alias``, a one-line ``title``, ``facts`` (label/value pairs: the rule, what crossed
which threshold, the value), the ``run_id`` to link to and a unique ``id``. The same ``id`` goes
out with every retry, so a receiver can drop a duplicate.

Renderings: a webhook gets the event as JSON (its own schema, stable keys), Slack gets Block Kit
with a text fallback, e-mail gets a plain-text body. All of them name the model, version and
alias, and link to the run in MLflow when the store has a web UI.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

KINDS = {
    "alert-opened": "Alert",
    "alert-resolved": "Resolved",
    "promotion": "Promoted",
    "forced-promotion": "Forced promotion",
    "rollback": "Rolled back",
    "gate-failure": "Gates failed",
    "retraining-finished": "Retrained",
    "retraining-failed": "Retraining failed",
    "canary-promoted": "Canary promoted",
    "canary-rolled-back": "Canary rolled back",
    "canary-aborted": "Canary aborted",
    "canary-blocked": "Canary blocked",
    "review-overdue": "Review overdue",
    "test": "Test",
}
#: The webhook body's schema version: receivers can tell layouts apart.
SCHEMA = 1


def event(
    kind: str,
    *,
    title: str,
    model: str | None = None,
    version: str | None = None,
    alias: str | None = None,
    facts: list[tuple[str, str]] | None = None,
    run_id: str | None = None,
    record: str | None = None,
) -> dict[str, Any]:
    """A new event, with its id and time: what a hook hands to delivery."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    return {
        "id": uuid.uuid4().hex,
        "kind": kind,
        "time": now(),
        "title": title[:500],
        "model": model,
        "version": None if version is None else str(version),
        "alias": alias,
        # Bounded, so the event always fits the pipe it is handed to the sender through.
        "facts": [[str(k)[:100], str(v)[:1000]] for k, v in (facts or [])[:20]],
        "run_id": run_id,
        "record": record,
        "link": None,
    }


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def subject(ev: dict[str, Any]) -> str:
    """One line: ``[nbops] Alert: churn v3 (champion): drift.share >= 0.3 ...``."""
    return f"[nbops] {KINDS[ev['kind']]}: {_target(ev)}{ev['title']}"[:250]


def _target(ev: dict[str, Any]) -> str:
    if not ev.get("model"):
        return ""
    where = ev["model"] + (f" v{ev['version']}" if ev.get("version") else "")
    if ev.get("alias"):
        where += f" ({ev['alias']})"
    return where + ": "


def text(ev: dict[str, Any]) -> str:
    """The plain-text body: the title, then one fact a line, then the link."""
    lines = [f"{KINDS[ev['kind']]}: {_target(ev)}{ev['title']}", ""]
    lines += [
        f"{label}: {value}"
        for label, value in [
            ("Model", ev.get("model")),
            ("Version", ev.get("version")),
            ("Alias", ev.get("alias") or "none"),
            *ev.get("facts", []),
        ]
        if value
    ]
    if ev.get("link"):
        lines += ["", f"In MLflow: {ev['link']}"]
    elif ev.get("run_id"):
        lines += ["", f"MLflow run: {ev['run_id']}"]
    lines += ["", f"Sent by nbops at {ev['time']} (message {ev['id']})."]
    return "\n".join(lines) + "\n"


def webhook_body(ev: dict[str, Any]) -> bytes:
    """The JSON a webhook receives (compact, keys sorted: the bytes the signature covers)."""
    body = {
        "schema": SCHEMA,
        "id": ev["id"],
        "kind": ev["kind"],
        "time": ev["time"],
        "summary": subject(ev).removeprefix("[nbops] "),
        "title": ev["title"],
        "model": ev.get("model"),
        "version": ev.get("version"),
        "alias": ev.get("alias"),
        "facts": dict(ev.get("facts", [])),
        "run_id": ev.get("run_id"),
        "link": ev.get("link"),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def slack_body(ev: dict[str, Any]) -> bytes:
    """A Slack incoming-webhook message: a header, the facts as fields, the link; ``text`` as fallback."""
    fields = [
        {"type": "mrkdwn", "text": f"*{_escape(label)}*\n{_escape(value)}"}
        for label, value in [
            ("Model", ev.get("model")),
            ("Version", ev.get("version")),
            ("Alias", ev.get("alias") or "none"),
            *ev.get("facts", []),
        ]
        if value
    ][:10]  # Slack takes at most 10 fields in a section
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": subject(ev).removeprefix("[nbops] ")[:150]},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": _escape(ev["title"])}},
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    footer = f"<{ev['link']}|Open in MLflow>" if ev.get("link") else f"run {ev.get('run_id') or '-'}"
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{footer} · nbops {ev['time']}"}]}
    )
    return json.dumps({"text": subject(ev), "blocks": blocks}).encode()


def _escape(value: Any) -> str:
    """Slack's mrkdwn needs only these three escaped."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def email(ev: dict[str, Any], sender: str, to: tuple[str, ...]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject(ev)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Message-ID"] = f"<{ev['id']}@nbops>"
    message.set_content(text(ev))
    return message
