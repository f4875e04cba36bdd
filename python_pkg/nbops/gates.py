"""Running gate notebooks against a model version: one runner for the CLI, the magic and Python.

``run(["performance", "my_gate", "path/to/gate.ipynb"], "models:/churn/3", {"data_path": "holdout.csv"})``

1. **Checked first, nothing runs otherwise** (``gate_plans``). A gate is named (the project's
   ``notebooks/gates/<name>.ipynb``, else a shipped gate: ``gate_catalog``) or given by its
   notebook path; an unknown name is refused in one line listing the known ones. The model
   version must exist (an alias is resolved to its version, so every gate tests the same one).
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
   ``nbops.gate.<gate>``, an audit event, and the model card refreshed once at the end; in a
   folder (default ``gate-reports/<model>-v<version>-<UTC time>`` under the project root):
   ``<gate>.ipynb``, ``<gate>.html``, ``<gate>.log`` (papermill's output) and ``junit.xml``.

Plain Python: no IPython or tornado here; MLflow, papermill and nbconvert are imported when used.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import config, lineage, registry, store
from .errors import InvalidInput, NotFound
from .gate_catalog import SHIPPED, KnownGate, known_gates, shipped_gate
from .gate_plans import Plan, plan_gates
from .gate_records import EXPERIMENT, TAG_PREFIX, record, to_html, write_junit
from .gate_verdicts import ERROR, FAILED, PASSED, GateOutcome, GateReport, judge

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
    "kill_tree",
    "known_gates",
    "resolve_model",
    "run",
    "shipped_gate",
    "write_junit",
]

_Start = Path | str | None

#: How often papermill saves a cell that is still running, so a killed gate keeps its outputs.
AUTOSAVE_SECONDS = 5
_NAME = re.compile(r"[^\w.\-]")
_MODEL_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[^/@]+))")


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

    A name is the project's ``notebooks/gates/<name>.ipynb``, else a shipped gate of that name.
    Raises ``InvalidInput``/``NotFound`` for a malformed call, an unknown gate name or a missing
    model version; a gate that is refused or cannot run is reported (``error``), not raised.
    """
    if isinstance(gates, str) or not gates:
        names = ", ".join(g.name for g in available(start))
        raise InvalidInput(f"name at least one gate: one of {names or 'none'}, or a notebook path.")
    if not isinstance(parallel, int) or parallel < 1:
        raise InvalidInput(f"--parallel must be a whole number of at least 1, not {parallel!r}.")
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not timeout > 0:
        raise InvalidInput(f"--timeout must be a number of seconds above 0, not {timeout!r}.")
    settings = store.settings(start)
    name, version = resolve_model(model_uri, start)
    plans = plan_gates(
        list(gates), f"models:/{name}/{version}", dict(parameters or {}), settings.project_root
    )

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
        registry.refresh_card(name, version, start=start)
    result = GateReport(name, version, outcomes, report_dir, junit_path)
    write_junit(result, junit_path)
    return result


def available(start: _Start = None) -> list[KnownGate]:
    """Every gate the project at ``start`` (default: the cwd) can name, with the notebook that wins."""
    return known_gates(config.find_project_root(Path(start) if start is not None else None))


def resolve_model(model_uri: str, start: _Start = None) -> tuple[str, str]:
    """``(name, version)`` of ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``; the version must exist."""
    found = _MODEL_URI.fullmatch(model_uri.strip()) if isinstance(model_uri, str) else None
    if found is None:
        raise InvalidInput(f"--model must be models:/NAME/VERSION or models:/NAME@ALIAS, not {model_uri!r}.")
    name = found["name"]
    if found["alias"]:
        from mlflow.exceptions import MlflowException

        try:
            version = str(store.client(start).get_model_version_by_alias(name, found["alias"]).version)
        except MlflowException as exc:
            if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
                raise
            raise NotFound(
                f"model {name!r} has no alias {found['alias']!r} (or no such model); "
                "nbops registry list shows the models and their aliases."
            ) from None
    else:
        version = found["version"]
    return name, str(registry.get_version(name, version, start).version)


def _report_dir(report: str | Path | None, project_root: Path, name: str, version: str) -> Path:
    if report is not None:
        folder = Path(report).expanduser().resolve()
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = project_root / "gate-reports" / f"{_NAME.sub('_', name)}-v{version}-{stamp}"
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


class _Live:
    """The papermill processes running now, so an interrupted runner leaves none behind."""

    def __init__(self) -> None:
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self.stopping = False

    def add(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.add(proc)
            if self.stopping:
                kill_tree(proc)

    def discard(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.discard(proc)

    def kill_all(self) -> None:
        with self._lock:
            self.stopping = True
            for proc in list(self._procs):
                kill_tree(proc)


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
    live = _Live()
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
    live: _Live,
) -> GateOutcome:
    import yaml

    assert plan.path is not None
    executed = report_dir / f"{plan.name}.ipynb"
    log_path = report_dir / f"{plan.name}.log"
    params_path = report_dir / f"{plan.name}.parameters.yaml"
    params_path.write_text(yaml.safe_dump(plan.params, sort_keys=False, allow_unicode=True))
    executed.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "papermill", str(plan.path), str(executed),
        "--parameters_file", str(params_path),
        "--cwd", str(cwd),
        "--no-progress-bar",
        "--request-save-on-cell-execute",
        "--autosave-cell-every", str(AUTOSAVE_SECONDS),
    ]  # fmt: skip
    env = os.environ | {
        config.ENV_TRACKING_URI: tracking_uri,
        lineage.ENV_NOTEBOOK_PATH: str(plan.path),
        "PYTHONUNBUFFERED": "1",
    }
    outcome = GateOutcome(plan.name, ERROR, "", plan.path, plan.params, executed=executed, ran=True)
    say(f"{plan.name}: running…")
    began = time.monotonic()
    timed_out = False
    with log_path.open("wb") as log:
        try:
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, cwd=cwd, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            outcome.reason = f"could not run: cannot start papermill ({exc.strerror})"
            return outcome
        live.add(proc)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_tree(proc)
            proc.wait()
        finally:
            live.discard(proc)
    outcome.duration = time.monotonic() - began
    judge(outcome, proc.returncode, timed_out, timeout, log_path)
    if outcome.executed is not None:
        outcome.html = to_html(outcome.executed)
    return outcome


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL papermill's process group and the group of every process under it (the kernel's)."""
    groups = {proc.pid}
    with contextlib.suppress(Exception):
        import psutil  # comes with ipykernel

        for child in psutil.Process(proc.pid).children(recursive=True):
            with contextlib.suppress(OSError):
                groups.add(os.getpgid(child.pid))
            with contextlib.suppress(psutil.Error):
                child.kill()
    groups.discard(os.getpgrp())  # never this process's own group
    for group in groups:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
