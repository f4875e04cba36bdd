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

from ..errors import NbopsError
from ..version import __version__


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
    from ..errors import NotFound, StoreError

    if isinstance(exc, NotFound):
        return ExitCode.NOT_FOUND
    if isinstance(exc, StoreError):
        return ExitCode.STORE
    return ExitCode.USAGE


def _gate_exit_code(report: Any) -> ExitCode:
    """A gate report's verdict as an exit code: passed, failed, or a gate that could not run."""
    from ..gates import ERROR

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
    from .. import config, store

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
    from ..liveness import sweep
    from ..runs import recent
    from ..tracking import format_duration

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
