"""The registry and the audit log as pages for UIs, and the alias changes the sidebar makes.

The sidebar lists models, versions and audit events through the REST API. Every list is
paged by the store and carries a ``total``, so a registry of thousands of models costs one
page per request, and what the sidebar shows is never older than the request.

MLflow has no count API and no search for "the versions of these 50 models" that does not
also build an entity (with all its tags) per version: asking ``MlflowClient`` for a page's
counts and gate results costs ~70 ms for 50 models on SQLite, and one call per model far more.
On SQL stores (SQLite, PostgreSQL, MySQL) those facts therefore come from three small
aggregate queries through MLflow's own SQLAlchemy models and session, with MLflow's own
filter, workspace and prompt clauses (~3 ms for 50 models). Those are internal MLflow APIs:
if they ever change shape, the same facts are read through ``MlflowClient`` instead (slower,
same answer; ``tests/test_catalog.py`` runs both paths). Nothing is cached.

Identifiers that arrive from outside are checked by ``identifiers`` before anything is read;
its checks are re-exported here for the REST handlers. One version's detail is ``version_detail``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import audit, config, registry, store
from .errors import InvalidInput, PolicyError, StoreError
from .identifiers import (
    _check_page_size,
    check_alias,
    check_artifact_path,
    check_filter,
    check_metrics,
    check_model_name,
    check_run_id,
    check_version,
)
from .version_detail import GATE_TAG, missing_gates, registered_model, required_gates

#: The checks of ``identifiers`` are offered here too, beside what they guard.
__all__ = [
    "ALERT_STATES",
    "MAX_AUDIT_PAGE",
    "MAX_MODELS_PAGE",
    "MAX_VERSIONS_PAGE",
    "SOURCE",
    "alerts",
    "audit_page",
    "check_alias",
    "check_artifact_path",
    "check_filter",
    "check_metrics",
    "check_model_name",
    "check_reason",
    "check_run_id",
    "check_version",
    "log",
    "models",
    "monitoring_series",
    "move_alias",
    "open_alert_counts",
    "promote",
    "required_gates",
    "rollback",
    "versions",
]

_Start = Path | str | None

log = logging.getLogger(__name__)

#: ``search_registered_models`` refuses larger pages.
MAX_MODELS_PAGE = 1000
MAX_VERSIONS_PAGE = 1000
MAX_AUDIT_PAGE = 1000
#: Where the sidebar's actions come from, in the audit log.
SOURCE = "sidebar"
ALERT_STATES = ("open", "resolved")

_AUDIT_TOKEN = re.compile(r"before-([1-9][0-9]{0,11})")
_TOKEN_HELP = "the page token is not one this server issued; start again from the first page."


# --- models --------------------------------------------------------------------------------------


@dataclass
class _PageFacts:
    """What one page of models needs besides the models themselves."""

    total: int | None = None
    #: name → (number of versions, latest version)
    versions: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    #: name → version → gate → result
    gates: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)


def models(
    max_results: int = 50,
    page_token: str | None = None,
    filter_text: str | None = None,
    start: _Start = None,
) -> dict[str, Any]:
    """One page of registered models by name, with what the sidebar shows of each, and the total.

    Per model: description, aliases (alias → version), latest version, number of versions, the
    gate results of the versions it shows (the latest and every alias holder), the gates the
    promotion policy requires per alias, open monitoring alerts, and when it last changed.
    Store calls: one ``search_registered_models`` page, then three aggregate reads (SQL stores)
    or a few searches (other stores), and one read of the open alerts.
    """
    _check_page_size(max_results, MAX_MODELS_PAGE)
    text = check_filter(filter_text)
    page: dict[str, Any] = {"models": [], "total": 0, "next_page_token": None}
    if not store.exists(config.resolve(start).tracking_uri):
        return page  # a store that was never written to has no models; reading it must not create it
    client = store.client(start)
    filter_string = _name_contains(text)
    found = _search_models(client, filter_string, max_results, page_token)
    names = [model.name for model in found]
    token = _token_text(found.token)
    facts = _page_facts(client, filter_string, names, need_total=bool(page_token or token))
    policies = required_gates(names, start)
    alerts = open_alert_counts(start)
    rows = []
    for model in found:
        aliases = {alias: str(version) for alias, version in sorted(model.aliases.items())}
        count, latest = facts.versions.get(model.name, (0, None))
        shown = sorted({v for v in (latest, *aliases.values()) if v}, key=int, reverse=True)
        gates = facts.gates.get(model.name, {})
        rows.append(
            {
                "name": model.name,
                "description": model.description or "",
                "aliases": aliases,
                "latest_version": latest,
                "versions_count": count,
                "gates": {version: gates.get(version, {}) for version in shown},
                "required_gates": policies.get(model.name, {}),
                "open_alerts": alerts.get(model.name, 0),
                "updated": model.last_updated_timestamp,
            }
        )
    page["models"] = rows
    page["total"] = facts.total if facts.total is not None else len(rows)
    page["next_page_token"] = token
    return page


def open_alert_counts(start: _Start = None) -> dict[str, int]:
    """Model name → open monitoring alerts."""
    from . import monitoring

    return monitoring.open_alert_counts(start=start)


def _name_contains(text: str | None) -> str | None:
    if text is None:
        return None
    quote = '"' if "'" in text else "'"
    return f"name ILIKE {quote}%{text}%{quote}"


def _search_models(client: Any, filter_string: str | None, max_results: int, page_token: str | None) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.search_registered_models(
            filter_string=filter_string,
            max_results=max_results,
            order_by=["name ASC"],
            page_token=page_token or None,
        )
    except MlflowException as exc:
        raise _search_error(exc, "models", page_token) from None


def _search_error(exc: Any, what: str, page_token: str | None) -> Exception:
    reason = " ".join(str(exc.message).split()).rstrip(".")
    if exc.error_code != "INVALID_PARAMETER_VALUE":
        return StoreError(
            f"the MLflow store could not list {what} ({reason}); check that it is reachable (nbops info)."
        )
    if page_token:
        return InvalidInput(_TOKEN_HELP)
    return InvalidInput(f"the store refused to list {what}: {reason}.")


def _page_facts(client: Any, filter_string: str | None, names: list[str], need_total: bool) -> _PageFacts:
    registry_store = store.sql_registry_store(client)
    if registry_store is not None:
        try:
            return _sql_facts(registry_store, filter_string, names, need_total)
        except Exception as exc:  # MLflow's internals moved: the public API gives the same answer
            if not store.internals_changed(exc):
                raise
            log.warning("nbops: counting through MLflow's SQL models failed (%s); using MlflowClient", exc)
    return _client_facts(client, filter_string, names, need_total)


def _sql_facts(
    registry_store: Any, filter_string: str | None, names: list[str], need_total: bool
) -> _PageFacts:
    import sqlalchemy as sa
    from mlflow.entities.model_registry.model_version_stages import STAGE_DELETED_INTERNAL
    from mlflow.prompt.registry_utils import add_prompt_filter_string
    from mlflow.store.model_registry.dbmodels.models import SqlModelVersion, SqlModelVersionTag
    from mlflow.utils.search_utils import SearchModelUtils

    facts = _PageFacts()
    with registry_store.ManagedSessionMaker() as session:
        if need_total:
            # Exactly the query search_registered_models pages through (MlflowClient adds the
            # prompt filter for every SQL store), counted instead of fetched.
            parsed = SearchModelUtils.parse_search_filter(add_prompt_filter_string(filter_string, False))
            matching = registry_store._get_search_registered_model_filter_query(
                session, parsed, registry_store.engine.dialect.name
            )
            facts.total = session.execute(
                sa.select(sa.func.count()).select_from(matching.subquery())
            ).scalar_one()
        if not names:
            return facts
        version_rows = session.execute(
            sa.select(SqlModelVersion.name, sa.func.count(), sa.func.max(SqlModelVersion.version))
            .where(
                SqlModelVersion.name.in_(names),
                SqlModelVersion.current_stage != STAGE_DELETED_INTERNAL,
                *registry_store._get_workspace_clauses(SqlModelVersion),
            )
            .group_by(SqlModelVersion.name)
        ).all()
        tag_rows = session.execute(
            sa.select(
                SqlModelVersionTag.name,
                SqlModelVersionTag.version,
                SqlModelVersionTag.key,
                SqlModelVersionTag.value,
            ).where(
                SqlModelVersionTag.name.in_(names),
                SqlModelVersionTag.key.like(GATE_TAG + "%"),
                *registry_store._get_workspace_clauses(SqlModelVersionTag),
            )
        ).all()
    facts.versions = {name: (count, str(latest)) for name, count, latest in version_rows}
    for name, version, key, value in tag_rows:
        if key.startswith(GATE_TAG) and value.split():
            facts.gates.setdefault(name, {}).setdefault(str(version), {})[key.removeprefix(GATE_TAG)] = (
                value.split()[0]
            )
    return facts


def _client_facts(client: Any, filter_string: str | None, names: list[str], need_total: bool) -> _PageFacts:
    """The same facts through ``MlflowClient``: every matching model counted, the page's versions read."""
    facts = _PageFacts()
    if need_total:
        total, token = 0, None
        while True:
            every = client.search_registered_models(
                filter_string=filter_string, max_results=1000, page_token=token
            )
            total += len(every)
            token = every.token
            if not token:
                break
        facts.total = total
    if not names:
        return facts
    counts: dict[str, int] = {}
    latest: dict[str, int] = {}
    token = None
    while True:
        page = client.search_model_versions(
            f"name IN ({_in_list(names)})", max_results=10_000, page_token=token
        )
        for mv in page:
            counts[mv.name] = counts.get(mv.name, 0) + 1
            latest[mv.name] = max(latest.get(mv.name, 0), int(mv.version))
            gates = registry.gate_results(mv)
            if gates:
                facts.gates.setdefault(mv.name, {})[str(mv.version)] = gates
        token = page.token
        if not token:
            break
    facts.versions = {name: (counts[name], str(latest[name])) for name in counts}
    return facts


def _in_list(names: list[str]) -> str:
    """Names as the values of a filter's ``IN (...)``; the IN grammar, unlike ``=``, unescapes ``\\'``."""
    return ", ".join("'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'" for name in names)


def _token_text(token: Any) -> str | None:
    if isinstance(token, bytes):
        token = token.decode("ascii")
    return token or None


# --- versions ------------------------------------------------------------------------------------


def versions(
    name: str, max_results: int = 50, page_token: str | None = None, start: _Start = None
) -> dict[str, Any]:
    """One page of a model's versions, newest first, with aliases and gate results, and the total."""
    check_model_name(name)
    _check_page_size(max_results, MAX_VERSIONS_PAGE)
    client, model = registered_model(name, start)
    by_version: dict[str, list[str]] = {}
    for alias, version in model.aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    from mlflow.exceptions import MlflowException

    try:
        found = client.search_model_versions(
            f"name IN ({_in_list([name])})",
            max_results=max_results,
            order_by=["version_number DESC"],
            page_token=page_token or None,
        )
    except MlflowException as exc:
        raise _search_error(exc, "versions", page_token) from None
    token = _token_text(found.token)
    total = len(found) if not (page_token or token) else _count_versions(client, name)
    return {
        "model": name,
        "versions": [
            {
                "version": str(mv.version),
                "aliases": sorted(by_version.get(str(mv.version), [])),
                "status": mv.status,
                "run_id": mv.run_id,
                "created": mv.creation_timestamp,
                "updated": mv.last_updated_timestamp,
                "description": mv.description or "",
                "gates": registry.gate_results(mv),
            }
            for mv in found
        ],
        "total": total,
        "next_page_token": token,
    }


def _count_versions(client: Any, name: str) -> int:
    registry_store = store.sql_registry_store(client)
    if registry_store is not None:
        try:
            return _sql_facts(registry_store, None, [name], need_total=False).versions.get(name, (0, None))[0]
        except Exception as exc:
            if not store.internals_changed(exc):
                raise
    return _client_facts(client, None, [name], need_total=False).versions.get(name, (0, None))[0]


# --- alias changes -------------------------------------------------------------------------------


def promote(
    name: str,
    version: Any,
    alias: Any,
    reason: Any,
    *,
    force: Any = False,
    actor: str | None = None,
    source: str = SOURCE,
    start: _Start = None,
) -> dict[str, Any]:
    """Point ``alias`` at ``version`` under the promotion policy; the result carries every alias now.

    A refusal by the policy is a ``PolicyError`` naming the gates still missing.
    """
    check_model_name(name)
    change = move_alias(name, version, alias, reason, force=force, actor=actor, source=source, start=start)
    return _with_aliases(change, name, start)


def move_alias(
    address: str,
    version: Any,
    alias: Any,
    reason: Any,
    *,
    force: Any = False,
    actor: str | None = None,
    source: str = SOURCE,
    start: _Start = None,
) -> dict[str, Any]:
    """The registry's promotion of a checked model name or ``prompts:/NAME``, for input from a client.

    Checks the version, alias, reason and ``force`` as they arrive in a request body, and turns
    a refusal by the policy into a ``PolicyError`` that names the gates still missing.
    """
    version = check_version(version)
    alias = check_alias(alias)
    reason = check_reason(reason)
    if not isinstance(force, bool):
        raise InvalidInput(f"force must be true or false, got {force!r}.")
    try:
        return registry.promote(
            address, version, alias, reason, force=force, source=source, actor=actor, start=start
        )
    except PolicyError as exc:
        results = registry.gate_results(registry.get_version(address, version, start))
        required = registry.required_gates(alias, start, model=address)
        raise PolicyError(str(exc), missing_gates=missing_gates(results, required)) from None


def rollback(
    name: str,
    alias: Any,
    reason: Any,
    *,
    actor: str | None = None,
    source: str = SOURCE,
    start: _Start = None,
) -> dict[str, Any]:
    """Point ``alias`` back at the version it held before; the result carries every alias now."""
    check_model_name(name)
    change = registry.rollback(
        name, check_alias(alias), check_reason(reason), source=source, actor=actor, start=start
    )
    return _with_aliases(change, name, start)


def check_reason(reason: Any) -> str:
    """A reason as it arrives in a request body: text (or absent), checked by the registry."""
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput(f"reason must be text, got {type(reason).__name__}.")
    return registry.check_reason(reason)


def _with_aliases(change: dict[str, Any], name: str, start: _Start) -> dict[str, Any]:
    model = store.client(start).get_registered_model(name)
    return {**change, "aliases": {alias: str(v) for alias, v in sorted(model.aliases.items())}}


# --- the audit log -------------------------------------------------------------------------------


def audit_page(
    model: str | None = None, max_results: int = 50, page_token: str | None = None, start: _Start = None
) -> dict[str, Any]:
    """Audit events newest first, one page at a time, with the total.

    The token names the last event shown (``before-<seq>``), so events appended meanwhile do not
    shift the pages the way an offset would.
    """
    if model is not None:
        check_model_name(model)
    _check_page_size(max_results, MAX_AUDIT_PAGE)
    before = None
    if page_token:
        match = _AUDIT_TOKEN.fullmatch(page_token)
        if not match:
            raise InvalidInput(_TOKEN_HELP)
        before = int(match.group(1))
    every = audit.events(model=model, start=start)
    newest_first = [e for e in reversed(every) if before is None or e.seq < before]
    shown = newest_first[:max_results]
    more = len(newest_first) > max_results
    return {
        "events": [{**e.to_dict(), "summary": audit.format_event(e)} for e in shown],
        "total": len(every),
        "next_page_token": f"before-{shown[-1].seq}" if more else None,
    }


# --- monitoring ----------------------------------------------------------------------------------


def monitoring_series(
    name: str, version: str | int, metrics: str | None = None, start: _Start = None
) -> dict[str, list[dict[str, Any]]]:
    """Metric → points by batch of a monitored version (``metrics``: ``a,b``; absent: all but per-feature)."""
    check_model_name(name)
    version = check_version(version)
    wanted = check_metrics(metrics)
    registered_model(name, start)
    registry.get_version(name, version, start)  # a clear 404 for a version that does not exist
    from . import monitoring

    return monitoring.series(name, version, wanted, start=start)


def alerts(
    model: str | None = None, state: str | None = "open", start: _Start = None
) -> list[dict[str, Any]]:
    """Monitoring alerts, newest first, of one model or all, open or resolved."""
    if model is not None:
        check_model_name(model)
    if state not in ALERT_STATES:
        raise InvalidInput(f"state must be {' or '.join(ALERT_STATES)}, got {state!r}.")
    from . import monitoring

    return monitoring.alerts(model=model, state=state, start=start)
