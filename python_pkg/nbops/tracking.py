"""Experiment tracking: a block of code as one MLflow run whose state never lies.

A run ends FINISHED only when its code ran to the end; an exception marks it
FAILED (KeyboardInterrupt: KILLED) *before* the exception continues on its way,
so a notebook, a script and a papermill job all see the failure and the store
records it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import config, store
from .errors import InvalidInput, NbopsError

#: Longest error text kept on a failed run (MLflow tag values are bounded).
_ERROR_TAG_LIMIT = 1000
ERROR_TAG = "nbops.error"


@dataclass(frozen=True)
class RunSummary:
    """What a person wants to see of a run at a glance."""

    run_id: str
    run_name: str
    status: str
    start_time: int | None
    end_time: int | None
    duration_ms: int | None
    experiment_id: str
    experiment_name: str | None = None

    @classmethod
    def from_run(cls, run: Any, experiment_name: str | None = None) -> RunSummary:
        info = run.info
        duration = info.end_time - info.start_time if info.end_time and info.start_time else None
        return cls(
            run_id=info.run_id,
            run_name=info.run_name or info.run_id,
            status=info.status,
            start_time=info.start_time,
            end_time=info.end_time,
            duration_ms=duration,
            experiment_id=info.experiment_id,
            experiment_name=experiment_name,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line for a notebook or a terminal."""
        mark = {"FINISHED": "✓", "FAILED": "✗", "KILLED": "✗"}.get(self.status, "•")
        took = f" in {format_duration(self.duration_ms)}" if self.duration_ms is not None else ""
        where = f" · experiment {self.experiment_name!r}" if self.experiment_name else ""
        return f"{mark} run {self.run_name!r} {self.status}{took}{where} · run id {self.run_id}"


def format_duration(ms: int | float) -> str:
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes} min {seconds} s"


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _ERROR_TAG_LIMIT else text[: _ERROR_TAG_LIMIT - 1] + "…"


@contextmanager
def track(
    run_name: str | None = None,
    *,
    experiment: str | None = None,
    tags: dict[str, str] | None = None,
    start: Path | str | None = None,
) -> Iterator[Any]:
    """Run the enclosed block as an MLflow run (``mlflow.ActiveRun``).

    Code inside may use the ordinary ``mlflow.log_*`` calls: the run is the
    active fluent run. ``experiment`` names an experiment (created if missing);
    without it MLflow's own choice applies (``mlflow.set_experiment``, the
    ``MLFLOW_EXPERIMENT_NAME`` variable, else ``Default``).
    """
    __tracebackhide__ = True
    if run_name is not None and not run_name.strip():
        raise InvalidInput("the run name is empty; give a name such as 'baseline' or leave it out.")
    mlflow = store.fluent(start)
    active = mlflow.active_run()
    if active is not None:
        raise NbopsError(
            f"run {active.info.run_id} is already active in this process; "
            "end it with mlflow.end_run() before starting another tracked run."
        )
    experiment_id = store.ensure_experiment(experiment, start) if experiment else None
    run = mlflow.start_run(run_name=run_name, experiment_id=experiment_id, tags=tags)
    try:
        yield run
    except KeyboardInterrupt:
        _end(mlflow, "KILLED", "KeyboardInterrupt: interrupted")
        raise
    except BaseException as exc:
        _end(mlflow, "FAILED", _error_text(exc))
        raise
    else:
        mlflow.end_run("FINISHED")


def _end(mlflow: Any, status: str, error: str) -> None:
    """Record why the run stopped, then end it; the tag must never mask the error."""
    try:
        mlflow.set_tag(ERROR_TAG, error)
    finally:
        mlflow.end_run(status)


def summary(run_id: str, start: Path | str | None = None) -> RunSummary:
    """A fresh summary of one run, read back from the store."""
    mlflow_client = store.client(start)
    run = mlflow_client.get_run(run_id)
    experiment = mlflow_client.get_experiment(run.info.experiment_id)
    return RunSummary.from_run(run, experiment.name if experiment else None)


def recent_runs(
    max_results: int = 50,
    page_token: str | None = None,
    start: Path | str | None = None,
) -> dict[str, Any]:
    """The newest runs across all active experiments, one page at a time.

    Ordering and paging are done by the store, so a project with thousands of
    runs costs one page per request. A store that was never written to is not
    created just to be read: it simply has no runs yet.
    """
    if not 1 <= max_results <= 1000:
        raise InvalidInput(f"max_results must be between 1 and 1000, got {max_results}.")
    resolved = config.resolve(start)
    page: dict[str, Any] = {
        "runs": [],
        "next_page_token": None,
        "store": config.redact_uri(resolved.tracking_uri),
    }
    if not store.exists(resolved.tracking_uri):
        return page
    mlflow_client = store.client(start)
    names = _experiment_names(mlflow_client)
    if not names:
        return page
    from mlflow.exceptions import MlflowException

    try:
        runs = mlflow_client.search_runs(
            experiment_ids=list(names),
            order_by=["attributes.start_time DESC"],
            max_results=max_results,
            page_token=page_token or None,
        )
    except MlflowException as exc:
        if page_token and exc.error_code == "INVALID_PARAMETER_VALUE":
            raise InvalidInput(
                "page_token is not a token this store issued; start again without it."
            ) from exc
        raise
    page["runs"] = [RunSummary.from_run(r, names.get(r.info.experiment_id)).to_dict() for r in runs]
    token = runs.token
    page["next_page_token"] = (token.decode() if isinstance(token, bytes) else token) or None
    return page


def _experiment_names(mlflow_client: Any) -> dict[str, str]:
    names: dict[str, str] = {}
    token = None
    while True:
        batch = mlflow_client.search_experiments(max_results=1000, page_token=token)
        names.update({e.experiment_id: e.name for e in batch})
        token = batch.token
        if not token:
            return names


def current_experiment_id(start: Path | str | None = None) -> str:
    """The experiment new runs go to in this process.

    That is the one chosen with ``%nbops experiment`` or ``mlflow.set_experiment``,
    else ``MLFLOW_EXPERIMENT_NAME`` / ``MLFLOW_EXPERIMENT_ID``, else ``Default``.
    """
    store.fluent(start)
    from mlflow.tracking.fluent import _get_experiment_id

    return _get_experiment_id() or "0"
