"""Promotions and rollbacks: aliases moved under the promotion policy, with history from the audit log.

MLflow keeps versions and aliases but not where an alias pointed before, so it cannot roll
back. nbops records every alias change in the audit log and derives each alias's history from
it: the log is the single source of truth, the MLflow alias is kept equal to the top of that
history (and re-derived after every change, so concurrent promotions converge on what the log
says happened last).

Prompts go the same way, addressed as ``prompts:/NAME``: the same policy (their versions carry
the same gate tags), the same history and audit events under that address, and MLflow's prompt
aliases moved to match.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import audit, config, store
from ..errors import ConfigError, InvalidInput, PolicyError
from .model_cards import refresh_card
from .versions import (
    _model_exists,
    alias_holder,
    check_alias,
    check_reason,
    delete_alias,
    get_version,
    held_back,
    missing,
    prompt_name,
    set_alias,
)

_Start = Path | str | None

# --- history, derived from the audit log ---------------------------------------------------------


def replay(events: list[Any]) -> dict[str, list[str | None]]:
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
    return replay(audit.events(model=name, start=start, through=through)).get(alias, [])


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
    for _ in range(20):
        target = (_alias_stack(name, alias, start) or [None])[-1]
        current = alias_holder(name, alias, start)
        if current == target:
            return target
        if target is None:
            delete_alias(name, alias, start)
        else:
            set_alias(name, alias, target, start)
    return target


def required_gates(alias: str, start: _Start = None, model: str | None = None) -> list[str]:
    """The gates ``[tool.nbops.policy]`` requires before a version may hold ``alias``.

    ``[tool.nbops.policy.models.NAME]`` overrides the project-wide lists for model ``NAME``, so a
    team can hold a high-stakes model to more gates than the rest; ``[tool.nbops.policy.prompts.NAME]``
    does the same for the prompt ``prompts:/NAME``.
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
    per_prompt, bare = policy.get("prompts", {}), prompt_name(model)
    own = per_prompt.get(bare) if bare is not None and isinstance(per_prompt, dict) else None
    if isinstance(own, dict) and alias in own:
        policy, where = own, f"[tool.nbops.policy.prompts.{bare}]"
    elif model is not None and isinstance(per_model.get(model), dict) and alias in per_model[model]:
        policy, where = per_model[model], f"[tool.nbops.policy.models.{model}]"
    if where == "[tool.nbops.policy]" and alias in ("models", "prompts"):
        return []  # the per-model and per-prompt tables, never an alias's list
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
    if held_back(f"{name}@{alias} was not moved to version {version}"):
        return _unchanged(name, alias, start)
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


def _unchanged(name: str, alias: str, start: _Start) -> dict[str, Any]:
    """What an alias change held back under a reproduction returns: the alias stays where it is."""
    held = alias_holder(name, alias, start) if _model_exists(store.client(start), name) else None
    return {
        "model": name,
        "alias": alias,
        "from_version": held,
        "to_version": held,
        "seq": None,
        "held_back": True,
    }


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
    if action in ("promote", "rollback"):
        from .. import notify  # never raises, never waits: the channels hear in the background

        notify.registry_changed(
            {**result, "action": action, "policy_gaps": (details or {}).get("policy_gaps")}, reason, start
        )
    if action in ("promote", "rollback") and prompt_name(name) is None:
        from ..deploy.manifests import regenerate_after_alias_change

        regenerate_after_alias_change(name, start)  # never raises; a no-op without manifests_dir
    return result


def _refresh_cards(name: str, versions: set[str | None], start: _Start) -> None:
    """An alias moved: the cards of the versions it left and reached list aliases, so re-render them."""
    if prompt_name(name) is not None:
        return  # a prompt version has no card: its template and tags are the record
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
    if held_back(f"{name}@{alias} was not rolled back"):
        return _unchanged(name, alias, start)
    client = store.client(start)
    if not _model_exists(client, name):
        raise missing(name)
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
    if held_back(f"{name}@{alias} was not removed"):
        return _unchanged(name, alias, start)
    held = alias_holder(name, alias, start)
    _move("remove_alias", name, alias, [], None, held)  # refuse before writing
    return _record_alias_change(
        "remove_alias", name, alias, None, reason, held=held, source=source, actor=actor, start=start
    )
