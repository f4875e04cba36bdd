"""MLflow access for the whole of nbops, imported lazily.

MLflow takes over a second to import, so nothing here imports it at module level:
``%load_ext nbops`` stays instant and the cost is paid when a run first starts.

Local SQLite stores get one more rule: their artifacts live beside the database
(``<store folder>/artifacts``) rather than in MLflow's ``./mlruns`` default, which
would scatter artifacts into whatever folder each kernel happened to start in.
"""

from __future__ import annotations

import fcntl
import functools
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import config
from .errors import StoreError

if TYPE_CHECKING:
    from mlflow import MlflowClient

_prepared: set[str] = set()
_prepare_lock = threading.Lock()


def settings(start: Path | str | None = None) -> config.Settings:
    """The resolved settings, with the store made ready to use."""
    resolved = config.resolve(start)
    prepare(resolved.tracking_uri)
    return resolved


def artifact_root(tracking_uri: str) -> Path | None:
    """Where a local SQLite store keeps its artifacts; ``None`` for other stores."""
    db = config.sqlite_path(tracking_uri)
    return db.parent / "artifacts" if db else None


def exists(tracking_uri: str) -> bool:
    """False only for a local SQLite store whose database has not been created yet."""
    db = config.sqlite_path(tracking_uri)
    return db is None or db.exists()


def prepare(tracking_uri: str) -> None:
    """Create a local SQLite store on first use, with artifacts beside it.

    Kernels, the CLI and the server may all touch a new project at once; a file
    lock keeps them from racing through MLflow's schema migrations together.
    """
    if tracking_uri in _prepared:
        return
    db = config.sqlite_path(tracking_uri)
    if db is None:
        _prepared.add(tracking_uri)
        return
    with _prepare_lock:
        if tracking_uri in _prepared:
            return
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
            if db.parent.name == config.STORE_DIRNAME:
                ignore = db.parent / ".gitignore"
                if not ignore.exists():
                    ignore.write_text("# nbops' embedded MLflow store: data, not source.\n*\n")
            with (db.parent / f".{db.name}.lock").open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not db.exists():
                    _create_sqlite_store(tracking_uri, artifact_root(tracking_uri))
        except OSError as exc:
            raise StoreError(
                f"cannot create the MLflow store at {db} ({exc.strerror}); "
                "make the folder writable or set MLFLOW_TRACKING_URI to another store."
            ) from exc
        _prepared.add(tracking_uri)


def _create_sqlite_store(tracking_uri: str, root: Path | None) -> None:
    import logging

    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    # MLflow announces its schema migrations at INFO level; a new user's first
    # cell should not print a screen of Alembic messages.
    quiet = [logging.getLogger(name) for name in ("mlflow.store.db.utils", "alembic")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.WARNING)
    try:
        SqlAlchemyStore(tracking_uri, str(root))
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)


def fluent(start: Path | str | None = None) -> Any:
    """The ``mlflow`` module, pointed at the project's store.

    The fluent API is process-global; nbops re-points it only when the resolved
    URI changes, so user code calling ``mlflow.*`` directly sees the same store.
    """
    resolved = settings(start)
    import mlflow

    if mlflow.get_tracking_uri() != resolved.tracking_uri:
        mlflow.set_tracking_uri(resolved.tracking_uri)
    if mlflow.get_registry_uri() != resolved.tracking_uri:
        mlflow.set_registry_uri(resolved.tracking_uri)
    return mlflow


@functools.lru_cache(maxsize=8)
def _client(tracking_uri: str) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def client(start: Path | str | None = None) -> MlflowClient:
    """An ``MlflowClient`` on the project's store; no global state is touched."""
    return _client(settings(start).tracking_uri)


def ensure_experiment(name: str, start: Path | str | None = None) -> str:
    """The id of experiment ``name``, created (artifacts beside a SQLite store) if missing."""
    resolved = settings(start)
    mlflow_client = _client(resolved.tracking_uri)
    existing = mlflow_client.get_experiment_by_name(name)
    if existing is not None:
        if existing.lifecycle_stage == "deleted":
            raise StoreError(
                f"experiment {name!r} is deleted; restore it in the MLflow UI "
                "(or with MlflowClient().restore_experiment) or choose another name."
            )
        return existing.experiment_id
    root = artifact_root(resolved.tracking_uri)
    location = None
    if root is not None:
        slug = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)[:40]
        location = str(root / f"{slug}-{uuid.uuid4().hex[:8]}")
    return mlflow_client.create_experiment(name, artifact_location=location)


def experiment_ids(mlflow_client: Any, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """Id → name of every active experiment, paged through the store; ``exclude`` names are left out."""
    found: dict[str, str] = {}
    token = None
    while True:
        page = mlflow_client.search_experiments(max_results=1000, page_token=token)
        found.update({e.experiment_id: e.name for e in page if e.name not in exclude})
        token = page.token
        if not token:
            return found
