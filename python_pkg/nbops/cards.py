"""Model cards: Markdown from a Jinja2 template, and safe HTML from that Markdown.

The card is built only from what was tracked, so it cannot drift from the
registry. User text (descriptions, ``--card`` fields, reasons) may contain
anything; in the HTML, raw HTML from it is shown as text and ``javascript:``
links are dropped, so a card can be displayed in the sidebar without running
anything.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path
from typing import Any

from . import config
from .errors import ConfigError

DEFAULT_TEMPLATE = "model_card.md.j2"


def cell(value: Any) -> str:
    """User text fit for a Markdown table cell or line: one line, no table breaks."""
    text = " ".join(str(value).split())
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _template_source(start: Path | str | None = None) -> tuple[str, str]:
    settings = config.resolve(start)
    custom = settings.tool.get("model_card_template")
    if custom:
        base = settings.pyproject.parent if settings.pyproject else settings.project_root
        path = (base / custom).resolve()
        if not path.is_file():
            raise ConfigError(
                f"model_card_template {custom!r} under [tool.nbops] does not exist ({path}); "
                "copy templates/model_card.md.j2 there or remove the setting."
            )
        return path.read_text(), str(path)
    source = resources.files("nbops").joinpath("templates", DEFAULT_TEMPLATE).read_text()
    return source, DEFAULT_TEMPLATE


def render_markdown(facts: dict[str, Any], start: Path | str | None = None) -> str:
    import jinja2

    source, name = _template_source(start)
    environment = jinja2.Environment(
        autoescape=False, keep_trailing_newline=True, undefined=jinja2.ChainableUndefined
    )
    environment.filters["cell"] = cell
    try:
        return environment.from_string(source).render(**facts)
    except jinja2.TemplateError as exc:
        raise ConfigError(f"the model card template {name} failed: {exc}; fix the template.") from exc


def to_html_fragment(markdown: str) -> str:
    """Markdown → HTML with raw HTML escaped and unsafe link targets removed."""
    import mistune

    renderer = mistune.create_markdown(escape=True, plugins=["table"])
    return renderer(markdown)


def to_html_document(markdown: str, title: str) -> str:
    body = to_html_fragment(markdown)
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;line-height:1.45}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}"
        "code{font-size:.9em}</style></head>"
        f"<body>{body}</body></html>\n"
    )
