"""Fixtures that build real MLflow stores in temporary folders.

Creating a SQLite MLflow store runs MLflow's schema migrations (seconds), so the
session makes one pristine store and each test gets its own copy of it.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from nbops import store

pytest_plugins = ["pytest_jupyter.jupyter_server"]


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
def project(tmp_path: Path, _pristine_store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder (with pyproject.toml) whose embedded store already exists.

    ``MLFLOW_TRACKING_URI`` is unset so the embedded default is what nbops finds.
    """
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    copy_store(_pristine_store, root / ".nbops")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(root)
    yield root
    _end_active_runs()


@pytest.fixture
def tracking_uri(tmp_path: Path, _pristine_store: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private store named by ``MLFLOW_TRACKING_URI``, as a team or CI would set it."""
    uri = copy_store(_pristine_store, tmp_path / "store")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # Experiments created by plain MLflow calls put artifacts under ./mlruns: keep them in tmp.
    monkeypatch.chdir(tmp_path)
    yield uri
    _end_active_runs()


def _end_active_runs() -> None:
    import mlflow

    while mlflow.active_run() is not None:
        mlflow.end_run()
