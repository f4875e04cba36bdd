"""What changed between two versions of a prompt, line by line, as the sidebar and the REST API show it.

A reviewer deciding whether version 3 may replace version 2 in production reads the change, not
two templates side by side. The diff is computed here, once, so every face shows the same lines:
each line is kept, added or removed, with its line numbers in the old and the new template. A
chat prompt is compared message by message — messages are paired by their roles first, so a
system message inserted at the top shows as one added message instead of every message below it
changed — and a text prompt is one message without a role.
"""

from __future__ import annotations

import difflib
from typing import Any

from . import config
from .errors import InvalidInput
from .identifiers import check_version

#: A line's mark: kept, added, removed (the gutter a unified diff shows).
KEPT, ADDED, REMOVED = " ", "+", "-"


def diff(name: str, from_version: Any, to_version: Any, start: config.Start = None) -> dict[str, Any]:
    """``{"prompt", "from_version", "to_version", "chat", "added", "removed", "blocks"}``.

    ``blocks`` has one entry per message (one for a text prompt): its ``role`` (``None`` for
    text), its ``change`` (``same``, ``changed``, ``added``, ``removed``) and its ``lines``, each
    ``{"op": " "|"+"|"-", "text", "old", "new"}`` with 1-based line numbers (``None`` on the side
    a line is not on). Unknown prompts and versions are a ``NotFound`` naming what is missing.
    """
    from .prompts import load
    from .prompts.registering import check_name

    name = check_name(name)
    if from_version is None or to_version is None:
        raise InvalidInput("name both versions to compare, e.g. from=1 and to=2.")
    old_number, new_number = check_version(from_version), check_version(to_version)
    old = load(f"{name}/{old_number}", start).template
    new = load(f"{name}/{new_number}", start).template
    blocks = [_block(role_old, role_new, a, b) for role_old, role_new, a, b in _pairs(old, new)]
    return {
        "prompt": name,
        "from_version": old_number,
        "to_version": new_number,
        "chat": isinstance(new, list),
        "added": sum(line["op"] == ADDED for block in blocks for line in block["lines"]),
        "removed": sum(line["op"] == REMOVED for block in blocks for line in block["lines"]),
        "blocks": blocks,
    }


def _messages(template: Any) -> list[tuple[str | None, str]]:
    if isinstance(template, str):
        return [(None, template)]
    return [(m["role"], m["content"]) for m in template]


def _pairs(old: Any, new: Any) -> list[tuple[str | None, str | None, str | None, str | None]]:
    """``(old role, new role, old text, new text)`` per message; ``None`` text: not on that side."""
    before, after = _messages(old), _messages(new)
    matcher = difflib.SequenceMatcher(None, [r for r, _ in before], [r for r, _ in after], autojunk=False)
    pairs: list[tuple[str | None, str | None, str | None, str | None]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        left, right = before[i1:i2], after[j1:j2]
        if tag in ("equal", "replace"):
            # Same roles, or a run of changed roles: pair them in order, the rest added or removed.
            for (r1, t1), (r2, t2) in zip(left, right, strict=False):
                pairs.append((r1, r2, t1, t2))
            left, right = left[len(right) :], right[len(left) :]
        pairs += [(r, None, t, None) for r, t in left]
        pairs += [(None, r, None, t) for r, t in right]
    return pairs


def _block(role_old: str | None, role_new: str | None, old: str | None, new: str | None) -> dict[str, Any]:
    a = [] if old is None else old.splitlines()
    b = [] if new is None else new.splitlines()
    lines: list[dict[str, Any]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            lines += [
                {"op": KEPT, "text": a[i], "old": i + 1, "new": j1 + (i - i1) + 1} for i in range(i1, i2)
            ]
            continue
        lines += [{"op": REMOVED, "text": a[i], "old": i + 1, "new": None} for i in range(i1, i2)]
        lines += [{"op": ADDED, "text": b[j], "old": None, "new": j + 1} for j in range(j1, j2)]
    if old is None:
        change = "added"
    elif new is None:
        change = "removed"
    else:
        same = role_old == role_new and all(line["op"] == KEPT for line in lines)
        change = "same" if same else "changed"
    return {
        "role": role_new if new is not None else role_old,
        "old_role": role_old,
        "change": change,
        "lines": lines,
    }
