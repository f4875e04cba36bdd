"""The "server" backend of the suite: a throwaway PostgreSQL cluster and a real ``mlflow server``.

A team shares one MLflow tracking server backed by a database, with artifacts proxied by the
server; nbops must behave there exactly as on its embedded SQLite store. This plugin starts that
set-up once per session, in temporary folders, on loopback only:

* PostgreSQL from Debian's ``postgresql`` package (``initdb`` + ``postgres`` from
  ``/usr/lib/postgresql/*/bin``), as the ``postgres`` system user when the suite runs as root
  (PostgreSQL refuses to run as root), listening on 127.0.0.1 on a free port, password
  (SCRAM) authentication for the test role;
* ``mlflow server --backend-store-uri postgresql+psycopg2://... --artifacts-destination DIR`` in
  its own process group (MLflow 3 serves and proxies artifacts by default).

Isolation is per test and cheap: the database the server uses is dropped and re-created from a
template that already holds MLflow's schema (``CREATE DATABASE ... TEMPLATE``, a file copy inside
PostgreSQL, about 0.1-0.2 s) while the server keeps running — MLflow's engine pings pooled
connections before use, so it reconnects to the new database by itself. Starting a fresh
``mlflow server`` per test would cost about 5-6 s each on a 2-core machine.

The shared server runs one worker process: on this machine a multi-worker ``mlflow server``
answers each request in about 50 ms against 7 ms for one worker, which would double the
price of every server test. Tests about concurrent writers use ``TeamServer.busy_url()``, a
second server with two worker processes, so their writes really meet in separate server
processes and only in the database.

The URI is ``postgresql+psycopg2://``: SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3,
while the suite's driver is ``psycopg2-binary``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

#: The backends store tests run on; ``NBOPS_TEST_BACKENDS=sqlite`` narrows a quick local run (and
#: the smoke run on the oldest supported versions, which has no PostgreSQL to spare).
BACKENDS = os.environ.get("NBOPS_TEST_BACKENDS", "sqlite,server").split(",")

ROLE = "nbops"
PRISTINE = "mlflow_pristine"
STORE_DB = "nbops_store"
BUSY_DB = "nbops_busy"
#: Worker processes of the shared server (see above) and of the busy one.
WORKERS = 1
BUSY_WORKERS = 2
START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's binaries (Debian keeps them per major version)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL will not run as root: drop to the ``postgres`` user the Debian package creates."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def stop_group(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Signal the process group ``process`` leads, then kill whatever is still there."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):  # children left behind by the leader
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Postgres:
    """A private PostgreSQL cluster in ``folder``; ``stop()`` ends it."""

    folder: Path
    port: int
    password: str
    process: subprocess.Popen
    _admin: object = None

    @classmethod
    def start(cls) -> Postgres:
        pg = postgres_bin()
        if pg is None:
            pytest.fail(
                "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): "
                "run 'make test', which installs Debian's postgresql, or apt-get install postgresql."
            )
        # pytest's tmp folders are private to root; the cluster's owner needs its own folder.
        folder = Path(tempfile.mkdtemp(prefix="nbops-pg-"))
        password = secrets.token_hex(12)
        (folder / "sock").mkdir()
        pwfile = folder / "pwfile"
        pwfile.write_text(password + "\n")
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
            for path in (folder / "sock", pwfile):
                shutil.chown(path, "postgres", "postgres")
        done = subprocess.run(
            _as_postgres([
                str(pg / "initdb"), "-D", str(folder / "data"), "-U", "postgres", "-E", "UTF8",
                "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}",
                "--no-sync", "--no-instructions",
            ]),
            capture_output=True, text=True,
        )  # fmt: skip
        pwfile.unlink()
        if done.returncode:
            shutil.rmtree(folder, ignore_errors=True)
            pytest.fail(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
        port = free_port()
        log = folder / "postgres.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                _as_postgres([
                    str(pg / "postgres"), "-D", str(folder / "data"), "-p", str(port),
                    "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={folder / 'sock'}",
                    "-c", "max_connections=200",
                    # A throwaway cluster: durability buys nothing here and costs seconds.
                    "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                ]),
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        server = cls(folder, port, password, process)
        try:
            server._wait_ready(log)
            server.execute(f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{password}'")
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_ready(self, log: Path) -> None:
        import psycopg2

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self._admin = psycopg2.connect(
                    host="127.0.0.1",
                    port=self.port,
                    user="postgres",
                    password=self.password,
                    dbname="postgres",
                )
                self._admin.autocommit = True
                return
            except psycopg2.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"PostgreSQL did not start:\n{_tail(log)}")
                time.sleep(0.1)

    def execute(self, statement: str) -> None:
        """One statement as the superuser, outside a transaction (CREATE/DROP DATABASE need that)."""
        with self._admin.cursor() as cur:
            cur.execute(statement)

    def uri(self, database: str, password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql+psycopg2://{ROLE}:{secret}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
        # SIGINT is PostgreSQL's "fast" shutdown: sessions are ended, no recovery on the next start.
        stop_group(self.process, signal.SIGINT)
        shutil.rmtree(self.folder, ignore_errors=True)


def create_mlflow_schema(uri: str) -> None:
    """MLflow's tables and its Default experiment, as the server would create them, in ``uri``."""
    import logging

    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    quiet = [logging.getLogger(name) for name in ("mlflow.store.db.utils", "alembic")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.WARNING)
    try:
        SqlAlchemyStore(uri, "mlflow-artifacts:/")  # the server's default root when it proxies artifacts
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
        # A template may have no open sessions: let go of this process's pooled connections.
        engine = SqlAlchemyStore._engine_map.pop(uri, None)
        if engine is not None:
            engine.dispose()


@dataclass
class MlflowServer:
    """``mlflow server`` in its own process group, on loopback."""

    url: str
    process: subprocess.Popen
    log: Path
    started_in: float

    @classmethod
    def start(
        cls, backend_uri: str, artifacts: Path, log: Path, workers: int = WORKERS, extra: tuple[str, ...] = ()
    ) -> MlflowServer:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env.update(
            MLFLOW_DISABLE_TELEMETRY="true",
            # The job runner (GenAI evaluation jobs) starts seven huey consumers; nbops needs none.
            MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
        )
        mlflow = Path(sys.executable).parent / "mlflow"
        began = time.monotonic()
        with log.open("w") as out:
            process = subprocess.Popen(
                [
                    str(mlflow), "server", "--host", "127.0.0.1", "--port", str(port),
                    "--backend-store-uri", backend_uri, "--artifacts-destination", str(artifacts),
                    "--workers", str(workers), *extra,
                ],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = began + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                stop_group(process)
                pytest.fail(f"mlflow server did not answer /health:\n{_tail(log)}")
            time.sleep(0.1)
        return cls(url, process, log, time.monotonic() - began)

    def stop(self) -> None:
        stop_group(self.process)


@dataclass
class TeamServer:
    """PostgreSQL + one ``mlflow server`` on database ``STORE_DB``, reset per test."""

    postgres: Postgres
    server: MlflowServer
    artifacts: Path
    started_in: float
    resets: list[float] = field(default_factory=list)
    busy: MlflowServer | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def busy_url(self) -> str:
        """A second server with ``BUSY_WORKERS`` worker processes, on its own store, emptied now."""
        if self.busy is None:
            self.postgres.execute(f"CREATE DATABASE {BUSY_DB} OWNER {ROLE} TEMPLATE {PRISTINE}")
            log = self.server.log.with_name("mlflow-busy-server.log")
            self.busy = MlflowServer.start(self.postgres.uri(BUSY_DB), self.artifacts, log, BUSY_WORKERS)
        else:
            self.postgres.execute(f"DROP DATABASE IF EXISTS {BUSY_DB} WITH (FORCE)")
            self.postgres.execute(f"CREATE DATABASE {BUSY_DB} OWNER {ROLE} TEMPLATE {PRISTINE}")
        return self.busy.url

    def reset(self) -> str:
        """An empty store (MLflow's schema, the Default experiment) behind the running server."""
        began = time.monotonic()
        self.postgres.execute(f"DROP DATABASE IF EXISTS {STORE_DB} WITH (FORCE)")
        self.postgres.execute(f"CREATE DATABASE {STORE_DB} OWNER {ROLE} TEMPLATE {PRISTINE}")
        self.resets.append(time.monotonic() - began)
        return self.url

    def new_database(self, name: str, pristine: bool = True) -> str:
        """Another database for a test's own use (with MLflow's schema, or empty); returns its URI."""
        self.postgres.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        template = f" TEMPLATE {PRISTINE}" if pristine else ""
        self.postgres.execute(f"CREATE DATABASE {name} OWNER {ROLE}{template}")
        return self.postgres.uri(name)

    def db_uri(self, database: str = STORE_DB, password: str | None = None) -> str:
        return self.postgres.uri(database, password)


def module_project(
    name: str,
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    new_store: Any,
    request: Any,
    settings: str = "",
) -> Path:
    """A module's own project folder on ``backend``: its ``pyproject.toml`` names the store and ``settings``.

    ``sqlite``: a fresh embedded store in the project's ``.nbops``; ``server``: a reset database
    behind the session's team server, named by ``[tool.nbops] tracking_uri``.
    """
    root = tmp_path_factory.mktemp(f"{name}-{backend}") / "project"
    root.mkdir()
    text = f'[project]\nname = "{name}"\n'
    if backend == "server":
        text += f'\n[tool.nbops]\ntracking_uri = "{request.getfixturevalue("team_server").reset()}"\n'
    else:
        new_store(root / ".nbops")
    (root / "pyproject.toml").write_text(text + settings)
    return root


def forget_process_state() -> None:
    """End runs left active; forget the fluent API's experiment and store, as a new process would.

    ``store.fluent`` points MLflow's process-wide fluent API at each test's store, so a
    plain ``mlflow.start_run()`` at the start of the next test would write to the last
    one; and on the server backend every test reuses one URI in front of a new store, so
    a remembered experiment id would point into a store that is gone.
    """
    import mlflow
    import mlflow.tracking._model_registry.utils as registry_uris
    import mlflow.tracking._tracking_service.utils as tracking_uris
    import mlflow.tracking.fluent

    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.tracking.fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    tracking_uris._tracking_uri = None  # from now on MLFLOW_TRACKING_URI decides, as at start-up
    registry_uris._registry_uri = None


_started: list[TeamServer] = []


@pytest.fixture(scope="session")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamServer]:
    """PostgreSQL and an MLflow tracking server on it, for the whole session."""
    began = time.monotonic()
    postgres = Postgres.start()
    server = team = None
    try:
        postgres.execute(f"CREATE DATABASE {PRISTINE} OWNER {ROLE}")
        create_mlflow_schema(postgres.uri(PRISTINE))
        postgres.execute(f"CREATE DATABASE {STORE_DB} OWNER {ROLE} TEMPLATE {PRISTINE}")
        base = tmp_path_factory.mktemp("team-server")
        artifacts = base / "artifacts"
        artifacts.mkdir()
        server = MlflowServer.start(postgres.uri(STORE_DB), artifacts, base / "mlflow-server.log")
        team = TeamServer(postgres, server, artifacts, time.monotonic() - began)
        _started.append(team)
        yield team
    finally:
        if team is not None and team.busy is not None:
            team.busy.stop()
        if server is not None:
            server.stop()
        postgres.stop()


@pytest.fixture
def server_store(team_server: TeamServer) -> str:
    """The team server's URL, in front of a store that is empty for this test."""
    return team_server.reset()


def pytest_terminal_summary(terminalreporter) -> None:
    """What the server backend cost, so its price stays visible in every run."""
    for team in _started:
        resets = team.resets
        mean = 1000 * sum(resets) / len(resets) if resets else 0.0
        terminalreporter.write_line(
            f"team server: PostgreSQL + mlflow server up in {team.started_in:.1f} s "
            f"(mlflow server {team.server.started_in:.1f} s of it); "
            f"{len(resets)} store resets, {mean:.0f} ms each on average"
        )
