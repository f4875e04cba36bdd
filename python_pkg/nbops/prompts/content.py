"""What a prompt says, as plain data: chat cells parsed and checked, content hashed, variables found, diffs.

No store here, so a cell that is not a valid message list is refused before anything is read
or written, and the same content always has the same hash whichever face registered it.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from typing import Any

from ..errors import InvalidInput

#: A text prompt is a string; a chat prompt a list of ``{"role", "content"}`` messages.
Template = str | list[dict[str, str]]

#: The roles a chat message may have (OpenAI-compatible APIs accept these).
ROLES = ("system", "developer", "user", "assistant", "tool")
_EXAMPLE = "e.g. '- role: system' then '  content: You answer {{question}}.'"


def parse_chat(text: str) -> list[dict[str, str]]:
    """A ``--chat`` cell, YAML or JSON, as a checked message list; one-line ``InvalidInput`` otherwise."""
    import yaml

    try:
        loaded = json.loads(text) if text.lstrip().startswith("[") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}"
        elif isinstance(exc, json.JSONDecodeError):
            where = f" at line {exc.lineno}"
        problem = getattr(exc, "problem", None) or getattr(exc, "msg", None) or "cannot be parsed"
        raise InvalidInput(
            f"the chat cell is not valid YAML or JSON{where} ({problem}); write a list of "
            f"role/content messages, {_EXAMPLE}"
        ) from None
    return check_messages(loaded)


def check_messages(messages: Any) -> list[dict[str, str]]:
    """A non-empty list of ``{role, content}`` messages with known roles and text content."""
    if not isinstance(messages, list) or not messages:
        raise InvalidInput(
            f"a chat prompt is a non-empty list of role/content messages, not {_kind(messages)}; {_EXAMPLE}"
        )
    checked = []
    for number, message in enumerate(messages, 1):
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            keys = ", ".join(map(str, message)) if isinstance(message, dict) else _kind(message)
            raise InvalidInput(
                f"chat message {number} must have exactly the keys role and content, not {keys}; {_EXAMPLE}"
            )
        role, content = message["role"], message["content"]
        if role not in ROLES:
            raise InvalidInput(f"chat message {number} has role {role!r}; use one of {', '.join(ROLES)}.")
        if not isinstance(content, str) or not content.strip():
            raise InvalidInput(f"chat message {number} ({role}) needs text content, not {_kind(content)}.")
        checked.append({"role": role, "content": content})
    return checked


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return "empty text" if not value.strip() else "text"
    if isinstance(value, list | dict) and not value:
        return f"an empty {type(value).__name__}"
    return f"a {type(value).__name__}"


def template_of(text_or_messages: Any, chat: bool) -> Template:
    """The template to register: checked messages for a chat prompt, the text otherwise."""
    if isinstance(text_or_messages, list):
        return check_messages(text_or_messages)
    if not isinstance(text_or_messages, str):
        raise InvalidInput(
            f"a prompt is text or a list of role/content messages, not {_kind(text_or_messages)}."
        )
    if chat:
        return parse_chat(text_or_messages)
    if not text_or_messages.strip():
        raise InvalidInput("the prompt is empty; write its text (with {{variables}}) in the cell.")
    return text_or_messages


def content_hash(template: Template) -> str:
    """SHA-256 of what the prompt says and whether it is a chat: equal hashes, equal prompts."""
    canonical = json.dumps(
        {"chat": isinstance(template, list), "template": template},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def variables(template: Template) -> list[str]:
    """The ``{{variables}}`` of the template, in the order they first appear."""
    # MLflow's own pattern, so these are exactly the variables ``PromptVersion.format`` fills.
    from mlflow.prompt.constants import PROMPT_TEMPLATE_VARIABLE_PATTERN

    texts = [template] if isinstance(template, str) else [m["content"] for m in template]
    found: dict[str, None] = {}
    for text in texts:
        found.update(dict.fromkeys(PROMPT_TEMPLATE_VARIABLE_PATTERN.findall(text)))
    return list(found)


def as_text(template: Template) -> str:
    """The template as lines to read and diff: a chat prompt as ``[role]`` headings and contents."""
    if isinstance(template, str):
        return template
    return "\n".join(f"[{m['role']}]\n{m['content']}" for m in template)


def unified_diff(old: Template | None, new: Template, old_label: str, new_label: str) -> str:
    """A unified diff from ``old`` (nothing, for a first version) to ``new``."""
    before = [] if old is None else as_text(old).splitlines()
    lines = difflib.unified_diff(before, as_text(new).splitlines(), old_label, new_label, lineterm="")
    return "\n".join(lines)
