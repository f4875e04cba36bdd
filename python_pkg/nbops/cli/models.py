"""``nbops registry``, ``promote``, ``rollback`` and ``audit``: the registry and its audit log from a terminal."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click

from .base import ExitCode, _reports_errors, _table, main

# --- nbops registry, promote, rollback ----------------------------------------------------------


@main.group()
def registry() -> None:
    """Registered models, their versions and aliases."""


@registry.command("list")
@click.argument("model", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_reports_errors
def registry_list(model: str | None, as_json: bool) -> None:
    """List registered models, or the versions of MODEL."""
    from .. import registry as core

    if model:
        versions = core.list_versions(model)
        if as_json:
            click.echo(json.dumps(versions, indent=2))
            return
        rows = [
            (
                v["version"],
                ", ".join(v["aliases"]),
                datetime.fromtimestamp(v["created"] / 1000).strftime("%Y-%m-%d %H:%M"),
                v["run_id"] or "",
            )
            for v in versions
        ]
        _table(("VERSION", "ALIASES", "CREATED", "RUN"), rows)
        return
    models = core.list_models()
    if as_json:
        click.echo(json.dumps(models, indent=2))
        return
    if not models:
        click.echo("No registered models yet. In a notebook: %register MODEL_VAR --name NAME.")
        return
    rows = [
        (
            m["name"],
            m["latest_version"] or "",
            ", ".join(f"{a}→v{v}" for a, v in sorted(m["aliases"].items())),
        )
        for m in models
    ]
    _table(("MODEL", "LATEST", "ALIASES"), rows)


@main.command()
@click.argument("model")
@click.argument("version")
@click.option("--to", "alias", required=True, help="Alias to point at the version, e.g. champion.")
@click.option("--reason", "-r", required=True, help="Why (recorded in the audit log).")
@click.option("--force", is_flag=True, help="Override the promotion policy; audited as forced.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_reports_errors
def promote(model: str, version: str, alias: str, reason: str, force: bool, as_json: bool) -> None:
    """Point ALIAS of MODEL at VERSION; the previous holder is remembered for rollback.

    MODEL is a registered model's name, or prompts:/NAME for a prompt.
    The promotion policy ([tool.nbops.policy] in pyproject.toml) names the gates each
    alias requires; promote refuses (exit 2) unless they all passed for this version.
    """
    from .. import registry as core

    done = core.promote(model, version, alias, reason, force=force, source="cli")
    if as_json:
        click.echo(json.dumps(done))
        return
    before = f" (was version {done['from_version']})" if done["from_version"] else ""
    click.echo(f"{model}@{alias} → version {done['to_version']}{before}")


@main.command()
@click.argument("model")
@click.option("--alias", "-a", default="champion", show_default=True, help="Alias to roll back.")
@click.option("--reason", "-r", required=True, help="Why (recorded in the audit log).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_reports_errors
def rollback(model: str, alias: str, reason: str, as_json: bool) -> None:
    """Point ALIAS of MODEL back at the version it held before (one step per call).

    MODEL is a registered model's name, or prompts:/NAME for a prompt.
    """
    from .. import registry as core

    done = core.rollback(model, alias, reason, source="cli")
    if as_json:
        click.echo(json.dumps(done))
        return
    click.echo(f"{model}@{alias} rolled back to version {done['to_version']} (was {done['from_version']})")


# --- nbops audit ----------------------------------------------------------------------------------


@main.command()
@click.option("--model", help="Only events of this registered model.")
@click.option("--action", help="Only events of this action (register, promote, rollback, remove_alias...).")
@click.option(
    "--verify", is_flag=True, help="Check the hash chain instead of listing; exit 3 if it is broken."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_reports_errors
def audit(model: str | None, action: str | None, verify: bool, as_json: bool) -> None:
    """List the audit log: every registry change, who made it, when and why.

    Each event is a run of the MLflow experiment nbops-audit. Event N records the
    SHA-256 of its own fields and the hash of event N-1, so the events form a chain:
    editing an event afterwards breaks its hash, and deleting one leaves a hole.
    --verify recomputes every hash and link and prints one line per problem (exit
    code 3), or "chain intact" (exit code 0).
    """
    from .. import audit as audit_log
    from .. import config

    if verify:
        if model or action:
            raise click.UsageError("--verify checks the whole log; drop --model and --action.")
        result = audit_log.verify()
        if as_json:
            click.echo(json.dumps(result.to_dict(), indent=2))
        elif result.ok:
            click.echo(f"audit log verified: {result.checked} events, chain intact")
        else:
            for problem in result.problems:
                click.echo(problem.describe())
        sys.exit(ExitCode.OK if result.ok else ExitCode.AUDIT_TAMPERED)
    found = audit_log.events(model=model, action=action)
    if as_json:
        click.echo(json.dumps([event.to_dict() for event in found], indent=2))
        return
    if not found:
        where = config.redact_uri(config.resolve().tracking_uri)
        if model or action:
            click.echo(f"No audit events match in {where}; run nbops audit without filters to see them all.")
        else:
            click.echo(
                f"No audit events yet in {where}. nbops records one for every registry change: "
                "register, promote, rollback, alias removal."
            )
        return

    def cell(value: str | None, limit: int = 40) -> str:
        text = " ".join(value.split()) if value else "—"
        return text if len(text) <= limit else text[: limit - 1] + "…"

    rows = [
        (
            str(e.seq),
            e.time,
            cell(e.actor),
            e.action,
            cell(e.model),
            cell(e.version),
            cell(e.alias),
            f"{e.from_version or '—'}→{e.to_version or '—'}" if e.from_version or e.to_version else "—",
            cell(e.reason),
            cell(e.source),
        )
        for e in found
    ]
    header = ("SEQ", "TIME", "ACTOR", "ACTION", "MODEL", "VERSION", "ALIAS", "FROM→TO", "REASON", "SOURCE")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
