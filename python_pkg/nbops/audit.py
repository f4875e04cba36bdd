"""The audit log: every registry change as a hash-chained event, stored in MLflow.

Each event is one run of the experiment ``nbops-audit``; its fields are run tags
under ``nbops.audit.*``, so the log lives wherever the runs do (the embedded
SQLite store or a team's MLflow server). Event ``n`` carries the SHA-256 of its
own fields and the hash of event ``n - 1``: rewriting an event after the fact
breaks its hash, and removing one breaks the chain. ``verify`` finds both.

Concurrent writers (kernels, the CLI, the server) keep the chain linear by a
compare-and-set MLflow already guarantees: a run's params are write-once. Every
event, once chained on, carries the param ``nbops.audit.next`` naming the one run
that follows it; a writer

1. reads the head: the end of the chain of ``next`` params (the newest runs are
   read first, so this is normally one query);
2. creates its run with ``seq = head.seq + 1`` and ``prev_hash = head.hash``
   (RUNNING, all tags written in the same call);
3. claims the slot by logging ``next = <its run id>`` on the head. Exactly one
   writer's param lands; the others see someone else's id, delete their own run
   and start again after a short random pause (at most 50 times).

The winner then ends its run FINISHED. FINISHED therefore means "on the chain",
and a RUNNING run counts only if its predecessor names it (its writer is between
claim and FINISHED, or died there: the next writer finishes it). Losers are never
named by a ``next``, so ``verify`` can tell them from an event someone deleted,
which is named and has gone missing. (Electing the winner of a seq by smallest
start time instead is not safe: a writer that took its start time first can land
after another has already seen itself alone and gone on; with 8 writers that
happened 11 times in 80 appends.)
Nothing precedes the first event, so its slot is the name of a second experiment,
``nbops-audit.genesis.<id>``, created once (names are unique) with a tag holding
the first event's run id, and then deleted so it stays out of experiment lists.

Plain Python over MLflow: no IPython or tornado here, and MLflow is imported only
when the log is used.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import random
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import config, store
from .errors import InvalidInput, StoreError

_Start = Path | str | None

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

MAX_TRIES = 50
REASON_LIMIT = 2000
DETAILS_LIMIT = 4000
FIELD_LIMIT = 500
_SEQ_DIGITS = 10
_PAGE = 1000
_HEAD_PAGE = 10
_ACTION = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
#: Fields kept as plain tags, in table order; ``details`` is stored as canonical JSON.
_TEXT_FIELDS = ("actor", "action", "model", "version", "alias", "from_version", "to_version", "reason")


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


# --- writing -------------------------------------------------------------------------------------


def append(
    action: str,
    *,
    model: str | None = None,
    version: str | int | None = None,
    alias: str | None = None,
    from_version: str | int | None = None,
    to_version: str | int | None = None,
    reason: str | None = None,
    source: str | None = None,
    actor: str | None = None,
    details: dict[str, Any] | None = None,
    start: _Start = None,
) -> Event:
    """Append one event to the log and return it (with its ``seq``, ``hash`` and ``run_id``).

    Safe with concurrent writers in other processes: the chain stays linear.
    Everything is checked before anything is written.
    """
    values = _checked(
        action,
        model=model,
        version=version,
        alias=alias,
        from_version=from_version,
        to_version=to_version,
        reason=reason,
        source=source,
        actor=default_actor() if actor is None else actor,
    )
    details = _checked_details(details)
    uri = store.settings(start).tracking_uri
    client = store.client(start)
    with _store_errors("writing the audit log", uri):
        experiment_id = _experiment_id(start)
        for attempt in range(MAX_TRIES):
            head = _head_run(client, experiment_id)
            if head is not None:
                _check_chainable(head)
                _help_finish(client, head)
            previous = _event_from_run(head) if head is not None else None
            event = Event(
                seq=previous.seq + 1 if previous else 1,
                time=utc_now(),
                details=details,
                prev_hash=previous.hash if previous else "",
                **values,
            )
            event = replace(event, hash=event.compute_hash())
            tags = {**_tags_for(event), "mlflow.user": event.actor}
            if head is not None:
                tags[TAG_PREV_RUN] = head.info.run_id
            run = client.create_run(
                experiment_id,
                start_time=_millis(event.time),
                tags=tags,
                run_name=f"audit-{event.seq}",
            )
            run_id = run.info.run_id
            if _claim(client, experiment_id, head, run_id, uri):
                client.set_terminated(run_id, "FINISHED")
                if head is None:
                    _hide_genesis(client, experiment_id)
                return replace(event, run_id=run_id)
            _discard(client, run_id)
            time.sleep(random.uniform(0, min(0.5, 0.05 * 2 ** min(attempt, 4))))
    raise StoreError(
        f"could not append to the audit log after {MAX_TRIES} tries: other writers kept taking "
        "the next slot; try again in a moment."
    )


def _checked(action: str, **values: Any) -> dict[str, Any]:
    if not isinstance(action, str) or not _ACTION.fullmatch(action):
        raise InvalidInput(
            f"audit action {action!r} is not valid: use lower-case letters, digits, _ . or -, "
            "starting with a letter (e.g. promote)."
        )
    checked: dict[str, Any] = {"action": action}
    for name, value in values.items():
        if value is None:
            checked[name] = None
            continue
        if isinstance(value, int) and not isinstance(value, bool) and name.endswith("version"):
            value = str(value)
        if not isinstance(value, str):
            raise InvalidInput(f"audit field {name} must be text, got {type(value).__name__}.")
        limit = REASON_LIMIT if name == "reason" else FIELD_LIMIT
        if len(value) > limit:
            raise InvalidInput(
                f"the {name} is {len(value):,} characters; the audit log keeps at most {limit:,}: "
                "shorten it (put long text in a model card or an artifact and refer to it)."
            )
        if name != "reason" and any(ch in value for ch in "\r\n\t\x00"):
            raise InvalidInput(f"the audit field {name} must be one line of text, got {value!r}.")
        checked[name] = value
    return checked


def _checked_details(details: dict[str, Any] | None) -> dict[str, str]:
    if details is None:
        return {}
    if not isinstance(details, dict):
        raise InvalidInput(f"audit details must be a dict of text, got {type(details).__name__}.")
    result: dict[str, str] = {}
    for key, value in details.items():
        if not isinstance(key, str) or not key:
            raise InvalidInput(f"audit details keys must be non-empty text, got {key!r}.")
        if isinstance(value, bool | int | float):
            value = str(value)
        if not isinstance(value, str):
            raise InvalidInput(f"audit detail {key!r} must be text or a number, got {type(value).__name__}.")
        result[key] = value
    size = len(canonical_json(result))
    if size > DETAILS_LIMIT:
        raise InvalidInput(
            f"audit details are {size:,} characters as JSON; the audit log keeps at most "
            f"{DETAILS_LIMIT:,}: keep only a few short values (link to an artifact for more)."
        )
    return result


def _experiment_id(start: _Start) -> str:
    from mlflow.exceptions import MlflowException

    try:
        return store.ensure_experiment(EXPERIMENT, start)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return store.ensure_experiment(EXPERIMENT, start)  # another process created it first


def _check_chainable(head: Any) -> None:
    if head.info.lifecycle_stage != "active":
        seq = head.data.tags.get(TAG_SEQ, "?").lstrip("0") or "0"
        raise StoreError(
            f"the newest audit event ({seq}, run {head.info.run_id}) was deleted, so nothing can be "
            f"chained after it; restore it with `mlflow runs restore --run-id {head.info.run_id}` "
            "(nbops audit --verify shows the damage)."
        )


def _help_finish(client: Any, head: Any) -> None:
    """The head is on the chain; if its writer died before marking it FINISHED, do it for them."""
    if head.info.status != "RUNNING":
        return
    from mlflow.exceptions import MlflowException

    with contextlib.suppress(MlflowException):
        client.set_terminated(head.info.run_id, "FINISHED")


def _claim(client: Any, experiment_id: str, head: Any, run_id: str, uri: str) -> bool:
    """Take the slot after ``head`` (or the first slot) for ``run_id``; False if another run has it."""
    from mlflow.exceptions import MlflowException

    last: MlflowException | None = None
    for attempt in range(5):
        try:
            if head is None:
                client.create_experiment(
                    GENESIS_EXPERIMENT.format(experiment_id=experiment_id),
                    artifact_location=_genesis_location(uri),
                    tags={TAG_FIRST_RUN: run_id},
                )
            else:
                client.log_param(head.info.run_id, PARAM_NEXT, run_id)
            return True
        except MlflowException as exc:
            # A refusal (the slot is taken) and a failure look alike: ask who holds the slot.
            last = exc
            if head is None:
                holder = _genesis_first(client, experiment_id)
            else:
                holder = client.get_run(head.info.run_id).data.params.get(PARAM_NEXT)
            if holder is not None:
                return holder == run_id
            time.sleep(0.05 * (attempt + 1))
    # The run stays RUNNING and unclaimed: ignored by readers unless a late claim lands.
    raise StoreError(f"could not record the audit event: {_first_line(last)}; try again in a moment.")


def _discard(client: Any, run_id: str) -> None:
    """A losing writer's run goes; it was never chained on, so the log does not miss it."""
    from mlflow.exceptions import MlflowException

    with contextlib.suppress(MlflowException):  # left RUNNING and unclaimed, it is ignored anyway
        client.delete_run(run_id)


def _genesis_location(uri: str) -> str | None:
    root = store.artifact_root(uri)
    return str(root / "nbops-audit-genesis") if root is not None else None


def _genesis_first(client: Any, experiment_id: str) -> str | None:
    genesis = client.get_experiment_by_name(GENESIS_EXPERIMENT.format(experiment_id=experiment_id))
    return genesis.tags.get(TAG_FIRST_RUN) if genesis is not None else None


def _hide_genesis(client: Any, experiment_id: str) -> None:
    """Deleted, the genesis record keeps its name (and so its claim) out of experiment lists."""
    from mlflow.exceptions import MlflowException

    genesis = client.get_experiment_by_name(GENESIS_EXPERIMENT.format(experiment_id=experiment_id))
    if genesis is not None and genesis.lifecycle_stage == "active":
        with contextlib.suppress(MlflowException):
            client.delete_experiment(genesis.experiment_id)


# --- reading -------------------------------------------------------------------------------------


def events(model: str | None = None, action: str | None = None, start: _Start = None) -> list[Event]:
    """Every event on the chain, oldest first; ``model``/``action`` filter in the store."""
    found = _reader(start)
    if found is None:
        return []
    client, experiment_id, uri = found
    filters, local = [], {}
    for name, value in (("model", model), ("action", action)):
        if value is None:
            continue
        quoted = _quoted(value)
        if quoted is None:
            local[name] = value  # no quoting the filter grammar accepts: filter here instead
        else:
            filters.append(f"tags.`{TAG_PREFIX}{name}` = {quoted}")
    result: list[Event] = []
    with _store_errors("reading the audit log", uri):
        genesis: list[str | None] = []
        for run in _runs(client, experiment_id, " and ".join(filters), active_only=True):
            if run.info.status != "FINISHED" and not _claimed(client, experiment_id, run, genesis):
                continue  # a writer still deciding, or one that lost and has not cleaned up
            event = _event_from_run(run)
            if all(getattr(event, name) == value for name, value in local.items()):
                result.append(event)
    return result


def head(start: _Start = None) -> Event | None:
    """The newest event, or None for an empty log."""
    found = _reader(start)
    if found is None:
        return None
    client, experiment_id, uri = found
    with _store_errors("reading the audit log", uri):
        run = _head_run(client, experiment_id)
        if run is None:
            return None
        _check_chainable(run)
        return _event_from_run(run)


def _reader(start: _Start) -> tuple[Any, str, str] | None:
    """Client, experiment id and URI of an existing log; None when nothing was ever logged.

    Reading never creates the store or the experiment.
    """
    uri = config.resolve(start).tracking_uri
    if not store.exists(uri):
        return None
    client = store.client(start)
    with _store_errors("reading the audit log", uri):
        experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return None
    if experiment.lifecycle_stage != "active":
        raise StoreError(
            f"the audit experiment {EXPERIMENT!r} was deleted; restore it in the MLflow UI "
            "(or with MlflowClient().restore_experiment) — nbops will not start a new log beside it."
        )
    return client, experiment.experiment_id, uri


def _runs(client: Any, experiment_id: str, filter_string: str, active_only: bool) -> list[Any]:
    """All matching runs in seq order, paged through the store.

    The store orders by start time (ordering by a tag costs a join and a sort of
    every run, ~60 ms per call at 1,000 events on SQLite); seq order is restored here.
    """
    from mlflow.entities import ViewType

    found, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string,
            run_view_type=ViewType.ACTIVE_ONLY if active_only else ViewType.ALL,
            max_results=_PAGE,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        found.extend(page)
        token = page.token
        if not token:
            return sorted(found, key=lambda r: (_seq_of(r), r.info.start_time, r.info.run_id))


def _head_run(client: Any, experiment_id: str) -> Any | None:
    """The run of the newest event on the chain, or None for an empty log.

    Reading the newest runs first, the first one that names a successor is on the
    chain (normally the event before the head); following ``next`` from there ends
    at the head, wherever clocks put the runs in the listing.
    """
    from mlflow.entities import ViewType

    seen: dict[str, Any] = {}
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            "",
            run_view_type=ViewType.ALL,
            max_results=_HEAD_PAGE,
            order_by=["attributes.start_time DESC"],
            page_token=token,
        )
        for run in page:
            seen[run.info.run_id] = run
            successor = run.data.params.get(PARAM_NEXT)
            if successor:
                return _last_from(client, successor, seen)
        token = page.token
        if not token:
            break
    first = _genesis_first(client, experiment_id)
    return _last_from(client, first, seen) if first else None


def _last_from(client: Any, run_id: str, seen: dict[str, Any]) -> Any:
    """Follow ``next`` from ``run_id`` to the end of the chain (normally zero or one step)."""
    run = seen.get(run_id) or _existing_run(client, run_id)
    visited = {run_id}
    while (successor := run.data.params.get(PARAM_NEXT)) and successor not in visited:
        visited.add(successor)
        run = seen.get(successor) or _existing_run(client, successor)
    return run


def _existing_run(client: Any, run_id: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise StoreError(
            f"the audit log is broken: the run {run_id} of one of its events was removed from the "
            "store for good (mlflow gc?); nbops audit --verify shows where."
        ) from None


def _claimed(client: Any, experiment_id: str, run: Any, genesis: list[str | None]) -> bool:
    """Whether the event before ``run`` names it (``genesis`` caches the first-run lookup)."""
    previous = run.data.tags.get(TAG_PREV_RUN)
    if previous is None:
        if not genesis:
            genesis.append(_genesis_first(client, experiment_id))
        return genesis[0] == run.info.run_id
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(previous).data.params.get(PARAM_NEXT) == run.info.run_id
    except MlflowException:
        return False


# --- verifying -----------------------------------------------------------------------------------


def verify(start: _Start = None) -> Verification:
    """Walk the chain from the first event: every hash, every link, every position."""
    found = _reader(start)
    if found is None:
        return Verification(ok=True, checked=0, problems=[])
    client, experiment_id, uri = found
    with _store_errors("verifying the audit log", uri):
        runs = _runs(client, experiment_id, "", active_only=False)
        by_id = {run.info.run_id: run for run in runs}
        problems: list[Problem] = []
        current = _genesis_first(client, experiment_id) or _committed_first(runs)
        position, previous, visited = 1, None, set()
        while current and current not in visited:
            visited.add(current)
            run = by_id.get(current) or _run_or_none(client, current)
            if run is None:
                problems.append(
                    Problem(position, "deleted", f"its run {current} was removed from the store for good")
                )
                current, previous, position = _successor_of_missing(runs, current), None, position + 1
                continue
            event = _event_from_run(run)
            problems.extend(_check_event(run, event, position, previous))
            previous, current, position = event, run.data.params.get(PARAM_NEXT), position + 1
        checked = position - 1
        for run in runs:
            if (
                run.info.run_id not in visited
                and run.info.lifecycle_stage == "active"
                and run.info.status == "FINISHED"
            ):
                seq = _seq_of(run)
                problems.append(
                    Problem(
                        seq,
                        "forked",
                        f"run {run.info.run_id} says it is event {seq} but is not on the chain "
                        "(written outside nbops.audit.append, or marked FINISHED by hand)",
                    )
                )
    problems.sort(key=lambda p: p.position)
    return Verification(ok=not problems, checked=checked, problems=problems)


def _check_event(run: Any, event: Event, position: int, previous: Event | None) -> list[Problem]:
    found = []
    run_id = run.info.run_id
    if run.info.lifecycle_stage != "active":
        found.append(
            Problem(
                position,
                "deleted",
                f"its run {run_id} was deleted; restore it with `mlflow runs restore --run-id {run_id}`",
            )
        )
    if event.compute_hash() != event.hash or not _stored_as_written(run, event):
        found.append(Problem(position, "edited", f"its fields no longer match its hash (run {run_id})"))
    elif event.seq != position:
        found.append(Problem(position, "edited", f"it says it is event {event.seq}, rehashed (run {run_id})"))
    expected = previous.hash if previous is not None else ""
    if previous is not None and event.prev_hash != expected:
        found.append(
            Problem(
                position,
                "forked",
                f"it does not chain onto event {position - 1}: its prev_hash is {event.prev_hash[:12]}… "
                f"but that event's hash is {expected[:12]}… (one of them was rewritten and rehashed)",
            )
        )
    elif previous is None and position == 1 and event.prev_hash != "":
        found.append(Problem(position, "forked", "the first event must have an empty prev_hash"))
    return found


def _committed_first(runs: list[Any]) -> str | None:
    """Event 1 when the genesis record is gone (``mlflow gc`` purges deleted experiments)."""
    firsts = [
        r
        for r in runs
        if _seq_of(r) == 1 and r.info.status == "FINISHED" and r.info.lifecycle_stage == "active"
    ]
    return firsts[0].info.run_id if len(firsts) == 1 else None


def _successor_of_missing(runs: list[Any], missing: str) -> str | None:
    after = [
        r
        for r in runs
        if r.data.tags.get(TAG_PREV_RUN) == missing
        and r.info.status == "FINISHED"
        and r.info.lifecycle_stage == "active"
    ]
    return after[0].info.run_id if len(after) == 1 else None


def _run_or_none(client: Any, run_id: str) -> Any | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


# --- storage layout ------------------------------------------------------------------------------


def _tags_for(event: Event) -> dict[str, str]:
    """The ``nbops.audit.*`` tags of an event; an absent tag is ``None``, an empty one ``""``."""
    tags = {
        TAG_SEQ: f"{event.seq:0{_SEQ_DIGITS}d}",
        TAG_PREFIX + "time": event.time,
        TAG_PREFIX + "prev_hash": event.prev_hash,
        TAG_HASH: event.hash,
    }
    for name in (*_TEXT_FIELDS, "source"):
        value = getattr(event, name)
        if value is not None:
            tags[TAG_PREFIX + name] = value
    if event.details:
        tags[TAG_PREFIX + "details"] = canonical_json(event.details)
    return tags


def _event_from_run(run: Any) -> Event:
    tags = run.data.tags
    details_text = tags.get(TAG_PREFIX + "details")
    try:
        details = json.loads(details_text) if details_text else {}
    except ValueError:
        details = {"": details_text}  # not what append wrote: verify reports it as edited
    if not isinstance(details, dict):
        details = {"": details_text}
    return Event(
        seq=_seq_of(run),
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


def _stored_as_written(run: Any, event: Event) -> bool:
    """The run's ``nbops.audit.*`` tags are exactly what ``append`` writes for ``event``."""
    stored = {
        key: value
        for key, value in run.data.tags.items()
        if key.startswith(TAG_PREFIX) and key != TAG_PREV_RUN
    }
    return stored == _tags_for(event)


def _seq_of(run: Any) -> int:
    text = run.data.tags.get(TAG_SEQ, "")
    return int(text) if text.isdigit() else 0


# --- helpers -------------------------------------------------------------------------------------


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


def _millis(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _quoted(value: str) -> str | None:
    """``value`` as a filter-string literal, or None when no quoting is safe."""
    if "\\" in value:
        return None
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return None


def _first_line(exc: BaseException | None) -> str:
    text = str(getattr(exc, "message", exc) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def _store_errors(doing: str, uri: str) -> Iterator[None]:
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        raise StoreError(
            f"the MLflow store {config.redact_uri(uri)} failed while {doing} ({_first_line(exc)}); "
            "check that it is reachable and writable, then try again."
        ) from exc
