"""MLflow access for the whole of nbops, imported lazily.

MLflow takes over a second to import, so nothing here imports it at module level:
``%load_ext nbops`` stays instant and the cost is paid when a run first starts.

Local SQLite stores get one more rule: their artifacts live beside the database
(``<store folder>/artifacts``) rather than in MLflow's ``./mlruns`` default, which
would scatter artifacts into whatever folder each kernel happened to start in.

Every store is checked once per process before nbops first uses it (``check``), so a
team's shared store that cannot be used fails in seconds with one line that says why
and what to do, instead of MLflow's minutes of retries or a traceback mid-cell.

MLflow itself is loaded by one thread at a time (``load_mlflow``): the Jupyter server warms it
up in the background while its store threads may already be checking a store, and a kernel's
background sweep runs beside the first cell.
"""

from __future__ import annotations

import fcntl
import functools
import os
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import config
from .errors import StoreError

if TYPE_CHECKING:
    from mlflow import MlflowClient

_prepared: set[str] = set()
_prepare_lock = threading.Lock()
#: Held while MLflow's modules are imported; ``_loaded`` names the ones imported already.
_load_lock = threading.Lock()
_loaded: set[str] = set()

#: What any store call needs: the client, and the REST helpers the server probe uses.
MLFLOW_MODULES = ("mlflow", "mlflow.tracking", "mlflow.utils.rest_utils", "mlflow.utils.credentials")
#: What a database store adds: MLflow's SQLAlchemy stores (SQLAlchemy itself) and Alembic's scripts,
#: which the schema check reads.
DATABASE_MODULES = (
    "mlflow.store.db.utils",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "alembic.script",
)

#: The first request to a tracking server is a probe that gives up after a few quick retries
#: (about two seconds) and a short timeout. Later requests keep MLflow's own retry policy
#: (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, several minutes of backoff), which rides out a server
#: restart or a rate limit once the server is known to exist; without the probe, a server that
#: is simply not running would hang the first cell for those minutes.
PROBE_TIMEOUT = 10
PROBE_RETRIES = 2
PROBE_BACKOFF = 0.5
#: Seconds a database server gets to accept a connection (libpq's default is to wait forever).
DB_CONNECT_TIMEOUT = 10
#: URI schemes MLflow serves from a database through SQLAlchemy (``dialect[+driver]``).
SQL_DIALECTS = frozenset({"sqlite", "postgresql", "mysql", "mssql"})


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


def load_mlflow(tracking_uri: str | None = None) -> None:
    """Import MLflow and the parts of it a store at ``tracking_uri`` needs: in one thread at a time.

    Python cannot import the same package's circular modules (SQLAlchemy's, MLflow's) from two
    threads at once: the thread that comes second may get a partially initialised module
    (``cannot import name ... from partially initialized module``) and leave the package
    half-imported for later callers. Every store call goes through here first (``prepare``,
    ``check``), and so does the Jupyter server's warm-up, so whoever comes second waits for the
    first instead. ``None``: the modules of every kind of store. A failed import is not
    remembered: the next call tries again, and raises ``StoreError`` if it fails again.
    """
    wanted = MLFLOW_MODULES
    if tracking_uri is None or urlsplit(tracking_uri).scheme.partition("+")[0].lower() in SQL_DIALECTS:
        wanted = MLFLOW_MODULES + DATABASE_MODULES
    if _loaded.issuperset(wanted):
        return
    import importlib

    with _load_lock:
        for name in wanted:
            if name in _loaded:
                continue
            try:
                importlib.import_module(name)
            except Exception as exc:
                raise StoreError(
                    f"cannot load MLflow ({name}: {' '.join(str(exc).split())[:200]}); check that "
                    "mlflow and its dependencies are installed in this environment (pip install mlflow)."
                ) from exc
            _loaded.add(name)


def prepare(tracking_uri: str) -> None:
    """Create a local SQLite store on first use, with artifacts beside it; check any other store.

    Kernels, the CLI and the server may all touch a new project at once; a file
    lock keeps them from racing through MLflow's schema migrations together.
    """
    if tracking_uri in _prepared:
        return
    load_mlflow(tracking_uri)
    db = config.sqlite_path(tracking_uri)
    if db is None:
        check(tracking_uri)
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
                created = not db.exists()
                if created:
                    _create_sqlite_store(tracking_uri, artifact_root(tracking_uri))
        except OSError as exc:
            raise StoreError(
                f"cannot create the MLflow store at {db} ({exc.strerror}); "
                "make the folder writable or set MLFLOW_TRACKING_URI to another store."
            ) from exc
        if not created:
            check(tracking_uri)
        _prepared.add(tracking_uri)


def check(tracking_uri: str) -> None:
    """Raise ``StoreError`` unless the store at ``tracking_uri`` can be used as it is.

    * a tracking server (``http(s)://``) must answer MLflow's REST API and accept the
      client's credentials (``MLFLOW_TRACKING_USERNAME``/``PASSWORD``/``TOKEN``);
    * a database (``sqlite:``, ``postgresql:``, ``mysql:``, ``mssql:``) must accept a
      connection and carry exactly the schema this MLflow expects. MLflow itself would
      retry a refused connection for about a minute and a half, and would migrate an
      older database that lacks some tables on the spot: a shared database is upgraded
      on purpose (``mlflow db upgrade``), not by whichever kernel happens to start first.

    Nothing is written. Messages name the store without its password.
    """
    load_mlflow(tracking_uri)
    scheme = urlsplit(tracking_uri).scheme.lower()
    if scheme in ("http", "https"):
        _probe_server(tracking_uri)
        # MLflow prints "View run ... at: URL" to stdout whenever a run ends on a server: lines
        # that break ``nbops ... --json`` and litter cells with nbops' internal runs (audit
        # events, gate runs); the run card and the sidebar show the run. Opt back in with false.
        os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    elif scheme.partition("+")[0] in SQL_DIALECTS:
        _check_database(tracking_uri)


def _scrubbed(text: str, uri: str) -> str:
    """``text``'s first line, with the URI's password (if any) replaced."""
    line = (text.strip().splitlines() or [""])[0]
    secret = urlsplit(uri).password
    return line.replace(secret, "***") if secret else line


def _probe_server(uri: str) -> None:
    # The package before any submodule: this runs in %load_ext's background sweep too, and a
    # thread that takes a submodule's import lock first can deadlock against one importing mlflow.
    import mlflow  # noqa: F401
    from mlflow.exceptions import MlflowException
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    shown = config.redact_uri(uri)
    try:
        response = http_request(
            get_default_host_creds(uri),
            "/api/2.0/mlflow/experiments/search",
            "POST",
            json={"max_results": 1},
            max_retries=PROBE_RETRIES,
            backoff_factor=PROBE_BACKOFF,
            backoff_jitter=0.0,
            timeout=PROBE_TIMEOUT,
            raise_on_status=False,
        )
    except MlflowException as exc:
        text = str(exc)
        if "refused" in text:
            why = "connection refused: nothing is listening there"
        elif "timed out" in text or "timeout" in text.lower():
            why = f"no answer within {PROBE_TIMEOUT} s"
        elif "NameResolution" in text or "Name or service not known" in text:
            why = "the host name does not resolve"
        elif "SSL" in text or "CERTIFICATE" in text:
            why = "TLS failed; set MLFLOW_TRACKING_SERVER_CERT_PATH for a private certificate authority"
        else:
            why = _scrubbed(text, uri)[:200]
        raise StoreError(
            f"cannot reach the MLflow tracking server at {shown} ({why}); start the server, or point "
            "MLFLOW_TRACKING_URI (or tracking_uri under [tool.nbops]) at one that is running."
        ) from None
    status = response.status_code
    if status in (401, 403):
        raise StoreError(
            f"the MLflow tracking server at {shown} refused the credentials (HTTP {status}); set "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN) to an "
            "account it accepts."
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if status >= 500:
        message = body.get("message", "") if isinstance(body, dict) else response.text
        raise StoreError(
            f"the MLflow tracking server at {shown} failed (HTTP {status}: "
            f"{_scrubbed(str(message), uri)[:200] or response.reason}); see the server's log."
        )
    if status != 200 or not isinstance(body, dict):
        raise StoreError(
            f"{shown} answered HTTP {status} to MLflow's REST API, not as an MLflow tracking server "
            "does; check the URI (with the path prefix the server is mounted under, if any)."
        )


def _check_database(uri: str) -> None:
    shown = config.redact_uri(uri)
    db = config.sqlite_path(uri)
    found = _sqlite_schema_version(db, shown) if db is not None else _server_schema_version(uri, shown)
    if found is not None:  # None: an empty database; MLflow creates its tables on first use
        _check_schema_version(shown, uri, found)


def _sqlite_schema_version(db: Path, shown: str) -> str | None:
    """Read-only, with the standard library: a check must not write, nor cost an engine."""
    import sqlite3

    try:
        conn = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True)
        try:
            tables = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchall()
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone() if tables else None
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot open the MLflow store {shown} ({exc}); check the file and its folder."
        ) from None
    return row[0] if row else None


def _server_schema_version(uri: str, shown: str) -> str | None:
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    dialect = urlsplit(uri).scheme.partition("+")[0].lower()
    connect_args = {"connect_timeout": DB_CONNECT_TIMEOUT} if dialect in ("postgresql", "mysql") else {}
    try:
        engine = sqlalchemy.create_engine(uri, poolclass=NullPool, connect_args=connect_args)
    except (ImportError, sqlalchemy.exc.NoSuchModuleError) as exc:
        raise StoreError(
            f"cannot open the MLflow store {shown}: its database driver is missing ({exc}); install "
            "it, e.g. psycopg2-binary for postgresql+psycopg2:// or psycopg[binary] for postgresql://."
        ) from None
    except sqlalchemy.exc.ArgumentError as exc:
        raise StoreError(f"{shown} is not a valid database URI ({_scrubbed(str(exc), uri)}).") from None
    try:
        with engine.connect() as conn:
            found = None
            if sqlalchemy.inspect(conn).has_table("alembic_version"):
                found = conn.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).scalar()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        reason = _scrubbed(str(getattr(exc, "orig", None) or exc), uri)
        raise StoreError(
            f"cannot open the MLflow store {shown} ({reason}); check that the database server is "
            "running and the URI's host, port, user name and password."
        ) from None
    finally:
        engine.dispose()
    return found


def _check_schema_version(shown: str, uri: str, found: str) -> None:
    import mlflow
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    scripts = ScriptDirectory.from_config(_get_alembic_config(db_url=""))
    head = scripts.get_current_head()
    if found == head:
        return
    try:
        known = scripts.get_revision(found) is not None
    except Exception:  # alembic raises its own errors for an unknown revision id
        known = False
    if not known:
        raise StoreError(
            f"the MLflow store {shown} has schema version {found}, which MLflow {mlflow.__version__} "
            "does not know (a newer MLflow upgraded it); install that MLflow version here."
        )
    password_note = " (with its password)" if shown != uri else ""
    raise StoreError(
        f"the MLflow store {shown} has schema version {found}, older than MLflow {mlflow.__version__} "
        f"needs ({head}); back it up, then run: mlflow db upgrade {shown}{password_note}"
    )


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
    from mlflow.exceptions import MlflowException

    try:
        return mlflow_client.create_experiment(name, artifact_location=location)
    except MlflowException as exc:
        # Another process created it between the lookup and here (kernels sharing a server).
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        created = mlflow_client.get_experiment_by_name(name)
        if created is None:
            raise
        return created.experiment_id


def error_reason(exc: Exception) -> str:
    """An ``MlflowException``'s message on one line, without the ``ERROR_CODE:`` a REST store prefixes."""
    body = getattr(exc, "json", None)
    text = body["message"] if isinstance(body, dict) and "message" in body else getattr(exc, "message", exc)
    return " ".join(str(text).split()).rstrip(".")


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


def sql_registry_store(client: Any) -> Any | None:
    """MLflow's SQL registry store behind ``client``, or None for REST and other stores.

    Listings read counts and tags with a few aggregate queries on MLflow's own tables where the
    store is SQL (far fewer round trips than one ``MlflowClient`` call per model); those are
    internal APIs, so callers fall back to ``MlflowClient`` when ``internals_changed`` says so.
    """
    try:
        from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

        registry_store = client._get_registry_client().store
    except (ImportError, AttributeError):
        return None
    return registry_store if isinstance(registry_store, SqlAlchemyStore) else None


def sql_tracking_store(client: Any) -> Any | None:
    """MLflow's SQL tracking store behind ``client``, or None for a tracking server and other stores.

    The same bargain as ``sql_registry_store``: a few direct queries on MLflow's own tables where
    the store is SQL, the public API (``internals_changed``) where it is not or they fail.
    """
    try:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        tracking_store = client._tracking_client.store
    except (ImportError, AttributeError):
        return None
    return tracking_store if isinstance(tracking_store, SqlAlchemyStore) else None


def internals_changed(exc: Exception) -> bool:
    """Whether ``exc`` says MLflow's SQL internals changed shape (use the public client instead)."""
    import sqlalchemy.exc

    return isinstance(exc, ImportError | AttributeError | TypeError | sqlalchemy.exc.SQLAlchemyError)
