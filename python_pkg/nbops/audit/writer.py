"""Appending to the audit chain: a compare-and-set on write-once MLflow params.

A writer reads the head, creates its run (RUNNING, every tag in the same call)
chained after it, and claims the slot by logging ``next = <its run id>`` on the
head. Exactly one writer's param lands; the others delete their run and start
again after a short random pause. Fields that depend on the log itself (the
version an alias held before, for instance) are worked out by ``derive`` from
the very event the append is chained after, so they are right for the slot the
event lands in, whoever else is writing.
"""

from __future__ import annotations

import contextlib
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import store
from ..errors import InvalidInput, StoreError
from .layout import (
    DETAILS_LIMIT,
    EXPERIMENT,
    FIELD_LIMIT,
    GENESIS_EXPERIMENT,
    PARAM_NEXT,
    REASON_LIMIT,
    TAG_FIRST_RUN,
    TAG_PREV_RUN,
    Event,
    canonical_json,
    default_actor,
    event_from_run,
    millis,
    tags_for,
    utc_now,
)
from .reader import check_chainable, first_line, genesis_first, head_run, store_errors

_Start = Path | str | None
#: Works out fields from the event an append is chained after (None: it will be event 1).
Derive = Callable[[Event | None], Mapping[str, Any]]

MAX_TRIES = 50
_ACTION = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
#: The fields ``derive`` may set: the ones that describe the change, not who made it or how.
_DERIVABLE = frozenset({"version", "from_version", "to_version"})


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
    derive: Derive | None = None,
    start: _Start = None,
) -> Event:
    """Append one event to the log and return it (with its ``seq``, ``hash`` and ``run_id``).

    Safe with concurrent writers in other processes: the chain stays linear.
    Everything is checked before anything is written.

    ``derive(previous)`` is called with the event this one is about to be chained
    after (``None`` for the first event), each time a slot is tried; it returns
    ``version``/``from_version``/``to_version`` values that replace the ones given.
    The event lands only directly after ``previous``, so what ``derive`` read is
    exactly the log that precedes it. An error raised by ``derive`` refuses the
    append with nothing written for it.
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
    with store_errors("writing the audit log", uri):
        experiment_id = _experiment_id(start)
        for attempt in range(MAX_TRIES):
            head = head_run(client, experiment_id)
            if head is not None:
                check_chainable(head)
                _help_finish(client, head)
            previous = event_from_run(head) if head is not None else None
            fields = values if derive is None else {**values, **_derived(action, derive(previous))}
            event = Event(
                seq=previous.seq + 1 if previous else 1,
                time=utc_now(),
                details=details,
                prev_hash=previous.hash if previous else "",
                **fields,
            )
            event = replace(event, hash=event.compute_hash())
            tags = {**tags_for(event), "mlflow.user": event.actor}
            if head is not None:
                tags[TAG_PREV_RUN] = head.info.run_id
            run = client.create_run(
                experiment_id,
                start_time=millis(event.time),
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


def _derived(action: str, derived: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(derived) - _DERIVABLE)
    if unknown:
        raise TypeError(f"derive may set only {sorted(_DERIVABLE)}, not {unknown}")
    checked = _checked(action, **derived)
    del checked["action"]
    return checked


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
                holder = genesis_first(client, experiment_id)
            else:
                holder = client.get_run(head.info.run_id).data.params.get(PARAM_NEXT)
            if holder is not None:
                return holder == run_id
            time.sleep(0.05 * (attempt + 1))
    # The run stays RUNNING and unclaimed: ignored by readers unless a late claim lands.
    raise StoreError(f"could not record the audit event: {first_line(last)}; try again in a moment.")


def _discard(client: Any, run_id: str) -> None:
    """A losing writer's run goes; it was never chained on, so the log does not miss it."""
    from mlflow.exceptions import MlflowException

    with contextlib.suppress(MlflowException):  # left RUNNING and unclaimed, it is ignored anyway
        client.delete_run(run_id)


def _genesis_location(uri: str) -> str | None:
    root = store.artifact_root(uri)
    return str(root / "nbops-audit-genesis") if root is not None else None


def _hide_genesis(client: Any, experiment_id: str) -> None:
    """Deleted, the genesis record keeps its name (and so its claim) out of experiment lists."""
    from mlflow.exceptions import MlflowException

    genesis = client.get_experiment_by_name(GENESIS_EXPERIMENT.format(experiment_id=experiment_id))
    if genesis is not None and genesis.lifecycle_stage == "active":
        with contextlib.suppress(MlflowException):
            client.delete_experiment(genesis.experiment_id)
