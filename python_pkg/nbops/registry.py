"""The model registry from notebooks: register, document, promote, roll back.

MLflow keeps versions and aliases but not where an alias pointed before, so it
cannot roll back. nbops records every alias change in the audit log and derives
each alias's history from it: the log is the single source of truth, the MLflow
alias is kept equal to the top of that history (and re-derived after every
change, so concurrent promotions converge on what the log says happened last).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import audit, cards, config, lineage, model_logging, store, tracking
from .errors import ConfigError, InvalidInput, NbopsError, NotFound, PolicyError
from .filters import literal

_Start = Path | str | None

#: Version tags copied from the training run, so a version is traceable on its own.
LINEAGE_TAGS = (
    lineage.TAG_NOTEBOOK,
    lineage.TAG_CELL_HASH,
    lineage.TAG_GIT_COMMIT,
    lineage.TAG_GIT_BRANCH,
    lineage.TAG_GIT_DIRTY,
    lineage.TAG_PYTHON,
    lineage.TAG_ENV_HASH,
)
CARD_TAG = "nbops.card"
REQUIREMENTS_TAG = "nbops.requirements"
#: Packages every scikit-learn model needs to load, besides the ones its classes come from.
_SKLEARN_BASE = ("mlflow", "scikit-learn", "cloudpickle", "numpy", "scipy", "pandas")


@dataclass
class ModelVersion:
    name: str
    version: str
    run_id: str | None
    model_uri: str
    aliases: list[str] = field(default_factory=list)
    card_path: str | None = None
    #: The name of the run the model was logged into.
    run_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- checks, done before anything is written -----------------------------------------------------


def check_alias(alias: str) -> str:
    """MLflow's own alias rules, checked up front so a refused alias changes nothing."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import _validate_model_alias_name, _validate_model_alias_name_reserved

    try:
        _validate_model_alias_name(alias)
        _validate_model_alias_name_reserved(alias)
    except MlflowException as exc:
        raise InvalidInput(
            f"alias {alias!r} is not allowed: {exc.message.rstrip('.')}; use letters, digits, _ and -, "
            "e.g. champion or challenger."
        ) from None
    return alias


def check_reason(reason: str | None) -> str:
    if not reason or not reason.strip():
        raise InvalidInput("a reason is required (--reason TEXT): it goes into the audit log.")
    return reason.strip()


def _flavor(model: Any) -> str:
    try:
        from sklearn.base import BaseEstimator
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        BaseEstimator = ()
    if isinstance(model, BaseEstimator):
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(model)
        except NotFittedError:
            raise InvalidInput(
                f"the {type(model).__name__} is not fitted; call .fit(X, y) before registering it."
            ) from None
        return "sklearn"
    from mlflow.pyfunc import PythonModel

    if isinstance(model, PythonModel):
        return "pyfunc"
    raise InvalidInput(
        f"cannot register a {type(model).__name__}: pass a fitted scikit-learn estimator or pipeline, "
        "or an mlflow.pyfunc.PythonModel."
    )


def _model_modules(model: Any) -> set[str]:
    """Top-level modules of the model's classes (a pipeline's steps included)."""
    modules = {type(model).__module__.split(".")[0]}
    get_params = getattr(model, "get_params", None)
    if callable(get_params):
        for value in get_params(deep=True).values():
            if hasattr(value, "fit") or hasattr(value, "transform"):
                modules.add(type(value).__module__.split(".")[0])
    return {m for m in modules if m not in ("builtins", "__main__")}


# --- register ------------------------------------------------------------------------------------


def register(
    model: Any,
    name: str,
    *,
    data: Any = None,
    alias: str | None = None,
    description: str | None = None,
    card: dict[str, str] | None = None,
    source: str | None = None,
    actor: str | None = None,
    run_id: str | None = None,
    start: _Start = None,
) -> ModelVersion:
    """Log ``model`` into its training run and register a new version of ``name``.

    The run is ``run_id`` when given (it may have finished: it stays FINISHED), else
    the active tracked run (or a plain ``mlflow.start_run()`` run), else a new run
    ``register-NAME``. The signature and input example come from ``data``; requirements
    are pinned from this environment for the packages the model's classes come from (no
    MLflow inference subprocess). The run's lineage is copied onto the version, a model
    card is rendered, the audit log records the registration, and ``alias`` (if given)
    is promoted to the new version.

    On a team's tracking server every store call is a round trip, so the run is read
    once and the card is rendered from what registration already holds.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("a model name is required, e.g. --name churn-model.")
    name = name.strip()
    flavor = _flavor(model)
    if alias:
        check_alias(alias)
    if data is not None and flavor == "sklearn" and not hasattr(model, "predict"):
        raise InvalidInput(f"the {type(model).__name__} has no predict(); register a predictor.")
    card_fields = {str(k): str(v) for k, v in (card or {}).items()}
    source = source or lineage.notebook_path()

    reference = None
    if data is not None:
        from .monitoring.reference import build_profile

        reference = build_profile(model, data)
    client = store.client(start)
    run_id = run_id or active_run_id(start)
    if run_id:
        run = _training_run(client, run_id)
        made = _log_and_register(model, name, flavor, data, description, card_fields, run, start)
    else:
        with tracking.track(f"register-{name}", start=start, autolog=False) as started:
            made = _log_and_register(model, name, flavor, data, description, card_fields, started, start)
    version = made.registered

    def save_reference() -> None:
        if reference is not None:
            from .monitoring.reference import save_profile

            save_profile(name, version.version, version.run_id, reference, start)

    def record() -> None:
        audit.append("register", model=name, version=version.version, source=source, actor=actor, start=start)

    def write_card() -> str:
        # A new version holds no alias and no monitored batch yet, and its schema is the one
        # just logged: its card needs nothing read back from the store.
        unmonitored = {"monitoring": "", "fairness": ""}
        return _write_card(client, name, made.version, made.run, None, made.schema, [], start, unmonitored)

    version.card_path = _side_by_side(start, save_reference, record, write_card)[2]
    if alias:
        promote(
            name,
            version.version,
            alias,
            reason="registered with this alias",
            source=source,
            actor=actor,
            start=start,
        )
        version.aliases = aliases_of(name, version.version, start)
    return version


def active_run_id(start: _Start = None) -> str | None:
    """The run a model registered now belongs to: the active tracked run, else a plain MLflow one."""
    return tracking.active_run_id(required=False) or _plain_mlflow_run_id(start)


def _plain_mlflow_run_id(start: _Start) -> str | None:
    """A run the user started with ``mlflow.start_run()`` is where the model belongs too."""
    active = store.fluent(start).active_run()
    return active.info.run_id if active else None


@dataclass
class _Registered:
    """A registration's results, kept in memory so the card needs no read-back."""

    registered: ModelVersion
    version: Any  # the MLflow ModelVersion as created
    run: Any  # the training run as read before logging
    schema: list[tuple[str, str]]


def _training_run(client: Any, run_id: str) -> Any:
    """The run to log into, read once: refused (before anything is written) if missing or deleted."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise NotFound(
                f"no run {run_id} in this project's store; pass the id of the run that trained the model."
            ) from None
        raise
    if run.info.lifecycle_stage != "active":
        raise InvalidInput(
            f"run {run_id} is deleted; restore it (mlflow runs restore --run-id {run_id}) "
            "or register the model onto another run."
        )
    return run


def _log_and_register(
    model: Any,
    name: str,
    flavor: str,
    data: Any,
    description: str | None,
    card_fields: dict[str, str],
    run: Any,
    start: _Start,
) -> _Registered:
    """Log the model into ``run`` (as read from the store) and create the version from it."""
    client = store.client(start)
    run_id = run.info.run_id
    requirements = lineage.pins_for_modules(
        _model_modules(model), _SKLEARN_BASE if flavor == "sklearn" else ("mlflow",)
    )
    signature = example = None
    if data is not None:
        from mlflow.models import infer_signature

        example = data[:5] if hasattr(data, "__getitem__") else data
        predict = getattr(model, "predict", None)
        signature = infer_signature(example, predict(example) if callable(predict) else None)
    remote = _remote(start)
    logged, _ = _side_by_side(
        start,
        lambda: model_logging.log_model(
            client,
            model,
            flavor,
            run,
            signature=signature,
            input_example=example,
            pip_requirements=requirements,
            side_by_side=remote,
        ),
        lambda: _ensure_registered_model(client, name),
    )
    tags = {key: run.data.tags[key] for key in LINEAGE_TAGS if key in run.data.tags}
    tags.update({k: v for k, v in run.data.tags.items() if k.startswith("nbops.dataset.")})
    tags[REQUIREMENTS_TAG] = ",".join(requirements)[:5000]
    tags.update({f"nbops.card.{key}": value for key, value in card_fields.items()})
    # A tracking server accepts a models:/m-... source only with the id of the logged model holding it.
    created = client.create_model_version(
        name,
        logged.model_uri,
        run_id=run_id,
        tags=tags,
        description=description or None,
        model_id=logged.model_id,
    )
    if created.status == "PENDING_REGISTRATION":
        created = _wait_ready(client, name, created.version)
    schema = _schema_of(logged.signature)
    _remember_schema(store.settings(start).tracking_uri, created.source, schema)
    registered = ModelVersion(name, str(created.version), run_id, f"models:/{name}/{created.version}")
    registered.run_name = run.info.run_name
    return _Registered(registered, created, run, schema)


def _remote(start: _Start) -> bool:
    """Whether store calls are round trips to a server (anything but a local SQLite file)."""
    return config.sqlite_path(store.settings(start).tracking_uri) is None


def _side_by_side(start: _Start, *calls: Callable[[], Any]) -> list[Any]:
    """Independent store calls: at once on a server, where each one waits for a round trip.

    On a local SQLite store, where there is nothing to wait for and one writer at a time is
    best, they run one after another in the order given. Returns their results in order;
    once all have ended, the first error is raised.
    """
    if not _remote(start):
        return [call() for call in calls]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="nbops-register") as pool:
        futures = [pool.submit(call) for call in calls]
    return [future.result() for future in futures]


def _ensure_registered_model(client: Any, name: str) -> None:
    """Create the registered model unless it exists: one round trip either way."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise


def _wait_ready(client: Any, name: str, version: str, timeout: float = 60.0) -> Any:
    """Poll a version some registries create asynchronously until it is READY (SQL stores never do)."""
    deadline = time.monotonic() + timeout
    while True:
        mv = client.get_model_version(name, version)
        if mv.status != "PENDING_REGISTRATION":
            return mv
        if time.monotonic() > deadline:
            raise NbopsError(f"version {version} of {name!r} is still pending registration; check the store.")
        time.sleep(0.1)


# --- versions and aliases ------------------------------------------------------------------------


def get_version(name: str, version: str | int, start: _Start = None) -> Any:
    from mlflow.exceptions import MlflowException

    client = store.client(start)
    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            if not _model_exists(client, name):
                raise NotFound(
                    f"no registered model named {name!r}; nbops registry list shows the models."
                ) from None
            raise NotFound(
                f"model {name!r} has no version {version}; nbops registry list shows its versions."
            ) from None
        raise


def _model_exists(client: Any, name: str) -> bool:
    return bool(client.search_registered_models(f"name = {literal(name)}", max_results=1))


def alias_holder(name: str, alias: str, start: _Start = None) -> str | None:
    client = store.client(start)
    model = client.get_registered_model(name)
    held = model.aliases.get(alias)
    return None if held is None else str(held)


def aliases_of(name: str, version: str, start: _Start = None) -> list[str]:
    model = store.client(start).get_registered_model(name)
    return sorted(alias for alias, held in model.aliases.items() if str(held) == str(version))


# --- history, derived from the audit log ---------------------------------------------------------


def _replay(events: list[Any]) -> dict[str, list[str | None]]:
    """Each alias's stack of versions: promote pushes, rollback pops, removal pushes 'none'."""
    stacks: dict[str, list[str | None]] = {}
    for event in events:
        if not event.alias:
            continue
        stack = stacks.setdefault(event.alias, [])
        if event.action == "promote":
            stack.append(event.to_version)
        elif event.action == "rollback" and stack:
            stack.pop()
        elif event.action == "remove_alias":
            stack.append(None)
    return stacks


def _alias_stack(name: str, alias: str, start: _Start, through: int | None = None) -> list[str | None]:
    """The alias's stack from the whole log, or from the log as it stood at event ``through``."""
    return _replay(audit.events(model=name, start=start, through=through)).get(alias, [])


def _move(
    action: str, name: str, alias: str, stack: list[str | None], to_version: str | None, held: str | None
) -> tuple[str | None, str | None]:
    """Where ``action`` takes the alias, from its ``stack`` as the log stands: (from, to).

    ``held`` is the version MLflow shows for an alias the log has never seen (set
    outside nbops); once the log knows the alias, the log alone decides.
    """
    current = stack[-1] if stack else held
    if action == "promote":
        return current, to_version
    if action == "rollback":
        if len(stack) < 2:
            raise InvalidInput(
                f"alias {alias!r} of {name!r} has no earlier version to roll back to; "
                "promote a version first (nbops.registry.history shows the timeline)."
            )
        return stack[-1], stack[-2]
    if current is None:  # remove_alias
        raise InvalidInput(f"model {name!r} has no alias {alias!r} to remove.")
    return current, None


def rollback_target(name: str, alias: str = "champion", start: _Start = None) -> str | None:
    """The version a rollback of ``alias`` would point at now (``None``: nothing to roll back to)."""
    stack = _alias_stack(name, alias, start)
    return stack[-2] if len(stack) >= 2 else None


def history(name: str, start: _Start = None) -> dict[str, list[dict[str, Any]]]:
    """Each alias's timeline: every promote, rollback and removal, oldest first."""
    timeline: dict[str, list[dict[str, Any]]] = {}
    for event in audit.events(model=name, start=start):
        if event.alias and event.action in ("promote", "rollback", "remove_alias"):
            timeline.setdefault(event.alias, []).append(
                {
                    "time": event.time,
                    "action": event.action,
                    "from_version": event.from_version,
                    "to_version": event.to_version,
                    "actor": event.actor,
                    "reason": event.reason,
                    "seq": event.seq,
                }
            )
    return timeline


def _converge(name: str, alias: str, start: _Start) -> str | None:
    """Make the MLflow alias equal what the audit log says, until a re-read agrees."""
    client = store.client(start)
    for _ in range(20):
        target = (_alias_stack(name, alias, start) or [None])[-1]
        current = alias_holder(name, alias, start)
        if current == target:
            return target
        if target is None:
            client.delete_registered_model_alias(name, alias)
        else:
            client.set_registered_model_alias(name, alias, target)
    return target


def required_gates(alias: str, start: _Start = None, model: str | None = None) -> list[str]:
    """The gates ``[tool.nbops.policy]`` requires before a version may hold ``alias``.

    ``[tool.nbops.policy.models.NAME]`` overrides the project-wide lists for model ``NAME``, so a
    team can hold a high-stakes model to more gates than the rest.
    """
    settings = config.resolve(start)
    policy = settings.tool.get("policy", {})
    if not isinstance(policy, dict):
        raise ConfigError(f"[tool.nbops.policy] in {settings.pyproject} must be a table: alias = [gates].")
    where = "[tool.nbops.policy]"
    per_model = policy.get("models", {})
    if not isinstance(per_model, dict):
        raise ConfigError(
            f"[tool.nbops.policy.models] in {settings.pyproject} must hold one table per model."
        )
    if model is not None and isinstance(per_model.get(model), dict) and alias in per_model[model]:
        policy, where = per_model[model], f"[tool.nbops.policy.models.{model}]"
    gates = policy.get(alias, [])
    if not isinstance(gates, list) or not all(isinstance(g, str) for g in gates):
        raise ConfigError(
            f"{where} {alias} in {settings.pyproject} must be a list of gate names, "
            'e.g. champion = ["performance", "fairness"].'
        )
    return gates


def gate_results(mv: Any) -> dict[str, str]:
    """Gate name → passed | failed | error, from the version's ``nbops.gate.<gate>`` tags."""
    return {
        key.removeprefix("nbops.gate."): value.split()[0]
        for key, value in mv.tags.items()
        if key.startswith("nbops.gate.") and value.split()
    }


def policy_gaps(name: str, version: str, alias: str, start: _Start = None) -> list[str]:
    """What stops ``version`` from holding ``alias``: each required gate that is missing or did not pass."""
    results = gate_results(get_version(name, version, start))
    gaps = []
    for gate in required_gates(alias, start, model=name):
        result = results.get(gate)
        if result != "passed":
            gaps.append(f"{gate} ({result or 'not run'})")
    return gaps


def promote(
    name: str,
    version: str | int,
    alias: str,
    reason: str | None,
    *,
    force: bool = False,
    source: str | None = None,
    actor: str | None = None,
    start: _Start = None,
) -> dict[str, Any]:
    """Point ``alias`` at ``version``; the previous holder is remembered for rollback.

    The promotion policy (``[tool.nbops.policy]``) must be met: every gate the
    alias requires passed for this exact version. ``force`` overrides it, and the
    audit event says so, with what was missing.
    """
    check_alias(alias)
    reason = check_reason(reason)
    target = get_version(name, version, start)
    version_id = str(target.version)
    gaps = policy_gaps(name, version_id, alias, start)
    if gaps and not force:
        raise PolicyError(
            f"{name} version {version_id} cannot become {alias}: required gates not passed: "
            f"{', '.join(gaps)}; run them (nbops gate run) or promote with --force and a reason."
        )
    details = {"forced": "true", "policy_gaps": "; ".join(gaps)} if gaps else None
    return _record_alias_change(
        "promote",
        name,
        alias,
        version_id,
        reason,
        held=alias_holder(name, alias, start),
        source=source,
        actor=actor,
        start=start,
        details=details,
    )


def _record_alias_change(
    action: str,
    name: str,
    alias: str,
    to_version: str | None,
    reason: str,
    *,
    held: str | None = None,
    source: str | None,
    actor: str | None,
    start: _Start,
    details: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Append the event, make the MLflow alias agree with the log, re-render the affected cards.

    Where the alias comes from (and, for a rollback, goes to) is worked out inside the
    audit log's compare-and-set, from the log as it stands at the event this one is
    chained after: two kernels promoting at once record v1→v2 then v2→v3, never
    v1→v2 and v1→v3.
    """

    def derive(previous: audit.Event | None) -> dict[str, str | None]:
        stack = _alias_stack(name, alias, start, through=previous.seq) if previous else []
        moved_from, moved_to = _move(action, name, alias, stack, to_version, held)
        return {"version": moved_to, "from_version": moved_from, "to_version": moved_to}

    event = audit.append(
        action,
        details=details,
        model=name,
        alias=alias,
        reason=reason,
        source=source,
        actor=actor,
        derive=derive,
        start=start,
    )
    holder = _converge(name, alias, start)
    _refresh_cards(name, {event.from_version, event.to_version, holder}, start)
    result = {
        "model": name,
        "alias": alias,
        "from_version": event.from_version,
        "to_version": event.to_version,
        "seq": event.seq,
    }
    if details and details.get("forced"):
        result["forced"] = True
    return result


def _refresh_cards(name: str, versions: set[str | None], start: _Start) -> None:
    """An alias moved: the cards of the versions it left and reached list aliases, so re-render them."""
    for version in sorted(v for v in versions if v):
        refresh_card(name, version, start=start)


def rollback(
    name: str,
    alias: str = "champion",
    reason: str | None = None,
    *,
    source: str | None = None,
    actor: str | None = None,
    start: _Start = None,
) -> dict[str, Any]:
    """Point ``alias`` back at the version it held before; repeatable, one step each time."""
    check_alias(alias)
    reason = check_reason(reason)
    client = store.client(start)
    if not _model_exists(client, name):
        raise NotFound(f"no registered model named {name!r}; nbops registry list shows the models.")
    _move("rollback", name, alias, _alias_stack(name, alias, start), None, None)  # refuse before writing
    return _record_alias_change(
        "rollback", name, alias, None, reason, source=source, actor=actor, start=start
    )


def remove_alias(
    name: str,
    alias: str,
    reason: str | None,
    *,
    source: str | None = None,
    actor: str | None = None,
    start: _Start = None,
) -> dict[str, Any]:
    check_alias(alias)
    reason = check_reason(reason)
    held = alias_holder(name, alias, start)
    _move("remove_alias", name, alias, [], None, held)  # refuse before writing
    return _record_alias_change(
        "remove_alias", name, alias, None, reason, held=held, source=source, actor=actor, start=start
    )


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
        **(_monitoring_sections(name, str(mv.version), start) if monitoring is None else monitoring),
    }


def _monitoring_sections(name: str, version: str, start: _Start) -> dict[str, str]:
    from .monitoring.batches import card_sections

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
