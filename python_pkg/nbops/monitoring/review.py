"""The periodic model health review: one HTML report a team reads.

``nbops review NAME`` executes a notebook template (``templates/health_review.ipynb``; a project
may keep its own copy at that path, which wins) with papermill and renders it with nbconvert,
code hidden. Being a notebook, a team can change what its review shows without touching nbops.
The executed notebook is kept beside the HTML, so a review that failed still shows where.

A rendered review is recorded (``reviews.record``): who made it, when, the report as an
artifact of a run in MLflow and an audit event, so ``last_review`` and the review schedule of
``[tool.nbops.review]`` know of it. An LLM application is reviewed by its monitoring name
(``prompts:/NAME`` or ``llm:/MODEL``); the report then shows its LLM windows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from .. import config, registry, runner
from . import reviews

_Start = Path | str | None

TEMPLATE = "health_review.ipynb"
#: Monitoring names of LLM applications (``nbops.llm.monitoring``): no registered model behind them.
LLM_PREFIXES = ("prompts:/", "llm:/")
DEFAULT_TIMEOUT = 600.0


def template_path(project_root: Path) -> Path:
    own = project_root / "templates" / TEMPLATE
    return own if own.is_file() else Path(__file__).parents[1] / "templates" / TEMPLATE


def review(name: str, batches: int = 20, output: str | Path | None = None, start: _Start = None) -> Path:
    """Render the health review of model ``name`` over its last ``batches`` batches and record it;
    returns the HTML path."""
    from ..errors import InvalidInput, NotFound
    from .runs import monitored_versions

    if isinstance(batches, bool) or not isinstance(batches, int) or batches < 1:
        raise InvalidInput(f"batches must be a whole number >= 1, got {batches!r}.")
    if name.startswith(LLM_PREFIXES):
        if not monitored_versions(name, start):
            raise NotFound(
                f"{name} has no LLM monitoring windows yet; log one with nbops.llm.log_window(...) first."
            )
    else:
        registry.list_versions(name, start)  # NotFound with a hint when there is no such model
    settings = config.resolve(start)
    safe = name.replace(":/", "-").replace("/", "-")
    if output is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        output = settings.project_root / "monitoring-reports" / f"review-{safe}-{stamp}.html"
    html_path = Path(output).expanduser().resolve()
    if html_path.suffix != ".html":
        html_path = html_path / f"review-{safe}.html"
    executed = html_path.with_suffix(".ipynb")
    runner.execute(
        template_path(settings.project_root),
        executed,
        {"model_name": name, "batches": batches},
        settings.tracking_uri,
        DEFAULT_TIMEOUT,
    )
    html_path.write_text(_to_html(executed), encoding="utf-8")
    reviews.record(name, html_path, batches=batches, start=settings)
    return html_path


def _to_html(executed: Path) -> str:
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True)
    exporter.exclude_output_prompt = True
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={"remove-cell"}), enabled=True)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    return body
