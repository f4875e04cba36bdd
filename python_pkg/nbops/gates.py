"""Running gate notebooks against a model version: one runner for the CLI, the magic and Python.

``run(["performance", "path/to/gate.ipynb"], "models:/churn/3", {"data_path": "holdout.csv"})``

1. **Checked first, nothing runs otherwise.** The model version must exist (an alias is resolved to
   its version, so every gate tests the same one). Each gate must be a notebook with a papermill
   ``parameters`` cell, and every parameter must be one a gate declares, with the declared type
   (``papermill.inspect_notebook``). A plain ``key`` goes to every gate that declares it and is
   refused when none does; ``gate.key`` goes to that gate only. ``model_uri`` is always passed.
   When a gate is refused, no gate runs: each is reported as ``error``.
2. **Each gate in its own process group.** ``python -m papermill`` is started in a new session,
   ``parallel`` at a time. The kernel papermill starts makes a session of its own, so at the
   timeout the runner kills every process group under papermill's (kernel and its children
   included). The executed notebook is written after every cell, so a killed gate's partial
   notebook is kept.
3. **A verdict per gate.** ``gate.verdict`` on the executed notebook, overruled by what the
   runner saw: a timeout, a dead kernel, papermill stopping. ``sys.exit(0)`` in a cell fails the
   gate too: a gate passes only when it runs to its end. A gate that papermill could not start
   (no kernel, unreadable notebook) is ``error``.
4. **Recorded.** An MLflow run per executed gate in experiment ``nbops-gates`` (parameters, a
   ``check.<name>`` metric per check, the executed notebook and its HTML), the version tag
   ``nbops.gate.<gate> = "<result> <run id> <UTC time>"``, an audit event, and the model card
   refreshed once at the end. Refused gates did not run and record nothing.
5. **Reported** in a folder (default ``gate-reports/<model>-v<version>-<UTC time>`` under the
   project root): ``<gate>.ipynb``, ``<gate>.html``, ``<gate>.log`` (papermill's output) and
   ``junit.xml`` with a test suite per gate: a test case per check, and a ``run`` test case that
   fails when the notebook stopped early and errors when the gate could not run.

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
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import audit, config, gate, lineage, registry, store
from .errors import InvalidInput, NotFound

_Start = Path | str | None

EXPERIMENT = "nbops-gates"
#: Prefix of the model version tags (``nbops.gate.<gate>``) and of the gate runs' tags.
TAG_PREFIX = "nbops.gate."
SHIPPED = ("performance", "data_validation", "fairness", "latency")
PASSED, FAILED, ERROR = "passed", "failed", "error"
#: How often papermill saves a cell that is still running, so a killed gate keeps its outputs.
AUTOSAVE_SECONDS = 5
_TYPES: dict[str, Callable[[Any], bool]] = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
}
_NAME = re.compile(r"[^\w.\-]")
_MODEL_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[^/@]+))")


@dataclass
class GateOutcome:
    """What became of one gate."""

    name: str
    result: str  # passed | failed | error
    reason: str
    notebook: Path | None
    parameters: dict[str, Any] = field(default_factory=dict)
    checks: list[gate.Check] = field(default_factory=list)
    executed: Path | None = None
    html: Path | None = None
    run_id: str | None = None
    duration: float = 0.0
    #: ``True`` when papermill was started (and so the gate is recorded).
    ran: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "result": self.result,
            "reason": self.reason,
            "notebook": str(self.notebook) if self.notebook else None,
            "parameters": self.parameters,
            "checks": [c.to_dict() for c in self.checks],
            "executed": str(self.executed) if self.executed else None,
            "html": str(self.html) if self.html else None,
            "run_id": self.run_id,
            "duration": round(self.duration, 3),
        }


@dataclass
class GateReport:
    """Every gate's outcome for one model version, and where the report files are."""

    model: str
    version: str
    outcomes: list[GateOutcome]
    report_dir: Path
    junit: Path

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model}/{self.version}"

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(o.result == PASSED for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """0 when every gate passed, 2 when a gate could not run, else 1."""
        results = {o.result for o in self.outcomes}
        if ERROR in results:
            return 2
        return 0 if self.passed else 1

    def summary_table(self) -> str:
        header = ("GATE", "RESULT", "CHECKS", "TIME", "REASON")
        rows = [
            (
                o.name,
                o.result,
                f"{sum(c.passed for c in o.checks)}/{len(o.checks)}" if o.checks else "—",
                f"{o.duration:.1f} s" if o.ran else "—",
                o.reason,
            )
            for o in self.outcomes
        ]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
        lines = [
            "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]]).rstrip()
            for row in [header, *rows]
        ]
        verdict = {0: "all gates passed", 1: "a gate failed", 2: "a gate could not run"}[self.exit_code]
        lines.append(f"{self.model_uri}: {verdict}; report in {self.report_dir}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "passed": self.passed,
            "exit_code": self.exit_code,
            "report_dir": str(self.report_dir),
            "junit": str(self.junit),
            "gates": [o.to_dict() for o in self.outcomes],
        }


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
    """Run ``gates`` (shipped names or notebook paths) against ``model_uri`` and record the verdicts.

    Raises ``InvalidInput``/``NotFound`` for a malformed call or a missing model version; a gate
    that is refused or cannot run is reported (``error``), not raised.
    """
    if isinstance(gates, str) or not gates:
        raise InvalidInput(
            "name at least one gate: performance, data_validation, fairness, latency or a path."
        )
    if not isinstance(parallel, int) or parallel < 1:
        raise InvalidInput(f"--parallel must be a whole number of at least 1, not {parallel!r}.")
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not timeout > 0:
        raise InvalidInput(f"--timeout must be a number of seconds above 0, not {timeout!r}.")
    settings = store.settings(start)
    name, version = resolve_model(model_uri, start)
    resolved = [_locate(g, settings.project_root) for g in gates]
    _refuse_duplicates(resolved)
    plans = _plan(resolved, f"models:/{name}/{version}", dict(parameters or {}))

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
            say(_line(outcome))
    else:
        outcomes = _execute_all(
            plans,
            report_dir,
            settings.tracking_uri,
            parallel,
            timeout,
            say,
            lambda o: _record(o, name, version, start),
        )
        registry.refresh_card(name, version, start=start)
    result = GateReport(name, version, outcomes, report_dir, junit_path)
    write_junit(result, junit_path)
    return result


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


# --- before anything runs --------------------------------------------------------------------------


@dataclass
class _Plan:
    name: str
    path: Path | None
    declared: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    #: Set when the gate cannot run (an ``error`` outcome).
    outcome: GateOutcome | None = None


def shipped_gate(name: str, project_root: Path) -> Path:
    """Where a shipped gate's notebook is: the project's own copy wins, so a team can edit it.

    Then the copy inside the installed package (the wheel carries ``notebooks/gates`` as
    ``nbops/gate_notebooks``), then the source checkout of an editable install.
    """
    here = Path(__file__).parent
    candidates = [
        project_root / "notebooks" / "gates" / f"{name}.ipynb",
        here / "gate_notebooks" / f"{name}.ipynb",
        here.parents[1] / "notebooks" / "gates" / f"{name}.ipynb",
    ]
    return next((c for c in candidates if c.is_file()), candidates[0])


def _locate(gate_name: str, project_root: Path) -> _Plan:
    text = str(gate_name).strip()
    if text in SHIPPED:
        path = shipped_gate(text, project_root)
        label = text
    else:
        path = Path(text).expanduser()
        label = _NAME.sub("_", path.stem) or "gate"
    path = path.resolve()
    if not path.is_file():
        why = (
            f"no notebook {path}"
            if text not in SHIPPED
            else f"the shipped gate is not at {path} and not in the installed package (reinstall nbops)"
        )
        hint = f"name a notebook path or one of {', '.join(SHIPPED)}"
        return _Plan(label, path, outcome=GateOutcome(label, ERROR, f"could not run: {why}; {hint}", path))
    return _Plan(label, path)


def _refuse_duplicates(plans: list[_Plan]) -> None:
    seen: dict[str, Path | None] = {}
    for plan in plans:
        if plan.name in seen:
            raise InvalidInput(
                f"two gates are named {plan.name!r} ({seen[plan.name]} and {plan.path}); "
                "each gate records its verdict under its name, so rename one notebook."
            )
        seen[plan.name] = plan.path


def _plan(plans: list[_Plan], model_uri: str, parameters: dict[str, Any]) -> list[_Plan]:
    """Each gate's parameters, or the reason it is refused (nothing is executed)."""
    import nbformat
    import papermill

    names = {p.name for p in plans}
    plain: dict[str, Any] = {}
    scoped: dict[str, dict[str, Any]] = {}
    for key, value in parameters.items():
        if not isinstance(key, str) or not key:
            raise InvalidInput(f"a parameter name must be text, not {key!r}.")
        if key == "model_uri" or key.endswith(".model_uri"):
            raise InvalidInput("model_uri is set by --model; do not pass it as a parameter.")
        if value is not None and not isinstance(value, str | int | float | bool | list | dict):
            raise InvalidInput(
                f"parameter {key!r} must be text, a number, a bool, None, a list or a dict, not {type(value).__name__}."
            )
        if "." in key:
            gate_name, _, param = key.partition(".")
            if gate_name not in names:
                raise InvalidInput(
                    f"parameter {key!r} names gate {gate_name!r}, which is not in this run "
                    f"({', '.join(sorted(names))})."
                )
            scoped.setdefault(gate_name, {})[param] = value
        else:
            plain[key] = value

    for plan in plans:
        if plan.outcome is not None:
            continue
        try:
            nb = nbformat.read(plan.path, as_version=4)
            plan.declared = papermill.inspect_notebook(str(plan.path))
        except Exception as exc:  # any unreadable notebook is the same refusal
            plan.outcome = _refused(plan, f"could not read the notebook ({_first_line(exc)})")
            continue
        if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
            plan.outcome = _refused(
                plan,
                "the notebook has no cell tagged 'parameters'; tag the cell that sets model_uri "
                "and the thresholds (see templates/gate.ipynb)",
            )
    undeclared = [k for k in plain if not any(k in p.declared for p in plans)]
    for plan in plans:
        if plan.outcome is not None:
            continue
        problems = []
        if "model_uri" not in plan.declared:
            problems.append("it does not declare model_uri")
        wanted = {k: v for k, v in plain.items() if k in plan.declared} | scoped.get(plan.name, {})
        for key, value in wanted.items():
            declared = plan.declared.get(key)
            if declared is None:
                problems.append(f"it does not declare {key!r}")
                continue
            kind = declared.get("inferred_type_name") or "None"
            if kind in _TYPES and not _TYPES[kind](value):
                problems.append(f"{key!r} must be {kind}, not {type(value).__name__} {value!r}")
        problems.extend(f"it does not declare {key!r}" for key in undeclared)
        if problems:
            plan.outcome = _refused(plan, "refused: " + "; ".join(problems))
        else:
            plan.params = {"model_uri": model_uri} | wanted
    return plans


def _refused(plan: _Plan, why: str) -> GateOutcome:
    declared = ", ".join(f"{k} ({v.get('inferred_type_name') or '?'})" for k, v in plan.declared.items())
    listing = f"; it declares: {declared}" if declared else ""
    return GateOutcome(plan.name, ERROR, f"{why}{listing}", plan.path)


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


def _line(o: GateOutcome) -> str:
    if o.result == ERROR:
        return f"{o.name}: error: {o.reason}"
    count = f"{len(o.checks)} check{'s' if len(o.checks) != 1 else ''}"
    line = f"{o.name}: {o.result} ({count}, {o.duration:.1f} s)"
    return line if o.result == PASSED else f"{line}: {o.reason}"


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
    plans: list[_Plan],
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
                say(_line(outcome))
    except BaseException:
        live.kill_all()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [outcomes[p.name] for p in plans]


def _execute(
    plan: _Plan,
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
    _judge(outcome, proc.returncode, timed_out, timeout, log_path)
    if outcome.executed is not None:
        outcome.html = _to_html(outcome.executed)
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


def _judge(outcome: GateOutcome, returncode: int, timed_out: bool, timeout: float, log_path: Path) -> None:
    """Set the result and reason of an executed gate from its notebook and what the runner saw."""
    import nbformat

    log = log_path.read_text(errors="replace") if log_path.exists() else ""
    nb = None
    if outcome.executed is not None and outcome.executed.exists():
        try:
            nb = nbformat.read(outcome.executed, as_version=4)
        except Exception:  # a notebook cut short while being written
            nb = None
    if nb is None:
        outcome.executed = None
        if timed_out:
            outcome.result = FAILED
            outcome.reason = f"timed out after {timeout:g} s before the notebook was written"
        else:
            outcome.reason = (
                f"could not run: {_papermill_error(log) or f'papermill exited with {returncode}'}"
            )
        return
    outcome.checks = gate.checks_from_notebook(nb)
    status, reason = gate.verdict(nb)
    reason = _plain_errors(reason, nb)
    executed_any = any(c.get("execution_count") is not None for c in nb.cells if c.get("cell_type") == "code")
    runner_problem = None
    if timed_out:
        cell = _cell_in_state(nb, "running")
        runner_problem = f"timed out after {timeout:g} s" + (
            f" while running cell {cell}" if cell is not None else ""
        )
    elif "DeadKernelError" in log:
        cell = _last_started(nb)
        runner_problem = "the kernel died" + (f" while running cell {cell}" if cell is not None else "")
    elif returncode != 0 and not gate.errors_in_notebook(nb):
        if not executed_any:
            outcome.reason = (
                f"could not run: {_papermill_error(log) or f'papermill exited with {returncode}'}"
            )
            return
        runner_problem = f"papermill stopped ({_papermill_error(log) or f'exit code {returncode}'})"
    if runner_problem is not None:
        outcome.result = FAILED
        others = (
            [p for p in reason.split("; ") if p and p != "the gate made no check"] if status == FAILED else []
        )
        outcome.reason = "; ".join([runner_problem, *others])
        return
    outcome.result, outcome.reason = status, reason


def _plain_errors(reason: str, nb: Any) -> str:
    """Say what ``sys.exit`` and KeyboardInterrupt meant, in ``gate.verdict``'s reason."""
    for index, ename, evalue in gate.errors_in_notebook(nb):
        said = f"cell {index} raised {ename}: {evalue}" if evalue else f"cell {index} raised {ename}"
        if ename == "SystemExit":
            code = evalue or "None"
            meant = (
                f"cell {index} called sys.exit({code}): the gate stopped before its end"
                if code in ("0", "None")
                else f"cell {index} called sys.exit({code})"
            )
        elif ename == "KeyboardInterrupt":
            meant = f"cell {index} was interrupted (KeyboardInterrupt)"
        else:
            continue
        reason = reason.replace(said, meant, 1)
    return reason


def _cell_in_state(nb: Any, state: str) -> int | None:
    for index, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("papermill", {}).get("status") == state:
            return index
    return None


def _last_started(nb: Any) -> int | None:
    """The cell the kernel died in: the last one papermill started (it marks every cell "completed")."""
    started = [
        index
        for index, cell in enumerate(nb.cells)
        if cell.get("metadata", {}).get("papermill", {}).get("start_time") is not None
    ]
    return started[-1] if started else None


def _papermill_error(log: str) -> str | None:
    """The last ``SomeError: message`` line papermill printed."""
    found = re.findall(r"^(\w[\w.]*(?:Error|Exception)\b.*)$", log, flags=re.MULTILINE)
    return found[-1].strip()[:300] if found else None


def _to_html(executed: Path) -> Path | None:
    """The executed notebook as HTML; widget state is dropped so text/html fallbacks show."""
    import nbformat
    from nbconvert import HTMLExporter

    try:
        nb = nbformat.read(executed, as_version=4)
        nb.metadata.pop("widgets", None)
        body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    except Exception:  # the report still has the notebook itself
        return None
    html = executed.with_suffix(".html")
    html.write_text(body, encoding="utf-8")
    return html


# --- recording ---------------------------------------------------------------------------------


def _record(outcome: GateOutcome, name: str, version: str, start: _Start) -> None:
    """An MLflow run, the version tag, an audit event; only for gates that were started."""
    if not outcome.ran:
        return
    from mlflow.entities import Metric, Param

    client = store.client(start)
    experiment_id = store.ensure_experiment(EXPERIMENT, start)
    now = datetime.now(UTC)
    started = int((now.timestamp() - outcome.duration) * 1000)
    run = client.create_run(
        experiment_id,
        start_time=started,
        tags={
            TAG_PREFIX + "name": outcome.name,
            TAG_PREFIX + "result": outcome.result,
            TAG_PREFIX + "model": name,
            TAG_PREFIX + "version": str(version),
            TAG_PREFIX + "reason": outcome.reason[:5000],
            lineage.TAG_NOTEBOOK: str(outcome.notebook),
        },
        run_name=f"{outcome.name} {name} v{version}",
    )
    run_id = run.info.run_id
    outcome.run_id = run_id
    try:
        params = [Param(k[:250], _param_text(v)) for k, v in outcome.parameters.items()]
        steps: dict[str, int] = {}
        metrics = []
        for check in outcome.checks:
            key = "check." + re.sub(r"[^/\w.\- :]", "_", check.name)[:240]
            metrics.append(Metric(key, float(check.value), int(now.timestamp() * 1000), steps.get(key, 0)))
            steps[key] = steps.get(key, 0) + 1
        client.log_batch(run_id, metrics=metrics, params=params)
        for path in (outcome.executed, outcome.html):
            if path is not None and path.exists():
                client.log_artifact(run_id, str(path), "gate")
    finally:
        client.set_terminated(run_id, "FINISHED" if outcome.result == PASSED else "FAILED")
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    client.set_model_version_tag(
        name, str(version), TAG_PREFIX + outcome.name, f"{outcome.result} {run_id} {stamp}"
    )
    audit.append(
        "gate",
        model=name,
        version=version,
        details={"gate": outcome.name, "result": outcome.result, "run_id": run_id},
        reason=outcome.reason[: audit.REASON_LIMIT],
        source="gate runner",
        start=start,
    )


def _param_text(value: Any) -> str:
    text = "None" if value is None else str(value)
    return text if len(text) <= 6000 else text[:5999] + "…"


# --- JUnit -------------------------------------------------------------------------------------


def write_junit(report: GateReport, path: Path) -> Path:
    """A test suite per gate: a test case per check, and a ``run`` case for the notebook itself."""
    suites = ET.Element("testsuites", name=f"nbops gates {report.model_uri}")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for o in report.outcomes:
        suite = ET.SubElement(suites, "testsuite", name=o.name, time=f"{o.duration:.3f}")
        props = ET.SubElement(suite, "properties")
        for key, value in (("model_uri", report.model_uri), ("notebook", o.notebook), ("run_id", o.run_id)):
            if value:
                ET.SubElement(props, "property", name=key, value=str(value))
        counts = {"tests": 0, "failures": 0, "errors": 0}
        classname = f"nbops.gates.{o.name}"
        for check in o.checks:
            case = ET.SubElement(suite, "testcase", classname=classname, name=check.name, time="0")
            counts["tests"] += 1
            if not check.passed:
                counts["failures"] += 1
                ET.SubElement(case, "failure", message=str(check), type="check failed").text = str(check)
        case = ET.SubElement(suite, "testcase", classname=classname, name="run", time=f"{o.duration:.3f}")
        counts["tests"] += 1
        if o.result == ERROR:
            counts["errors"] += 1
            ET.SubElement(case, "error", message=o.reason, type="could not run").text = o.reason
        elif o.result == FAILED and not _only_checks_failed(o):
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=o.reason, type="stopped").text = o.reason
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
    return path


def _only_checks_failed(o: GateOutcome) -> bool:
    failed = [c for c in o.checks if not c.passed]
    return bool(failed) and o.reason.startswith(f"{len(failed)} of {len(o.checks)} checks failed")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
