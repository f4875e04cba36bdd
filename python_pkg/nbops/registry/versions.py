"""Model and prompt versions and aliases as the store has them: read, check and resolve.

The bottom of the registry: everything above (registering, promotions, cards, listings) and
the rest of nbops (gates, monitoring, serving) resolve ``models:/NAME@ALIAS`` here.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import lineage, store
from ..errors import InvalidInput, NotFound
from ..filters import literal
from ..identifiers import check_alias as check_alias  # one set of alias rules for every face

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
    #: False when the model was only logged (under ``nbops reproduce``): ``version`` is then "".
    registered: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_MODEL_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[^/@]+))")


# --- checks, done before anything is written -----------------------------------------------------


def held_back(change: str) -> bool:
    """Whether a registry change is held back because ``nbops reproduce`` runs this notebook.

    A reproduction rebuilds a version to judge it; the training notebook's own registration and
    alias moves would add versions and move aliases in the real registry. So under a reproduction
    they are skipped, with one printed line (the executed notebook is where a reader looks).
    """
    target = lineage.reproducing()
    if target is None:
        return False
    print(f"nbops reproduce {target}: {change}; a reproduction creates no version and moves no alias.")
    return True


def check_reason(reason: str | None) -> str:
    if not reason or not reason.strip():
        raise InvalidInput("a reason is required (--reason TEXT): it goes into the audit log.")
    return reason.strip()


# --- versions and aliases ------------------------------------------------------------------------


def get_version(name: str, version: str | int, start: _Start = None) -> Any:
    from mlflow.exceptions import MlflowException

    client = store.client(start)
    if prompt_name(name) is not None:
        return _prompt_version(client, name, version)
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
    bare = prompt_name(name)
    if bare is not None:
        return client.get_prompt(bare) is not None
    return bool(client.search_registered_models(f"name = {literal(name)}", max_results=1))


def alias_holder(name: str, alias: str, start: _Start = None) -> str | None:
    client = store.client(start)
    if prompt_name(name) is not None:
        return _prompt_alias_holder(client, name, alias)
    return model_aliases(client, name).get(alias)


def model_aliases(client: Any, name: str) -> dict[str, str]:
    """``alias → version`` of model ``name``, cheap enough to poll; MLflow's error for a missing model.

    A server following its aliases asks this every second. ``get_registered_model`` loads every
    version, tag and alias through MLflow's ORM, several ms of CPU taken from the requests; on a
    SQL store one indexed query on MLflow's alias table does, about a seventh of that. A tracking
    server, MLflow internals that moved (``store.internals_changed``), or no alias found (a model
    without aliases, or none at all, answered as MLflow answers it) get the public call.
    """
    registry_store = store.sql_registry_store(client)
    if registry_store is not None:
        try:
            found = _sql_aliases(registry_store, name)
        except Exception as exc:
            if not store.internals_changed(exc):
                raise
        else:
            if found:
                return found
    return {alias: str(held) for alias, held in client.get_registered_model(name).aliases.items()}


def _sql_aliases(registry_store: Any, name: str) -> dict[str, str]:
    import sqlalchemy as sa
    from mlflow.store.model_registry.dbmodels.models import SqlRegisteredModelAlias

    table = SqlRegisteredModelAlias.__table__.c
    where = [table.name == name, *registry_store._get_workspace_clauses(SqlRegisteredModelAlias)]
    with registry_store.ManagedSessionMaker() as session:
        rows = session.connection().execute(sa.select(table.alias, table.version).where(*where)).all()
    return {str(alias): str(version) for alias, version in rows}


def aliases_of(name: str, version: str, start: _Start = None) -> list[str]:
    held = model_aliases(store.client(start), name)
    return sorted(alias for alias, holder in held.items() if holder == str(version))


def resolve_model(model_uri: str, start: _Start = None) -> tuple[str, str]:
    """``(name, version)`` of ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``; the version must exist."""
    found = _MODEL_URI.fullmatch(model_uri.strip()) if isinstance(model_uri, str) else None
    if found is None:
        raise InvalidInput(f"--model must be models:/NAME/VERSION or models:/NAME@ALIAS, not {model_uri!r}.")
    name = found["name"]
    if found["alias"]:
        from mlflow.exceptions import MlflowException

        try:
            version = str(store.client(start).get_model_version_by_alias(name, found["alias"]).version)
        except MlflowException as exc:
            if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
                raise
            raise NotFound(
                f"model {name!r} has no alias {found['alias']!r} (or no such model); "
                "nbops registry list shows the models and their aliases."
            ) from None
    else:
        version = found["version"]
    return name, str(get_version(name, version, start).version)


# --- prompts, addressed as prompts:/NAME wherever a model name is accepted ------------------------

#: A prompt's address in promotions, rollbacks, histories and the audit log, so the events of a
#: prompt and of a model that happen to share a name never mix.
PROMPT_PREFIX = "prompts:/"
_MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


def prompt_name(name: Any) -> str | None:
    """The prompt's own name when ``name`` is ``prompts:/NAME``; ``None`` for a model name."""
    if not isinstance(name, str) or not name.startswith(PROMPT_PREFIX):
        return None
    bare = name.removeprefix(PROMPT_PREFIX)
    if not bare or any(ch in bare for ch in "/@"):
        raise InvalidInput(
            f"{name!r} is not a prompt address: write prompts:/NAME and give the version or alias "
            "separately, e.g. nbops promote prompts:/support-reply 2 --to production."
        )
    return bare


def missing(name: str) -> NotFound:
    """The one-line refusal for a model or prompt that does not exist."""
    bare = prompt_name(name)
    if bare is not None:
        return NotFound(f"no prompt named {bare!r}; nbops.prompts.list_prompts() shows the prompts.")
    return NotFound(f"no registered model named {name!r}; nbops registry list shows the models.")


def _prompt_version(client: Any, name: str, version: str | int) -> Any:
    """The prompt version (with its tags, gate results among them), or ``NotFound``."""
    from mlflow.exceptions import MlflowException

    bare = prompt_name(name)
    found = None
    if str(version).isdigit():
        try:
            found = client.get_prompt_version(bare, str(version))
        except MlflowException as exc:
            if exc.error_code not in _MISSING:
                raise
    if found is None:
        if client.get_prompt(bare) is None:
            raise missing(name)
        raise NotFound(f"prompt {bare!r} has no version {version}; nbops.prompts.versions shows them.")
    return found


def _prompt_alias_holder(client: Any, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_prompt_version_by_alias(prompt_name(name), alias)
    except MlflowException as exc:
        if exc.error_code not in _MISSING:
            raise
        return None
    return None if found is None else str(found.version)


def set_alias(name: str, alias: str, version: str, start: _Start = None) -> None:
    """Point a model's or a prompt's alias at ``version`` in MLflow (the audit log decides which)."""
    client = store.client(start)
    bare = prompt_name(name)
    if bare is not None:
        client.set_prompt_alias(bare, alias, int(version))
    else:
        client.set_registered_model_alias(name, alias, version)


def delete_alias(name: str, alias: str, start: _Start = None) -> None:
    client = store.client(start)
    bare = prompt_name(name)
    if bare is not None:
        client.delete_prompt_alias(bare, alias)
    else:
        client.delete_registered_model_alias(name, alias)
