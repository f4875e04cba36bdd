"""What a canary leaves in MLflow, and how people and CI steer it from anywhere.

The canary's state is a tag on the server's deployment run (``nbops.deployment.canary_analysis``),
so ``nbops canary status`` on any machine reads what the server decided. ``nbops canary promote``
and ``abort`` write a command tag on the same run; the server reads it on its next poll and acts.
No side file: the store is the only place every machine of a team and the server share.

Endings are recorded the way the rest of nbops records things: an audit event per step and per
ending, an alert in ``nbops-alerts`` when a rule rolls the challenger back (so the sidebar and
``nbops monitor check`` see it), and ``notify.canary_decided`` for the channels.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from .. import store
from ..errors import InvalidInput, NotFound, PolicyError
from .deployments import LIVE, PREFIX, list_deployments

_log = logging.getLogger("nbops.serving")
_Start = Path | str | None

STATE_TAG = PREFIX + "canary_analysis"
COMMAND_TAG = PREFIX + "canary_command"
SOURCE = "canary"
#: The canary's state → the verdict Argo Rollouts' AnalysisTemplate reads at ``/nbops/canary``.
RUNNING, PROMOTED, ROLLED_BACK, ABORTED, BLOCKED = "running", "promoted", "rolled_back", "aborted", "blocked"
VERDICTS = {
    RUNNING: "running",
    PROMOTED: "passed",
    ROLLED_BACK: "failed",
    ABORTED: "failed",
    BLOCKED: "failed",
}
#: The audit action of each ending.
ACTIONS = {PROMOTED: "canary-promoted", ROLLED_BACK: "canary-rolled-back", ABORTED: "canary-aborted",
           BLOCKED: "canary-blocked"}  # fmt: skip


def save_state(deployment_id: str, state: dict[str, Any], start: _Start = None) -> None:
    store.client(start).set_tag(deployment_id, STATE_TAG, json.dumps(state, default=str, sort_keys=True))


def read_command(deployment_id: str, start: _Start = None) -> dict[str, Any] | None:
    """The newest command a person or CI wrote on this deployment, or None."""
    text = store.client(start).get_run(deployment_id).data.tags.get(COMMAND_TAG)
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def audit_event(
    action: str, state: dict[str, Any], reason: str, start: _Start, actor: str | None = None
) -> None:
    """One audit event for a canary step or ending (never fails the server: logged if it cannot land)."""
    from .. import audit

    try:
        audit.append(
            action,
            model=state["model"],
            version=state["version"],
            alias=state["alias"],
            reason=reason,
            source=SOURCE,
            actor=actor,
            details={
                "champion_alias": state["champion_alias"],
                "champion_version": state["champion_version"],
                "step": state["step"],
                "share": state["share"],
                "deployment": state.get("deployment_id") or "",
            },
            start=start,
        )
    except Exception as exc:  # the store away: the server keeps serving; the state tag still says it
        _log.warning("the audit event %s for %s could not be written: %s", action, state["model"], exc)


def open_alert(state: dict[str, Any], failed: list[dict[str, Any]], start: _Start) -> str | None:
    """Open an alert for a rolled-back canary, as monitoring's alerting records one; returns its id."""
    from ..monitoring import alerting

    first = failed[0]
    message = f"canary of {state['model']} v{state['version']} rolled back: {state['reason']}"
    tag = alerting.TAG
    tags = {
        f"{tag}rule": f"canary.{first['rule']}",
        f"{tag}model": state["model"],
        f"{tag}version": str(state["version"]),
        f"{tag}metric": f"canary.{first['rule']}",
        f"{tag}op": ">",
        f"{tag}threshold": f"{first['limit']:g}",
        f"{tag}window": "1",
        f"{tag}severity": "critical",
        f"{tag}state": alerting.OPEN,
        f"{tag}value": repr(first["value"]),
        f"{tag}opened_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        f"{tag}opened_batch": "0",
        f"{tag}message": message,
        "mlflow.note.content": message,
    }
    try:
        client = store.client(start)
        run = client.create_run(
            store.ensure_experiment(alerting.EXPERIMENT, start),
            tags=tags,
            run_name=f"canary: {state['model']} v{state['version']}",
        )
        client.set_terminated(run.info.run_id, "FINISHED")
    except Exception as exc:
        _log.warning("the canary alert for %s could not be opened: %s", state["model"], exc)
        return None
    audit_event("alert", {**state}, message, start)
    return run.info.run_id


def notify(state: dict[str, Any], start: _Start) -> None:
    """Tell the channels how the canary ended (``notify.canary_decided`` never raises nor waits)."""
    from .. import notify as channels

    channels.canary_decided(
        {
            "model": state["model"],
            "version": state["version"],
            "alias": state["champion_alias"],
            "champion_version": state["champion_version"],
            "verdict": state["state"],
            "reason": state["reason"],
            "step": state["step"],
        },
        start=start,
    )


# --- people and CI: nbops canary status | promote | abort -------------------------------------------


def status(model: str, start: _Start = None) -> list[dict[str, Any]]:
    """Per running server of ``model``: its canary's state (None when it runs no analysed canary)."""
    found = []
    for deployment in list_deployments(model, start):
        state = _state(deployment["id"], start)
        found.append(
            {
                "deployment_id": deployment["id"],
                "url": deployment["url"],
                "server": deployment["status"],
                "champion_alias": deployment["alias"],
                "champion_version": deployment["version"],
                "canary": deployment["canary"],
                "analysis": state,
            }
        )
    return found


def _state(deployment_id: str, start: _Start) -> dict[str, Any] | None:
    text = store.client(start).get_run(deployment_id).data.tags.get(STATE_TAG)
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _running(model: str, start: _Start) -> list[dict[str, Any]]:
    running = [
        s
        for s in status(model, start)
        if s["server"] == LIVE and (s["analysis"] or {}).get("state") == RUNNING
    ]
    if not running:
        raise NotFound(f"no running canary of {model!r}; nbops canary status {model} shows its servers.")
    return running


def promote(model: str, reason: str | None, start: _Start = None, actor: str | None = None) -> dict[str, Any]:
    """End ``model``'s canary now by promoting its challenger (the promotion policy applies).

    ``actor`` is who asked (the Jupyter user from the sidebar); the OS user when not given.
    """
    from .. import registry
    from ..registry.versions import check_reason

    reason = check_reason(reason)
    running = _running(model, start)
    state = running[0]["analysis"]
    pairs = {(s["analysis"]["version"], s["analysis"]["champion_alias"]) for s in running}
    if len(pairs) > 1:
        raise InvalidInput(f"the servers of {model!r} run different canaries; stop all but one first.")
    version, alias = str(state["version"]), state["champion_alias"]
    try:
        registry.promote(model, version, alias, reason, source=SOURCE, actor=actor, start=start)
    except PolicyError:
        # A canary is ended by promoting or aborting it, never by forcing: say so, and name the gates.
        from ..version_detail import missing_gates

        gaps = registry.policy_gaps(model, version, alias, start)
        results = registry.gate_results(registry.get_version(model, version, start))
        raise PolicyError(
            f"{model} version {version} cannot become {alias}: required gates not passed: "
            f"{', '.join(gaps)}; run them (nbops gate run) or abort the canary.",
            missing_gates=missing_gates(results, registry.required_gates(alias, start, model=model)),
        ) from None
    return _command(running, PROMOTED, reason, start, actor)


def abort(model: str, reason: str | None, start: _Start = None, actor: str | None = None) -> dict[str, Any]:
    """End ``model``'s canary now: 0 % to the challenger, the champion keeps serving."""
    from ..registry.versions import check_reason

    reason = check_reason(reason)
    return _command(_running(model, start), ABORTED, reason, start, actor)


def _command(
    running: list[dict[str, Any]], ending: str, reason: str, start: _Start, actor: str | None = None
) -> dict[str, Any]:
    """Tell every server of the canary, record the ending once, and notify."""
    from ..audit import default_actor

    version = running[0]["analysis"]["version"]
    command = {
        "id": uuid.uuid4().hex,
        "action": ending,
        "version": version,
        "reason": reason,
        "actor": actor or default_actor(),
    }
    client = store.client(start)
    for server in running:
        client.set_tag(server["deployment_id"], COMMAND_TAG, json.dumps(command, sort_keys=True))
    state = {**running[0]["analysis"], "state": ending, "verdict": VERDICTS[ending], "reason": reason}
    audit_event(ACTIONS[ending], state, reason, start, actor=command["actor"])
    notify(state, start)
    return {"model": state["model"], "version": state["version"], "state": ending,
            "verdict": VERDICTS[ending], "servers": [s["deployment_id"] for s in running]}  # fmt: skip
