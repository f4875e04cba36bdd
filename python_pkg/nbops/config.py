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

Only the standard library is used here: this runs at ``%load_ext`` time.
"""

from __future__ import annotations

import os
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
class Settings:
    """The resolved configuration of one project."""

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


def resolve(start: Path | str | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Resolve the project's settings from ``start`` (default: the cwd)."""
    environ = os.environ if environ is None else environ
    start_path = Path(start or Path.cwd()).resolve()
    root = find_project_root(start_path)
    pyproject = find_pyproject(start_path)
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
