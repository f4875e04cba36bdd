"""Reading the audit chain: its head, and its events in order.

The chain is what the ``next`` params say it is: event 1 is named by the genesis
record, and every event names the one after it. A FINISHED run is on the chain;
a RUNNING one counts only if its predecessor names it (its writer is between
claim and FINISHED, or died there). Reading never creates a store, an experiment
or a run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import config, store
from ..errors import StoreError
from .layout import (
    EXPERIMENT,
    GENESIS_EXPERIMENT,
    PARAM_NEXT,
    TAG_FIRST_RUN,
    TAG_PREFIX,
    TAG_PREV_RUN,
    TAG_SEQ,
    Event,
    event_from_run,
    seq_of,
)

_Start = Path | str | None

_PAGE = 1000
_HEAD_PAGE = 10


def events(
    model: str | None = None,
    action: str | None = None,
    start: _Start = None,
    *,
    through: int | None = None,
) -> list[Event]:
    """Every event on the chain, oldest first; ``model``/``action`` filter in the store.

    ``through`` keeps the log as it stood at event ``through`` (events after it are
    left out), which is what an append chained after that event builds on.
    """
    found = reader(start)
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
    with store_errors("reading the audit log", uri):
        genesis: list[str | None] = []
        for run in runs(client, experiment_id, " and ".join(filters), active_only=True):
            if through is not None and seq_of(run) > through:
                break  # runs come in seq order
            if run.info.status != "FINISHED" and not _claimed(client, experiment_id, run, genesis):
                continue  # a writer still deciding, or one that lost and has not cleaned up
            event = event_from_run(run)
            if all(getattr(event, name) == value for name, value in local.items()):
                result.append(event)
    return result


def head(start: _Start = None) -> Event | None:
    """The newest event, or None for an empty log."""
    found = reader(start)
    if found is None:
        return None
    client, experiment_id, uri = found
    with store_errors("reading the audit log", uri):
        run = head_run(client, experiment_id)
        if run is None:
            return None
        check_chainable(run)
        return event_from_run(run)


def reader(start: _Start) -> tuple[Any, str, str] | None:
    """Client, experiment id and URI of an existing log; None when nothing was ever logged.

    Reading never creates the store or the experiment.
    """
    uri = config.resolve(start).tracking_uri
    if not store.exists(uri):
        return None
    client = store.client(start)
    with store_errors("reading the audit log", uri):
        experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return None
    if experiment.lifecycle_stage != "active":
        raise StoreError(
            f"the audit experiment {EXPERIMENT!r} was deleted; restore it in the MLflow UI "
            "(or with MlflowClient().restore_experiment) — nbops will not start a new log beside it."
        )
    return client, experiment.experiment_id, uri


def runs(client: Any, experiment_id: str, filter_string: str, active_only: bool) -> list[Any]:
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
            return sorted(found, key=lambda r: (seq_of(r), r.info.start_time, r.info.run_id))


def head_run(client: Any, experiment_id: str) -> Any | None:
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
    first = genesis_first(client, experiment_id)
    return _last_from(client, first, seen) if first else None


def check_chainable(head: Any) -> None:
    """Nothing can be chained after a deleted event: say how to restore it."""
    if head.info.lifecycle_stage != "active":
        seq = head.data.tags.get(TAG_SEQ, "?").lstrip("0") or "0"
        raise StoreError(
            f"the newest audit event ({seq}, run {head.info.run_id}) was deleted, so nothing can be "
            f"chained after it; restore it with `mlflow runs restore --run-id {head.info.run_id}` "
            "(nbops audit --verify shows the damage)."
        )


def genesis_first(client: Any, experiment_id: str) -> str | None:
    """The run of event 1, as the genesis record names it (None before the first append)."""
    genesis = client.get_experiment_by_name(GENESIS_EXPERIMENT.format(experiment_id=experiment_id))
    return genesis.tags.get(TAG_FIRST_RUN) if genesis is not None else None


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
            genesis.append(genesis_first(client, experiment_id))
        return genesis[0] == run.info.run_id
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(previous).data.params.get(PARAM_NEXT) == run.info.run_id
    except MlflowException:
        return False


def _quoted(value: str) -> str | None:
    """``value`` as a filter-string literal, or None when no quoting is safe."""
    if "\\" in value:
        return None
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return None


def first_line(exc: BaseException | None) -> str:
    text = str(getattr(exc, "message", exc) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def store_errors(doing: str, uri: str) -> Iterator[None]:
    """An MLflow failure becomes one ``StoreError`` line naming the store (credentials redacted)."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as exc:
        raise StoreError(
            f"the MLflow store {config.redact_uri(uri)} failed while {doing} ({first_line(exc)}); "
            "check that it is reachable and writable, then try again."
        ) from exc
