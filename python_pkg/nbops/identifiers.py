"""Checks on identifiers that arrive from outside: URLs, query strings, request bodies.

Model names, versions, aliases, run ids, artifact paths, metric names and filters are checked
here before anything is read, so a path-like name (``../x``, ``%2e%2e%2f``, ``C:\\x``,
``file:///etc/passwd``) never reaches the store or the file system. Each check raises
``InvalidInput`` with one line a client can act on.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .errors import InvalidInput

#: Longest model name accepted (MLflow's column is 256 characters).
NAME_LIMIT = 256
FILTER_LIMIT = 200
METRICS_LIMIT = 50

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Characters no model name may hold: path separators, drive and scheme colons, and the
#: characters of percent-encoding, fragments and queries (so no decoding can make a path of it).
_NAME_FORBIDDEN = frozenset("/\\:%#?")
_VERSION = re.compile(r"[1-9][0-9]{0,9}")
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,255}")
_METRIC = re.compile(r"[\w.\-/ :*?\[\]]{1,250}", re.ASCII)


def _shown(value: str) -> str:
    """``value`` quoted for a one-line message, shortened."""
    text = repr(value)
    return text if len(text) <= 60 else text[:56] + "…" + text[0]


def check_model_name(name: Any) -> str:
    """A registered model name that cannot be read as a path, however often it is decoded."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("a model name is required, e.g. churn-model.")
    if len(name) > NAME_LIMIT:
        raise InvalidInput(f"a model name has at most {NAME_LIMIT} characters; this one has {len(name)}.")
    if _CONTROL.search(name) or not _NAME_FORBIDDEN.isdisjoint(name) or set(name) == {"."}:
        raise InvalidInput(
            f"{_shown(name)} is not a model name: names cannot contain / \\ : % # ? or control "
            "characters, nor be . or .."
        )
    return name


def check_version(version: Any) -> str:
    """A model version number, as text."""
    text = str(version) if isinstance(version, int) and not isinstance(version, bool) else version
    if not isinstance(text, str) or not _VERSION.fullmatch(text):
        shown = _shown(text) if isinstance(text, str) else type(version).__name__
        raise InvalidInput(f"{shown} is not a version number; versions are 1, 2, 3, …")
    return text


def check_run_id(run_id: Any) -> str:
    """An MLflow run id (letters, digits, _ and -), never a path."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        shown = _shown(run_id) if isinstance(run_id, str) else type(run_id).__name__
        raise InvalidInput(f"{shown} is not a run id; run ids are 32 hexadecimal characters.")
    return run_id


def check_artifact_path(root: Path | str, path: Any) -> Path:
    """``path`` resolved inside the artifact folder ``root``; anything that could leave it is refused.

    The text is checked first (relative, plain folder names, no ``..``, backslashes, drive or
    scheme colons, percent-encoding or fragments), then the resolved path, so a symlink inside
    the folder that points outside it is refused too.
    """
    if not isinstance(path, str) or not path:
        raise InvalidInput("an artifact path is required, e.g. model_cards/churn/v3/model_card.md.")
    parts = path.split("/")
    if (
        len(path) > 1024
        or _CONTROL.search(path)
        or not _NAME_FORBIDDEN.isdisjoint(path.replace("/", ""))
        or path.startswith("/")
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise InvalidInput(
            f"artifact path {_shown(path)} is not allowed: give a relative path of plain names "
            "separated by /, without .., \\, :, %, # or ?."
        )
    base = Path(root).resolve()
    target = (base / path).resolve()
    if not target.is_relative_to(base):
        raise InvalidInput(
            f"artifact path {_shown(path)} leads outside the artifact folder (through a symlink); "
            "nbops reads only inside it."
        )
    return target


def check_alias(alias: Any) -> str:
    """MLflow's own alias rules, checked up front so a refused alias changes nothing."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import _validate_model_alias_name, _validate_model_alias_name_reserved

    if not isinstance(alias, str):
        raise InvalidInput("an alias is required, e.g. champion.")
    try:
        _validate_model_alias_name(alias)
        _validate_model_alias_name_reserved(alias)
    except MlflowException as exc:
        raise InvalidInput(
            f"alias {alias!r} is not allowed: {exc.message.rstrip('.')}; use letters, digits, _ and -, "
            "e.g. champion or challenger."
        ) from None
    return alias


def check_metrics(text: str | None) -> list[str] | None:
    """``a,b,drift.*.psi`` → metric names or shell-style patterns; ``None`` (absent) means all."""
    if text is None or not text.strip():
        return None
    names = [name.strip() for name in text.split(",")]
    if len(names) > METRICS_LIMIT:
        raise InvalidInput(f"ask for at most {METRICS_LIMIT} metrics at a time, not {len(names)}.")
    for name in names:
        # Metric keys may hold / and : (feature names do), but never read as a path or a URL.
        if not _METRIC.fullmatch(name) or ".." in name or name.startswith("/") or "://" in name:
            raise InvalidInput(
                f"{_shown(name)} is not a metric name; use names like performance.accuracy or "
                "patterns like drift.*.psi, separated by commas."
            )
    return names


def check_filter(text: str | None) -> str | None:
    """The models search box: a case-insensitive substring of the name (``%``/``_`` are wildcards)."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if len(text) > FILTER_LIMIT or _CONTROL.search(text) or ("'" in text and '"' in text):
        raise InvalidInput(
            f"filter {_shown(text)} is not usable: give up to {FILTER_LIMIT} characters of a model "
            "name, on one line, with at most one kind of quote."
        )
    return text


def _check_page_size(max_results: Any, limit: int) -> int:
    if isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= limit:
        raise InvalidInput(f"max_results must be between 1 and {limit}, got {max_results!r}.")
    return max_results
