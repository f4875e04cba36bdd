"""``nbops reproduce``: a version's training notebook run again from its lineage, in real kernels.

One project per backend and module: a real git repository holding a tiny training notebook, its
data in a CSV outside the repository (as data usually lives), two versions trained by running the
notebook through papermill (``demo/1`` from a clean tree, ``demo/2`` from uncommitted edits to the
notebook). Each reproduction is a kernel, so the tests share these versions; each test states the
preconditions it relies on rather than the order tests run in.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from backends import BACKENDS
from nbformat.v4 import new_code_cell, new_notebook
from sklearn.linear_model import LogisticRegression

import nbops
from nbops import audit, lineage, registry, runner, store
from nbops.errors import ConfigError, PolicyError
from nbops.reproducing import comparing, worktree
from nbops.reproducing.worktree import Refused

PARAMETERS = 'C = 1.0\ndata_path = ""\nregister_as = ""'
TRAIN = """\
import pandas as pd
from sklearn.linear_model import LogisticRegression
import nbops

frame = pd.read_csv(data_path)
X, y = frame.drop(columns="target"), frame["target"]
with nbops.track("train", params={"C": C, "data_path": data_path}, autolog=False):
    nbops.log_dataset(frame, "train")
    model = LogisticRegression(C=C, max_iter=500).fit(X, y)
    nbops.log_metric("accuracy", model.score(X, y))
    if register_as:
        nbops.register(model, register_as, data=X)
"""
#: The uncommitted edit ``demo/2`` is trained with: one more metric, which only the diff has.
EXTRA_METRIC = '    nbops.log_metric("rows", len(frame))\n'


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def write_notebook(path: Path, train: str = TRAIN) -> None:
    cells = [new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}), new_code_cell(train)]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), path)


def training_data() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(240, 4))
    target = (X[:, 0] + 0.5 * X[:, 1] - X[:, 2] > 0).astype(int)
    return pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(target=target)


def train(project: dict, out: str) -> None:
    """The training notebook as a user runs it: papermill, with the model registered as ``demo``."""
    parameters = {"C": 1.0, "data_path": str(project["data"]), "register_as": "demo"}
    execution = runner.Execution(
        project["notebook"],
        project["tmp"] / out,
        parameters,
        project["uri"],
        300,
        cwd=project["notebook"].parent,
    )
    outcome = runner.run(execution)
    assert outcome.ok, outcome.log.read_text()


@pytest.fixture(scope="module", params=BACKENDS)
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, new_store) -> dict:
    """A git repository with the training notebook, ``demo/1`` (clean tree) and ``demo/2`` (dirty)."""
    tmp = tmp_path_factory.mktemp(f"reproduce-{request.param}")
    repo = tmp / "repo"
    (repo / "notebooks").mkdir(parents=True)
    uri = (
        request.getfixturevalue("team_server").reset()
        if request.param == "server"
        else new_store(tmp / "store")
    )
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n[tool.nbops.policy]\nproduction = ["reproducible"]\n\n'
        "[tool.nbops.reproduce]\ntolerance = 0.01\n\n[tool.nbops.reproduce.metrics]\nrows = 0\n"
    )
    (repo / ".gitignore").write_text("reproduce-reports/\n")
    notebook = repo / "notebooks" / "train.ipynb"
    write_notebook(notebook)
    data = tmp / "data" / "train.csv"
    data.parent.mkdir()
    training_data().to_csv(data, index=False)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "train")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(repo)
        found = {"tmp": tmp, "repo": repo, "uri": uri, "notebook": notebook, "data": data}
        train(found, "clean.ipynb")
        write_notebook(notebook, TRAIN + EXTRA_METRIC)  # uncommitted
        train(found, "dirty.ipynb")
        git(repo, "checkout", "--", "notebooks/train.ipynb")
        yield found
        from backends import forget_process_state

        forget_process_state()


def versions() -> list[str]:
    return sorted(str(v.version) for v in store.client().search_model_versions("name = 'demo'"))


def test_a_clean_version_reproduces_and_its_verdict_is_kept_everywhere(project: dict) -> None:
    assert store.client().get_model_version("demo", "1").tags[lineage.TAG_GIT_DIRTY] == "false"
    steps: list[str] = []
    done = nbops.reproduce("demo/1", progress=steps.append)
    assert done.verdict == "reproduced" and done.reproduced and done.causes == []
    assert [(r.name, r.ok) for r in done.metrics] == [("accuracy", True)]
    assert done.metrics[0].new == pytest.approx(done.metrics[0].original)
    assert done.parameters == {"C": 1.0, "data_path": str(project["data"])}  # recorded, not the defaults
    assert any("checking out commit" in s for s in steps) and any("fresh kernel" in s for s in steps)
    client = store.client()
    new_run = client.get_run(done.run_id)
    assert client.get_experiment(new_run.info.experiment_id).name == "nbops-reproduce"
    assert new_run.data.tags["nbops.reproduce.of"] == "demo/1"
    assert versions() == ["1", "2"]  # the reproduction registered nothing
    shown = nbops.reproduce.latest("demo", 1)  # what the sidebar's version detail shows
    assert (shown["verdict"], shown["run_id"], shown["reproduced_run_id"]) == (
        "reproduced",
        done.record_run_id,
        done.run_id,
    )
    assert [(m["name"], m["ok"]) for m in shown["metrics"]] == [("accuracy", True)]
    assert (
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", shown["time"]) and shown["summary"] == done.summary()
    )
    mv = client.get_model_version("demo", "1")
    assert mv.tags["nbops.gate.reproducible"].startswith("passed ")
    report = json.loads((done.report_dir / "reproduce.json").read_text())
    assert report["verdict"] == "reproduced" and report["metrics"][0]["name"] == "accuracy"
    assert "Reproduction of demo version 1" in (done.report_dir / "reproduce.html").read_text()
    stored = client.download_artifacts(done.record_run_id, "reproduce/reproduce.json", str(project["tmp"]))
    assert json.loads(Path(stored).read_text())["run_id"] == done.run_id
    event = [e for e in audit.events() if e.action == "reproduce"][-1]
    assert (event.model, event.version) == ("demo", "1")
    card = registry.model_card("demo", 1)
    assert "## Reproducibility\nreproduced on " in card and "1 of 1 metrics within tolerance" in card
    assert git(project["repo"], "worktree", "list").count("\n") == 1  # the temporary worktree is gone


def test_a_version_from_uncommitted_edits_reproduces_and_the_gate_then_allows_a_promotion(
    project: dict,
) -> None:
    client = store.client()
    assert client.get_model_version("demo", "2").tags[lineage.TAG_GIT_DIRTY] == "true"
    with pytest.raises(PolicyError, match=r"required gates not passed: reproducible \(not run\)"):
        registry.promote("demo", 2, "production", "release")
    done = nbops.reproduce("demo/2")
    assert done.applied_diff and done.verdict == "reproduced"
    assert {r.name for r in done.metrics} == {"accuracy", "rows"}  # only the recorded diff logs "rows"
    assert "recorded diff applied" in done.summary()
    assert client.get_model_version("demo", "2").tags["nbops.gate.reproducible"].startswith("passed ")
    assert registry.promote("demo", 2, "production", "release")["to_version"] == "2"
    assert registry.aliases_of("demo", "2", None) == ["production"]


def test_changed_data_differs_names_the_dataset_and_fails_the_gate(project: dict) -> None:
    original = project["data"].read_text()
    changed = training_data()
    changed.loc[::3, "target"] = 1 - changed.loc[::3, "target"]  # a third of the labels flipped
    changed.to_csv(project["data"], index=False)
    registry.promote("demo", 1, "candidate", "compare with the new data")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "nbops.cli", "reproduce", "demo@candidate", "--report", str(project["tmp"] / "differs")],
            cwd=project["repo"], capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    finally:
        project["data"].write_text(original)
    assert done.returncode == 1, done.stderr
    assert "demo version 1: differs" in done.stdout
    assert "likely cause: dataset train changed" in done.stdout
    assert "running notebooks/train.ipynb in a fresh kernel" in done.stderr
    assert nbops.reproduce.latest("demo", "1")["verdict"] == "differs"
    assert store.client().get_model_version("demo", "1").tags["nbops.gate.reproducible"].startswith("failed ")
    with pytest.raises(PolicyError, match=r"reproducible \(failed\)"):
        registry.promote("demo", 1, "production", "release")


def test_a_version_whose_commit_is_gone_is_refused_in_one_line(project: dict) -> None:
    """Trained from a commit on a branch that was deleted and pruned (no kernel: nothing runs)."""
    repo = project["repo"]
    ident = ("-c", "user.name=t", "-c", "user.email=t@example.org")
    git(repo, "checkout", "-q", "-b", "experiment")
    write_notebook(project["notebook"], TRAIN.replace("max_iter=500", "max_iter=400"))
    git(repo, *ident, "commit", "-q", "-am", "try fewer iterations")
    frame = training_data()
    X, y = frame.drop(columns="target"), frame["target"]
    with nbops.track("train", notebook=str(project["notebook"]), autolog=False):
        nbops.log_metric("accuracy", 1.0)
        gone = registry.register(LogisticRegression().fit(X, y), "demo", data=X).version
    git(repo, "checkout", "-q", "main")
    git(repo, "branch", "-q", "-D", "experiment")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    before = len(audit.events())
    with pytest.raises(Refused) as refused:
        nbops.reproduce(f"demo/{gone}")
    message = str(refused.value)
    assert "is not in the repository" in message and "git fetch" in message and "\n" not in message
    assert nbops.reproduce.latest("demo", gone) is None and len(audit.events()) == before
    cli = subprocess.run(
        [sys.executable, "-m", "nbops.cli", "reproduce", f"demo/{gone}"],
        cwd=repo, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert (
        cli.returncode == 2 and cli.stderr.startswith("nbops: error: commit ") and cli.stderr.count("\n") == 1
    )


def test_a_recorded_diff_that_no_longer_applies_is_refused(project: dict, tmp_path: Path) -> None:
    """A diff recorded on top of another state of the notebook (here: a later commit's) is refused."""
    repo = project["repo"]
    first = git(repo, "rev-parse", "HEAD").strip()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    write_notebook(
        clone / "notebooks" / "train.ipynb",
        TRAIN.replace("LogisticRegression(C=C", "LogisticRegression(C=2 * C"),
    )
    git(clone, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-am", "double C")
    write_notebook(
        clone / "notebooks" / "train.ipynb",
        TRAIN.replace("LogisticRegression(C=C", "LogisticRegression(C=3 * C"),
    )
    diff = git(clone, "diff", "HEAD", "--", "notebooks/train.ipynb")
    source = worktree.Source(clone, first, "notebooks/train.ipynb", diff)
    with (
        pytest.raises(Refused, match=r"recorded diff no longer applies to commit"),
        worktree.checked_out(source),
    ):
        pass
    assert git(clone, "worktree", "list").count("\n") == 1


def test_tolerances_come_from_the_option_then_the_project() -> None:
    tool = {"reproduce": {"tolerance": 0.05, "metrics": {"accuracy": 0.02}}}
    assert comparing.tolerances(tool, None, "pyproject.toml") == (0.05, {"accuracy": 0.02})
    assert comparing.tolerances(tool, 0.001, "pyproject.toml")[0] == 0.001
    assert comparing.tolerances({}, None, "pyproject.toml")[0] == comparing.DEFAULT_TOLERANCE
    rows = comparing.compare_metrics(
        {"accuracy": 0.90, "loss": 0.0, "f1": 0.5}, {"accuracy": 0.88, "loss": 0.0}, 0.05, {"accuracy": 0.02}
    )
    assert [(r.name, r.ok) for r in rows] == [("accuracy", False), ("f1", False), ("loss", True)]
    assert rows[0].difference == pytest.approx(0.02 / 0.9) and rows[1].new is None
    with pytest.raises(ConfigError, match="must be a number"):
        comparing.tolerances({"reproduce": {"tolerance": "tight"}}, None, "pyproject.toml")
