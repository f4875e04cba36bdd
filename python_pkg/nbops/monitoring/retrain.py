"""The work of one retraining: run the retrain notebook, gate its challenger, maybe promote it.

When a rule with ``retrain = "notebooks/retrain.ipynb"`` opens an alert (once per episode), the
background job of ``retrain_job`` calls ``run`` here. It executes that notebook with papermill —
parameters ``model_name``, ``reason``, ``alert_id`` (each only if the notebook declares it) plus
the rule's ``retrain_parameters`` (the data location, say). Text values may use
``{project_root}``, ``{report_dir}`` (this retrain's folder) and ``{model_name}``, in the gate
parameters too, so the notebook can leave its holdout set where the gates will read it. The
notebook trains and registers a new version with the alias ``challenger``; nbops then runs the
gates ``[tool.nbops.policy]`` requires for ``champion`` on it.

Nothing is promoted unless ``[tool.nbops.monitoring] auto_promote = true`` *and* every required
gate passed; even then the promotion goes through ``registry.promote`` and its policy. Every step
is an audit event (``retrain`` with ``details.step``). The notebook runs in its own process group
with a timeout (``retrain_timeout``, default one hour); its executed copy is kept in the request's
folder under ``monitoring-reports/``.

``run`` returns the outcome as alert fields and writes nothing on the alert itself: recording it
is the job's business (``retraining``), so this module knows nothing of alerts' storage.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import audit, config, gates, registry, runner, store
from ..errors import NbopsError

_Start = Path | str | None

CHALLENGER, CHAMPION = "challenger", "champion"
DEFAULT_TIMEOUT = 3600.0
FINISHED, FAILED = "finished", "failed"
ERROR_LIMIT = 500


@dataclass(frozen=True)
class Request:
    """What to retrain and why: written by the alert that asked for it, read by the job."""

    model: str
    version: str
    alert_id: str
    reason: str
    rule: str
    notebook: str
    folder: str
    retrain_parameters: dict[str, Any] = field(default_factory=dict)
    gate_parameters: dict[str, Any] = field(default_factory=dict)


def run(request: Request, start: _Start = None) -> dict[str, str]:
    """Retrain, gate the challenger, maybe promote; returns the outcome as alert fields.

    ``retrain_state`` is ``finished`` (with ``challenger_version``, ``retrain_run``, ``gates``,
    ``gate_runs`` and, when promoted, ``promoted`` / ``promotion_event``) or ``failed`` with
    ``retrain_error``. A failure is an outcome, not an exception: the job must record it.
    """
    name, version = request.model, request.version
    settings = config.resolve(start)
    options = settings.tool.get("monitoring", {}) if isinstance(settings.tool.get("monitoring"), dict) else {}
    notebook = Path(request.notebook)
    folder = Path(request.folder)
    folder.mkdir(parents=True, exist_ok=True)

    def step(what: str, **details: str) -> None:
        audit.append(
            "retrain",
            model=name,
            version=str(version),
            reason=request.reason or None,
            source="monitoring",
            details={"step": what, "rule": request.rule, "alert": request.alert_id, **details},
            start=start,
        )

    places = {"project_root": str(settings.project_root), "report_dir": str(folder), "model_name": name}
    outcome: dict[str, str] = {}
    began = time.time()
    try:
        step("started", notebook=str(notebook))
        if not notebook.is_file():
            raise NbopsError(
                f"the retrain notebook {notebook} does not exist; fix the retrain path of rule {request.rule}."
            )
        runner.execute(
            notebook,
            folder / notebook.name,
            expand(_parameters(notebook, request), places),
            settings.tracking_uri,
            float(options.get("retrain_timeout", DEFAULT_TIMEOUT)),
        )
        challenger, training_run = _new_challenger(name, began, start)
        outcome["challenger_version"] = challenger
        if training_run:
            outcome["retrain_run"] = training_run
        step("trained", challenger=challenger)
        required = registry.required_gates(CHAMPION, start, model=name)
        if required:
            report = gates.run(
                required,
                f"models:/{name}/{challenger}",
                expand(dict(request.gate_parameters), places),
                report=folder / "gates",
                start=start,
            )
            outcome["gates"] = "passed" if report.passed else "failed"
            outcome["gate_runs"] = ",".join(o.run_id for o in report.outcomes if o.run_id)
            step("gated", challenger=challenger, gates=outcome["gates"])
        else:
            outcome["gates"] = "none required"
        if options.get("auto_promote") is True and outcome["gates"] == "passed":
            promotion = registry.promote(
                name,
                challenger,
                CHAMPION,
                reason=f"automatic promotion after retraining: {request.reason}",
                source="monitoring",
                start=start,
            )
            outcome["promoted"] = "true"
            outcome["promotion_event"] = str(promotion["seq"])
        outcome["retrain_state"] = FINISHED
        step("finished", **{k: v for k, v in outcome.items() if k not in ("retrain_state", "gate_runs")})
    except Exception as exc:  # every failure becomes the outcome the alert shows
        if not isinstance(exc, NbopsError):
            traceback.print_exc()  # the job's log keeps the whole story of a bug
        error = (str(exc) if isinstance(exc, NbopsError) else f"{type(exc).__name__}: {exc}")[:ERROR_LIMIT]
        outcome["retrain_state"] = FAILED
        outcome["retrain_error"] = error
        with contextlib.suppress(NbopsError):  # the store itself failed: the outcome still goes back
            step("failed", error=error)
    return outcome


def expand(parameters: dict[str, Any], places: dict[str, str]) -> dict[str, Any]:
    """Fill ``{project_root}``-style placeholders in text values; other braces are left alone."""
    out = {}
    for key, value in parameters.items():
        if isinstance(value, str):
            for place, text in places.items():
                value = value.replace("{" + place + "}", text)
        out[key] = value
    return out


def _parameters(notebook: Path, request: Request) -> dict[str, Any]:
    import papermill

    try:
        declared = papermill.inspect_notebook(str(notebook))
    except Exception as exc:
        raise NbopsError(f"cannot read the retrain notebook {notebook}: {exc}") from None
    offered = {"model_name": request.model, "reason": request.reason, "alert_id": request.alert_id}
    params = {k: v for k, v in offered.items() if k in declared}
    undeclared = sorted(set(request.retrain_parameters) - set(declared))
    if undeclared:
        raise NbopsError(
            f"the retrain notebook {notebook.name} declares no parameter {', '.join(undeclared)}; "
            f"it declares {', '.join(declared) or 'none'} (fix retrain_parameters of rule {request.rule})."
        )
    params.update(request.retrain_parameters)
    return params


def _new_challenger(name: str, since: float, start: _Start) -> tuple[str, str | None]:
    """The version the notebook registered as challenger (one created after it started), and its run."""
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
    return str(mv.version), mv.run_id or None
