"""Where a reproduction's verdict is kept, and how the latest one is read back.

A verdict is recorded like any gate result, as the gate ``reproducible`` (an ``nbops-gates`` run
with a ``check.<metric>`` metric per compared metric, the version tag ``nbops.gate.reproducible``
and a ``gate`` audit event, by ``gate_records.record``), so ``[tool.nbops.policy]`` can require it
like any gate. Beside it: the report (JSON and HTML) as artifacts of that run, the version tags
``nbops.reproduce`` (``<verdict> <run id> <UTC time>``, the verdict's spaces as hyphens),
``nbops.reproduce.verdict`` (the verdict alone) and ``nbops.reproduce.summary`` (the line the model
card and the sidebar show), a ``reproduce`` audit event, and the model card re-rendered.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import audit, gate, gate_records, registry, store
from ..gate_verdicts import ERROR, FAILED, PASSED, GateOutcome
from .comparing import COULD_NOT_RUN, REPRODUCED
from .result import Reproduction

_Start = Any

#: The gate name a reproduction's verdict is recorded under (``nbops.gate.reproducible``).
GATE = "reproducible"
TAG = "nbops.reproduce"
SUMMARY_TAG = "nbops.reproduce.summary"
#: The verdict alone, as words ("could not run"): for readers that want no parsing.
VERDICT_TAG = "nbops.reproduce.verdict"
REPORT_TAG = "nbops.reproduce.report"
#: Where the report lands among the artifacts of the recording run.
ARTIFACT_FOLDER = "reproduce"


def _checks(result: Reproduction) -> list[gate.Check]:
    return [
        gate.Check(
            row.name if row.difference is not None else f"{row.name} (missing)",
            row.difference if row.difference is not None and row.difference != float("inf") else 1.0,
            "<=",
            row.tolerance,
            row.ok,
        )
        for row in result.metrics
    ]


def record(result: Reproduction, duration: float, start: _Start = None) -> None:
    """Keep the verdict on the version, in the audit log and as the ``reproducible`` gate result."""
    gate_result = {REPRODUCED: PASSED, COULD_NOT_RUN: ERROR}.get(result.verdict, FAILED)
    outcome = GateOutcome(
        name=GATE,
        result=gate_result,
        reason=result.summary(),
        notebook=Path(result.notebook),
        parameters={"commit": result.commit, "source_run_id": result.source_run_id, **result.parameters},
        checks=_checks(result),
        executed=result.executed,
        html=None,
        duration=duration,
        ran=True,
    )
    gate_records.record(outcome, result.model, result.version, start)
    result.record_run_id = outcome.run_id
    client = store.client(start)
    report = json.dumps(result.to_dict(), indent=2)
    client.log_text(outcome.run_id, report, f"{ARTIFACT_FOLDER}/reproduce.json")
    title = f"Reproduction of {result.model} v{result.version}"
    from ..cards import to_html_document

    client.log_text(
        outcome.run_id, to_html_document(result.to_markdown(), title), f"{ARTIFACT_FOLDER}/reproduce.html"
    )
    if result.report_dir is not None:
        (result.report_dir / "reproduce.json").write_text(report, encoding="utf-8")
        (result.report_dir / "reproduce.html").write_text(
            to_html_document(result.to_markdown(), title), encoding="utf-8"
        )
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for key, value in (
        (TAG, f"{result.verdict.replace(' ', '-')} {outcome.run_id} {stamp}"),
        (SUMMARY_TAG, result.summary()[:5000]),
        (VERDICT_TAG, result.verdict),
        (REPORT_TAG, f"runs:/{outcome.run_id}/{ARTIFACT_FOLDER}/reproduce.json"),
    ):
        client.set_model_version_tag(result.model, result.version, key, value)
    audit.append(
        "reproduce",
        model=result.model,
        version=result.version,
        details={"verdict": result.verdict, "run_id": result.run_id, "record_run_id": outcome.run_id,
                 "commit": result.commit},
        reason=result.summary()[: audit.REASON_LIMIT],
        source="nbops reproduce",
        start=start,
    )  # fmt: skip
    registry.refresh_card(result.model, result.version, start=start)


def latest(model: str, version: str | int, start: _Start = None) -> dict[str, Any] | None:
    """The latest verdict on a version (for the sidebar's version detail and assessments), or None.

    ``{"verdict", "time", "run_id", "reproduced_run_id", "summary", "metrics", "report"}``: ``run_id``
    is the ``nbops-gates`` run holding the report (``report`` is its ``runs:/`` URI), ``metrics`` the
    report's rows (empty, and ``reproduced_run_id`` None, when the report cannot be read).
    """
    mv = registry.get_version(model, version, start)
    value = mv.tags.get(TAG, "").split()
    if not value:
        return None
    found: dict[str, Any] = {
        "verdict": mv.tags.get(VERDICT_TAG) or value[0].replace("-", " "),
        "time": value[2] if len(value) > 2 else None,
        "run_id": value[1] if len(value) > 1 else None,
        "reproduced_run_id": None,
        "summary": mv.tags.get(SUMMARY_TAG, ""),
        "metrics": [],
        "report": mv.tags.get(REPORT_TAG),
    }
    if found["run_id"]:
        report = _report(found["run_id"], start)
        found["reproduced_run_id"] = report.get("run_id")
        found["metrics"] = report.get("metrics", [])
    return found


def _report(run_id: str, start: _Start) -> dict[str, Any]:
    """The JSON report kept with the recording run; empty when it is gone or unreadable."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = store.client(start).download_artifacts(run_id, f"{ARTIFACT_FOLDER}/reproduce.json", folder)
            report = json.loads(Path(path).read_text(encoding="utf-8"))
        except Exception:  # a deleted run or artifact: the verdict still stands, without its table
            return {}
    return report if isinstance(report, dict) else {}
