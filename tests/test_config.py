from pathlib import Path

import pytest

from nbops import config
from nbops.errors import ConfigError


def test_env_variable_wins_over_everything(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.nbops]\ntracking_uri = "sqlite:///other.db"\n')
    settings = config.resolve(tmp_path, environ={"MLFLOW_TRACKING_URI": "http://mlflow.internal:5000"})
    assert settings.tracking_uri == "http://mlflow.internal:5000"
    assert settings.source == "env"


def test_pyproject_setting_is_anchored_at_the_pyproject_not_the_cwd(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.nbops]\ntracking_uri = "sqlite:///data/store.db"\n')
    notebooks = tmp_path / "notebooks" / "deep"
    notebooks.mkdir(parents=True)
    settings = config.resolve(notebooks, environ={})
    assert settings.tracking_uri == f"sqlite:///{tmp_path.resolve() / 'data' / 'store.db'}"
    assert settings.source == "pyproject"
    assert settings.project_root == tmp_path.resolve()


def test_pyproject_server_uri_is_kept_as_is(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.nbops]\ntracking_uri = "http://localhost:5000"\n')
    assert config.resolve(tmp_path, environ={}).tracking_uri == "http://localhost:5000"


def test_default_is_sqlite_in_the_project_root_found_from_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    sub = tmp_path / "notebooks"
    sub.mkdir()
    settings = config.resolve(sub, environ={})
    assert settings.tracking_uri == f"sqlite:///{tmp_path.resolve() / '.nbops' / 'mlflow.db'}"
    assert settings.source == "default"
    assert settings.is_embedded


def test_git_folder_marks_the_project_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert config.resolve(sub, environ={}).project_root == tmp_path.resolve()


def test_without_markers_the_working_folder_is_the_root(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(config, "_nearest", lambda start, predicate: None)
    assert config.resolve(tmp_path, environ={}).project_root == tmp_path.resolve()


def test_kernel_cli_and_server_agree_from_different_folders(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    uris = {config.resolve(p, environ={}).tracking_uri for p in (tmp_path, tmp_path / "notebooks")}
    assert len(uris) == 1


def test_invalid_toml_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.nbops\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.resolve(tmp_path, environ={})


@pytest.mark.parametrize("value", ['""', "42"])
def test_tracking_uri_must_be_a_string(tmp_path: Path, value: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.nbops]\ntracking_uri = {value}\n")
    with pytest.raises(ConfigError, match="non-empty string"):
        config.resolve(tmp_path, environ={})


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("postgresql://bob:s3cret@db.local:5432/mlflow", "postgresql://bob:***@db.local:5432/mlflow"),
        ("http://user:pw@mlflow:5000", "http://user:***@mlflow:5000"),
        ("http://mlflow:5000", "http://mlflow:5000"),
        ("sqlite:////tmp/x/mlflow.db", "sqlite:////tmp/x/mlflow.db"),
    ],
)
def test_redact_uri_hides_passwords(uri: str, shown: str) -> None:
    assert config.redact_uri(uri) == shown


def test_a_project_is_read_once_and_again_only_when_its_pyproject_changes(
    tmp_path: Path, monkeypatch
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[tool.nbops]\ntracking_uri = "sqlite:///one.db"\n')
    reads = []
    real = config.read_tool_table
    monkeypatch.setattr(config, "read_tool_table", lambda path: reads.append(path) or real(path))
    (tmp_path / "notebooks").mkdir()
    first = config.resolve(tmp_path / "notebooks", environ={})
    again = config.resolve(tmp_path / "notebooks", environ={})
    assert again is first and len(reads) == 1
    assert first.root == tmp_path.resolve()

    pyproject.write_text('[tool.nbops]\ntracking_uri = "sqlite:///two.db"\n\n[tool.nbops.serving]\n')
    changed = config.resolve(tmp_path / "notebooks", environ={})
    assert changed.tracking_uri.endswith("two.db") and len(reads) == 2
    # A team's server named in the environment is a different project view, resolved on its own.
    assert (
        config.resolve(tmp_path / "notebooks", environ={"MLFLOW_TRACKING_URI": "http://h:5000"}).source
        == "env"
    )


def test_a_resolved_project_is_handed_down_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.nbops]\n")
    project = config.resolve(tmp_path, environ={})
    assert config.resolve(project) is project
    from nbops import store

    assert store.settings(project) is project
