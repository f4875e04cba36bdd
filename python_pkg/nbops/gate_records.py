"""What a gate run leaves behind: MLflow records, and the report files CI and people read.

- **Recorded** for every gate that was started: an MLflow run in experiment ``nbops-gates``
  (parameters, a ``check.<name>`` metric per check, the executed notebook and its HTML), the
  model or prompt version tag ``nbops.gate.<gate> = "<result> <run id> <UTC time>"`` (what the promotion policy
  reads) and an audit event. Refused gates did not run and record nothing.
- **Reported**: each executed notebook as HTML, and ``junit.xml`` with a test suite per gate: a
  test case per check, and a ``run`` test case that fails when the notebook stopped early and
  errors when the gate could not run.

MLflow and nbconvert are imported when used.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import audit, lineage, store
from .gate_verdicts import ERROR, FAILED, PASSED, GateOutcome

if TYPE_CHECKING:
    from .gate_verdicts import GateReport

_Start = Path | str | None

EXPERIMENT = "nbops-gates"
#: Prefix of the model and prompt version tags (``nbops.gate.<gate>``) and of the gate runs' tags.
TAG_PREFIX = "nbops.gate."
#: A prompt is recorded under its registry address, ``prompts:/NAME`` (``registry.versions``).
PROMPT_PREFIX = "prompts:/"


def record(outcome: GateOutcome, name: str, version: str, start: _Start) -> None:
    """An MLflow run, the version tag, an audit event; only for gates that were started.

    ``name`` is a registered model's, or ``prompts:/NAME`` for a prompt version (its audit events
    and promotions use that address too).
    """
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
    verdict = f"{outcome.result} {run_id} {stamp}"
    if name.startswith(PROMPT_PREFIX):  # the prompt version carries it, as a model version does
        client.set_prompt_version_tag(
            name.removeprefix(PROMPT_PREFIX), str(version), TAG_PREFIX + outcome.name, verdict
        )
    else:
        client.set_model_version_tag(name, str(version), TAG_PREFIX + outcome.name, verdict)
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


def to_html(executed: Path) -> Path | None:
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
