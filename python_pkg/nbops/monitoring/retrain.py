"""Closing the loop: an alert that names a retrain notebook produces a gated challenger.

When a rule with ``retrain = "notebooks/retrain.ipynb"`` opens an alert (once per episode),
nbops runs that notebook with papermill — parameters ``model_name``, ``reason``, ``alert_id`` (each
only if the notebook declares it) plus the rule's ``retrain_parameters`` (the data location,
say). Text values may use ``{project_root}``, ``{report_dir}`` (this retrain's folder) and
``{model_name}``, in the gate parameters too, so the notebook can leave its holdout set where the
gates will read it. The notebook trains and registers a new version with the alias ``challenger``; nbops then
runs the gates ``[tool.nbops.policy]`` requires for ``champion`` on it.

Nothing is promoted unless ``[tool.nbops.monitoring] auto_promote = true`` *and* every required
gate passed; even then the promotion goes through ``registry.promote`` and its policy. Every step
is an audit event (``retrain`` with ``details.step``) and the outcome is written on the alert.
The notebook runs in its own process group with a timeout (``retrain_timeout``, default one
hour); its executed copy is kept in ``monitoring-reports/`` under the project root.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import audit, config, gates, jobs, registry, store
from ..errors import NbopsError

_Start = Path | str | None

CHALLENGER, CHAMPION = "challenger", "champion"
DEFAULT_TIMEOUT = 3600.0


def run(rule: Any, alert: dict[str, Any], start: _Start = None) -> dict[str, Any]:
    """Retrain for ``alert``, gate the challenger, maybe promote; returns the alert with the outcome."""
    from . import alerting

    name, version = alert["model"], alert["version"]
    settings = config.resolve(start)
    options = settings.tool.get("monitoring", {}) if isinstance(settings.tool.get("monitoring"), dict) else {}
    notebook = Path(rule.retrain)
    if not notebook.is_absolute():
        notebook = settings.project_root / notebook
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = settings.project_root / "monitoring-reports" / f"retrain-{name}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)

    def step(what: str, **details: str) -> None:
        audit.append(
            "retrain",
            model=name,
            version=str(version),
            reason=alert.get("message"),
            source="monitoring",
            details={"step": what, "rule": rule.name, "alert": alert["id"], **details},
            start=start,
        )

    places = {"project_root": str(settings.project_root), "report_dir": str(folder), "model_name": name}
    outcome: dict[str, str] = {"retrain_notebook": str(folder / notebook.name)}
    step("started", notebook=str(notebook))
    began = time.time()
    try:
        if not notebook.is_file():
            raise NbopsError(
                f"the retrain notebook {notebook} does not exist; fix the retrain path of rule {rule.name}."
            )
        jobs.execute(
            notebook,
            folder / notebook.name,
            expand(_parameters(notebook, rule, alert), places),
            settings.tracking_uri,
            float(options.get("retrain_timeout", DEFAULT_TIMEOUT)),
        )
        challenger = _new_challenger(name, began, start)
        outcome["challenger_version"] = challenger
        step("trained", challenger=challenger)
        required = registry.required_gates(CHAMPION, start, model=name)
        if required:
            report = gates.run(
                required,
                f"models:/{name}/{challenger}",
                expand(dict(rule.gate_parameters), places),
                report=folder / "gates",
                start=start,
            )
            outcome["gates"] = "passed" if report.passed else "failed"
            step("gated", challenger=challenger, gates=outcome["gates"])
        else:
            outcome["gates"] = "none required"
        if options.get("auto_promote") is True and outcome["gates"] == "passed":
            registry.promote(
                name,
                challenger,
                CHAMPION,
                reason=f"automatic promotion after retraining: {alert.get('message')}",
                source="monitoring",
                start=start,
            )
            outcome["promoted"] = "true"
        outcome["retrain_state"] = "succeeded"
        step("finished", **{k: v for k, v in outcome.items() if k != "retrain_notebook"})
    except NbopsError as exc:
        outcome["retrain_state"] = "failed"
        outcome["retrain_error"] = str(exc)[:500]
        step("failed", error=str(exc)[:500])
    return alerting.set_fields(alert, outcome, start)


def expand(parameters: dict[str, Any], places: dict[str, str]) -> dict[str, Any]:
    """Fill ``{project_root}``-style placeholders in text values; other braces are left alone."""
    out = {}
    for key, value in parameters.items():
        if isinstance(value, str):
            for place, text in places.items():
                value = value.replace("{" + place + "}", text)
        out[key] = value
    return out


def _parameters(notebook: Path, rule: Any, alert: dict[str, Any]) -> dict[str, Any]:
    import papermill

    try:
        declared = papermill.inspect_notebook(str(notebook))
    except Exception as exc:
        raise NbopsError(f"cannot read the retrain notebook {notebook}: {exc}") from None
    offered = {"model_name": alert["model"], "reason": alert.get("message", ""), "alert_id": alert["id"]}
    params = {k: v for k, v in offered.items() if k in declared}
    undeclared = sorted(set(rule.retrain_parameters) - set(declared))
    if undeclared:
        raise NbopsError(
            f"the retrain notebook {notebook.name} declares no parameter {', '.join(undeclared)}; "
            f"it declares {', '.join(declared) or 'none'} (fix retrain_parameters of rule {rule.name})."
        )
    params.update(rule.retrain_parameters)
    return params


def _new_challenger(name: str, since: float, start: _Start) -> str:
    """The version the notebook registered as challenger — one created after it started."""
    from mlflow.exceptions import MlflowException

    try:
        mv = store.client(start).get_model_version_by_alias(name, CHALLENGER)
    except MlflowException:
        mv = None
    if mv is None or mv.creation_timestamp < since * 1000 - 1000:
        raise NbopsError(
            f"the retrain notebook registered no new version of {name!r} as {CHALLENGER!r}; "
            f"it must end with %register MODEL --name {name} --alias {CHALLENGER}."
        )
    return str(mv.version)
