"""Health reviews as records: who reviewed which model when, the report, and the schedule.

A team that must review its models periodically says how often in ``pyproject.toml``::

    [tool.nbops.review]
    every = "90d"            # d (days), w (weeks) or h (hours); "90d" when left out
    notify = ["team"]        # optional: channels told when a review becomes overdue

Each ``nbops review NAME`` is recorded here: one run of the monitoring experiment
(``nbops-monitoring``, kept out of the runs a user lists) per review (its start time is when the review was made, its tags say by whom, the rendered report is
its artifact) plus an audit event. So ``last_review`` is one query, the record lives wherever the
store does, and nothing is kept in side files. ``alerting.check`` reads the schedule and
``last_review`` to open a ``review-overdue`` alert when the last review is older than the period
(a model never reviewed counts from its registration).

Each model also has one *schedule* run there, created on first need (the oldest wins when two
processes create one at once): its write-once params are the claims that keep one overdue alert
per episode, as the monitoring runs' params do for metric rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .. import audit, config, store
from ..errors import ConfigError, InvalidInput
from ..filters import literal
from .runs import EXPERIMENT

_Start = config.Start

TAG = "nbops.review."
KIND_REVIEW, KIND_SCHEDULE = "review", "schedule"
RULE = "review-overdue"
DEFAULT_EVERY = "90d"
ARTIFACT_DIR = "review"
_PERIOD = re.compile(r"\s*(\d{1,5})\s*([dwh])\s*")
_UNITS = {"d": timedelta(days=1), "w": timedelta(weeks=1), "h": timedelta(hours=1)}


@dataclass(frozen=True)
class Schedule:
    """``[tool.nbops.review]``, checked: the period as written and as a duration, and its channels."""

    every: str
    period: timedelta
    notify: tuple[str, ...] = ()


def parse_period(text: Any, where: str = "[tool.nbops.review] every") -> timedelta:
    """``"90d"`` / ``"12w"`` / ``"36h"`` → a duration; anything else is one ``ConfigError`` line."""
    match = _PERIOD.fullmatch(text) if isinstance(text, str) else None
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(
            f'{where} must be a whole number above 0 and a unit d, w or h, e.g. every = "90d", not {text!r}.'
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def schedule(start: _Start = None) -> Schedule | None:
    """The review schedule, or None when ``[tool.nbops.review]`` is absent (no review is ever due)."""
    settings = config.resolve(start)
    table = settings.tool.get("review")
    if table is None:
        return None
    where = f"[tool.nbops.review] in {settings.pyproject}"
    if not isinstance(table, dict):
        raise ConfigError(f'{where} must be a table, e.g. every = "90d".')
    unknown = sorted(set(table) - {"every", "notify"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; it takes every and notify.")
    every = table.get("every", DEFAULT_EVERY)
    period = parse_period(every, f"every under {where}")
    notify = table.get("notify", [])
    if not isinstance(notify, list) or not all(isinstance(n, str) for n in notify):
        raise ConfigError(f'{where}: notify must be a list of channel names, e.g. notify = ["team"].')
    return Schedule(every.strip(), period, tuple(notify))


# --- recording and reading reviews -------------------------------------------------------------------


def record(
    model: str,
    report: str | Path,
    *,
    batches: int | None = None,
    at: datetime | None = None,
    start: _Start = None,
) -> dict[str, Any]:
    """Record a review of ``model`` by the current user, with ``report`` (a file) as its artifact.

    ``at`` is when the review was made (default: now); giving an earlier time imports a review
    made elsewhere. Returns the review as ``last_review`` shows it.
    """
    report = Path(report)
    if not report.is_file():
        raise InvalidInput(f"the review report {report} does not exist.")
    when = (at or datetime.now(UTC)).astimezone(UTC)
    millis = int(when.timestamp() * 1000)
    who = audit.default_actor()
    client = store.client(start)
    tags = {
        f"{TAG}kind": KIND_REVIEW,
        f"{TAG}model": model,
        f"{TAG}by": who,
        f"{TAG}at": _iso(millis),
        f"{TAG}report": report.name,
        "mlflow.note.content": f"Health review of {model} by {who} ({report.name}).",
    }
    if batches is not None:
        tags[f"{TAG}batches"] = str(batches)
    run = client.create_run(
        store.ensure_experiment(EXPERIMENT, start), start_time=millis, tags=tags, run_name=f"review {model}"
    )
    run_id = run.info.run_id
    client.log_artifact(run_id, str(report), ARTIFACT_DIR)
    executed = report.with_suffix(".ipynb")
    if executed.is_file() and executed != report:
        client.log_artifact(run_id, str(executed), ARTIFACT_DIR)
    client.set_terminated(run_id, "FINISHED", end_time=millis)
    uri = f"{run.info.artifact_uri}/{ARTIFACT_DIR}/{report.name}"
    event = audit.append(
        "review",
        model=model,
        reason=f"health review recorded by {who}",
        source="review",
        actor=who,
        details={"review": run_id, "report": uri, "at": _iso(millis)},
        start=start,
    )
    client.set_tag(run_id, f"{TAG}audit_event", str(event.seq))
    found = last_review(model, start)
    assert found is not None
    return found


def last_review(model: str, start: _Start = None) -> dict[str, Any] | None:
    """The newest review of ``model``: ``who``, ``when`` (ISO, UTC), ``report`` (artifact URI),
    ``run_id`` and ``audit_event``; None when it was never reviewed."""
    client = store.client(start)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return None
    found = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{TAG}kind` = '{KIND_REVIEW}' and tags.`{TAG}model` = {literal(model)}",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return _review(found[0]) if found else None


#: Review runs read per page by ``last_reviews``.
_PAGE = 1000


def last_reviews(models: list[str], start: _Start = None) -> dict[str, dict[str, Any] | None]:
    """The newest review of each of ``models`` (as ``last_review`` gives it, None when never reviewed).

    One search of the review runs, newest first, read until every model has its review (a page
    of 1,000 runs holds them in practice), instead of a query per model: what an assessment of a
    registry of hundreds of models needs.
    """
    found: dict[str, dict[str, Any] | None] = dict.fromkeys(models)
    if len(found) == 1:
        (model,) = found
        return {model: last_review(model, start)}
    client = store.client(start)
    experiment = client.get_experiment_by_name(EXPERIMENT) if found else None
    if experiment is None:
        return found
    token = None
    while True:
        page = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.`{TAG}kind` = '{KIND_REVIEW}'",
            order_by=["attributes.start_time DESC"],
            max_results=_PAGE,
            page_token=token,
        )
        for run in page:
            model = run.data.tags.get(f"{TAG}model", "")
            if model in found and found[model] is None:
                found[model] = _review(run)
        token = page.token
        if not token or all(review is not None for review in found.values()):
            return found


def _review(run: Any) -> dict[str, Any]:
    tags = run.data.tags
    return {
        "model": tags.get(f"{TAG}model", ""),
        "who": tags.get(f"{TAG}by", ""),
        "when": _iso(run.info.start_time),
        "report": f"{run.info.artifact_uri}/{ARTIFACT_DIR}/{tags.get(f'{TAG}report', '')}",
        "run_id": run.info.run_id,
        "audit_event": tags.get(f"{TAG}audit_event"),
        "timestamp": run.info.start_time,
    }


def registered_at(model: str, start: _Start = None) -> int | None:
    """When ``model`` was registered (ms): the start of its first review period; None if unknown.

    That is its first version's creation: a model becomes something to review when a version of
    it exists, not when its name was reserved. A model without versions counts from its creation.
    """
    from mlflow.exceptions import MlflowException

    client = store.client(start)
    try:
        first = client.search_model_versions(
            f"name = {literal(model)}", max_results=1, order_by=["creation_timestamp ASC"]
        )
        if first:
            return int(first[0].creation_timestamp)
        return int(client.get_registered_model(model).creation_timestamp)
    except (MlflowException, TypeError):
        return None


def reviewed_models(start: _Start = None) -> list[str]:
    """The registered models a review schedule covers (prompts are not reviewed by schedule)."""
    client = store.client(start)
    names, token = [], None
    while True:
        page = client.search_registered_models(max_results=1000, page_token=token)
        names += [m.name for m in page]
        token = page.token
        if not token:
            return sorted(names)


def schedule_run(model: str, start: _Start = None) -> str:
    """The run holding ``model``'s overdue-episode claims (created on first use; the oldest wins)."""
    client = store.client(start)
    experiment_id = store.ensure_experiment(EXPERIMENT, start)

    def find() -> list[Any]:
        return client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{TAG}kind` = '{KIND_SCHEDULE}' and tags.`{TAG}model` = {literal(model)}",
            order_by=["attributes.start_time ASC"],
            max_results=10,
        )

    found = find()
    if found:
        return found[0].info.run_id
    run = client.create_run(
        experiment_id,
        tags={f"{TAG}kind": KIND_SCHEDULE, f"{TAG}model": model},
        run_name=f"review schedule {model}",
    )
    client.set_terminated(run.info.run_id, "FINISHED")
    winner = find()[0].info.run_id
    if winner != run.info.run_id:
        client.delete_run(run.info.run_id)
    return winner


def _iso(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
