"""Fixtures that build real MLflow stores in temporary folders, on two backends.

Creating a SQLite MLflow store runs MLflow's schema migrations (seconds), so the
session makes one pristine store and each test gets its own copy of it.

The tests of the modules in ``BOTH_BACKENDS`` that use ``tracking_uri`` or ``project``
run twice: ``[sqlite]`` on that private embedded store, and ``[server]`` against a real
``mlflow server`` on PostgreSQL with proxied artifacts (``backends.py``), whose store is
emptied before each test — a team's set-up must behave exactly like a laptop's. A test
that checks something only the embedded store has carries ``@pytest.mark.sqlite_only``.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from nbops import store

pytest_plugins = ["pytest_jupyter.jupyter_server", "backends"]

#: Modules about the store's behaviour: their store-using tests run on both backends (the
#: widgets too: their sorting, filtering and paging are the store's). Left out, SQLite only:
#: configuration and packaging (nothing of a store's behaviour), the example notebooks run by
#: papermill (minutes; their gates, registry and monitoring steps are covered over the server
#: by the modules here and test_team_server.py), and the gate runner's modules, whose
#: module-scoped fixture shares one store (test_team_server.py runs a shipped gate instead).
BOTH_BACKENDS = frozenset(
    {
        "test_audit",
        "test_batching",
        "test_catalog",
        "test_cli",
        "test_concurrency",
        "test_datasets",
        "test_lineage",
        "test_liveness",
        "test_magics",
        "test_monitoring",
        "test_registry",
        "test_registry_widget",
        "test_runs",
        "test_server",
        "test_server_security",
        "test_tracking",
        "test_widgets",
    }
)
STORE_FIXTURES = frozenset({"tracking_uri", "project"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: checks the embedded SQLite store itself; not run against the server"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rpartition(".")[2]
    if (
        module in BOTH_BACKENDS
        and STORE_FIXTURES & set(metafunc.fixturenames)
        and metafunc.definition.get_closest_marker("sqlite_only") is None
    ):
        metafunc.parametrize("backend", ["sqlite", "server"], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` (the embedded store) unless the test was parametrised over both backends."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def _pristine_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pristine") / ".nbops"
    store.prepare(f"sqlite:///{folder / 'mlflow.db'}")
    return folder / "mlflow.db"


def copy_store(pristine: Path, folder: Path) -> str:
    """A private copy of the pristine store in ``folder``; returns its URI."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "mlflow.db"
    shutil.copyfile(pristine, db)
    with sqlite3.connect(db) as conn:  # the Default experiment keeps artifacts beside its copy
        conn.execute(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
            (str(folder / "artifacts" / "0"),),
        )
    return f"sqlite:///{db}"


@pytest.fixture(scope="session")
def new_store(_pristine_store: Path):
    """``new_store(folder) -> uri``: a private store for fixtures wider than one test."""
    return lambda folder: copy_store(_pristine_store, folder)


@pytest.fixture
def project(
    backend: str,
    tmp_path: Path,
    _pristine_store: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Path:
    """A project folder (with pyproject.toml) whose store already exists.

    ``MLFLOW_TRACKING_URI`` is unset so nbops finds the store from the project: the
    embedded default, or — on the server backend — ``tracking_uri`` under ``[tool.nbops]``,
    as a team would write it.
    """
    root = tmp_path / "project"
    root.mkdir()
    text = '[project]\nname = "demo"\n'
    if backend == "server":
        text += f'\n[tool.nbops]\ntracking_uri = "{request.getfixturevalue("server_store")}"\n'
    else:
        copy_store(_pristine_store, root / ".nbops")
    (root / "pyproject.toml").write_text(text)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(root)
    yield root
    from backends import forget_process_state  # (a plugin: imported once pytest has it)

    forget_process_state()


@pytest.fixture
def tracking_uri(
    backend: str,
    tmp_path: Path,
    _pristine_store: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> str:
    """A private store named by ``MLFLOW_TRACKING_URI``, as a team or CI would set it."""
    if backend == "server":
        uri = request.getfixturevalue("server_store")
    else:
        uri = copy_store(_pristine_store, tmp_path / "store")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # Experiments created by plain MLflow calls put artifacts under ./mlruns: keep them in tmp.
    monkeypatch.chdir(tmp_path)
    yield uri
    from backends import forget_process_state

    forget_process_state()
