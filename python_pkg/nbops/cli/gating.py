"""``nbops gate run`` and ``nbops gate list``: validation gates from a terminal or CI."""

from __future__ import annotations

import json
import sys

import click

from .base import _gate_exit_code, _reports_errors, _table, main

# --- nbops gate ---------------------------------------------------------------------------------


@main.group()
def gate() -> None:
    """Validation gates: notebooks that decide whether a model or prompt version may be promoted."""


@gate.command("run")
@click.argument("gates", nargs=-1, required=True, metavar="GATE... [MODEL]")
@click.option(
    "--model",
    "-m",
    "model_uri",
    default=None,
    help="The version to gate, instead of positionally: models:/NAME/VERSION, models:/NAME@ALIAS, "
    "prompts:/NAME/VERSION or prompts:/NAME@ALIAS.",
)
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
    model_uri: str | None,
    parameters: tuple[tuple[str, str], ...],
    raw: tuple[tuple[str, str], ...],
    parallel: int,
    timeout: float,
    junit: str | None,
    report: str | None,
    as_json: bool,
) -> None:
    """Run GATE... (gate names or notebook paths) on a model or prompt version MODEL.

    MODEL is models:/NAME/VERSION, models:/NAME@ALIAS, prompts:/NAME/VERSION or
    prompts:/NAME@ALIAS (NAME@ALIAS and NAME/VERSION alone mean a model), after the gates or
    with --model:

    \b
        nbops gate run llm_quality prompts:/support-reply@candidate -p data_path rows.jsonl
        nbops gate run performance fairness --model models:/churn/3

    An argument that could be a gate as well as a version is refused unless --model names the
    version. A gate name is the project's notebooks/gates/NAME.ipynb, else the shipped gate NAME
    (nbops gate list shows them all). Each gate runs headless in its own process; its
    verdict is recorded on the model or prompt version (tag nbops.gate.GATE), in the audit
    log and as a run of the experiment nbops-gates.
    Exit codes: 0 every gate passed, 1 a gate failed, 2 a gate could not run (or invalid input).
    """
    from papermill.cli import _resolve_type

    from .. import config
    from .. import gates as runner
    from ..gate_plans import split_subject

    values = {key: _resolve_type(value) for key, value in parameters} | dict(raw)
    names, subject = split_subject(list(gates), model_uri, config.find_project_root())
    done = runner.run(
        names,
        subject,
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

    from .. import config
    from .. import gates as runner

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
