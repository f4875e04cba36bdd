"""What a reproduction found: the verdict, the metric table and the likely causes, in every form shown.

The same facts are a one-line summary (version tag, model card), a text table (the terminal), a
Markdown/HTML report (artifact, notebook display) and JSON (artifact, ``--json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .comparing import COULD_NOT_RUN, REPRODUCED, MetricRow


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"


@dataclass
class Reproduction:
    """The outcome of ``reproduce``: ``verdict`` is reproduced, differs or could not run."""

    model: str
    version: str
    verdict: str
    metrics: list[MetricRow]
    causes: list[str]
    commit: str
    notebook: str
    source_run_id: str
    parameters: dict[str, Any] = field(default_factory=dict)
    #: The new run's id (None when the notebook could not run or logged no run).
    run_id: str | None = None
    #: The ``nbops-gates`` run that holds the ``reproducible`` gate result and this report.
    record_run_id: str | None = None
    datasets: list[str] = field(default_factory=list)
    environment: list[str] = field(default_factory=list)
    applied_diff: bool = False
    report_dir: Path | None = None
    executed: Path | None = None
    time: str = ""

    @property
    def reproduced(self) -> bool:
        return self.verdict == REPRODUCED

    def summary(self) -> str:
        """One line: the verdict, how many metrics agree, the first cause."""
        agreed = sum(row.ok for row in self.metrics)
        head = f"{self.verdict} on {self.time}: {agreed} of {len(self.metrics)} metrics within tolerance"
        if self.verdict == COULD_NOT_RUN:
            head = f"{self.verdict} on {self.time}"
        where = f" (commit {self.commit[:12]}{', recorded diff applied' if self.applied_diff else ''})"
        cause = f"; {self.causes[0]}" if self.causes else ""
        return head + where + cause

    def metrics_table(self) -> str:
        """The metric table as aligned text, for the terminal."""
        header = ("METRIC", "ORIGINAL", "NEW", "DIFFERENCE", "TOLERANCE", "")
        rows = [
            (r.name, _number(r.original), _number(r.new), "missing" if r.difference is None else f"{r.difference:.3%}",
             f"{r.tolerance:.2%}", "ok" if r.ok else "DIFFERS")
            for r in self.metrics
        ]  # fmt: skip
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        return "\n".join(
            "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]
        )

    def to_markdown(self) -> str:
        lines = [
            f"# Reproduction of {self.model} version {self.version}",
            "",
            f"**Verdict: {self.verdict}** ({self.time})",
            "",
            f"Notebook `{self.notebook}` at commit `{self.commit}`"
            + (" with the recorded uncommitted diff applied" if self.applied_diff else "")
            + f"; original run `{self.source_run_id}`, new run `{self.run_id or '—'}`.",
            "",
        ]
        if self.causes:
            lines += ["## Likely causes", "", *[f"- {c}" for c in self.causes], ""]
        if self.metrics:
            lines += [
                "## Metrics",
                "",
                "| Metric | Original | New | Difference | Tolerance | |",
                "|---|---|---|---|---|---|",
            ]
            for r in self.metrics:
                diff = "missing" if r.difference is None else f"{r.difference:.3%}"
                mark = "ok" if r.ok else "**differs**"
                lines.append(
                    f"| {r.name} | {_number(r.original)} | {_number(r.new)} | {diff} | {r.tolerance:.2%} | {mark} |"
                )
            lines.append("")
        if self.parameters:
            lines += ["## Parameters", "", *[f"- `{k}` = `{v!r}`" for k, v in self.parameters.items()], ""]
        lines += ["## Environment", ""]
        lines += [f"- {e}" for e in self.environment] or [
            "- every pinned requirement is installed at its version"
        ]
        return "\n".join(lines) + "\n"

    def _repr_html_(self) -> str:
        from ..cards import to_html_fragment

        return to_html_fragment(self.to_markdown())

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "verdict": self.verdict,
            "time": self.time,
            "summary": self.summary(),
            "causes": list(self.causes),
            "metrics": [r.to_dict() for r in self.metrics],
            "datasets": list(self.datasets),
            "environment": list(self.environment),
            "commit": self.commit,
            "notebook": self.notebook,
            "applied_diff": self.applied_diff,
            "parameters": {k: repr(v) for k, v in self.parameters.items()},
            "source_run_id": self.source_run_id,
            "run_id": self.run_id,
            "record_run_id": self.record_run_id,
            "report_dir": str(self.report_dir) if self.report_dir else None,
        }
