"""``RunCard``: one run at a glance in a notebook output.

The card shows what ``nbops.runs.run_details`` returns and nothing else. Its
mimebundle also carries a static HTML card and a plain-text summary, so a
notebook exported with nbconvert, or opened where widgets do not render (an
untrusted notebook, GitHub, a CI artefact), still shows the run.
"""

from __future__ import annotations

import html
from dataclasses import fields
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .. import runs
from ..tracking import RunSummary, format_duration
from .common import STATUS_COLORS, css, esm, format_value, status_html, with_static_fallback


class RunCard(anywidget.AnyWidget):
    """A run's name, status, duration, experiment, params, final metrics and error."""

    _esm = esm("run_card.js")
    _css = css("run_card.css")

    #: ``nbops.runs.run_details`` of the run shown.
    run = traitlets.Dict().tag(sync=True)

    @classmethod
    def for_run(cls, run_id: str, start: Path | str | None = None) -> RunCard:
        """The card of run ``run_id``, read from the project's store."""
        return cls(run=runs.run_details(run_id, start))

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | dict | None:
        return with_static_fallback(
            super()._repr_mimebundle_(**kwargs), card_html(self.run), card_text(self.run)
        )


def _pairs_html(title: str, values: dict[str, Any]) -> str:
    if not values:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(key)}</td><td>{html.escape(format_value(values[key]))}</td></tr>"
        for key in sorted(values)
    )
    return f'<table class="nbops-card-{title.lower()}"><thead><tr><th colspan="2">{title}</th></tr></thead><tbody>{rows}</tbody></table>'


def card_html(run: dict[str, Any]) -> str:
    """The card as static HTML; every value from the store is escaped."""
    if not run:
        return "<p>(no run)</p>"
    esc = html.escape
    facts = [status_html(run.get("status", "")), esc(format_duration(run.get("duration_ms")))]
    if run.get("experiment_name"):
        facts.append(f"experiment {esc(run['experiment_name'])}")
    parts = [
        '<div class="nbops-run-card-static">',
        f"<p><strong>{esc(run.get('run_name') or run.get('run_id', ''))}</strong> · {' · '.join(facts)}</p>",
    ]
    if run.get("error"):
        parts.append(f'<p style="color: {STATUS_COLORS["FAILED"]}">{esc(run["error"])}</p>')
    parts.append(_pairs_html("Params", run.get("params") or {}))
    parts.append(_pairs_html("Metrics", run.get("metrics") or {}))
    parts.append(f"<p><small>run id <code>{esc(run.get('run_id', ''))}</code></small></p></div>")
    return "".join(parts)


#: How many params / metrics the plain-text card lists (autologged pipelines have hundreds).
TEXT_ITEMS = 12


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def card_text(run: dict[str, Any]) -> str:
    """The card as plain text, for consoles and text-only viewers."""
    if not run:
        return "RunCard(no run)"
    summary = RunSummary(**{f.name: run.get(f.name) for f in fields(RunSummary)})
    lines = [summary.describe()]
    if run.get("error"):
        lines.append(f"  error: {run['error']}")
    for title in ("params", "metrics"):
        values = run.get(title) or {}
        if values:
            shown = [f"{k}={_short(format_value(values[k]))}" for k in sorted(values)[:TEXT_ITEMS]]
            more = f", … ({len(values) - TEXT_ITEMS} more)" if len(values) > TEXT_ITEMS else ""
            lines.append(f"  {title}: " + ", ".join(shown) + more)
    return "\n".join(lines)
