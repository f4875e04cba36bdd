"""Prompts as the sidebar and the REST API list and move them: pages, and alias changes by bare name.

``nbops.prompts`` reads every prompt (or every version of one) in one list; a client asks for
them a page at a time, like models, so this cuts those lists into pages with a token that is the
offset of the next row. Promotions and rollbacks are the registry's own, with the prompt
addressed as ``prompts:/NAME`` (same policy, same audit log); a URL carries only the bare name,
because a path segment cannot hold ``:/``.
"""

from __future__ import annotations

from typing import Any

from . import config
from .errors import InvalidInput

#: The largest page of prompts or prompt versions a client may ask for.
MAX_PROMPTS_PAGE = 1000
PROMPT_PREFIX = "prompts:/"
#: What the audit log names as the source of a change made from the sidebar.
SOURCE = "sidebar"


def prompts_page(
    max_results: int = 50, page_token: str | None = None, start: config.Start = None
) -> dict[str, Any]:
    """``{"prompts", "next_page_token", "total"}``: one page of ``nbops.prompts.list_prompts``, by name."""
    from . import prompts

    rows, token, total = _page(prompts.list_prompts(start), max_results, page_token)
    return {"prompts": rows, "next_page_token": token, "total": total}


def versions_page(
    name: str, max_results: int = 50, page_token: str | None = None, start: config.Start = None
) -> dict[str, Any]:
    """``{"versions", "next_page_token", "total"}``: one page of a prompt's versions, newest first.

    Each version's ``template`` is a string, or a list of ``{role, content}`` messages for a chat
    prompt (``chat``); ``variables`` are the ``{{names}}`` it takes.
    """
    from . import prompts

    rows, token, total = _page(prompts.versions(name, start), max_results, page_token)
    return {"versions": rows, "next_page_token": token, "total": total}


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
