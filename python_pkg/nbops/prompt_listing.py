"""Prompts as the sidebar and the REST API list and move them: pages, usage, and alias changes by bare name.

``nbops.prompts`` reads every prompt (or every version of one) in one list; a client asks for
them a page at a time, like models, so this cuts those lists into pages with a token that is the
offset of the next row. A prompt row carries its aliases (so a folded row shows where
``production`` points), a version its latest evaluation (the scorer means ``nbops.llm.evaluate``
recorded on it), and ``usage`` gives the logged windows of the version an alias holds, for charts.
Promotions and rollbacks are the registry's own, with the prompt addressed as ``prompts:/NAME``
(same policy, same audit log); a URL carries only the bare name, because a path segment cannot
hold ``:/``.
"""

from __future__ import annotations

import re
from typing import Any

from . import config, store
from .errors import InvalidInput

#: The largest page of prompts or prompt versions a client may ask for.
MAX_PROMPTS_PAGE = 1000
PROMPT_PREFIX = "prompts:/"
#: What the audit log names as the source of a change made from the sidebar.
SOURCE = "sidebar"


def prompts_page(
    max_results: int = 50, page_token: str | None = None, start: config.Start = None
) -> dict[str, Any]:
    """``{"prompts", "next_page_token", "total"}``: one page of ``nbops.prompts.list_prompts``, by name.

    Each prompt has its ``aliases`` (alias → version), read for every prompt at once.
    """
    from . import prompts

    rows, token, total = _page(prompts.list_prompts(start), max_results, page_token)
    held = _prompt_aliases([row["name"] for row in rows], start)
    rows = [{**row, "aliases": held.get(row["name"], {})} for row in rows]
    return {"prompts": rows, "next_page_token": token, "total": total}


def versions_page(
    name: str, max_results: int = 50, page_token: str | None = None, start: config.Start = None
) -> dict[str, Any]:
    """``{"versions", "next_page_token", "total"}``: one page of a prompt's versions, newest first.

    Each version's ``template`` is a string, or a list of ``{role, content}`` messages for a chat
    prompt (``chat``); ``variables`` are the ``{{names}}`` it takes; ``evaluation`` is what the
    latest ``nbops.llm.evaluate`` of the version recorded (``None`` before any).
    """
    from . import prompts

    rows, token, total = _page(prompts.versions(name, start), max_results, page_token)
    rows = [{**row, "evaluation": evaluation_of(row["tags"])} for row in rows]
    return {"versions": rows, "next_page_token": token, "total": total}


def evaluation_of(tags: dict[str, str]) -> dict[str, Any] | None:
    """``{"run", "rows", "at", "scores": [{"scorer", "mean", "status"}]}`` from a version's eval tags.

    A scorer that could not score any row has no mean (``None``), never a zero that reads as a score.
    """
    from .llm.evaluation import TAG_PREFIX

    scores: dict[str, dict[str, Any]] = {}
    for key, value in tags.items():
        found = re.fullmatch(re.escape(TAG_PREFIX) + r"(.+)\.(mean|status)", key)
        if found is None:
            continue
        score = scores.setdefault(found[1], {"scorer": found[1], "mean": None, "status": ""})
        if found[2] == "status":
            score["status"] = value
        else:
            try:
                score["mean"] = float(value) if value else None
            except ValueError:
                score["mean"] = None
    if not scores:
        return None
    rows = tags.get(TAG_PREFIX + "rows", "")
    return {
        "run": tags.get(TAG_PREFIX + "run") or None,
        "rows": int(rows) if rows.isdigit() else None,
        "at": tags.get(TAG_PREFIX + "at") or None,
        "scores": [scores[name] for name in sorted(scores)],
    }


def usage(name: str, alias: Any = None, version: Any = None, start: config.Start = None) -> dict[str, Any]:
    """The logged LLM windows of the prompt version ``alias`` holds (or ``version``), for charts.

    ``{"prompt", "version", "alias", "series"}``: ``series`` is metric → ``[{"step", "timestamp",
    "value"}]`` by window, read through ``nbops.llm.history`` — the sums, counts and percentiles
    the store aggregated when each window was logged (``llm.log_window``), never the traces.
    ``timestamp`` is the end of the window.
    """
    from . import prompts
    from .identifiers import check_alias, check_version
    from .llm import monitoring
    from .prompts.registering import check_name

    name = check_name(name)
    if (alias is None) == (version is None):
        raise InvalidInput("name exactly one of alias (e.g. production) or version (e.g. 2).")
    if alias is not None:
        alias = check_alias(alias)
        number = str(prompts.load(f"{name}@{alias}", start).version)
    else:
        number = check_version(version)
        prompts.load(f"{name}/{number}", start)  # a clear 404 for a version that does not exist
    frame = monitoring.history(prompt=f"{name}/{number}", start=start)
    ends = frame[monitoring.WINDOW_END] if monitoring.WINDOW_END in frame.columns else None
    series: dict[str, list[dict[str, Any]]] = {}
    for metric in sorted(frame.columns):
        if metric == monitoring.WINDOW_END:
            continue
        points = []
        for window, value in frame[metric].items():
            if value != value:  # NaN: the metric was not logged in this window
                continue
            end = ends[window] if ends is not None else None
            timestamp = int(end) if end is not None and end == end else 0
            points.append({"step": int(window), "timestamp": timestamp, "value": float(value)})
        series[metric] = points
    return {"prompt": name, "version": number, "alias": alias, "series": series}


def promote(
    name: str,
    version: Any,
    alias: Any,
    reason: Any,
    *,
    force: Any = False,
    actor: str | None = None,
    source: str = SOURCE,
    start: config.Start = None,
) -> dict[str, Any]:
    """Point the prompt's ``alias`` at ``version`` under the promotion policy; with every alias now."""
    from . import catalog
    from .prompts.registering import check_name

    address = PROMPT_PREFIX + check_name(name)
    change = catalog.move_alias(
        address, version, alias, reason, force=force, actor=actor, source=source, start=start
    )
    return _with_aliases(change, address, start)


def rollback(
    name: str,
    alias: Any,
    reason: Any,
    *,
    actor: str | None = None,
    source: str = SOURCE,
    start: config.Start = None,
) -> dict[str, Any]:
    """Point the prompt's ``alias`` back at the version it held before; with every alias now."""
    from . import catalog, registry
    from .prompts.registering import check_name

    address = PROMPT_PREFIX + check_name(name)
    change = registry.rollback(
        address,
        catalog.check_alias(alias),
        catalog.check_reason(reason),
        source=source,
        actor=actor,
        start=start,
    )
    return _with_aliases(change, address, start)


def _with_aliases(change: dict[str, Any], address: str, start: config.Start) -> dict[str, Any]:
    from . import prompts

    aliases = {alias: row["version"] for row in prompts.versions(address, start) for alias in row["aliases"]}
    return {**change, "aliases": dict(sorted(aliases.items()))}


def _prompt_aliases(names: list[str], start: config.Start) -> dict[str, dict[str, str]]:
    """Prompt name → {alias: version} for ``names``.

    One paged search of the prompt registry entries answers every prompt at once (MLflow's
    ``search_prompts`` drops the aliases its registry search returns); a client without that
    registry search reads each prompt's versions instead.
    """
    if not names:
        return {}
    from mlflow.entities.model_registry.prompt_version import IS_PROMPT_TAG_KEY

    client = store.client(start)
    wanted = set(names)
    found: dict[str, dict[str, str]] = {}
    try:
        registry = client._get_registry_client()
        token = None
        while True:
            page = registry.store.search_registered_models(
                filter_string=f"tags.`{IS_PROMPT_TAG_KEY}` = 'true'", max_results=1000, page_token=token
            )
            for entry in page:
                if entry.name in wanted:
                    found[entry.name] = {a: str(v) for a, v in sorted((entry.aliases or {}).items())}
            token = page.token
            if not token:
                return found
    except AttributeError:
        from . import prompts

        for name in names:
            held = {
                alias: row["version"] for row in prompts.versions(name, start) for alias in row["aliases"]
            }
            found[name] = dict(sorted(held.items()))
        return found


def _page(
    rows: list[dict[str, Any]], max_results: int, page_token: str | None
) -> tuple[list[dict[str, Any]], str | None, int]:
    """Rows ``[offset, offset + max_results)``; the token is the next offset as a decimal string."""
    if not isinstance(max_results, int) or not 1 <= max_results <= MAX_PROMPTS_PAGE:
        raise InvalidInput(f"max_results must be between 1 and {MAX_PROMPTS_PAGE}, got {max_results!r}.")
    offset = 0
    if page_token is not None:
        if not page_token.isdigit() or len(page_token) > 9 or int(page_token) > len(rows):
            raise InvalidInput("page_token is not one this list gave out; start again without it.")
        offset = int(page_token)
    end = offset + max_results
    return rows[offset:end], (str(end) if end < len(rows) else None), len(rows)
