"""``nbops reproduce``: evidence that a model version can be rebuilt from its lineage.

Exit codes: 0 reproduced, 1 differs, 2 could not run or refused (the source cannot be rebuilt).
"""

from __future__ import annotations

import json
import sys

import click

from .base import ExitCode, _reports_errors, main


@main.command()
@click.argument("target", metavar="MODEL/VERSION|MODEL@ALIAS")
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    help="Relative tolerance per metric [default: tolerance under [tool.nbops.reproduce], else 0.01].",
)
@click.option(
    "--report",
    type=click.Path(file_okay=False),
    help="Report folder [default: reproduce-reports/MODEL-vVERSION-TIME under the project root].",
)
@click.option(
    "--timeout",
    default=1800.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds the notebook may run.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON instead of a table.")
@_reports_errors
def reproduce(
    target: str, tolerance: float | None, report: str | None, timeout: float, as_json: bool
) -> None:
    """Run a version's training notebook again from its lineage and compare every metric.

    The recorded git commit is checked out into a temporary worktree (with the recorded
    uncommitted diff applied), the notebook runs headless with the recorded parameters in a
    fresh kernel against the experiment nbops-reproduce, and the metrics of both runs are
    compared within the relative tolerance ([tool.nbops.reproduce.metrics] NAME = TOL per
    metric). Changed datasets and packages are named as likely causes. The verdict is recorded
    on the version, in the audit log and as the gate "reproducible" for the promotion policy.
    Exit codes: 0 reproduced, 1 differs, 2 could not run (or refused).
    """
    from .. import reproducing

    done = reproducing.reproduce(
        target,
        tolerance=tolerance,
        report=report,
        timeout=timeout,
        progress=lambda line: click.echo(line, err=True),
    )
    if as_json:
        click.echo(json.dumps(done.to_dict(), indent=2))
    else:
        click.echo(f"{done.model} version {done.version}: {done.verdict}")
        if done.metrics:
            click.echo(done.metrics_table())
        for cause in done.causes:
            click.echo(f"likely cause: {cause}")
        for line in done.environment:
            click.echo(f"package differs from the version's pins: {line}")
        click.echo(f"report: {done.report_dir}")
    code = {reproducing.REPRODUCED: ExitCode.OK, reproducing.DIFFERS: ExitCode.CHECK_FAILED}
    sys.exit(code.get(done.verdict, ExitCode.USAGE))
