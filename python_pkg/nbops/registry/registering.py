"""Registering a model: log it into its training run and create the version in one step.

The reference profile for monitoring, the audit event and the first model card are written
side by side once the version exists.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import audit, config, lineage, model_logging, store, tracking
from ..errors import InvalidInput, NbopsError, NotFound
from .aliases import promote
from .model_cards import _remember_schema, _schema_of, _write_card
from .versions import LINEAGE_TAGS, REQUIREMENTS_TAG, ModelVersion, aliases_of, check_alias, held_back

_Start = Path | str | None

#: Packages every scikit-learn model needs to load, besides the ones its classes come from.
_SKLEARN_BASE = ("mlflow", "scikit-learn", "cloudpickle", "numpy", "scipy", "pandas")


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

    Under ``nbops reproduce`` the model is logged into the run as usual, but no version is
    created and no alias moved (one printed line says so); the result has ``registered`` False.
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
    if lineage.reproducing():
        return _log_only(model, name, flavor, data, run_id, start)

    reference = None
    if data is not None:
        from ..monitoring.profile_store import build_profile

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
            from ..monitoring.profile_store import save_profile

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


def _log_only(
    model: Any, name: str, flavor: str, data: Any, run_id: str | None, start: _Start
) -> ModelVersion:
    """The model logged into its run (a new one if none is active), with no version created."""
    client = store.client(start)

    def log(run: Any) -> ModelVersion:
        logged, _ = _log(client, model, flavor, data, run, start)
        held_back(f"the model was logged to run {run.info.run_id} but not registered as {name}")
        return ModelVersion(
            name, "", run.info.run_id, logged.model_uri, run_name=run.info.run_name, registered=False
        )

    run_id = run_id or active_run_id(start)
    if run_id:
        return log(_training_run(client, run_id))
    with tracking.track(f"register-{name}", start=start, autolog=False) as started:
        return log(client.get_run(started.info.run_id))


def _log(
    client: Any, model: Any, flavor: str, data: Any, run: Any, start: _Start, *also: Callable[[], Any]
) -> tuple[Any, list[str]]:
    """Log the model into ``run`` (beside ``also``, independent store calls); returns it and its pins."""
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
    logged = _side_by_side(
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
        *also,
    )[0]
    return logged, requirements


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
    logged, requirements = _log(
        client, model, flavor, data, run, start, lambda: _ensure_registered_model(client, name)
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
