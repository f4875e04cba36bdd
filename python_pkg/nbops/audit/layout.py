"""What one audit event is, and how it is laid out as the tags of an MLflow run.

An event's ``hash`` is the SHA-256 of its canonical JSON (every field but
``hash`` and ``run_id``); its fields are stored as run tags under
``nbops.audit.*`` so the log lives wherever the runs do. This module only
describes and converts: it never talks to a store.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

EXPERIMENT = "nbops-audit"
TAG_PREFIX = "nbops.audit."
TAG_SEQ = TAG_PREFIX + "seq"
TAG_HASH = TAG_PREFIX + "hash"
#: The run of the previous event (not hashed: like ``run_id``, it says where, not what).
TAG_PREV_RUN = TAG_PREFIX + "prev_run_id"
#: Param on an event naming the run of the event after it; params are write-once.
PARAM_NEXT = TAG_PREFIX + "next"
#: Tag of the genesis experiment naming the run of event 1.
TAG_FIRST_RUN = TAG_PREFIX + "first_run_id"
GENESIS_EXPERIMENT = EXPERIMENT + ".genesis.{experiment_id}"

REASON_LIMIT = 2000
DETAILS_LIMIT = 4000
FIELD_LIMIT = 500
_SEQ_DIGITS = 10
#: Fields kept as plain tags, in table order; ``details`` is stored as canonical JSON.
TEXT_FIELDS = ("actor", "action", "model", "version", "alias", "from_version", "to_version", "reason")


@dataclass(frozen=True)
class Event:
    """One registry change. ``hash`` covers every field but itself and ``run_id``."""

    seq: int
    time: str
    actor: str
    action: str
    model: str | None = None
    version: str | None = None
    alias: str | None = None
    from_version: str | None = None
    to_version: str | None = None
    reason: str | None = None
    source: str | None = None
    details: dict[str, str] = field(default_factory=dict)
    prev_hash: str = ""
    hash: str = ""
    run_id: str | None = None

    def hashed_fields(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("hash", "run_id")}

    def compute_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.hashed_fields()).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Problem:
    """Where the chain is damaged: ``position`` is the seq of the event concerned."""

    position: int
    kind: str  # "edited" | "deleted" | "forked"
    message: str

    def describe(self) -> str:
        what = {"edited": "was edited", "deleted": "is missing (deleted)", "forked": "is forked"}
        return f"event {self.position} {what.get(self.kind, self.kind)}: {self.message}"


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def default_actor() -> str:
    """The OS user; the Jupyter server passes its own user instead."""
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # no passwd entry, no USER variable: containers do this
        return "unknown"


def utc_now() -> str:
    """UTC ISO-8601 with milliseconds and ``Z``, e.g. ``2025-01-31T09:30:00.123Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def millis(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def format_event(e: Event) -> str:
    """One line for a terminal: ``#7 2025-01-31T09:30:00.123Z alice promote churn v3 @champion 2→3 — why [cli]``."""
    parts = [f"#{e.seq}", e.time, e.actor, e.action]
    if e.model:
        parts.append(e.model)
    if e.version:
        parts.append(f"v{e.version}")
    if e.alias:
        parts.append(f"@{e.alias}")
    if e.from_version or e.to_version:
        parts.append(f"{e.from_version or '—'}→{e.to_version or '—'}")
    line = " ".join(parts)
    if e.reason:
        line += f" — {' '.join(e.reason.split())}"
    if e.source:
        line += f" [{e.source}]"
    return line


# --- storage layout ------------------------------------------------------------------------------


def tags_for(event: Event) -> dict[str, str]:
    """The ``nbops.audit.*`` tags of an event; an absent tag is ``None``, an empty one ``""``."""
    tags = {
        TAG_SEQ: f"{event.seq:0{_SEQ_DIGITS}d}",
        TAG_PREFIX + "time": event.time,
        TAG_PREFIX + "prev_hash": event.prev_hash,
        TAG_HASH: event.hash,
    }
    for name in (*TEXT_FIELDS, "source"):
        value = getattr(event, name)
        if value is not None:
            tags[TAG_PREFIX + name] = value
    if event.details:
        tags[TAG_PREFIX + "details"] = canonical_json(event.details)
    return tags


def event_from_run(run: Any) -> Event:
    tags = run.data.tags
    details_text = tags.get(TAG_PREFIX + "details")
    try:
        details = json.loads(details_text) if details_text else {}
    except ValueError:
        details = {"": details_text}  # not what append wrote: verify reports it as edited
    if not isinstance(details, dict):
        details = {"": details_text}
    return Event(
        seq=seq_of(run),
        time=tags.get(TAG_PREFIX + "time", ""),
        actor=tags.get(TAG_PREFIX + "actor", ""),
        action=tags.get(TAG_PREFIX + "action", ""),
        model=tags.get(TAG_PREFIX + "model"),
        version=tags.get(TAG_PREFIX + "version"),
        alias=tags.get(TAG_PREFIX + "alias"),
        from_version=tags.get(TAG_PREFIX + "from_version"),
        to_version=tags.get(TAG_PREFIX + "to_version"),
        reason=tags.get(TAG_PREFIX + "reason"),
        source=tags.get(TAG_PREFIX + "source"),
        details=details,
        prev_hash=tags.get(TAG_PREFIX + "prev_hash", ""),
        hash=tags.get(TAG_HASH, ""),
        run_id=run.info.run_id,
    )


def stored_as_written(run: Any, event: Event) -> bool:
    """The run's ``nbops.audit.*`` tags are exactly what ``append`` writes for ``event``."""
    stored = {
        key: value
        for key, value in run.data.tags.items()
        if key.startswith(TAG_PREFIX) and key != TAG_PREV_RUN
    }
    return stored == tags_for(event)


def seq_of(run: Any) -> int:
    text = run.data.tags.get(TAG_SEQ, "")
    return int(text) if text.isdigit() else 0
