"""The ``nbops`` command: the terminal and CI face of nbops.

Every way a command can end maps to one :class:`ExitCode`, decided here and nowhere else: the core
returns verdicts (a gate report, the audit chain's problems, the open alerts) and raises
``NbopsError`` for what a user can fix; this module turns those into the codes ``nbops --help``
lists. Anything else that escapes a command is a bug: it ends with ``ExitCode.UNEXPECTED``, one
line on stderr, and the full traceback in a log file whose path that line gives.
"""

from __future__ import annotations

import enum
import errno
import functools
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from . import __version__
from .errors import NbopsError


class ExitCode(enum.IntEnum):
    """What ``nbops`` exits with, so scripts and CI can tell outcomes apart (listed in ``nbops --help``)."""

    OK = 0
    CHECK_FAILED = 1
    USAGE = 2
    AUDIT_TAMPERED = 3
    NOT_FOUND = 4
    STORE = 5
    UNEXPECTED = 70  # sysexits.h's EX_SOFTWARE: an internal error
    INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


#: What each code means, in the words ``nbops --help`` prints.
EXIT_MEANINGS = {
    ExitCode.OK: "done; every gate passed, no alert is open, the audit chain is intact",
    ExitCode.CHECK_FAILED: "a gate failed, or an alert is open (nbops monitor check)",
    ExitCode.USAGE: "invalid input or arguments, refused by the promotion policy, or a gate could not run",
    ExitCode.AUDIT_TAMPERED: "the audit chain is broken (nbops audit --verify)",
    ExitCode.NOT_FOUND: "the model, version or run does not exist",
    ExitCode.STORE: "the MLflow store cannot be reached or used",
    ExitCode.UNEXPECTED: "an unexpected error (a bug); the traceback is in the log file named on stderr",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}


def _exit_code(exc: NbopsError) -> ExitCode:
    from .errors import NotFound, StoreError

    if isinstance(exc, NotFound):
        return ExitCode.NOT_FOUND
    if isinstance(exc, StoreError):
        return ExitCode.STORE
    return ExitCode.USAGE


def _gate_exit_code(report: Any) -> ExitCode:
    """A gate report's verdict as an exit code: passed, failed, or a gate that could not run."""
    from .gates import ERROR

    if any(outcome.result == ERROR for outcome in report.outcomes):
        return ExitCode.USAGE
    return ExitCode.OK if report.passed else ExitCode.CHECK_FAILED


def _reports_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an ``NbopsError`` into one line on stderr and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NbopsError as exc:
            click.echo(f"nbops: error: {exc}", err=True)
            sys.exit(_exit_code(exc))

    return wrapper


def _write_traceback(exc: BaseException) -> str:
    """The traceback of an unexpected error, in a log file of its own; returns the file's path."""
    import os
    import platform
    import tempfile
    import traceback

    handle, path = tempfile.mkstemp(prefix=f"nbops-error-{datetime.now():%Y%m%d-%H%M%S}-", suffix=".log")
    with os.fdopen(handle, "w", encoding="utf-8") as log:
        log.write(f"nbops {__version__} on Python {platform.python_version()} ({platform.platform()})\n")
        log.write(f"command: {' '.join(sys.argv)}\n\n")
        log.write("".join(traceback.format_exception(exc)))
    return path


class _Commands(click.Group):
    """The ``nbops`` group, with the CLI's one error boundary around every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: usage errors (exit 2) and explicit exits
        except NbopsError as exc:  # a command without @_reports_errors
            click.echo(f"nbops: error: {exc}", err=True)
            raise click.exceptions.Exit(_exit_code(exc)) from None
        except KeyboardInterrupt:
            click.echo("nbops: interrupted", err=True)
            raise click.exceptions.Exit(ExitCode.INTERRUPTED) from None
        except Exception as exc:
            if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                raise  # output piped into a closed reader (| head): click handles it quietly
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            where = _write_traceback(exc)
            click.echo(
                f"nbops: unexpected error ({type(exc).__name__}{': ' + first if first else ''}); "
                f"this is a bug in nbops; the traceback is in {where}",
                err=True,
            )
            raise click.exceptions.Exit(ExitCode.UNEXPECTED) from None


def _help_epilog() -> str:
    # \b keeps click from rewrapping the table into one paragraph.
    rows = "\n".join(f"  {int(code):>3}  {EXIT_MEANINGS[code]}" for code in ExitCode)
    return f"\b\nExit codes:\n{rows}"


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]}, epilog=_help_epilog())
@click.version_option(__version__, prog_name="nbops")
def main() -> None:
    """nbops — a notebook-first MLOps workbench on MLflow.

    The store is MLFLOW_TRACKING_URI, else tracking_uri under [tool.nbops] in the
    nearest pyproject.toml, else the embedded SQLite store in .nbops/ of the project.
    Errors are one line on stderr; the exit code says which kind (below).
    """


@main.command()
@_reports_errors
def info() -> None:
    """Show the project root and the MLflow store nbops uses here; exit 5 if it cannot be used."""
    from . import config, store

    settings = config.resolve()
    click.echo(f"nbops {__version__}")
    click.echo(f"project root: {settings.project_root}")
    click.echo(f"store:        {config.redact_uri(settings.tracking_uri)} (from {settings.source})")
    if store.exists(settings.tracking_uri):  # an embedded store not created yet is fine, and stays so
        store.prepare(settings.tracking_uri)


@main.command()
@click.option("--limit", "-n", default=20, show_default=True, help="How many runs to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_reports_errors
def runs(limit: int, as_json: bool) -> None:
    """List the most recent runs, newest first."""
    from .liveness import sweep
    from .runs import recent
    from .tracking import format_duration

    sweep()  # runs of dead processes are KILLED, not RUNNING
    page = recent(max_results=limit)
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    if not page["runs"]:
        click.echo(f"No runs yet in {page['store']}. In a notebook: %load_ext nbops, then a %%track cell.")
        return
    rows = [
        (
            r["run_name"],
            r["status"],
            datetime.fromtimestamp(r["start_time"] / 1000).strftime("%Y-%m-%d %H:%M:%S")
            if r["start_time"]
            else "",
            format_duration(r["duration_ms"]) if r["duration_ms"] is not None else "—",
            r["experiment_name"] or r["experiment_id"],
        )
        for r in page["runs"]
    ]
    _table(("RUN", "STATUS", "STARTED", "DURATION", "EXPERIMENT"), rows)
    if page["next_page_token"]:
        click.echo(f"(showing the newest {len(rows)}; use --limit for more)")


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
    from . import registry as core

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

    The promotion policy ([tool.nbops.policy] in pyproject.toml) names the gates each
    alias requires; promote refuses (exit 2) unless they all passed for this version.
    """
    from . import registry as core

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
    """Point ALIAS of MODEL back at the version it held before (one step per call)."""
    from . import registry as core

    done = core.rollback(model, alias, reason, source="cli")
    if as_json:
        click.echo(json.dumps(done))
        return
    click.echo(f"{model}@{alias} rolled back to version {done['to_version']} (was {done['from_version']})")


# --- nbops gate ---------------------------------------------------------------------------------


@main.group()
def gate() -> None:
    """Validation gates: notebooks that decide whether a model version may be promoted."""


@gate.command("run")
@click.argument("gates", nargs=-1, required=True)
@click.option("--model", "-m", "model_uri", required=True, help="models:/NAME/VERSION or models:/NAME@ALIAS.")
@click.option(
    "--parameters",
    "-p",
    "parameters",
    nargs=2,
    multiple=True,
    metavar="KEY VALUE",
    help="A gate parameter (numbers, True/False and None are parsed); GATE.KEY for one gate only.",
)
@click.option(
    "--raw", "-r", "raw", nargs=2, multiple=True, metavar="KEY VALUE", help="A parameter kept as text."
)
@click.option("--parallel", default=1, show_default=True, type=click.IntRange(min=1), help="Gates at once.")
@click.option(
    "--timeout",
    default=600.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds per gate.",
)
@click.option("--junit", type=click.Path(dir_okay=False), help="JUnit XML file [default: REPORT/junit.xml].")
@click.option(
    "--report",
    type=click.Path(file_okay=False),
    help="Report folder [default: gate-reports/MODEL-vVERSION-TIME under the project root].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
@_reports_errors
def gate_run(
    gates: tuple[str, ...],
    model_uri: str,
    parameters: tuple[tuple[str, str], ...],
    raw: tuple[tuple[str, str], ...],
    parallel: int,
    timeout: float,
    junit: str | None,
    report: str | None,
    as_json: bool,
) -> None:
    """Run GATE... (gate names or notebook paths) on a model version.

    A name is the project's notebooks/gates/NAME.ipynb, else the shipped gate NAME
    (nbops gate list shows them all). Each gate runs headless in its own process; its
    verdict is recorded on the model version (tag nbops.gate.GATE), in the audit log and
    as a run of the experiment nbops-gates.
    Exit codes: 0 every gate passed, 1 a gate failed, 2 a gate could not run (or invalid input).
    """
    from papermill.cli import _resolve_type

    from . import gates as runner

    values = {key: _resolve_type(value) for key, value in parameters} | dict(raw)
    done = runner.run(
        list(gates),
        model_uri,
        values,
        parallel=parallel,
        timeout=timeout,
        junit=junit,
        report=report,
        progress=lambda line: click.echo(line, err=True),
    )
    click.echo(json.dumps(done.to_dict(), indent=2) if as_json else done.summary_table())
    sys.exit(_gate_exit_code(done))


@gate.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_reports_errors
def gate_list(as_json: bool) -> None:
    """List the gate names this project can run, each with the notebook it means.

    The project's notebooks/gates/NAME.ipynb wins over a shipped gate of the same name.
    """
    from pathlib import Path

    from . import config
    from . import gates as runner

    root = config.find_project_root()
    known = runner.available()
    if as_json:
        click.echo(json.dumps({"project_root": str(root), "gates": [g.to_dict() for g in known]}, indent=2))
        return

    def shown(path: Path) -> str:
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    rows = [
        (g.name, g.source, shown(g.path), ", ".join(f"overrides the {s} {shown(p)}" for s, p in g.overrides))
        for g in known
    ]
    _table(("GATE", "FROM", "NOTEBOOK", "NOTE"), rows)


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
    from . import audit as audit_log
    from . import config

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

    For cron or CI. An alert whose rule names a retrain notebook starts a retraining job in the
    background and the check returns at once (the RETRAIN column shows the job: queued, running,
    finished or failed); the job, not the check, registers the challenger and gates it. --wait
    blocks until those jobs end. Exit codes: 0 no open alert, 1 an alert is open (2/4/5 as for
    every command).
    """
    from .monitoring import alerting

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

    Executes the health review notebook template and writes its HTML rendering (code hidden).
    """
    from .monitoring.review import review as render

    click.echo("rendering the health review…", err=True)
    click.echo(str(render(model, batches, output)))


if __name__ == "__main__":
    main()
