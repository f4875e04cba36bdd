"""Registering a prompt version from a notebook: only when its content changed, with its lineage.

A notebook re-runs its prompt cells every time it runs; a new version for each run would bury
the versions that differ. So the content hash of the cell is compared with the latest version's
first (one store read), an unchanged cell says so and writes nothing, and a changed one becomes a
version through MLflow's own ``mlflow.genai.register_prompt``, tagged with the notebook, the
cell's hash and the git commit, recorded in the audit log as ``prompts:/NAME``, and shown as a
diff against the version before it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import audit, lineage, registry, store
from ..errors import InvalidInput, PolicyError
from ..registry.versions import PROMPT_PREFIX, held_back, prompt_name
from .content import Template, content_hash, template_of, unified_diff, variables

_Start = Path | str | None

#: The version tag holding the content hash (of the template and whether it is a chat).
TAG_CONTENT_HASH = "nbops.prompt.sha256"
#: Lineage recorded on each version nbops registers.
LINEAGE_TAGS = (
    lineage.TAG_NOTEBOOK,
    lineage.TAG_CELL_HASH,
    lineage.TAG_GIT_COMMIT,
    lineage.TAG_GIT_BRANCH,
    lineage.TAG_GIT_DIRTY,
)
_MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


@dataclass
class PromptResult:
    """What registering a prompt cell did: the version that holds its content, and how it got there."""

    name: str
    version: str
    #: False: the latest version already had this content, and nothing was written.
    created: bool
    template: Template
    variables: list[str]
    #: Unified diff from the previous version ('' when nothing was created).
    diff: str
    previous_version: str | None
    content_hash: str
    #: The alias asked for, and the version it held before (when it moved).
    alias: str | None = None
    alias_moved: bool = False
    alias_was: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    #: True under ``nbops reproduce``: new content was not registered (``version`` is empty).
    held_back: bool = False

    @property
    def chat(self) -> bool:
        return isinstance(self.template, list)

    @property
    def uri(self) -> str:
        return f"{PROMPT_PREFIX}{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "chat": self.chat, "uri": self.uri}

    def summary(self) -> str:
        """What a notebook prints: the outcome, the variables, the alias, then the diff."""
        kind = "chat prompt" if self.chat else "prompt"
        if self.held_back:
            head = f"- {kind} {self.name} not registered: a reproduction creates no version"
        elif self.created:
            after = f" (after version {self.previous_version})" if self.previous_version else ""
            head = f"✓ registered {kind} {self.name} version {self.version}{after}"
        else:
            head = (
                f"= {kind} {self.name} unchanged: version {self.version} has this content; nothing registered"
            )
        lines = [head, f"  variables: {', '.join(self.variables) if self.variables else '(none)'}"]
        if self.alias:
            if self.alias_moved:
                was = f" (was version {self.alias_was})" if self.alias_was else ""
                lines.append(f"  {self.name}@{self.alias} → version {self.version}{was}")
            else:
                lines.append(f"  {self.name}@{self.alias} already on version {self.version}")
        if self.diff:
            lines.append(self.diff)
        return "\n".join(lines)


def check_name(name: Any) -> str:
    """A prompt name as MLflow accepts it (letters, digits, ``-``, ``_``, ``.``); ``prompts:/`` optional."""
    if isinstance(name, str) and name.startswith(PROMPT_PREFIX):
        name = prompt_name(name)
    from mlflow.prompt.constants import PROMPT_NAME_RULE

    if not isinstance(name, str) or not PROMPT_NAME_RULE.match(name):
        raise InvalidInput(
            f"{name!r} is not a prompt name: use letters, digits, -, _ and ., e.g. support-reply."
        )
    return name


@dataclass
class Latest:
    """The newest version of a prompt: its number and template, all the unchanged check needs."""

    version: str
    template: Template


def latest_version(client: Any, name: str) -> Latest | None:
    """The prompt's newest version, or ``None`` for a prompt not registered yet.

    This read is all an unchanged cell costs, so on a SQL store (the embedded one) it is a single
    query for the newest version's template tags, not MLflow's ``get_prompt_version_by_alias(...,
    "latest")``, which loads the whole registry entry three times over (16 statements, 30-60 ms
    on SQLite here). Other stores, or a later MLflow whose tables moved, take the public API.
    """
    registry_store = store.sql_registry_store(client)
    if registry_store is not None:
        try:
            return _latest_from_sql(registry_store, name)
        except Exception as exc:
            if not store.internals_changed(exc):
                raise
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_prompt_version_by_alias(name, "latest")
    except MlflowException as exc:
        if exc.error_code in _MISSING:
            return None
        raise
    return None if found is None else Latest(str(found.version), found.template)


def _latest_from_sql(registry_store: Any, name: str) -> Latest | None:
    import sqlalchemy as sa
    from mlflow.entities.model_registry.model_version_stages import STAGE_DELETED_INTERNAL
    from mlflow.prompt.constants import PROMPT_TEXT_TAG_KEY, PROMPT_TYPE_CHAT, PROMPT_TYPE_TAG_KEY
    from mlflow.store.model_registry.dbmodels.models import SqlModelVersion, SqlModelVersionTag

    newest = (
        sa.select(sa.func.max(SqlModelVersion.version))
        .where(
            SqlModelVersion.name == name,
            SqlModelVersion.current_stage != STAGE_DELETED_INTERNAL,
            *registry_store._get_workspace_clauses(SqlModelVersion),
        )
        .scalar_subquery()
    )
    with registry_store.ManagedSessionMaker() as session:
        rows = session.execute(
            sa.select(SqlModelVersionTag.version, SqlModelVersionTag.key, SqlModelVersionTag.value).where(
                SqlModelVersionTag.name == name,
                SqlModelVersionTag.version == newest,
                SqlModelVersionTag.key.in_((PROMPT_TEXT_TAG_KEY, PROMPT_TYPE_TAG_KEY)),
                *registry_store._get_workspace_clauses(SqlModelVersionTag),
            )
        ).all()
    tags = {key: value for _, key, value in rows}
    if PROMPT_TEXT_TAG_KEY not in tags:
        return None  # no version yet (or a model's name: registering it says so)
    text = tags[PROMPT_TEXT_TAG_KEY]
    template = json.loads(text) if tags.get(PROMPT_TYPE_TAG_KEY) == PROMPT_TYPE_CHAT else text
    return Latest(str(rows[0][0]), template)


def register(
    name: str,
    text_or_messages: str | list[dict[str, str]],
    *,
    alias: str | None = None,
    message: str | None = None,
    chat: bool = False,
    notebook: str | None = None,
    cell_hash: str | None = None,
    start: _Start = None,
) -> PromptResult:
    """Register ``text_or_messages`` as a new version of prompt ``name``, unless the latest has it.

    ``chat``: the text is a YAML or JSON list of ``{role, content}`` messages (a list is taken as
    messages anyway). ``alias`` is promoted to the resulting version under the promotion policy,
    exactly as ``nbops promote prompts:/NAME`` would; a policy that requires gates for it refuses
    a new version before anything is written (a version cannot have passed gates before it exists).
    Everything that can be refused is checked before the store is written.
    """
    name = check_name(name)
    template = template_of(text_or_messages, chat)
    if alias is not None:
        registry.check_alias(alias)
    if message is not None and not isinstance(message, str):
        raise InvalidInput("a prompt's commit message is text, e.g. -m 'shorter greeting'.")
    address = PROMPT_PREFIX + name
    digest = content_hash(template)
    client = store.client(start)
    latest = latest_version(client, name)
    if latest is not None and content_hash(latest.template) == digest:
        result = _result(name, latest, template, digest, created=False)
        return _with_alias(result, address, alias, notebook, start)
    if held_back(f"prompt {name!r} has new text but was not registered"):
        return PromptResult(
            name=name, version="", created=False, template=template, variables=variables(template),
            diff="", previous_version=str(latest.version) if latest is not None else None,
            content_hash=digest, held_back=True,
        )  # fmt: skip
    if alias is not None:
        required = registry.required_gates(alias, start, model=address)
        if required:
            raise PolicyError(
                f"{address} cannot take alias {alias!r} as it is registered: the policy requires "
                f"{', '.join(required)}, which a new version has not passed; register without the "
                "alias, run the gates, then promote.",
                missing_gates=required,
            )
    notebook = notebook if notebook is not None else lineage.notebook_path()
    tags = _lineage_tags(notebook, cell_hash)
    tags[TAG_CONTENT_HASH] = digest
    created = _create(name, template, message, tags, start)
    audit.append("register", model=address, version=created.version, source=notebook, start=start)
    result = _result(name, created, template, digest, created=True, previous=latest)
    result.tags = tags
    return _with_alias(result, address, alias, notebook, start)


def _lineage_tags(notebook: str | None, cell_hash: str | None) -> dict[str, str]:
    """Notebook, cell hash and git state of the notebook's folder (the working folder outside one)."""
    folder = Path(notebook).parent if notebook and "://" not in notebook else Path.cwd()
    tags = {key: value for key, value in lineage.git_state(folder).tags.items() if key in LINEAGE_TAGS}
    if notebook:
        tags[lineage.TAG_NOTEBOOK] = notebook
    if cell_hash:
        tags[lineage.TAG_CELL_HASH] = cell_hash
    return tags


def _create(name: str, template: Template, message: str | None, tags: dict[str, str], start: _Start) -> Any:
    """One version through MLflow's prompt registry; a name a model already has is refused in one line."""
    from mlflow.exceptions import MlflowException

    mlflow = store.fluent(start)
    try:
        # A copy: MLflow adds its own markers to the dict it is given.
        return mlflow.genai.register_prompt(name, template, commit_message=message, tags=dict(tags))
    except MlflowException as exc:
        if exc.error_code == "INVALID_PARAMETER_VALUE" and "same name as an existing model" in exc.message:
            raise InvalidInput(
                f"{name!r} is a registered model's name, and MLflow keeps prompts and models in one "
                "namespace; choose another prompt name."
            ) from None
        raise


def _result(
    name: str, version: Any, template: Template, digest: str, *, created: bool, previous: Any = None
) -> PromptResult:
    before = str(previous.version) if previous is not None else None
    diff = ""
    if created:
        old = previous.template if previous is not None else None
        old_label = f"{name} v{before}" if before else "(no earlier version)"
        diff = unified_diff(old, template, old_label, f"{name} v{version.version}")
    return PromptResult(
        name=name,
        version=str(version.version),
        created=created,
        template=template,
        variables=variables(template),
        diff=diff,
        previous_version=before,
        content_hash=digest,
    )


def _with_alias(
    result: PromptResult, address: str, alias: str | None, notebook: str | None, start: _Start
) -> PromptResult:
    """Promote ``alias`` to the result's version under the policy, unless it is there already."""
    if alias is None:
        return result
    result.alias = alias
    if registry.alias_holder(address, alias, start) == result.version:
        return result
    done = registry.promote(
        address, result.version, alias, reason="registered with this alias", source=notebook, start=start
    )
    result.alias_moved = True
    result.alias_was = done["from_version"]
    return result
