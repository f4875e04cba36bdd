"""Lineage read from the process, git and papermill, with real repositories and kernels."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from mlflow import MlflowClient

from nbops import lineage


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@x"
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "remote", "add", "origin", "https://bob:secret@git.example/team/models.git")
    return root


def tracked_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext nbops"),
        nbformat.v4.new_code_cell("%%track lineage-run\nimport nbops\nnbops.log_metric('x', 1.0)"),
    ]
    nbformat.write(nb, path)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/v/bin/python", "/v/bin/papermill", "in.ipynb", "out.ipynb"], "/work/in.ipynb"),
        (
            ["/v/bin/python", "/v/bin/papermill", "-p", "a", "1", "nb/in.ipynb", "o.ipynb"],
            "/work/nb/in.ipynb",
        ),
        (["python", "-m", "papermill", "/abs/in.ipynb", "o.ipynb", "-k", "python3"], "/abs/in.ipynb"),
        (["/v/bin/python", "/v/bin/pytest", "tests"], None),
        (["/v/bin/python", "/v/bin/papermill", "s3://bucket/in.ipynb", "o.ipynb"], "s3://bucket/in.ipynb"),
    ],
)
def test_papermill_input_is_read_from_the_command_line(argv: list[str], expected: str | None) -> None:
    assert lineage.papermill_input_from_argv(argv, "/work") == expected


def test_papermill_cwd_option_is_undone_to_find_a_relative_input(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "a.ipynb").write_text("{}")
    argv = ["/v/bin/python", "/v/bin/papermill", "--cwd", "notebooks", "notebooks/a.ipynb", "out.ipynb"]
    expected = str(tmp_path / "notebooks" / "a.ipynb")
    assert lineage.papermill_input_from_argv(argv, str(tmp_path / "notebooks")) == expected
    assert lineage.papermill_input_from_argv(argv, str(tmp_path / "notebooks"), str(tmp_path)) == expected


def test_git_state_follows_commits_and_edits(repo: Path) -> None:
    notebook = repo / "train.ipynb"
    tracked_notebook(notebook)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "first")
    clean = lineage.git_state(repo, "train.ipynb")
    assert clean.tags[lineage.TAG_GIT_COMMIT] == git(repo, "rev-parse", "HEAD").strip()
    assert clean.tags[lineage.TAG_GIT_BRANCH] == "main"
    assert clean.tags[lineage.TAG_GIT_DIRTY] == "false"
    assert clean.tags[lineage.TAG_GIT_REPO] == "https://bob:***@git.example/team/models.git"
    assert clean.texts == {}
    notebook.write_text(notebook.read_text().replace("'x', 1.0", "'x', 2.0"))
    dirty = lineage.git_state(repo, "train.ipynb")
    assert dirty.tags[lineage.TAG_GIT_DIRTY] == "true"
    assert "+" in dirty.texts["lineage/notebook.diff"] and "2.0" in dirty.texts["lineage/notebook.diff"]


def test_a_dirty_tree_records_every_tracked_change_byte_for_byte_and_names_untracked_files(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The diff of the whole tree (a helper module, a binary file, a Latin-1 text file) applies to a
    clone of the commit and rebuilds the tree exactly; untracked files are named, not copied."""
    tracked_notebook(repo / "train.ipynb")
    (repo / "helpers.py").write_text("SCALE = 1\n")
    (repo / "weights.bin").write_bytes(bytes(range(256)))
    (repo / "labels.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "first")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    (repo / "helpers.py").write_text("SCALE = 2\n")
    (repo / "weights.bin").write_bytes(bytes(reversed(range(256))))
    (repo / "labels.txt").write_bytes("na\xefve\n".encode("latin-1"))
    (repo / "scratch.py").write_text("print('not committed')\n")

    dirty = lineage.git_state(repo, "train.ipynb")
    assert dirty.tags[lineage.TAG_GIT_DIRTY] == "true"
    assert dirty.tags[lineage.TAG_GIT_DIFF] == lineage.DIFF_RECORDED
    assert lineage.NOTEBOOK_DIFF_ARTIFACT not in dirty.texts  # the notebook itself is unchanged
    assert lineage.DIFF_ARTIFACT not in dirty.texts  # Latin-1 text is not UTF-8: kept as base64
    diff = base64.b64decode(dirty.texts[lineage.DIFF_ARTIFACT_BASE64])
    assert (dirty.tags[lineage.TAG_GIT_UNTRACKED], dirty.texts[lineage.UNTRACKED_ARTIFACT]) == (
        "1",
        "scratch.py\n",
    )
    subprocess.run(["git", "apply", "--binary", "-"], cwd=clone, input=diff, check=True)
    for name in ("helpers.py", "weights.bin", "labels.txt"):
        assert (clone / name).read_bytes() == (repo / name).read_bytes()
    assert not (clone / "scratch.py").exists()

    git(repo, "checkout", "--", "labels.txt")
    readable = lineage.git_state(repo).texts[lineage.DIFF_ARTIFACT]  # UTF-8 (binary as base85) stays text
    assert "+SCALE = 2" in readable and "GIT binary patch" in readable
    monkeypatch.setattr(lineage, "DIFF_LIMIT", 100)
    large = lineage.git_state(repo)
    assert (
        large.tags[lineage.TAG_GIT_DIFF].startswith("too large: ")
        and "above 100" in large.tags[lineage.TAG_GIT_DIFF]
    )
    assert lineage.DIFF_ARTIFACT not in large.texts and lineage.DIFF_ARTIFACT_BASE64 not in large.texts


def test_outside_a_repository_there_is_no_git_lineage(tmp_path: Path) -> None:
    assert lineage.git_state(tmp_path).tags == {}


def test_plain_papermill_command_records_the_notebook_and_git_lineage(repo: Path, tracking_uri: str) -> None:
    notebook = repo / "notebooks" / "train.ipynb"
    notebook.parent.mkdir()
    tracked_notebook(notebook)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "first")
    head = git(repo, "rev-parse", "HEAD").strip()
    notebook.write_text(notebook.read_text().replace("'x', 1.0", "'x', 3.0"))  # uncommitted edit

    papermill = Path(sys.executable).parent / "papermill"
    subprocess.run(
        [papermill, "notebooks/train.ipynb", str(repo / "out.ipynb"), "--no-progress-bar"],
        cwd=repo,
        check=True,
        capture_output=True,
    )
    client = MlflowClient(tracking_uri)
    (run,) = client.search_runs(["0"])
    tags = run.data.tags
    assert tags[lineage.TAG_NOTEBOOK] == str(notebook.resolve())
    assert tags["mlflow.source.name"] == str(notebook.resolve())
    assert tags[lineage.TAG_GIT_COMMIT] == head
    assert tags[lineage.TAG_GIT_DIRTY] == "true"
    assert tags[lineage.TAG_EXECUTION_COUNT] == "2"
    assert run.data.metrics == {"x": 3.0}
    diff = Path(client.download_artifacts(run.info.run_id, "lineage/notebook.diff")).read_text()
    assert "3.0" in diff
    cell = Path(client.download_artifacts(run.info.run_id, "lineage/cell.py")).read_text()
    assert cell == "%%track lineage-run\nimport nbops\nnbops.log_metric('x', 3.0)"  # as in the notebook
    assert json.loads(Path(repo / "out.ipynb").read_text())["cells"][1]["outputs"]


def test_jupyter_session_name_is_the_notebook_path(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(lineage.ENV_NOTEBOOK_PATH, raising=False)
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "a.ipynb"))
    assert lineage.notebook_path() == str(tmp_path / "a.ipynb")
    monkeypatch.setenv(lineage.ENV_NOTEBOOK_PATH, str(tmp_path / "b.ipynb"))
    assert lineage.notebook_path() == str(tmp_path / "b.ipynb")


def test_requirements_are_computed_once_per_process() -> None:
    first = lineage.pinned_requirements()
    assert first is lineage.pinned_requirements()
    assert any(line.startswith("scikit-learn==") for line in first.splitlines())
