"""Listing models and versions with their aliases and gate results, as the faces show them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import store
from ..errors import NotFound
from ..filters import literal

_Start = Path | str | None

# --- listing -------------------------------------------------------------------------------------


def list_models(start: _Start = None) -> list[dict[str, Any]]:
    """Every registered model with its aliases and latest version, paged through the store.

    One request per page of 1,000 models, whatever their number: the store sends each
    model's latest version per stage with the model, so the newest of those is its latest.
    """
    client = store.client(start)
    found, token = [], None
    while True:
        page = client.search_registered_models(max_results=1000, page_token=token)
        for model in page:
            latest = max((int(v.version) for v in model.latest_versions or []), default=None)
            found.append(
                {
                    "name": model.name,
                    "description": model.description or "",
                    "aliases": {alias: str(version) for alias, version in model.aliases.items()},
                    "latest_version": None if latest is None else str(latest),
                }
            )
        token = page.token
        if not token:
            return found


def list_versions(name: str, start: _Start = None) -> list[dict[str, Any]]:
    from mlflow.exceptions import MlflowException

    client = store.client(start)
    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise NotFound(
                f"no registered model named {name!r}; nbops registry list shows the models."
            ) from None
        raise
    by_version: dict[str, list[str]] = {}
    for alias, version in model.aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    rows, token = [], None
    while True:
        page = client.search_model_versions(
            f"name = {literal(name)}", max_results=1000, page_token=token, order_by=["version_number DESC"]
        )
        for v in page:
            rows.append(
                {
                    "version": str(v.version),
                    "aliases": sorted(by_version.get(str(v.version), [])),
                    "run_id": v.run_id,
                    "created": v.creation_timestamp,
                    "description": v.description or "",
                    "tags": dict(v.tags),
                }
            )
        token = page.token
        if not token:
            return rows
