"""Model cards: the facts of a version gathered from its tags, lineage, gates and monitoring."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import cards, lineage, store
from .versions import CARD_TAG, REQUIREMENTS_TAG, aliases_of, get_version

_Start = Path | str | None

# --- model cards ---------------------------------------------------------------------------------


def card_facts(
    name: str, version: str, card: dict[str, str] | None = None, start: _Start = None
) -> dict[str, Any]:
    """Everything the model card shows, read from the registry and the training run."""
    client = store.client(start)
    mv = get_version(name, version, start)
    run = client.get_run(mv.run_id) if mv.run_id else None
    aliases = aliases_of(name, str(mv.version), start)
    return _facts(name, mv, run, card, _schema(mv.source, start), aliases, start)


def _facts(
    name: str,
    mv: Any,
    run: Any,
    card: dict[str, str] | None,
    schema: list[tuple[str, str]],
    aliases: list[str],
    start: _Start,
    monitoring: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The card's facts from a version and its run as already read (no store reads but monitoring's).

    ``monitoring``: the monitoring sections when already known, e.g. none for a version just made.
    """
    tags = dict(mv.tags)
    run_tags = run.data.tags if run else {}
    saved_card = {k.removeprefix("nbops.card."): v for k, v in tags.items() if k.startswith("nbops.card.")}
    saved_card.update(card or {})
    datasets = []
    for key, value in sorted(run_tags.items()):
        if key.startswith("nbops.dataset.") and key.endswith(".sha256"):
            dataset = key.removeprefix("nbops.dataset.").removesuffix(".sha256")
            datasets.append(
                {
                    "name": cards.cell(dataset),
                    "context": cards.cell(run_tags.get(f"nbops.dataset.{dataset}.context", "")),
                    "shape": run_tags.get(f"nbops.dataset.{dataset}.shape", ""),
                    "sha256": value,
                }
            )
    gates = [
        {
            "name": cards.cell(k.removeprefix("nbops.gate.")),
            "result": cards.cell(v.split()[0]),
            "time": cards.cell(v.split()[2] if len(v.split()) > 2 else ""),
        }
        for k, v in sorted(tags.items())
        if k.startswith("nbops.gate.") and v.split()
    ]
    created = datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    return {
        "model": cards.cell(name),
        "version": str(mv.version),
        "registered": created,
        "actor": cards.cell(run_tags.get("mlflow.user", "unknown")),
        "aliases": [cards.cell(a) for a in aliases],
        "run_id": mv.run_id,
        "run_name": cards.cell(run.info.run_name) if run else "",
        "flavor": "scikit-learn" if "scikit-learn" in tags.get(REQUIREMENTS_TAG, "") else "pyfunc",
        "description": cards.cell(mv.description) if mv.description else "",
        "card": {cards.cell(k): cards.cell(v) for k, v in saved_card.items()},
        "datasets": datasets,
        "schema": schema,
        "params": [
            (cards.cell(k), cards.cell(v)) for k, v in sorted((run.data.params if run else {}).items())
        ],
        "metrics": [
            (cards.cell(k), f"{v:.6g}") for k, v in sorted((run.data.metrics if run else {}).items())
        ],
        "lineage": {
            "notebook": cards.cell(tags.get(lineage.TAG_NOTEBOOK, "")),
            "cell": tags.get(lineage.TAG_CELL_HASH, ""),
            "commit": tags.get(lineage.TAG_GIT_COMMIT, ""),
            "branch": cards.cell(tags.get(lineage.TAG_GIT_BRANCH, "")),
            "dirty": tags.get(lineage.TAG_GIT_DIRTY, ""),
        },
        "environment": {"python": tags.get(lineage.TAG_PYTHON, "")},
        "requirements": [r for r in tags.get(REQUIREMENTS_TAG, "").split(",") if r],
        "gates": gates,
        "reproducibility": cards.cell(tags.get("nbops.reproduce.summary", "")),
        **(_monitoring_sections(name, str(mv.version), start) if monitoring is None else monitoring),
    }


def _monitoring_sections(name: str, version: str, start: _Start) -> dict[str, str]:
    from ..monitoring.card import card_sections

    return card_sections(name, version, start)


def model_card(name: str, version: str | int, start: _Start = None) -> str:
    """The model card of a version as Markdown."""
    return cards.render_markdown(card_facts(name, str(version), start=start), start)


def refresh_card(
    name: str, version: str | int, card: dict[str, str] | None = None, start: _Start = None
) -> str:
    """Render the card again from the current facts and store it beside the training run."""
    client = store.client(start)
    mv = get_version(name, version, start)
    for key, value in (card or {}).items():
        _set_version_tag(client, name, str(mv.version), f"nbops.card.{key}", value)
    run = client.get_run(mv.run_id) if mv.run_id else None
    aliases = aliases_of(name, str(mv.version), start)
    return _write_card(client, name, mv, run, card, _schema(mv.source, start), aliases, start)


def _write_card(
    client: Any,
    name: str,
    mv: Any,
    run: Any,
    card: dict[str, str] | None,
    schema: list[tuple[str, str]],
    aliases: list[str],
    start: _Start,
    monitoring: dict[str, str] | None = None,
) -> str:
    """Render the card from facts already read, store it with the run, and point the version at it."""
    facts = _facts(name, mv, run, card, schema, aliases, start, monitoring)
    markdown = cards.render_markdown(facts, start)
    folder = f"model_cards/{name}/v{mv.version}"
    location = f"runs:/{mv.run_id}/{folder}"
    if mv.run_id:
        client.log_text(mv.run_id, markdown, f"{folder}/model_card.md")
        client.log_text(
            mv.run_id, cards.to_html_document(markdown, f"{name} v{mv.version}"), f"{folder}/model_card.html"
        )
        if mv.tags.get(CARD_TAG) != location:  # a re-render writes to the same place
            _set_version_tag(client, name, str(mv.version), CARD_TAG, location)
    return location


def _set_version_tag(client: Any, name: str, version: str, key: str, value: str) -> None:
    """Tag a version nbops has just read or made.

    ``MlflowClient.set_model_version_tag`` first asks the store whether the model is a
    prompt, one more round trip per tag; the registry client underneath does the write alone.
    """
    registry_client = getattr(client, "_get_registry_client", None)
    if registry_client is None:
        client.set_model_version_tag(name, version, key, value)
    else:
        registry_client().set_model_version_tag(name, version, key, value)


#: (store, model source) → the card's schema rows: a logged model never changes, so its
#: signature is read once per process (registration fills it in with what it just logged).
_schemas: dict[tuple[str, str], list[tuple[str, str]]] = {}
_SCHEMAS_KEPT = 256


def _schema_of(signature: Any) -> list[tuple[str, str]]:
    if signature is None or signature.inputs is None:
        return []
    return [
        (cards.cell(c.name or "0"), cards.cell(getattr(c.type, "name", c.type)))
        for c in signature.inputs.inputs
    ]


def _remember_schema(tracking_uri: str, source: str, schema: list[tuple[str, str]]) -> None:
    if len(_schemas) >= _SCHEMAS_KEPT:
        _schemas.pop(next(iter(_schemas)))
    _schemas[(tracking_uri, source)] = schema


def _schema(source: str, start: _Start) -> list[tuple[str, str]]:
    """The input schema of the model at ``source``; empty when it has no readable signature."""
    uri = store.settings(start).tracking_uri
    if (uri, source) not in _schemas:
        try:
            from mlflow.models import get_model_info

            schema = _schema_of(get_model_info(source).signature)
        except Exception:  # a model without a readable signature simply has no schema section
            return []
        _remember_schema(uri, source, schema)
    return _schemas[(uri, source)]
