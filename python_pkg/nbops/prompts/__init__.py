"""Prompts in the project's MLflow prompt registry, with nbops' lifecycle around them.

``register`` turns a notebook cell into a prompt version only when its content changed, with the
notebook, cell hash and git commit on it; ``load`` returns a version for use (``NAME@ALIAS``,
``NAME/VERSION``) and ``render`` fills it in; ``list_prompts`` and ``versions`` read them back. Promotions, rollbacks, their
history, the promotion policy and the audit log are the registry's own, with the prompt addressed
as ``prompts:/NAME`` (``nbops.registry.promote("prompts:/support-reply", 2, "production", ...)``).
The parts, bottom up: ``content`` (parsing, hashing, variables, diffs), ``registering`` and
``loading``.
"""

from __future__ import annotations

from .content import parse_chat, variables
from .loading import list_prompts, load, parse_address, render, versions
from .registering import TAG_CONTENT_HASH, PromptResult, register

__all__ = [
    "TAG_CONTENT_HASH",
    "PromptResult",
    "list_prompts",
    "load",
    "parse_address",
    "parse_chat",
    "register",
    "render",
    "variables",
    "versions",
]
