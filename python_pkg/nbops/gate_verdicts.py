"""What became of each gate: the outcome of one gate, the report of a run, and the judging.

A gate's verdict is ``gate.verdict`` on its executed notebook, overruled by what the runner saw:
a timeout, a dead kernel, papermill stopping. ``sys.exit(0)`` in a cell fails the gate too: a gate
passes only when it runs to its end. A gate that papermill could not start (no kernel, unreadable
notebook) is ``error``.

Every cell a reason names is named as the gate's author counts it, with the prompt the executed
notebook shows beside it (``cell 3 (In [4]): ValueError: threshold must be positive``). The
position is among the cells the author wrote, markdown cells included; papermill's injected
parameters cell and the error banners it inserts are not counted. The prompt is the executed
notebook's, so it counts the injected parameters cell, which ran first.

Plain Python: nbformat is imported when a notebook is judged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import gate

PASSED, FAILED, ERROR = "passed", "failed", "error"


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

    def line(self) -> str:
        """The progress line printed when the gate is done."""
        if self.result == ERROR:
            return f"{self.name}: error: {self.reason}"
        count = f"{len(self.checks)} check{'s' if len(self.checks) != 1 else ''}"
        line = f"{self.name}: {self.result} ({count}, {self.duration:.1f} s)"
        return line if self.result == PASSED else f"{line}: {self.reason}"


@dataclass
class GateReport:
    """Every gate's outcome for one model or prompt version, and where the report files are."""

    model: str
    version: str
    outcomes: list[GateOutcome]
    report_dir: Path
    junit: Path

    @property
    def model_uri(self) -> str:
        """``models:/NAME/VERSION``, or ``prompts:/NAME/VERSION`` for a prompt (``model`` is ``prompts:/NAME``)."""
        if self.model.startswith("prompts:/"):
            return f"{self.model}/{self.version}"
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


def judge(outcome: GateOutcome, returncode: int, timed_out: bool, timeout: float, log_path: Path) -> None:
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
            outcome.reason = f"could not run: {papermill_error(log) or f'papermill exited with {returncode}'}"
        return
    outcome.checks = gate.checks_from_notebook(nb)
    status, reason = gate.verdict(nb)
    executed_any = any(c.get("execution_count") is not None for c in nb.cells if c.get("cell_type") == "code")
    runner_problem = None
    if timed_out:
        cell = _cell_in_state(nb, "running")
        runner_problem = f"timed out after {timeout:g} s" + (
            f" while running {gate.name_of_cell(nb, cell)}" if cell is not None else ""
        )
    elif "DeadKernelError" in log:
        cell = _last_started(nb)
        runner_problem = "the kernel died" + (
            f" while running {gate.name_of_cell(nb, cell)}" if cell is not None else ""
        )
    elif returncode != 0 and not gate.errors_in_notebook(nb):
        if not executed_any:
            outcome.reason = f"could not run: {papermill_error(log) or f'papermill exited with {returncode}'}"
            return
        runner_problem = f"papermill stopped ({papermill_error(log) or f'exit code {returncode}'})"
    if runner_problem is not None:
        outcome.result = FAILED
        others = (
            [p for p in reason.split("; ") if p and p != "the gate made no check"] if status == FAILED else []
        )
        outcome.reason = "; ".join([runner_problem, *others])
        return
    outcome.result, outcome.reason = status, reason


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


def papermill_error(log: str) -> str | None:
    """The last ``SomeError: message`` line papermill printed that says something."""
    found = re.findall(r"^(\w[\w.]*(?:Error|Exception)\b.*)$", log, flags=re.MULTILINE)
    said = [line.strip() for line in found if not line.strip().endswith(":")]
    return said[-1][:300] if said else None
