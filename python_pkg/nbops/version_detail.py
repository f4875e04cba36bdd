"""One model version as the sidebar's detail shows it, and the policy facts lists share.

The detail gathers what a reviewer needs before moving an alias: lineage (notebook, cell, git
commit, datasets), metrics, gate results against what the promotion policy requires per alias,
what a rollback would restore, the latest reproduction verdict with its metric table, and the
model card as sanitised HTML. The model listing in
``catalog`` reads the same policy facts (``required_gates``) and gate tags (``GATE_TAG``), so
they live here, below it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from . import cards, config, lineage, registry, store
from .errors import NotFound
from .identifiers import check_model_name, check_version

_Start = Path | str | None

GATE_TAG = "nbops.gate."


def required_gates(names: list[str], start: _Start = None) -> dict[str, dict[str, list[str]]]:
    """Model name → alias → the gates ``[tool.nbops.policy]`` requires (aliases without any left out).

    The project-wide lists are read once; only models with their own
    ``[tool.nbops.policy.models.NAME]`` table are resolved one by one.
    """
    registry.required_gates("champion", start)  # a malformed policy table fails here, with its fix
    table = config.resolve(start).tool.get("policy", {})
    per_model = table.get("models", {}) if isinstance(table.get("models", {}), dict) else {}
    project = {
        alias: gates
        for alias in table
        if alias != "models" and (gates := registry.required_gates(alias, start))
    }
    result = {}
    for name in names:
        own = per_model.get(name)
        if isinstance(own, dict):
            aliases = [a for a in table if a != "models"] + [a for a in own if a not in table]
            result[name] = {
                alias: gates
                for alias in aliases
                if (gates := registry.required_gates(alias, start, model=name))
            }
        else:
            result[name] = dict(project)
    return result


def registered_model(name: str, start: _Start) -> tuple[Any, Any]:
    """The client and the registered model ``name``; a store never written to is not created to say no."""
    from mlflow.exceptions import MlflowException

    missing = NotFound(f"no registered model named {name!r}; GET models lists them.")
    if not store.exists(config.resolve(start).tracking_uri):
        raise missing
    client = store.client(start)
    try:
        return client, client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise missing from None
        raise


def version_detail(name: str, version: str | int, start: _Start = None) -> dict[str, Any]:
    """Everything the sidebar shows of one version: lineage, metrics, gates, policy gaps, the card.

    Text fields are plain text (render them as text); ``card_html`` is the model card rendered
    by ``nbops.cards``, with any HTML from user text escaped and unsafe link targets removed.
    """
    check_model_name(name)
    version = check_version(version)
    client, model = registered_model(name, start)
    mv = registry.get_version(name, version, start)
    run = _run_or_none(client, mv.run_id)
    tags = dict(mv.tags)
    run_tags = dict(run.data.tags) if run else {}
    gates = gate_details(tags)
    results = {gate: facts["result"] for gate, facts in gates.items()}
    policy = {
        alias: {"required": required, "missing": missing_gates(results, required)}
        for alias, required in required_gates([name], start)[name].items()
    }
    markdown = registry.model_card(name, version, start)
    held = sorted(alias for alias, holder in model.aliases.items() if str(holder) == str(mv.version))
    return {
        "model": name,
        "version": str(mv.version),
        "status": mv.status,
        "description": mv.description or "",
        "created": mv.creation_timestamp,
        "updated": mv.last_updated_timestamp,
        "run_id": mv.run_id,
        "aliases": held,
        # Per alias this version holds: the version a rollback would restore (None: nothing to restore).
        "rollback": {alias: registry.rollback_target(name, alias, start) for alias in held},
        "lineage": {
            "notebook": tags.get(lineage.TAG_NOTEBOOK) or run_tags.get(lineage.TAG_NOTEBOOK),
            "cell_sha256": tags.get(lineage.TAG_CELL_HASH) or run_tags.get(lineage.TAG_CELL_HASH),
            "git": {
                "commit": tags.get(lineage.TAG_GIT_COMMIT) or run_tags.get(lineage.TAG_GIT_COMMIT),
                "branch": tags.get(lineage.TAG_GIT_BRANCH) or run_tags.get(lineage.TAG_GIT_BRANCH),
                "dirty": (tags.get(lineage.TAG_GIT_DIRTY) or run_tags.get(lineage.TAG_GIT_DIRTY)) == "true",
            },
            "python": tags.get(lineage.TAG_PYTHON) or run_tags.get(lineage.TAG_PYTHON),
            "requirements": [r for r in tags.get(registry.REQUIREMENTS_TAG, "").split(",") if r],
            "source_run": _run_summary(run),
            "datasets": _datasets(run_tags),
        },
        "metrics": dict(run.data.metrics) if run else {},
        "params": dict(run.data.params) if run else {},
        "gates": gates,
        "policy": policy,
        "reproduction": reproduction(name, str(mv.version), start),
        "deploy": deploy_facts(tags),
        "card_html": cards.to_html_fragment(markdown),
    }


#: The version tags ``nbops.deploy.image`` and ``nbops.deploy.manifests`` write (named here, not imported:
#: the deploy services sit above this module; a test checks the names agree).
DEPLOY_IMAGE_TAG = "nbops.deploy.image"
DEPLOY_DIGEST_TAG = "nbops.deploy.image_digest"
DEPLOY_IMAGE_ID_TAG = "nbops.deploy.image_id"
DEPLOY_MANIFESTS_TAG = "nbops.deploy.manifests"


def deploy_facts(tags: dict[str, str]) -> dict[str, Any] | None:
    """The image the version was built as and where its manifests were written, when recorded.

    ``image_digest`` is a registry's digest (the image can be pulled by it) and is set only once
    the image was pushed; ``image_id`` names a local build that no cluster can pull.
    """
    manifests = tags.get(DEPLOY_MANIFESTS_TAG, "")
    if not (tags.get(DEPLOY_IMAGE_TAG) or manifests):
        return None
    target, _, folder = manifests.partition(" ")
    return {
        "image": tags.get(DEPLOY_IMAGE_TAG) or None,
        "image_digest": tags.get(DEPLOY_DIGEST_TAG) or None,
        "image_id": tags.get(DEPLOY_IMAGE_ID_TAG) or None,
        "manifests": {"target": target, "folder": folder} if manifests else None,
    }


def reproduction(name: str, version: str, start: _Start) -> dict[str, Any] | None:
    """The latest ``nbops reproduce`` verdict on the version with its metric table; None if never run.

    ``reproducing.latest`` reads the verdict from the version's tags and the rows from the JSON
    report; the rows are passed on with numbers that are not finite (or absent) as null, so the
    answer stays plain JSON.
    """
    from .reproducing import latest

    found = latest(name, version, start)
    if found is None:
        return None
    reproduced = found.get("reproduced_run_id")
    return {
        "verdict": found["verdict"],
        "time": found.get("time"),
        "run_id": found.get("run_id"),
        "reproduced_run_id": reproduced if isinstance(reproduced, str) else None,
        "summary": found.get("summary") or "",
        "metrics": [row for item in found.get("metrics") or [] if (row := _metric_row(item))],
    }


def _metric_row(item: Any) -> dict[str, Any] | None:
    """One row of the report's metric table, numbers that are not finite (or absent) as None."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None

    def number(key: str) -> float | None:
        value = item.get(key)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return float(value) if ok else None

    return {
        "name": item["name"],
        "original": number("original"),
        "new": number("new"),
        "difference": number("difference"),
        "tolerance": number("tolerance"),
        "ok": item.get("ok") is True,
    }


def gate_details(tags: dict[str, str]) -> dict[str, dict[str, str | None]]:
    """Gate → result, gate run id and time, from the ``nbops.gate.<gate> = "<result> <run> <time>"`` tags."""
    details = {}
    for key, value in sorted(tags.items()):
        words = value.split()
        if key.startswith(GATE_TAG) and words:
            details[key.removeprefix(GATE_TAG)] = {
                "result": words[0],
                "run_id": words[1] if len(words) > 1 else None,
                "time": words[2] if len(words) > 2 else None,
            }
    return details


def missing_gates(results: dict[str, str], required: list[str]) -> list[str]:
    """The required gates that have not passed (not run, failed or errored), in policy order."""
    return [gate for gate in required if results.get(gate) != "passed"]


def _run_or_none(client: Any, run_id: str | None) -> Any | None:
    if not run_id:
        return None
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException:
        return None  # the training run was deleted: the version still stands on its own tags


def _run_summary(run: Any | None) -> dict[str, Any] | None:
    if run is None:
        return None
    info = run.info
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
    }


def _datasets(run_tags: dict[str, str]) -> list[dict[str, str]]:
    prefix = "nbops.dataset."
    found = []
    for key, value in sorted(run_tags.items()):
        if key.startswith(prefix) and key.endswith(".sha256"):
            dataset = key.removeprefix(prefix).removesuffix(".sha256")
            found.append(
                {
                    "name": dataset,
                    "context": run_tags.get(f"{prefix}{dataset}.context", ""),
                    "shape": run_tags.get(f"{prefix}{dataset}.shape", ""),
                    "sha256": value,
                }
            )
    return found
