"""Running gate notebooks against a model or prompt version: one runner for the CLI, the magic and Python.

``run(["performance", "my_gate", "path/to/gate.ipynb"], "models:/churn/3", {"data_path": "holdout.csv"})``
``run(["llm_quality"], "prompts:/support-reply@candidate", {...})``

1. **Checked first, nothing runs otherwise** (``gate_plans``). A gate is named (the project's
   ``notebooks/gates/<name>.ipynb``, else a shipped gate: ``gate_catalog``) or given by its
   notebook path; an unknown name is refused in one line listing the known ones. The model or
   prompt version must exist (an alias is resolved to its version, so every gate tests the same
   one, and the gate notebook gets ``model_uri`` = ``models:/NAME/VERSION`` or
   ``prompts:/NAME/VERSION``).
   Each gate must have a papermill ``parameters`` cell, and every parameter must be one a gate
   declares, with the declared type. When a gate is refused, no gate runs: each is ``error``.
2. **Each gate in its own process group.** ``python -m papermill`` is started in a new session,
   ``parallel`` at a time. The kernel papermill starts makes a session of its own, so at the
   timeout the runner kills every process group under papermill's (kernel and its children
   included). The executed notebook is written after every cell, so a killed gate's partial
   notebook is kept.
3. **A verdict per gate** (``gate_verdicts``): the executed notebook's checks and errors,
   overruled by a timeout, a dead kernel or papermill stopping; a cell is named by its place among
   the cells the gate's author wrote and its prompt in the executed notebook
   (``cell 3 (In [4]): ValueError: ...``).
4. **Recorded and reported** (``gate_records``): an MLflow run, the version tag
   ``nbops.gate.<gate>`` (a model version's or a prompt version's: the promotion policy reads
   both the same way), an audit event, and a model's card refreshed once at the end; in a
   folder (default ``gate-reports/<model>-v<version>-<UTC time>`` under the project root):
   ``<gate>.ipynb``, ``<gate>.html``, ``<gate>.log`` (papermill's output) and ``junit.xml``.

Plain Python: no IPython or tornado here; MLflow, papermill and nbconvert are imported when used.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import config, registry, runner, store
from .errors import InvalidInput, NotFound
from .gate_catalog import SHIPPED, KnownGate, known_gates, shipped_gate
from .gate_plans import Plan, plan_gates
from .gate_records import EXPERIMENT, TAG_PREFIX, record, to_html, write_junit
from .gate_verdicts import ERROR, FAILED, PASSED, GateOutcome, GateReport, judge
from .registry import resolve_model
from .registry.versions import PROMPT_PREFIX, alias_holder, get_version, missing, prompt_name

__all__ = [
    "ERROR",
    "EXPERIMENT",
    "FAILED",
    "PASSED",
    "SHIPPED",
    "TAG_PREFIX",
    "GateOutcome",
    "GateReport",
    "KnownGate",
    "available",
    "known_gates",
    "resolve_model",
    "resolve_target",
    "run",
    "shipped_gate",
    "write_junit",
]

_Start = Path | str | None

_NAME = re.compile(r"[^\w.\-]")
_PROMPT_URI = re.compile(
    r"prompts:/(?P<name>[A-Za-z0-9_.-]+)(?:/(?P<version>\d+)|@(?P<alias>[A-Za-z0-9_-]+))"
)


# --- the runner ----------------------------------------------------------------------------------


def run(
    gates: list[str],
    model_uri: str,
    parameters: dict[str, Any] | None = None,
    *,
    parallel: int = 1,
    timeout: float = 600,
    junit: str | Path | None = None,
    report: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    start: _Start = None,
) -> GateReport:
    """Run ``gates`` (gate names or notebook paths) against ``model_uri`` and record the verdicts.

    ``model_uri`` is ``models:/NAME/VERSION``, ``models:/NAME@ALIAS``, ``prompts:/NAME/VERSION``
    or ``prompts:/NAME@ALIAS``. A name is the project's ``notebooks/gates/<name>.ipynb``, else a
    shipped gate of that name. Raises ``InvalidInput``/``NotFound`` for a malformed call, an
    unknown gate name or a missing version; a gate that is refused or cannot run is reported
    (``error``), not raised.
    """
    if isinstance(gates, str) or not gates:
        names = ", ".join(g.name for g in available(start))
        raise InvalidInput(f"name at least one gate: one of {names or 'none'}, or a notebook path.")
    if not isinstance(parallel, int) or parallel < 1:
        raise InvalidInput(f"--parallel must be a whole number of at least 1, not {parallel!r}.")
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not timeout > 0:
        raise InvalidInput(f"--timeout must be a number of seconds above 0, not {timeout!r}.")
    settings = store.settings(start)
    name, version = resolve_target(model_uri, start)
    target_uri = f"{name}/{version}" if prompt_name(name) else f"models:/{name}/{version}"
    plans = plan_gates(list(gates), target_uri, dict(parameters or {}), settings.project_root)

    report_dir = _report_dir(report, settings.project_root, name, version)
    junit_path = Path(junit) if junit is not None else report_dir / "junit.xml"
    say = _Progress(progress)
    outcomes: list[GateOutcome]
    if any(p.outcome is not None for p in plans):
        refused = ", ".join(p.name for p in plans if p.outcome is not None)
        outcomes = [
            p.outcome or GateOutcome(p.name, ERROR, f"not run: {refused} could not run", p.path, p.params)
            for p in plans
        ]
        for outcome in outcomes:
            say(outcome.line())
    else:
        outcomes = _execute_all(
            plans,
            report_dir,
            settings.tracking_uri,
            parallel,
            timeout,
            say,
            lambda o: record(o, name, version, start),
        )
        if prompt_name(name) is None:  # a prompt version has no card: its tags are the record
            registry.refresh_card(name, version, start=start)
    result = GateReport(name, version, outcomes, report_dir, junit_path)
    write_junit(result, junit_path)
    if not result.passed:
        from . import notify  # never raises, never waits

        notify.gates_failed(result, start)
    return result


def resolve_target(model_uri: str, start: _Start = None) -> tuple[str, str]:
    """``(name, version)`` of the version the gates judge; a prompt's name is ``prompts:/NAME``.

    A prompt is named by the address its promotions, audit events and policy use, so the verdicts
    recorded here are the ones ``%promote prompts:/NAME`` reads. The version must exist; an alias
    is resolved once, so every gate of the run tests the same version.
    """
    text = model_uri.strip() if isinstance(model_uri, str) else model_uri
    if not isinstance(text, str) or not text.startswith(PROMPT_PREFIX):
        return resolve_model(model_uri, start)
    found = _PROMPT_URI.fullmatch(text)
    if found is None:
        raise InvalidInput(
            f"--model must be prompts:/NAME/VERSION or prompts:/NAME@ALIAS for a prompt, not {model_uri!r}."
        )
    name = PROMPT_PREFIX + found["name"]
    version = found["version"]
    if found["alias"]:
        if not _prompt_exists(name, start):
            raise missing(name)
        version = alias_holder(name, found["alias"], start)
        if version is None:
            raise NotFound(
                f"prompt {found['name']!r} has no alias {found['alias']!r}; "
                f"nbops.prompts.versions({found['name']!r}) shows its versions and aliases."
            )
    return name, str(get_version(name, version, start).version)


def _prompt_exists(name: str, start: _Start) -> bool:
    """Whether the prompt ``prompts:/NAME`` is in the store (before its alias is looked up)."""
    return store.client(start).get_prompt(prompt_name(name)) is not None


def available(start: _Start = None) -> list[KnownGate]:
    """Every gate the project at ``start`` (default: the cwd) can name, with the notebook that wins."""
    return known_gates(config.find_project_root(Path(start) if start is not None else None))


def _report_dir(report: str | Path | None, project_root: Path, name: str, version: str) -> Path:
    if report is not None:
        folder = Path(report).expanduser().resolve()
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    label = _NAME.sub("_", name.replace(PROMPT_PREFIX, "prompt-"))
    base = project_root / "gate-reports" / f"{label}-v{version}-{stamp}"
    for n in range(1000):
        folder = base if n == 0 else base.with_name(f"{base.name}-{n}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
    raise InvalidInput(f"too many reports at {base}; pass --report DIR.")  # pragma: no cover


# --- executing ---------------------------------------------------------------------------------


class _Progress:
    """The caller's progress callback, one line at a time from any thread."""

    def __init__(self, callback: Callable[[str], None] | None) -> None:
        self._callback = callback
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        if self._callback is not None:
            with self._lock:
                self._callback(line)


def _execute_all(
    plans: list[Plan],
    report_dir: Path,
    tracking_uri: str,
    parallel: int,
    timeout: float,
    say: _Progress,
    record: Callable[[GateOutcome], None],
) -> list[GateOutcome]:
    """Run every gate, ``parallel`` at a time; each is recorded (in this thread) as it finishes."""
    live = runner.Live()
    outcomes: dict[str, GateOutcome] = {}
    cwd = Path.cwd()
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="nbops-gate")
    try:
        pending: set[Future] = {
            pool.submit(_execute, plan, report_dir, tracking_uri, timeout, cwd, say, live) for plan in plans
        }
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                outcome = future.result()
                record(outcome)
                outcomes[outcome.name] = outcome
                say(outcome.line())
    except BaseException:
        live.kill_all()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [outcomes[p.name] for p in plans]


def _execute(
    plan: Plan,
    report_dir: Path,
    tracking_uri: str,
    timeout: float,
    cwd: Path,
    say: _Progress,
    live: runner.Live,
) -> GateOutcome:
    assert plan.path is not None
    executed = report_dir / f"{plan.name}.ipynb"
    outcome = GateOutcome(plan.name, ERROR, "", plan.path, plan.params, executed=executed, ran=True)
    say(f"{plan.name}: running…")
    ran = runner.run(
        runner.Execution(plan.path, executed, plan.params, tracking_uri, timeout, cwd=cwd, autosave=True),
        live=live,
    )
    if ran.not_started:
        outcome.reason = f"could not run: {ran.not_started}"
        return outcome
    outcome.duration = ran.duration
    judge(outcome, ran.returncode, ran.timed_out, timeout, ran.log)
    if outcome.executed is not None:
        outcome.html = to_html(outcome.executed)
    return outcome
