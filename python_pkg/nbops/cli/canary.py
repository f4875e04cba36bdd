"""``nbops canary status|promote|abort MODEL``: watching and ending a served canary from a terminal or CI.

The servers decide steps themselves (``[tool.nbops.canary]``); these commands read the state they
keep on their deployment records, and write the command a running server picks up on its next poll.
"""

from __future__ import annotations

import json
from typing import Any

import click

from .base import _reports_errors, _table, main


@main.group()
def canary() -> None:
    """Watch a served canary's steps and rules, or end it now (promote or abort)."""


@canary.command("status")
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON.")
@_reports_errors
def canary_status(model: str, as_json: bool) -> None:
    """Per running server of MODEL: versions, step and share, requests per version, rules and verdict."""
    from ..errors import NotFound
    from ..serving.canary_records import status

    servers = status(model)
    if not servers:
        raise NotFound(f"no running server of {model!r}; start one with nbops serve {model}@champion.")
    if as_json:
        click.echo(json.dumps(servers, indent=2, default=str))
        return
    for server in servers:
        state = server["analysis"]
        click.echo(f"{model}@{server['champion_alias']} at {server['url']} ({server['server']})")
        if state is None:
            split = ", ".join(f"{a} {p} %" for a, p in server["canary"].items()) or "none"
            click.echo(f"  no canary analysis (canary: {split})")
            continue
        requests = state["requests"]
        steps = " → ".join(f"{s} %" for s in state["steps"])
        click.echo(
            f"  champion v{state['champion_version']}, challenger ({state['alias']}) v{state['version']}; "
            f"step {state['step']} of {len(state['steps'])} ({steps}) at {state['share']} %"
        )
        click.echo(
            f"  requests this step: champion {requests['champion']['requests']}, "
            f"challenger {requests['challenger']['requests']} (need {state['min_requests']} each)"
        )
        if state["rules"]:
            _table(("RULE", "VALUE", "LIMIT", "RESULT", "NOTE"), [_row(r) for r in state["rules"]])
        click.echo(f"  verdict: {state['verdict']} ({state['state']}): {state['reason']}")


def _row(rule: dict[str, Any]) -> tuple[Any, ...]:
    value = "-" if rule["value"] is None else f"{rule['value']:.4g}"
    result = {True: "pass", False: "FAIL", None: "waiting"}[rule["passed"]]
    return (f"  {rule['rule']}", value, f"{rule['limit']:g}", result, rule["note"])


@canary.command("promote")
@click.argument("model")
@click.option("-m", "--reason", required=True, help="Why, for the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_reports_errors
def canary_promote(model: str, reason: str, as_json: bool) -> None:
    """End MODEL's canary now by promoting its challenger (the promotion policy applies)."""
    from ..serving.canary_records import promote

    _done(promote(model, reason), as_json)


@canary.command("abort")
@click.argument("model")
@click.option("-m", "--reason", required=True, help="Why, for the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_reports_errors
def canary_abort(model: str, reason: str, as_json: bool) -> None:
    """End MODEL's canary now: 0 % to the challenger, the champion keeps serving."""
    from ..serving.canary_records import abort

    _done(abort(model, reason), as_json)


def _done(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    count = len(result["servers"])
    click.echo(
        f"canary of {result['model']} v{result['version']} {result['state'].replace('_', ' ')}; "
        f"{count} server(s) told (they act on their next poll)"
    )
