"""Where nbops keeps its data: one resolution shared by kernels, CLI and server.

A kernel runs in the notebook's folder, the CLI wherever the user stands and the
server extension in its root directory; all three must land on the same MLflow
store, so the answer is derived from the project, not from the working directory:

1. ``MLFLOW_TRACKING_URI`` when set (MLflow's own convention, so a team's server
   URI works everywhere without nbops knowing about it);
2. ``tracking_uri`` under ``[tool.nbops]`` in the nearest ``pyproject.toml``
   (relative SQLite paths are taken relative to that file);
3. ``sqlite:///<project root>/.nbops/mlflow.db`` — the embedded default, where
   the project root is the nearest folder with a ``pyproject.toml`` or ``.git``.

The answer is one ``Project`` (root, settings, store URI), resolved once and handed down: every
core function's ``start=`` takes either a folder to resolve from or a ``Project`` already
resolved, which is used as it is. ``pyproject.toml`` is read again only when it changed (its
path, size or modification time), so faces may resolve as often as they like.

Only the standard library is used here: this runs at ``%load_ext`` time.
"""

from __future__ import annotations

import os
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigError

ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
STORE_DIRNAME = ".nbops"
DB_FILENAME = "mlflow.db"


@dataclass(frozen=True)
class Project:
    """One resolved project: its root, its store and its ``[tool.nbops]`` settings."""

    project_root: Path
    tracking_uri: str
    #: Where the value came from: ``env``, ``pyproject`` or ``default``.
    source: str
    #: The ``[tool.nbops]`` table, for settings later features read.
    tool: dict[str, Any] = field(default_factory=dict)
    pyproject: Path | None = None

    @property
    def is_embedded(self) -> bool:
        return self.source == "default"

    @property
    def root(self) -> Path:
        return self.project_root


#: The name the core has long used for a resolved project.
Settings = Project
#: What ``start=`` accepts everywhere: a folder to resolve the project from, or the project itself.
Start = Project | Path | str | None

#: (start folder, tracking URI from the environment) → (the pyproject's identity when read, project).
_RESOLVED: dict[tuple[Path, str], tuple[tuple[str, int, int] | None, Project]] = {}
_RESOLVED_LOCK = threading.Lock()
_RESOLVED_KEPT = 64


def _nearest(start: Path, predicate) -> Path | None:
    for folder in (start, *start.parents):
        if predicate(folder):
            return folder
    return None


def find_pyproject(start: Path) -> Path | None:
    folder = _nearest(start, lambda d: (d / "pyproject.toml").is_file())
    return folder / "pyproject.toml" if folder else None


def find_project_root(start: Path | None = None) -> Path:
    """Nearest folder holding a ``pyproject.toml`` or ``.git``, else ``start``."""
    start = Path(start or Path.cwd()).resolve()
    found = _nearest(start, lambda d: (d / "pyproject.toml").is_file() or (d / ".git").exists())
    return found or start


def read_tool_table(pyproject: Path) -> dict[str, Any]:
    try:
        with pyproject.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject} is not valid TOML ({exc}); fix the file or remove it.") from exc
    table = data.get("tool", {}).get("nbops", {})
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.nbops] in {pyproject} must be a table; see the README for its keys.")
    return table


def _anchor_sqlite(uri: str, base: Path) -> str:
    """Make ``sqlite:///relative.db`` relative to ``base`` instead of the cwd."""
    prefix = "sqlite:///"
    if uri.startswith(prefix):
        path = uri[len(prefix) :]
        if path and path != ":memory:" and not Path(path).is_absolute():
            return prefix + str((base / path).resolve())
    return uri


def default_tracking_uri(project_root: Path) -> str:
    return f"sqlite:///{project_root / STORE_DIRNAME / DB_FILENAME}"


def _identity(pyproject: Path | None) -> tuple[str, int, int] | None:
    if pyproject is None:
        return None
    try:
        stat = pyproject.stat()
    except OSError:
        return None
    return (str(pyproject), stat.st_mtime_ns, stat.st_size)


def resolve(start: Start = None, environ: dict[str, str] | None = None) -> Project:
    """The project ``start`` (default: the cwd) belongs to; a ``Project`` is returned as it is.

    Resolved projects are remembered per folder and re-read only when their ``pyproject.toml``
    changed (or ``MLFLOW_TRACKING_URI`` did).
    """
    if isinstance(start, Project):
        return start
    environ = os.environ if environ is None else environ
    start_path = Path(start or Path.cwd()).resolve()
    key = (start_path, environ.get(ENV_TRACKING_URI, "").strip())
    pyproject = find_pyproject(start_path)
    identity = _identity(pyproject)
    with _RESOLVED_LOCK:
        cached = _RESOLVED.get(key)
    if cached is not None and cached[0] == identity and (identity is not None or pyproject is None):
        return cached[1]
    project = _read(start_path, pyproject, environ)
    with _RESOLVED_LOCK:
        if len(_RESOLVED) >= _RESOLVED_KEPT:
            _RESOLVED.pop(next(iter(_RESOLVED)))
        _RESOLVED[key] = (identity, project)
    return project


def _read(start_path: Path, pyproject: Path | None, environ: dict[str, str] | os._Environ[str]) -> Project:
    root = find_project_root(start_path)
    tool = read_tool_table(pyproject) if pyproject else {}

    env_uri = environ.get(ENV_TRACKING_URI, "").strip()
    if env_uri:
        return Settings(root, env_uri, "env", tool, pyproject)
    if "tracking_uri" in tool:
        value = tool["tracking_uri"]
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                f"tracking_uri under [tool.nbops] in {pyproject} must be a non-empty string "
                "such as 'sqlite:///.nbops/mlflow.db' or 'http://mlflow.example:5000'."
            )
        assert pyproject is not None
        return Settings(root, _anchor_sqlite(value.strip(), pyproject.parent), "pyproject", tool, pyproject)
    return Settings(root, default_tracking_uri(root), "default", tool, pyproject)


def redact_uri(uri: str) -> str:
    """The URI without its password, fit for logs, errors and the sidebar."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def sqlite_path(uri: str) -> Path | None:
    """The database file of a local SQLite URI, else ``None``."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and uri[len(prefix) :] not in ("", ":memory:"):
        return Path(uri[len(prefix) :])
    return None
