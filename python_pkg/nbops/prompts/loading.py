"""Reading prompts back: one version for use, the prompts of the project, a prompt's versions.

``load`` goes through ``mlflow.genai.load_prompt``, so a run or a trace active at the time links to
the version it used, exactly as MLflow's own loading does; an unknown prompt, alias or version is
one line that says where to look. Nothing is cached: after a promotion or a rollback the next
``load("NAME@ALIAS")`` in any kernel returns the version the alias holds now.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .. import store
from ..errors import InvalidInput, NotFound
from ..registry import gate_results
from ..registry.versions import PROMPT_PREFIX
from .content import content_hash, variables
from .registering import check_name

_Start = Path | str | None
_MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")
_ADDRESS = re.compile(
    r"(?:prompts:/)?(?P<name>[A-Za-z0-9_.-]+)(?:@(?P<alias>[A-Za-z0-9_-]+)|/(?P<version>\d+))?"
)
#: Tags MLflow keeps on prompt versions for itself (template, type, markers): not shown as tags.
_INTERNAL = ("mlflow.prompt.", "_mlflow_")
_PAGE = 1000


def parse_address(address: Any) -> tuple[str, str | None, str | None]:
    """``(name, alias, version)`` of ``NAME@ALIAS``, ``NAME/VERSION``, ``NAME`` (its latest), each
    with or without ``prompts:/``."""
    found = _ADDRESS.fullmatch(address.strip()) if isinstance(address, str) else None
    if found is None:
        raise InvalidInput(
            f"{address!r} is not a prompt address: write NAME@ALIAS, NAME/VERSION or prompts:/NAME@ALIAS, "
            "e.g. support-reply@production."
        )
    return found["name"], found["alias"], found["version"]


def load(address: str, start: _Start = None) -> Any:
    """The prompt version at ``address`` (MLflow's ``PromptVersion``: ``.template``, ``.format(...)``)."""
    from mlflow.exceptions import MlflowException

    name, alias, version = parse_address(address)
    uri = f"{PROMPT_PREFIX}{name}/{version}" if version else f"{PROMPT_PREFIX}{name}@{alias or 'latest'}"
    mlflow = store.fluent(start)
    try:
        found = mlflow.genai.load_prompt(uri, cache_ttl_seconds=0)
    except MlflowException as exc:
        if exc.error_code not in _MISSING:
            raise
        found = None
    if found is None:
        client = store.client(start)
        if client.get_prompt(name) is None:
            raise NotFound(f"no prompt named {name!r}; nbops.prompts.list_prompts() shows the prompts.")
        which = f"alias {alias!r}" if alias else f"version {version}"
        raise NotFound(
            f"prompt {name!r} has no {which}; nbops.prompts.versions({name!r}) shows its versions and aliases."
        )
    return found


def render(prompt: Any, /, **values: Any) -> Any:
    """``prompt`` (a loaded version, or an address to load) filled in: text, or the chat's messages.

    Every variable must be given: a missing one is a one-line ``InvalidInput`` naming all that
    are missing, before any text reaches a model (MLflow's own ``format`` says it in an exception
    of its own).
    """
    version = load(prompt) if isinstance(prompt, str) else prompt
    missing = [name for name in variables(version.template) if name not in values]
    if missing:
        raise InvalidInput(
            f"prompt {version.name} version {version.version} needs {', '.join(missing)}; pass "
            f"{'them' if len(missing) > 1 else 'it'}, e.g. nbops.prompts.render(prompt, {missing[0]}=...)."
        )
    return version.format(**values)


def list_prompts(start: _Start = None) -> list[dict[str, Any]]:
    """Every prompt of the project's store, by name, paged through the store."""
    client = store.client(start)
    found, token = [], None
    while True:
        page = client.search_prompts(max_results=_PAGE, page_token=token)
        for prompt in page:
            found.append(
                {
                    "name": prompt.name,
                    "description": prompt.description or "",
                    "created": prompt.creation_timestamp,
                    "tags": _user_tags(prompt.tags),
                }
            )
        token = page.token
        if not token:
            return sorted(found, key=lambda row: row["name"])


def versions(name: str, start: _Start = None) -> list[dict[str, Any]]:
    """A prompt's versions, newest first: template, variables, aliases, gate results, lineage tags."""
    name = check_name(name)
    client = store.client(start)
    if client.get_prompt(name) is None:
        raise NotFound(f"no prompt named {name!r}; nbops.prompts.list_prompts() shows the prompts.")
    held = _aliases(client, name)
    rows, token = [], None
    while True:
        page = client.search_prompt_versions(name, max_results=_PAGE, page_token=token)
        for version in page:
            rows.append(
                {
                    "version": str(version.version),
                    "aliases": sorted(held.get(str(version.version), version.aliases or [])),
                    "chat": isinstance(version.template, list),
                    "template": version.template,
                    "variables": variables(version.template),
                    "message": version.commit_message or "",
                    "created": version.creation_timestamp,
                    "content_hash": content_hash(version.template),
                    "gates": gate_results(version),
                    "tags": _user_tags(version.tags),
                }
            )
        token = getattr(page, "token", None)
        if not token:
            return sorted(rows, key=lambda row: int(row["version"]), reverse=True)


def _user_tags(tags: dict[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (tags or {}).items() if not k.startswith(_INTERNAL)}


def _aliases(client: Any, name: str) -> dict[str, list[str]]:
    """Version → aliases, in one read: the versions a search returns do not carry their aliases.

    ``MlflowClient.get_registered_model`` hides prompts, so this asks its registry client, which
    reads the prompt's own registry entry; should that move in a later MLflow, each version's
    aliases are read one by one instead.
    """
    try:
        aliases = client._get_registry_client().get_registered_model(name).aliases
    except AttributeError:
        aliases = {}
        for version in client.search_prompt_versions(name, max_results=_PAGE):
            for alias in client.get_prompt_version(name, version.version).aliases or []:
                aliases[alias] = version.version
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    return by_version
