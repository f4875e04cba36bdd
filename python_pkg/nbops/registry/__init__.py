"""The model registry from notebooks: register, document, promote, roll back.

One namespace over the registry's parts, bottom up: ``versions`` (read, check and resolve
versions and aliases), ``registering`` (log and register a model in one step), ``model_cards``
(a version's facts and card), ``aliases`` (promotions and rollbacks under the policy, history
from the audit log) and ``listing`` (what the faces list). The rest of nbops imports
``nbops.registry`` and calls these names; the parts import each other only downwards.
"""

from __future__ import annotations

from .aliases import (
    gate_results,
    history,
    policy_gaps,
    promote,
    remove_alias,
    required_gates,
    rollback,
    rollback_target,
)
from .listing import list_models, list_versions
from .model_cards import card_facts, model_card, refresh_card
from .registering import active_run_id, register
from .versions import (
    CARD_TAG,
    LINEAGE_TAGS,
    REQUIREMENTS_TAG,
    ModelVersion,
    alias_holder,
    aliases_of,
    check_alias,
    check_reason,
    get_version,
    resolve_model,
)

__all__ = [
    "CARD_TAG",
    "LINEAGE_TAGS",
    "REQUIREMENTS_TAG",
    "ModelVersion",
    "active_run_id",
    "alias_holder",
    "aliases_of",
    "card_facts",
    "check_alias",
    "check_reason",
    "gate_results",
    "get_version",
    "history",
    "list_models",
    "list_versions",
    "model_card",
    "policy_gaps",
    "promote",
    "refresh_card",
    "register",
    "remove_alias",
    "required_gates",
    "resolve_model",
    "rollback",
    "rollback_target",
]
