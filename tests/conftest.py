"""Fixtures that build real MLflow stores in temporary folders, on two backends.

Creating a SQLite MLflow store runs MLflow's schema migrations (seconds), so the
session makes one pristine store and each test gets its own copy of it.

Every test that uses ``tracking_uri`` or ``project`` runs twice: ``[sqlite]`` on that private
embedded store, and ``[server]`` against a real ``mlflow server`` on PostgreSQL with proxied
artifacts (``backends.py``), whose store is emptied before each test — a team's set-up must behave
exactly like a laptop's. A test that checks something only the embedded store has carries
``@pytest.mark.sqlite_only(reason=...)``.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from backends import BACKENDS

from nbops import store

pytest_plugins = ["pytest_jupyter.jupyter_server", "backends"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sqlite_only(reason): runs on the embedded SQLite store only; the reason says why the team "
        "server adds nothing (or costs too much) for this test or module",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that builds a store through ``backend`` runs on both backends.

    Opting out takes ``@pytest.mark.sqlite_only(reason=...)`` (on a test, or as a module's
    ``pytestmark``); a module that pins the backend with its own ``backend`` fixture keeps it.
    """
    if (
        "backend" in metafunc.fixturenames
        and metafunc.definition.get_closest_marker("sqlite_only") is None
        and not hasattr(metafunc.module, "backend")
    ):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


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
