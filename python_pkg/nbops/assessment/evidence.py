"""The recorded evidence an assessment weighs, gathered with a fixed number of store-side searches.

Assessing a registry of hundreds of models must not cost a round trip per version per test, so
every kind of record is read once for the whole project and grouped here:

- models and aliases: one ``search_registered_models`` page per 1,000 models;
- version tags (gates, lineage, card, reproduction): one ``search_model_versions`` page per
  10,000 versions;
- the performance gate runs the assessed versions name (did they compare with the champion?):
  one ``search_runs`` per 100 of them;
- monitoring runs (which metric families a version's batches carry): one ``search_runs`` page per
  1,000 monitored versions;
- the audit log (canary steps, alias stacks for rollback, reviews) read once, and its chain
  verified once;
- deployments (a canary split served): one search; the policy, alert rules, canary and review
  tables from ``pyproject.toml``.

Models that have a review in the audit log cost one more search in all (``reviews.last_reviews``).
Nothing here scores: ``scoring`` turns this evidence into points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .. import audit, config, store
from ..errors import NotFound
from ..filters import literal

#: What ``nbops reproduce`` writes on a version: ``<verdict> <run id> <time>``, and the gate it
#: records the verdict as (which the policy can require).
REPRODUCE_TAG = "nbops.reproduce"
REPRODUCE_GATE = "reproducible"
#: The verdict alone, also read when present.
REPRODUCE_VERDICT_TAG = "nbops.reproduce.verdict"
GATE_TAG = "nbops.gate."
CARD_TAG = "nbops.card"
#: The alias a model serves under unless ``[tool.nbops.deploy] alias`` names another.
DEFAULT_SERVING_ALIAS = "champion"
_VERSIONS_PAGE = 10_000
_RUNS_PAGE = 1000
_IDS_PER_SEARCH = 100
_NAMES_PER_QUERY = 500


@dataclass
class ModelEvidence:
    """What the store holds about one model, as far as the rubric asks."""

    name: str
    #: The version assessed: the serving alias's holder, else the latest (None: no versions).
    version: str | None = None
    serves: bool = False
    aliases: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    description: str = ""
    #: Gates ``[tool.nbops.policy]`` requires before a version may hold the serving alias.
    required_gates: list[str] = field(default_factory=list)
    #: Metrics of the alert rules that apply to this model.
    alert_metrics: list[str] = field(default_factory=list)
    #: Metric names the assessed version's monitoring batches carry.
    monitored_metrics: set[str] = field(default_factory=set)
    #: ``champion_uri`` of the performance gate run the version's tag names ("" when not given).
    champion_uri: str = ""
    canary_events: int = 0
    canary_served: bool = False
    #: The version a rollback of the serving alias would restore (from the audit log).
    rollback_target: str | None = None
    #: The newest review as ``reviews.last_review`` gives it; None when never reviewed.
    last_review: dict[str, Any] | None = None


@dataclass
class ProjectEvidence:
    """Project-wide facts, and every model's evidence."""

    serving_alias: str
    audit_ok: bool
    audit_checked: int
    audit_problems: list[str]
    #: Whether this nbops records reviews at all (``nbops.monitoring.reviews``).
    reviews_recorded: bool
    #: ``[tool.nbops.review] every`` as written and as a period; None when there is no schedule.
    review_every: str | None
    review_period: timedelta | None
    canary_configured: bool
    models: list[ModelEvidence] = field(default_factory=list)


def gather(model: str | None = None, start: config.Start = None) -> ProjectEvidence:
    """Everything the rubric weighs, for one model or all; an unknown model is ``NotFound``."""
    project = config.resolve(start)
    tool = project.tool
    deploy = tool.get("deploy", {}) if isinstance(tool.get("deploy"), dict) else {}
    serving_alias = str(deploy.get("alias") or DEFAULT_SERVING_ALIAS)
    every, period, reviews_recorded = _review_schedule(project)
    if not store.exists(project.tracking_uri):
        if model is not None:
            raise _unknown(model)
        return ProjectEvidence(serving_alias, True, 0, [], reviews_recorded, every, period, "canary" in tool)
    client = store.client(project)
    models = _models(client, model)
    evidence = [ModelEvidence(name=m.name, aliases=_aliases(m)) for m in models]
    _versions(client, evidence, serving_alias, model)
    _policy(evidence, serving_alias, project)
    _alert_rules(evidence, project)
    _performance_runs(client, evidence)
    _monitoring(client, evidence, model)
    verification = audit.verify(project)
    events = audit.events(model=model, start=project)
    _from_audit(evidence, events, serving_alias)
    _deployments(evidence, model, project)
    if reviews_recorded:
        _reviews(evidence, events, project)
    return ProjectEvidence(
        serving_alias=serving_alias,
        audit_ok=verification.ok,
        audit_checked=verification.checked,
        audit_problems=[p.describe() for p in verification.problems],
        reviews_recorded=reviews_recorded,
        review_every=every,
        review_period=period,
        canary_configured="canary" in tool,
        models=evidence,
    )


def _unknown(model: str) -> NotFound:
    return NotFound(f"no registered model named {model!r}; nbops registry list shows the models.")


def _review_schedule(project: config.Project) -> tuple[str | None, timedelta | None, bool]:
    """``(every, period, reviews are recorded)``; a malformed ``[tool.nbops.review]`` is its ConfigError."""
    try:
        from ..monitoring import reviews
    except ImportError:  # an nbops without review records: reviews count as absent
        return None, None, False
    found = reviews.schedule(project)
    return (found.every, found.period, True) if found else (None, None, True)


def _aliases(model: Any) -> dict[str, str]:
    return {alias: str(version) for alias, version in sorted(model.aliases.items())}


def _models(client: Any, model: str | None) -> list[Any]:
    from mlflow.exceptions import MlflowException

    if model is not None:
        try:
            return [client.get_registered_model(model)]
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise _unknown(model) from None
            raise
    found, token = [], None
    while True:
        page = client.search_registered_models(max_results=1000, order_by=["name ASC"], page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return found


def _versions(client: Any, evidence: list[ModelEvidence], serving_alias: str, model: str | None) -> None:
    """Pick each model's assessed version (the serving alias's holder, else the latest) and keep its tags.

    On SQL stores two small queries over MLflow's own tables (versions, tags) replace building a
    full entity per version (MLflow's ``search_model_versions`` costs seconds for 1,000 versions);
    if MLflow's internals ever change shape, the public search gives the same answer, slower.
    """
    rows = None
    registry_store = store.sql_registry_store(client)
    if registry_store is not None:
        try:
            rows = _sql_version_rows(registry_store, [e.name for e in evidence])
        except Exception as exc:  # MLflow's internals moved: the public API gives the same answer
            if not store.internals_changed(exc):
                raise
    if rows is None:
        rows = _client_version_rows(client, model)
    for e in evidence:
        versions = rows.get(e.name, {})
        if not versions:
            continue
        held = e.aliases.get(serving_alias)
        e.serves = held in versions
        e.version = held if e.serves else max(versions, key=int)
        e.description, e.tags = versions[e.version]


#: name → version → (description, tags)
_VersionRows = dict[str, dict[str, tuple[str, dict[str, str]]]]


def _client_version_rows(client: Any, model: str | None) -> _VersionRows:
    rows: _VersionRows = {}
    filter_string = f"name = {literal(model)}" if model is not None else None
    token = None
    while True:
        page = client.search_model_versions(filter_string, max_results=_VERSIONS_PAGE, page_token=token)
        for mv in page:
            rows.setdefault(mv.name, {})[str(mv.version)] = (mv.description or "", dict(mv.tags))
        token = page.token
        if not token:
            return rows


def _sql_version_rows(registry_store: Any, names: list[str]) -> _VersionRows:
    import sqlalchemy as sa
    from mlflow.entities.model_registry.model_version_stages import STAGE_DELETED_INTERNAL
    from mlflow.store.model_registry.dbmodels.models import SqlModelVersion, SqlModelVersionTag

    rows: _VersionRows = {}
    with registry_store.ManagedSessionMaker() as session:
        for i in range(0, len(names), _NAMES_PER_QUERY):
            chunk = names[i : i + _NAMES_PER_QUERY]
            for name, version, description in session.execute(
                sa.select(SqlModelVersion.name, SqlModelVersion.version, SqlModelVersion.description).where(
                    SqlModelVersion.name.in_(chunk),
                    SqlModelVersion.current_stage != STAGE_DELETED_INTERNAL,
                    *registry_store._get_workspace_clauses(SqlModelVersion),
                )
            ):
                rows.setdefault(name, {})[str(version)] = (description or "", {})
            for name, version, key, value in session.execute(
                sa.select(
                    SqlModelVersionTag.name,
                    SqlModelVersionTag.version,
                    SqlModelVersionTag.key,
                    SqlModelVersionTag.value,
                ).where(
                    SqlModelVersionTag.name.in_(chunk),
                    *registry_store._get_workspace_clauses(SqlModelVersionTag),
                )
            ):
                found = rows.get(name, {}).get(str(version))
                if found is not None:
                    found[1][key] = value
    return rows


def _policy(evidence: list[ModelEvidence], serving_alias: str, project: config.Project) -> None:
    from ..catalog import required_gates

    policies = required_gates([e.name for e in evidence], project)
    for e in evidence:
        e.required_gates = list(policies.get(e.name, {}).get(serving_alias, []))


def _alert_rules(evidence: list[ModelEvidence], project: config.Project) -> None:
    from ..monitoring.alerting import rules

    found = rules(project)
    for e in evidence:
        e.alert_metrics = [rule.metric for rule in found if rule.applies_to(e.name)]


def _performance_runs(client: Any, evidence: list[ModelEvidence]) -> None:
    """The ``champion_uri`` of each assessed version's performance gate run, 100 runs per search."""
    from ..gate_records import EXPERIMENT

    wanted: dict[str, list[ModelEvidence]] = {}
    for e in evidence:
        words = e.tags.get(GATE_TAG + "performance", "").split()
        if len(words) > 1:
            wanted.setdefault(words[1], []).append(e)
    if not wanted:
        return
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return
    ids = sorted(wanted)
    for i in range(0, len(ids), _IDS_PER_SEARCH):
        chunk = ids[i : i + _IDS_PER_SEARCH]
        quoted = ", ".join(f"'{run_id}'" for run_id in chunk if run_id.isalnum())
        if not quoted:
            continue
        for run in client.search_runs(
            [experiment.experiment_id],
            filter_string=f"attributes.run_id IN ({quoted})",
            max_results=_RUNS_PAGE,
        ):
            champion = run.data.params.get("champion_uri", "")
            for e in wanted.get(run.info.run_id, []):
                e.champion_uri = "" if champion in ("", "None") else champion


def _monitoring(client: Any, evidence: list[ModelEvidence], model: str | None) -> None:
    """Metric names of each assessed version's monitoring run: one search per 1,000 monitored versions."""
    from ..monitoring.runs import EXPERIMENT, TAG_MODEL, TAG_VERSION

    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return
    assessed = {(e.name, e.version): e for e in evidence if e.version}
    filter_string = f"tags.`{TAG_MODEL}` = {literal(model)}" if model is not None else ""
    token = None
    while True:
        page = client.search_runs(
            [experiment.experiment_id], filter_string=filter_string, max_results=_RUNS_PAGE, page_token=token
        )
        for run in page:
            key = (run.data.tags.get(TAG_MODEL, ""), run.data.tags.get(TAG_VERSION, ""))
            if key in assessed:
                assessed[key].monitored_metrics.update(run.data.metrics)
        token = page.token
        if not token:
            return


def _from_audit(evidence: list[ModelEvidence], events: list[Any], serving_alias: str) -> None:
    """Canary steps and the serving alias's stack (what a rollback restores), from one read of the log."""
    from ..registry.aliases import replay

    by_model: dict[str, list[Any]] = {}
    for event in events:
        if event.model:
            by_model.setdefault(event.model, []).append(event)
    for e in evidence:
        mine = by_model.get(e.name, [])
        e.canary_events = sum(1 for event in mine if event.action.startswith("canary"))
        stack = replay(mine).get(serving_alias, [])
        e.rollback_target = stack[-2] if len(stack) >= 2 else None


def _deployments(evidence: list[ModelEvidence], model: str | None, project: config.Project) -> None:
    from ..serving.deployments import list_deployments

    split = {d["model"] for d in list_deployments(model, project, stopped=True) if d.get("canary")}
    for e in evidence:
        e.canary_served = e.name in split


def _reviews(evidence: list[ModelEvidence], events: list[Any], project: config.Project) -> None:
    """The last review of each model the audit log shows reviewed (every recorded review is audited),
    read by ``reviews.last_reviews`` in one search for all of them."""
    from ..monitoring import reviews

    reviewed = {event.model for event in events if event.action == "review"}
    wanted = [e for e in evidence if e.name in reviewed]
    if not wanted:
        return
    found = reviews.last_reviews([e.name for e in wanted], project)
    for e in wanted:
        e.last_review = found.get(e.name)
