"""``nbops reproduce``: a version's training notebook run again from its lineage, in real kernels.

One project per backend and module: a real git repository holding a tiny training notebook (which
registers its model and moves the alias ``current`` on every run, as a scheduled training job does)
and a helper module beside it, its data in a CSV outside the repository (as data usually lives),
two versions trained by running the notebook through papermill (``demo/1`` from a clean tree,
``demo/2`` from uncommitted edits to the notebook and to the helper module). Each reproduction is a
kernel, so the tests share these versions; each test states the preconditions it relies on rather
than the order tests run in.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import mlflow
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

PARAMETERS = 'C = 1.0\ndata_path = ""'
SETUP = """\
%load_ext nbops
import pandas as pd
import helpers
import nbops

frame = pd.read_csv(data_path)
X, y = frame.drop(columns="target"), frame["target"]
"""
TRAIN = """\
%%track train --params C,data_path --no-autolog
from sklearn.linear_model import LogisticRegression
nbops.log_dataset(frame, "train")
model = LogisticRegression(C=C, max_iter=500).fit(X, y)
nbops.log_metric("accuracy", model.score(X, y))
for key, value in helpers.EXTRA_METRICS.items():
    nbops.log_metric(key, value)
"""
#: Registered on every run, unconditionally: a reproduction must not add a version or move the alias.
REGISTER = "%register model --name demo --data X --alias current"
HELPERS = "EXTRA_METRICS = {}\n"
#: The uncommitted edits ``demo/2`` is trained with: one more metric from the notebook, one from the
#: helper module beside it, which only the recorded diff of the whole tree has.
EXTRA_METRIC = 'nbops.log_metric("rows", len(frame))\n'
EDITED_HELPERS = 'EXTRA_METRICS = {"helper": 2.0}\n'


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def write_notebook(path: Path, train: str = TRAIN) -> None:
    cells = [
        new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
        new_code_cell(SETUP),
        new_code_cell(train),
        new_code_cell(REGISTER),
    ]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), path)


def training_data() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(240, 4))
    target = (X[:, 0] + 0.5 * X[:, 1] - X[:, 2] > 0).astype(int)
    return pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(target=target)


def train(project: dict, out: str) -> None:
    """The training notebook as a user runs it: papermill (it registers the model as ``demo``)."""
    parameters = {"C": 1.0, "data_path": str(project["data"])}
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
    (repo / "notebooks" / "helpers.py").write_text(HELPERS)
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
        write_notebook(notebook, TRAIN + EXTRA_METRIC)  # uncommitted, with the helper module's edit
        (repo / "notebooks" / "helpers.py").write_text(EDITED_HELPERS)
        train(found, "dirty.ipynb")
        git(repo, "checkout", "--", "notebooks")
        yield found
        from backends import forget_process_state

        forget_process_state()


def versions() -> list[str]:
    return sorted(str(v.version) for v in store.client().search_model_versions("name = 'demo'"))


def aliases() -> dict[str, str]:
    return {k: str(v) for k, v in store.client().get_registered_model("demo").aliases.items()}


def test_a_clean_version_reproduces_and_its_verdict_is_kept_everywhere(project: dict) -> None:
    assert store.client().get_model_version("demo", "1").tags[lineage.TAG_GIT_DIRTY] == "false"
    registered, moved = versions(), aliases()
    assert "1" in registered and "2" in registered and moved["current"] == max(registered, key=int)
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
    # The notebook registers on every run: under the reproduction it logged the model only.
    assert versions() == registered and aliases() == moved
    assert new_run.outputs.model_outputs  # the model was logged to the scratch run
    executed = nbformat.read(done.executed, as_version=4)
    said = "".join(o["text"] for o in executed.cells[-1].outputs if o.get("name") == "stdout").splitlines()
    assert said == [
        f"nbops reproduce demo/1: the model was logged to run {done.run_id} but not registered as demo; "
        "a reproduction creates no version and moves no alias."
    ]
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
    run = client.get_run(client.get_model_version("demo", "2").run_id)
    assert run.data.metrics["helper"] == 2.0  # the edited helper module beside the notebook
    done = nbops.reproduce("demo/2")
    assert done.applied_diff and done.verdict == "reproduced", done.summary()
    # Only the recorded diff of the whole tree logs "rows" (the notebook) and "helper" (helpers.py).
    assert {r.name: r.new for r in done.metrics if r.name != "accuracy"} == {"rows": 240, "helper": 2.0}
    assert "recorded diff applied" in done.summary()
    assert client.get_model_version("demo", "2").tags["nbops.gate.reproducible"].startswith("passed ")
    assert registry.promote("demo", 2, "production", "release")["to_version"] == "2"
    assert "production" in registry.aliases_of("demo", "2", None)


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
    diff = git(clone, "diff", "HEAD", "--", "notebooks/train.ipynb").encode()
    source = worktree.Source(clone, first, "notebooks/train.ipynb", diff)
    with (
        pytest.raises(Refused, match=r"recorded diff no longer applies to commit"),
        worktree.checked_out(source),
    ):
        pass
    assert git(clone, "worktree", "list").count("\n") == 1


def test_under_a_reproduction_registering_logs_the_model_and_moves_no_alias(
    project: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Python API in a process ``nbops reproduce`` started (its variable set, as the kernel's is)."""
    registered, moved = versions(), aliases()
    events = len(audit.events())
    monkeypatch.setenv(lineage.ENV_REPRODUCING, "demo/1")
    frame = training_data()
    X, y = frame.drop(columns="target"), frame["target"]
    with nbops.track("scratch", autolog=False) as run:
        logged = registry.register(LogisticRegression().fit(X, y), "demo", data=X, alias="current")
    assert (logged.registered, logged.version, logged.run_id) == (False, "", run.info.run_id)
    assert len(mlflow.pyfunc.load_model(logged.model_uri).predict(X.head(3))) == 3  # logged, loadable
    promoted = registry.promote("demo", 1, "current", "try an older version")
    rolled = registry.rollback("demo", "current", "back")
    assert promoted["held_back"] and rolled["held_back"] and promoted["to_version"] == moved["current"]
    assert versions() == registered and aliases() == moved and len(audit.events()) == events
    tail = "; a reproduction creates no version and moves no alias."
    assert capsys.readouterr().out.splitlines() == [
        f"nbops reproduce demo/1: the model was logged to run {run.info.run_id} but not registered as demo{tail}",
        f"nbops reproduce demo/1: demo@current was not moved to version 1{tail}",
        f"nbops reproduce demo/1: demo@current was not rolled back{tail}",
    ]


def test_a_dirty_run_whose_diff_does_not_apply_or_was_too_large_is_refused_and_writes_nothing(
    project: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs made while the helper module had an uncommitted edit: one whose recorded diff was
    replaced by a diff of other content (what a clean/smudge filter or an edited artifact gives),
    one whose diff was above the size limit. Both are refused before any kernel, report or record."""
    repo, client = project["repo"], store.client()
    frame = training_data()
    X, y = frame.drop(columns="target"), frame["target"]
    (repo / "notebooks" / "helpers.py").write_text(EDITED_HELPERS)  # uncommitted
    try:
        with nbops.track("train", notebook=str(project["notebook"]), autolog=False) as run:
            nbops.log_metric("accuracy", 1.0)
            unapplicable = registry.register(LogisticRegression().fit(X, y), "demo", data=X).version
        monkeypatch.setattr(lineage, "DIFF_LIMIT", 10)
        with nbops.track("train", notebook=str(project["notebook"]), autolog=False):
            nbops.log_metric("accuracy", 1.0)
            too_large = registry.register(LogisticRegression().fit(X, y), "demo", data=X).version
    finally:
        git(repo, "checkout", "--", "notebooks")
    recorded = Path(client.download_artifacts(run.info.run_id, lineage.DIFF_ARTIFACT, str(project["tmp"])))
    assert '+EXTRA_METRICS = {"helper": 2.0}' in recorded.read_text()
    client.log_text(
        run.info.run_id,
        recorded.read_text().replace("-EXTRA_METRICS = {}", "-EXTRA = 1"),
        lineage.DIFF_ARTIFACT,
    )

    reports = repo / "reproduce-reports"
    before = (sorted(reports.iterdir()) if reports.exists() else [], len(audit.events()), len(scratch_runs()))
    for version, said in [
        (unapplicable, r"uncommitted changes whose recorded diff no longer applies to commit \w{12} \(.+\)"),
        (too_large, r"uncommitted changes too large to record \(\d+ bytes, above 10\)"),
    ]:
        with pytest.raises(
            Refused, match=rf"^demo version {version} was trained with |^the run was made from "
        ) as refused:
            nbops.reproduce(f"demo/{version}")
        assert re.search(said, str(refused.value)) and "\n" not in str(refused.value)
        assert nbops.reproduce.latest("demo", version) is None
    after = (sorted(reports.iterdir()) if reports.exists() else [], len(audit.events()), len(scratch_runs()))
    assert after == before  # no report folder, no audit event, no run
    assert git(repo, "worktree", "list").count("\n") == 1


def scratch_runs() -> list:
    found = store.client().get_experiment_by_name("nbops-reproduce")
    return store.client().search_runs([found.experiment_id]) if found else []


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
