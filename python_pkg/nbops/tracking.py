"""Experiment tracking: a block of code as one MLflow run whose state never lies.

A run ends FINISHED only when its code ran to the end; an exception marks it
FAILED (KeyboardInterrupt: KILLED) *before* the exception continues on its way,
so a notebook, a script and a papermill job all see the failure and the store
records it.
"""

from __future__ import annotations

import re
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import autolog_compat, config, lineage, store
from .batching import RunWriter, as_metric_value
from .errors import InvalidInput, NbopsError

#: Longest error text kept on a failed run (MLflow tag values are bounded).
_ERROR_TAG_LIMIT = 1000
ERROR_TAG = "nbops.error"
TRACEBACK_ARTIFACT = "error/traceback.txt"


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


def format_duration(ms: float | None) -> str:
    """``850 ms``, ``12.3 s``, ``4 min 5 s``, ``2 h 3 min``; ``—`` when unknown (or negative).

    Every unit is floored, so a duration never shows the next unit's worth ("60.0 s").
    The widgets (``formatDuration`` in ``widgets/static/common.js``) and the sidebar
    format the same way: all are tested against ``tests/data/format_cases.json``.
    """
    if ms is None or not 0 <= ms < float("inf"):  # also NaN
        return "—"
    if ms < 1000:
        return f"{int(ms)} ms"
    if ms < 60_000:
        return f"{int(ms / 100) / 10:.1f} s"
    seconds = int(ms / 1000)
    if seconds < 3600:
        minutes, seconds = divmod(seconds, 60)
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= _ERROR_TAG_LIMIT else text[: _ERROR_TAG_LIMIT - 1] + "…"


@dataclass
class _Tracked:
    """nbops' state for one active run: its id and its background writer."""

    run_id: str
    writer: RunWriter


#: Runs started by ``track`` in this process, innermost last.
_stack: list[_Tracked] = []

_METRIC_NAME = re.compile(r"^[/\w.\- :]+$")
_checked_names: set[str] = set()


@contextmanager
def track(
    run_name: str | None = None,
    *,
    experiment: str | None = None,
    params: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    autolog: bool | None = None,
    nested: bool = False,
    cell: tuple[str, int | None] | None = None,
    notebook: str | None = None,
    start: Path | str | None = None,
) -> Iterator[Any]:
    """Run the enclosed block as an MLflow run (yields ``mlflow.ActiveRun``).

    Recorded without user code: the notebook and cell (``cell`` is the source and
    execution count), git commit/branch/dirty state and the notebook's diff, the
    Python version and pinned packages (computed once per process), and the owning
    host/pid/kernel so a run left behind by a dead process can be found and marked
    KILLED. ``params`` are logged at the start; ``autolog`` turns on scikit-learn
    autologging inside the block (default: when scikit-learn is already imported).
    Code inside may call ``nbops.log_metric`` (buffered) or ``mlflow.log_*``.
    """
    __tracebackhide__ = True
    if run_name is not None and not run_name.strip():
        raise InvalidInput("the run name is empty; give a name such as 'baseline' or leave it out.")
    param_values = _as_params(params or {})
    mlflow = store.fluent(start)
    active = mlflow.active_run()
    if active is not None and not nested:
        raise NbopsError(
            f"run {active.info.run_id} is already active in this process; end it with mlflow.end_run() "
            "or pass --nested to track this cell as a child run."
        )
    experiment_id = store.ensure_experiment(experiment, start) if experiment else None
    facts = lineage.notebook_lineage(notebook if notebook is not None else lineage.notebook_path())
    for extra in (lineage.environment_lineage(), lineage.cell_lineage(*cell) if cell else None):
        if extra:
            facts.tags.update(extra.tags)
            facts.texts.update(extra.texts)
    all_tags = {**facts.tags, **lineage.owner_tags(), **(tags or {})}
    run = mlflow.start_run(
        run_name=run_name, experiment_id=experiment_id, tags=all_tags, nested=active is not None
    )
    client = store.client(start)
    run_id = run.info.run_id
    tracked = _Tracked(run_id, RunWriter(client, run_id))
    _stack.append(tracked)
    autologging = False
    try:
        autologging = _start_autolog(mlflow, autolog)
        if param_values:
            _log_params(client, run_id, param_values)
        for path, text in facts.texts.items():
            tracked.writer.add_text(path, text)
        yield run
    except KeyboardInterrupt:
        _finish(mlflow, client, tracked, autologging, "KILLED", "KeyboardInterrupt: interrupted", None)
        raise
    except BaseException as exc:
        _finish(mlflow, client, tracked, autologging, "FAILED", _error_text(exc), exc)
        raise
    else:
        _finish(mlflow, client, tracked, autologging, "FINISHED", None, None)


def _finish(
    mlflow: Any,
    client: Any,
    tracked: _Tracked,
    autologging: bool,
    status: str,
    error: str | None,
    exc: BaseException | None,
) -> None:
    """Flush, record why the run stopped, then end it; nothing here may mask the user's error."""
    __tracebackhide__ = True
    problems: list[BaseException] = []
    steps = [tracked.writer.close]
    if autologging:
        steps.append(lambda: _stop_autolog(mlflow))
    if error is not None:
        steps.append(lambda: client.set_tag(tracked.run_id, ERROR_TAG, error))
    if exc is not None:
        steps.append(lambda: client.log_text(tracked.run_id, _traceback_text(exc), TRACEBACK_ARTIFACT))
    for step in steps:
        try:
            step()
        except Exception as problem:
            problems.append(problem)
    _stack.remove(tracked)
    if problems and status == "FINISHED":
        status = "FAILED"
        with suppress(Exception):
            client.set_tag(tracked.run_id, ERROR_TAG, _error_text(problems[0]))
    mlflow.end_run(status)
    if problems and exc is None:
        raise problems[0]


def _traceback_text(exc: BaseException) -> str:
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    # The frames of nbops and IPython that led into the user's code say nothing to the user.
    while frames and ("/nbops/" in frames[0].filename or "/IPython/" in frames[0].filename):
        frames.pop(0)
    return (
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_list(frames))
        + "".join(traceback.format_exception_only(exc))
    )


def _start_autolog(mlflow: Any, autolog: bool | None) -> bool:
    """Turn on scikit-learn autologging for this run, unless the user already manages it."""
    import sys

    if autolog is False or (autolog is None and "sklearn" not in sys.modules):
        return False
    from mlflow.utils.autologging_utils import autologging_is_disabled

    if not autologging_is_disabled("sklearn"):
        return False  # switched on by the user: theirs to keep
    import mlflow.sklearn

    # Models are registered explicitly (and fast) by nbops; autolog's model logging
    # would spend seconds inferring requirements on every fit.
    mlflow.sklearn.autolog(log_models=False, log_datasets=False, silent=True)
    autolog_compat.install()
    return True


def _stop_autolog(mlflow: Any) -> None:
    import mlflow.sklearn

    autolog_compat.uninstall()  # first: it wraps what autolog patched, and autolog restores beneath it
    mlflow.sklearn.autolog(disable=True, silent=True)


def _as_params(params: dict[str, Any]) -> dict[str, str]:
    values = {}
    for key, value in params.items():
        if not isinstance(key, str) or not _METRIC_NAME.match(key):
            raise InvalidInput(f"param name {key!r} is not valid; use letters, digits, _ - . / : and spaces.")
        text = str(value)
        values[key] = text if len(text) <= 6000 else text[:5999] + "…"
    return values


def _log_params(client: Any, run_id: str, values: dict[str, str]) -> None:
    from mlflow.entities import Param

    items = [Param(k, v) for k, v in values.items()]
    for i in range(0, len(items), 100):
        client.log_batch(run_id, params=items[i : i + 100])


def _current() -> _Tracked:
    if not _stack:
        raise NbopsError(
            "no tracked run is active; log inside a %%track cell or a `with nbops.track(...)` block."
        )
    return _stack[-1]


def active_run_id(required: bool = True) -> str | None:
    """The id of the innermost run started by ``track`` in this process."""
    if not required and not _stack:
        return None
    return _current().run_id


# --- which tracked run assigned a notebook variable -----------------------------------------------


@dataclass(frozen=True)
class Assignment:
    """A notebook variable bound by a tracked cell that finished, and the run that cell was."""

    name: str
    run_id: str
    run_name: str
    #: True while the variable still holds the object the cell bound.
    holds: Callable[[Any], bool] = field(repr=False, compare=False)


#: Variable name → the last finished tracked cell's run that bound it; this kernel's memory only,
#: so noting it costs no store round trip.
_assignments: dict[str, Assignment] = {}


def namespace_ids(namespace: dict[str, Any]) -> dict[str, int]:
    """What each user variable holds, by identity: taken before a tracked cell, compared after."""
    return {name: id(value) for name, value in namespace.items() if not name.startswith("_")}


def note_cell(
    run_id: str,
    run_name: str,
    before: dict[str, int],
    namespace: dict[str, Any],
    source: str | None,
    finished: bool,
) -> None:
    """Remember which variables a tracked cell bound or rebound, so a model can find its run.

    A name counts when its object changed (``before`` is ``namespace_ids`` taken before the
    cell) or when the cell assigns it at top level (``model = model.fit(X, y)`` returns the
    same object, fitted). A cell that did not finish leaves its variables with no run: their
    values came from a run that failed.
    """
    bound = {n for n, v in namespace.items() if not n.startswith("_") and before.get(n) != id(v)}
    bound |= {n for n in _assigned_names(source) if n in namespace} if source else set()
    for name in set(before) - set(namespace):  # deleted by the cell
        _assignments.pop(name, None)
    for name in bound:
        if finished:
            _assignments[name] = Assignment(name, run_id, run_name, _identity(namespace[name]))
        else:
            _assignments.pop(name, None)


def assigned_by(name: str, value: Any) -> Assignment | None:
    """The finished tracked run that bound ``name`` to ``value``, if one did (and it was not rebound since)."""
    found = _assignments.get(name)
    return found if found is not None and found.holds(value) else None


def _identity(value: Any) -> Callable[[Any], bool]:
    """``is value`` without keeping the value alive (by id for objects without weak references)."""
    try:
        ref = weakref.ref(value)
    except TypeError:
        ident = id(value)
        return lambda other: id(other) == ident
    return lambda other: ref() is other


def _assigned_names(source: str) -> set[str]:
    """Names a cell's code binds in the notebook's namespace (not inside functions or comprehensions)."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    found: set[str] = set()
    scopes = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
    pending: list[ast.AST] = [tree]
    while pending:
        for child in ast.iter_child_nodes(pending.pop()):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                found.add(child.name)
            elif isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                found.add(child.id)
            elif not isinstance(child, scopes):
                pending.append(child)
    return found


def _check_metric_name(key: str) -> None:
    if key in _checked_names:
        return
    if not isinstance(key, str) or not _METRIC_NAME.match(key):
        raise InvalidInput(f"metric name {key!r} is not valid; use letters, digits, _ - . / : and spaces.")
    _checked_names.add(key)


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Queue one metric point on the active tracked run; returns at once."""
    _check_metric_name(key)
    _current().writer.add(key, as_metric_value(key, value), step)


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    """Queue several metrics at the same step and time."""
    tracked = _current()
    now = int(time.time() * 1000)
    points = []
    for key, value in metrics.items():
        _check_metric_name(key)
        points.append((key, as_metric_value(key, value), now, step or 0))
    tracked.writer.extend(points)


def log_param(key: str, value: Any) -> None:
    """Log one param on the active tracked run (written at once: params are few)."""
    log_params({key: value})


def log_params(params: dict[str, Any]) -> None:
    tracked = _current()
    _log_params(store.client(), tracked.run_id, _as_params(params))


def current_experiment_id(start: Path | str | None = None) -> str:
    """The experiment new runs go to in this process.

    That is the one chosen with ``%nbops experiment`` or ``mlflow.set_experiment``,
    else ``MLFLOW_EXPERIMENT_NAME`` / ``MLFLOW_EXPERIMENT_ID``, else ``Default``.
    """
    store.fluent(start)
    from mlflow.tracking.fluent import _get_experiment_id

    return _get_experiment_id() or "0"


def use_experiment(name: str, start: Path | str | None = None) -> str:
    """Send this process's next runs to experiment ``name`` (created if missing)."""
    if not name.strip():
        raise InvalidInput("the experiment name is empty; give a name such as 'churn-model'.")
    experiment_id = store.ensure_experiment(name.strip(), start)
    store.fluent(start).set_experiment(experiment_id=experiment_id)
    return experiment_id


def status_text(start: Path | str | None = None) -> str:
    """What ``%nbops status`` prints: the store, the experiment and the active run."""
    settings = config.resolve(start)
    lines = [
        f"store:      {config.redact_uri(settings.tracking_uri)} (from {settings.source})",
        f"project:    {settings.project_root}",
    ]
    mlflow_client = store.client(start)
    experiment = mlflow_client.get_experiment(current_experiment_id(start))
    lines.append(f"experiment: {experiment.name} (id {experiment.experiment_id})")
    active = store.fluent(start).active_run()
    if active is None:
        lines.append("active run: none")
    else:
        lines.append(f"active run: {active.info.run_name} ({active.info.run_id})")
    return "\n".join(lines)
