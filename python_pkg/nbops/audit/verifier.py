"""Verifying the audit chain: every hash, every link, every position.

Rewriting an event after the fact breaks its hash ("edited"); rewriting and
rehashing it breaks the next event's ``prev_hash`` ("forked"); removing one
leaves a ``next`` param naming a run that is gone ("deleted"). A FINISHED run
that no ``next`` names was written outside ``append`` or finished by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .layout import (
    PARAM_NEXT,
    TAG_PREV_RUN,
    Event,
    Problem,
    Verification,
    event_from_run,
    seq_of,
    stored_as_written,
)
from .reader import genesis_first, reader, runs, store_errors

_Start = Path | str | None


def verify(start: _Start = None) -> Verification:
    """Walk the chain from the first event: every hash, every link, every position."""
    found = reader(start)
    if found is None:
        return Verification(ok=True, checked=0, problems=[])
    client, experiment_id, uri = found
    with store_errors("verifying the audit log", uri):
        all_runs = runs(client, experiment_id, "", active_only=False)
        by_id = {run.info.run_id: run for run in all_runs}
        problems: list[Problem] = []
        current = genesis_first(client, experiment_id) or _committed_first(all_runs)
        position, previous, visited = 1, None, set()
        while current and current not in visited:
            visited.add(current)
            run = by_id.get(current) or _run_or_none(client, current)
            if run is None:
                problems.append(
                    Problem(position, "deleted", f"its run {current} was removed from the store for good")
                )
                current, previous, position = _successor_of_missing(all_runs, current), None, position + 1
                continue
            event = event_from_run(run)
            problems.extend(_check_event(run, event, position, previous))
            previous, current, position = event, run.data.params.get(PARAM_NEXT), position + 1
        checked = position - 1
        for run in all_runs:
            if (
                run.info.run_id not in visited
                and run.info.lifecycle_stage == "active"
                and run.info.status == "FINISHED"
            ):
                seq = seq_of(run)
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
    if event.compute_hash() != event.hash or not stored_as_written(run, event):
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


def _committed_first(all_runs: list[Any]) -> str | None:
    """Event 1 when the genesis record is gone (``mlflow gc`` purges deleted experiments)."""
    firsts = [
        r
        for r in all_runs
        if seq_of(r) == 1 and r.info.status == "FINISHED" and r.info.lifecycle_stage == "active"
    ]
    return firsts[0].info.run_id if len(firsts) == 1 else None


def _successor_of_missing(all_runs: list[Any], missing: str) -> str | None:
    after = [
        r
        for r in all_runs
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
