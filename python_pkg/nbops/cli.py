"""The ``nbops`` command: the terminal and CI face of nbops."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from . import __version__
from .errors import NbopsError


def _reports_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an ``NbopsError`` into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NbopsError as exc:
            click.echo(f"nbops: error: {exc}", err=True)
            sys.exit(2)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nbops")
def main() -> None:
    """nbops — a notebook-first MLOps workbench on MLflow.

    The store is MLFLOW_TRACKING_URI, else tracking_uri under [tool.nbops] in the
    nearest pyproject.toml, else the embedded SQLite store in .nbops/ of the project.
    """


@main.command()
@_reports_errors
def info() -> None:
    """Show the project root and the MLflow store nbops uses here."""
    from . import config

    settings = config.resolve()
    click.echo(f"nbops {__version__}")
    click.echo(f"project root: {settings.project_root}")
    click.echo(f"store:        {config.redact_uri(settings.tracking_uri)} (from {settings.source})")


@main.command()
@click.option("--limit", "-n", default=20, show_default=True, help="How many runs to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_reports_errors
def runs(limit: int, as_json: bool) -> None:
    """List the most recent runs, newest first."""
    from .liveness import sweep
    from .tracking import format_duration, recent_runs

    sweep()  # runs of dead processes are KILLED, not RUNNING
    page = recent_runs(max_results=limit)
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
    header = ("RUN", "STATUS", "STARTED", "DURATION", "EXPERIMENT")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo(
            "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    if page["next_page_token"]:
        click.echo(f"(showing the newest {len(rows)}; use --limit for more)")


if __name__ == "__main__":
    main()
