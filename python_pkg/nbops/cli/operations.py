"""``nbops monitor``, ``review``, ``notify`` and ``deployments``: a model in production from a terminal."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from .base import ExitCode, _reports_errors, _table, main

# --- nbops monitor / review -----------------------------------------------------------------------


@main.group()
def monitor() -> None:
    """Production monitoring: alert rules over the batches logged with nbops.monitor.log_batch."""


@monitor.command("check")
@click.option("--model", help="Only this registered model.")
@click.option("--json", "as_json", is_flag=True, help="Print the open alerts as JSON.")
@click.option(
    "--wait",
    is_flag=True,
    help="Block until the retraining jobs of the open alerts have finished or failed.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="With --wait: give up after this many seconds (exit 2) [default: no limit].",
)
@_reports_errors
def monitor_check(model: str | None, as_json: bool, wait: bool, timeout: float | None) -> None:
    """Evaluate the [tool.nbops.alerts] rules on every monitored version; list the open alerts.

    With [tool.nbops.review], a model whose last health review is older than its period gets a
    review-overdue alert (resolved by the next nbops review).

    For cron or CI. An alert whose rule names a retrain notebook starts a retraining job in the
    background and the check returns at once (the RETRAIN column shows the job: queued, running,
    finished or failed); the job, not the check, registers the challenger and gates it. --wait
    blocks until those jobs end. Exit codes: 0 no open alert, 1 an alert is open (2/4/5 as for
    every command).
    """
    from ..monitoring import alerting

    found = alerting.check(model)
    if wait:
        retraining = [a for a in found if a.get("retrain_state")]
        if any(a["retrain_state"] in ("queued", "running") for a in retraining):
            click.echo("waiting for retraining…", err=True)
        done = {a["id"]: a for a in alerting.wait_for_retraining(alerts=retraining, timeout=timeout)}
        found = [done.get(a["id"], a) for a in found]
    if as_json:
        click.echo(json.dumps(found, indent=2))
    elif not found:
        click.echo("no open alerts" + (f" for {model}" if model else ""))
    else:
        rows = [
            (
                a.get("severity", ""),
                a.get("model", ""),
                str(a.get("version", "")),
                a.get("rule", ""),
                a.get("opened_at", ""),
                _retrain_cell(a),
                a.get("message", ""),
            )
            for a in found
        ]
        _table(("SEVERITY", "MODEL", "VERSION", "RULE", "OPENED", "RETRAIN", "MESSAGE"), rows)
    sys.exit(ExitCode.CHECK_FAILED if found else ExitCode.OK)


def _retrain_cell(alert: dict[str, Any]) -> str:
    """``finished: v2, gates passed`` — what the alert's retraining job did, in one cell."""
    state = alert.get("retrain_state")
    if not state:
        return "-"
    facts = [f"v{alert['challenger_version']}"] if alert.get("challenger_version") else []
    if alert.get("gates"):
        facts.append(f"gates {alert['gates']}")
    if alert.get("promoted") == "true":
        facts.append("promoted")
    return f"{state}: {', '.join(facts)}" if facts else state


# --- nbops notify ---------------------------------------------------------------------------------


@main.group()
def notify() -> None:
    """Notification channels ([tool.nbops.notify]): webhooks, Slack and e-mail."""


@notify.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_reports_errors
def notify_list(as_json: bool) -> None:
    """List the channels, the rules and events that use them, and what stops any of them.

    Checks the configuration: a rule or event naming an unknown channel, a missing environment
    variable or a malformed URL is reported. Exit codes: 0 every channel is ready, 2 otherwise.
    """
    from .. import notify as notifications

    found = notifications.listing()
    if as_json:
        click.echo(json.dumps(found, indent=2))
    elif not found:
        click.echo("no notification channels; add [tool.nbops.notify.NAME] to pyproject.toml")
    else:
        rows = [
            (c["name"], c["type"], c["target"], ", ".join(c["used_by"]) or "-", c["problem"] or "ready")
            for c in found
        ]
        _table(("CHANNEL", "TYPE", "DELIVERS TO", "USED BY", "STATUS"), rows)
    sys.exit(ExitCode.USAGE if any(c["problem"] for c in found) else ExitCode.OK)


@notify.command("test")
@click.argument("channel")
@_reports_errors
def notify_test(channel: str) -> None:
    """Send a test message to CHANNEL now and print what the receiver answered.

    Exit codes: 0 delivered, 1 the receiver refused or did not answer, 2 the channel is misconfigured.
    """
    from .. import notify as notifications

    answer = notifications.send_test(channel)
    if answer.ok:
        click.echo(f"{channel}: delivered ({answer.detail})")
        return
    click.echo(f"nbops: error: {channel}: not delivered ({answer.detail})", err=True)
    sys.exit(ExitCode.CHECK_FAILED)


@main.command()
@click.option("--model", help="Only the servers of this registered model.")
@click.option("--all", "everything", is_flag=True, help="Include servers that have stopped.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_reports_errors
def deployments(model: str | None, everything: bool, as_json: bool) -> None:
    """List model servers (nbops serve): live, or stale when their heartbeat stopped."""
    from ..serving.deployments import list_deployments

    found = list_deployments(model, stopped=everything)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found:
        click.echo("no model servers running" + (f" for {model}" if model else ""))
        return
    rows = [
        (
            d["model"],
            d["alias"],
            f"v{d['version']}",
            ", ".join(f"{alias} {share}%" for alias, share in d["canary"].items()) or "-",
            d["shadow"] or "-",
            d["status"],
            d["url"],
            f"{d['host']}:{d['pid']}",
            "-" if d["heartbeat_age"] is None else f"{d['heartbeat_age']:.0f}s ago",
        )
        for d in found
    ]
    _table(("MODEL", "ALIAS", "VERSION", "CANARY", "SHADOW", "STATUS", "URL", "HOST:PID", "HEARTBEAT"), rows)


@main.command()
@click.argument("model")
@click.option(
    "--batches", "-n", default=20, show_default=True, type=click.IntRange(min=1), help="Batches per version."
)
@click.option(
    "--output",
    "-o",
    type=click.Path(),
    help="HTML file [default: monitoring-reports/review-MODEL-TIME.html].",
)
@_reports_errors
def review(model: str, batches: int, output: str | None) -> None:
    """Render MODEL's health review: versions, gates, alerts, drift, performance, fairness and cost.

    Executes the health review notebook template and writes its HTML rendering (code hidden),
    then records the review in MLflow (who, when, the report; an audit event), which resolves a
    review-overdue alert. MODEL may be an LLM application: prompts:/NAME or llm:/MODEL.
    """
    from ..monitoring.review import review as render
    from ..monitoring.reviews import last_review

    click.echo("rendering the health review…", err=True)
    page = render(model, batches, output)
    recorded = last_review(model)
    if recorded:
        click.echo(
            f"recorded: reviewed by {recorded['who']} at {recorded['when']} ({recorded['report']})", err=True
        )
    click.echo(str(page))
