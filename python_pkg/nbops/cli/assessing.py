"""``nbops assess``: production readiness of the registered models, from what nbops recorded."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .base import _reports_errors, main


@main.command("assess")
@click.argument("model", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the assessment as JSON (schema nbops.assess/1).")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the assessment as an HTML page to this file.",
)
@_reports_errors
def assess(model: str | None, as_json: bool, html_path: Path | None) -> None:
    """Score MODEL (default: every registered model) on the ML Test Score rubric.

    Each of the 28 tests is automated (1 point), done by hand (0.5), missing (0) or not
    assessable from records (needs a person's judgment); a model scores its lowest section.
    Every missing point comes with the command or pyproject line that would earn it. Exit 0
    whatever the score (read it from --json in CI); 4 for an unknown model.
    """
    from ..assessment import assess as run_assessment

    result = run_assessment(model)
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(result.html(), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    click.echo(result.text())
    if html_path is not None:
        click.echo(f"HTML: {html_path}")
