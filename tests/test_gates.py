"""The gate runner: real kernels in their own process groups, a real store, real reports.

One classifier is registered per module (as in test_gate_notebooks.py) in a temporary project whose
``notebooks/gates`` is the repository's, so the shipped gates are found by name. Each failure mode
has a small notebook of its own, written in tmp. A project with gates of its own (``team``) gets a
store per test, on both backends: its gates are found by name, listed, required by its policy, and
the reasons its failing gates give are checked against the executed notebooks on disk.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import numpy as np
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nbops import audit, gate, gates, registry, store

ROOT = Path(__file__).parents[1]
#: The tests on the module's ``project`` share one registered classifier and run the shipped gates
#: (minutes); they stay on SQLite. test_team_server.py runs a shipped gate over the server, and the
#: tests of a project's own gates and of failure reasons below run on both backends.
SHARED_STORE = pytest.mark.sqlite_only(reason="one module-wide store and model; shipped gates are slow")
TAG_VALUE = re.compile(r"(passed|failed|error) [0-9a-f]{32} \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, new_store) -> dict[str, str]:
    """A project with the shipped gates, ``models:/gated/1`` (alias champion) and a holdout CSV."""
    folder = tmp_path_factory.mktemp("gate-runner")
    (folder / "pyproject.toml").write_text('[project]\nname = "gated"\n')
    (folder / "notebooks").mkdir()
    (folder / "notebooks" / "gates").symlink_to(ROOT / "notebooks" / "gates")
    uri = new_store(folder / "store")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(folder)
        X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        order = np.random.default_rng(0).permutation(len(X))
        train, holdout = order[:400], order[400:]
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        model.fit(X.iloc[train], y.iloc[train])
        registry.register(model, "gated", data=X.iloc[train], alias="champion")
        X.assign(target=y).iloc[holdout].to_csv(folder / "holdout.csv", index=False)
        yield {"folder": str(folder), "uri": uri, "holdout": str(folder / "holdout.csv")}


def notebook(path: Path, *cells: str, parameters: str | None = "model_uri = ''") -> Path:
    """A gate notebook: a parameters cell (unless None), one passing check, then ``cells``."""
    body = []
    if parameters is not None:
        body.append(new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    body.append(new_code_cell("from nbops import gate\ngate.check('ok', 1, '>=', 0)"))
    body.extend(new_code_cell(source) for source in cells)
    body.append(new_code_cell("print('the end')"))
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(new_notebook(cells=body, metadata={"kernelspec": kernelspec}), path)
    return path


def gate_runs(name: str) -> list:
    client = store.client()
    experiment = client.get_experiment_by_name(gates.EXPERIMENT)
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], f"tags.`nbops.gate.name` = '{name}'")


#: The tags papermill gives the cells it adds to an executed notebook: the injected parameters
#: and the two error banners. The gate's author did not write them.
PAPERMILL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}


def named_cell(outcome: gates.GateOutcome) -> nbformat.NotebookNode:
    """The cell ``outcome.reason`` names (``cell 3 (In [4])``), found in the executed notebook on disk.

    The position counts the cells of the gate notebook as its author wrote it: the author's cell
    there and the executed notebook's cell, once papermill's own cells are left out, must be the
    same cell; the prompt must be the one the executed notebook shows beside it.
    """
    found = re.search(r"cell (\d+)(?: \(In \[(\d+)\]\))?", outcome.reason)
    assert found, outcome.reason
    written = nbformat.read(outcome.notebook, as_version=4).cells
    executed = [
        cell
        for cell in nbformat.read(outcome.executed, as_version=4).cells
        if not PAPERMILL_TAGS & set(cell.metadata.get("tags", []))
    ]
    assert [c.source for c in executed] == [c.source for c in written]
    cell = executed[int(found[1]) - 1]
    assert cell.execution_count == (int(found[2]) if found[2] else None), outcome.reason
    return cell


def junit_cases(path: Path) -> dict[str, dict[str, ET.Element]]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    return {
        suite.get("name"): {case.get("name"): case for case in suite.iter("testcase")}
        for suite in root.iter("testsuite")
    }


@SHARED_STORE
def test_two_shipped_gates_pass_in_parallel(project, tmp_path) -> None:
    lines: list[str] = []
    report = gates.run(
        ["performance", "latency"],
        "models:/gated/1",
        {"data_path": project["holdout"], "performance.min_accuracy": 0.9, "max_p95_ms": 5000, "repeats": 5},
        parallel=2,
        report=tmp_path / "report",
        progress=lines.append,
    )
    assert report.passed and report.exit_code == 0, report.summary_table()
    assert [o.result for o in report.outcomes] == ["passed", "passed"]
    # Both gates were running before either finished.
    assert set(lines[:2]) == {"performance: running…", "latency: running…"}
    assert re.fullmatch(
        r"performance: passed \(3 checks, \d+\.\d s\)", next(x for x in lines if "performance: p" in x)
    )

    performance, latency = report.outcomes
    assert performance.parameters["min_accuracy"] == 0.9 and "min_accuracy" not in latency.parameters
    assert performance.parameters["model_uri"] == "models:/gated/1"
    for outcome in report.outcomes:
        assert outcome.executed == tmp_path / "report" / f"{outcome.name}.ipynb" and outcome.executed.exists()
        assert outcome.html is not None and "<html" in outcome.html.read_text()
        assert "nbops-gate-check" in outcome.html.read_text()

    cases = junit_cases(report.junit)
    assert report.junit == tmp_path / "report" / "junit.xml"
    assert set(cases) == {"performance", "latency"}
    assert set(cases["performance"]) == {c.name for c in performance.checks} | {"run"}
    assert set(cases["latency"]) == {"latency_p95_ms", "run"}
    assert not any(list(case) for suite in cases.values() for case in suite.values())

    client = store.client()
    (run,) = gate_runs("performance")
    assert run.data.tags["nbops.gate.result"] == "passed" and run.data.tags["nbops.gate.version"] == "1"
    assert run.data.tags["nbops.gate.model"] == "gated" and run.info.status == "FINISHED"
    assert run.data.params["min_accuracy"] == "0.9" and run.data.params["data_path"] == project["holdout"]
    assert run.data.metrics["check.accuracy"] == pytest.approx(performance.checks[0].value)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "gate")}
    assert artifacts == {"gate/performance.ipynb", "gate/performance.html"}

    tags = registry.get_version("gated", 1).tags
    assert TAG_VALUE.fullmatch(tags["nbops.gate.performance"]) and tags["nbops.gate.latency"].startswith(
        "passed "
    )
    assert tags["nbops.gate.performance"].split()[1] == performance.run_id
    events = [
        e for e in audit.events(model="gated", action="gate") if e.details["run_id"] == performance.run_id
    ]
    assert len(events) == 1 and events[0].details == {
        "gate": "performance",
        "result": "passed",
        "run_id": performance.run_id,
    }
    assert events[0].source == "gate runner" and events[0].version == "1"
    facts = registry.card_facts("gated", "1")
    assert {"performance", "latency"} <= {g["name"] for g in facts["gates"]}
    # The stored model card was refreshed once the gates were recorded.
    card = client.download_artifacts(
        registry.get_version("gated", 1).run_id, "model_cards/gated/v1/model_card.md", str(tmp_path)
    )
    assert "performance" in Path(card).read_text() and "latency" in Path(card).read_text()
    assert "performance" in report.summary_table() and "all gates passed" in report.summary_table()


@SHARED_STORE
def test_a_failing_threshold_fails_the_gate_and_tags_the_version(project, tmp_path) -> None:
    report = gates.run(
        ["performance"],
        "models:/gated@champion",  # an alias is resolved to its version
        {"data_path": project["holdout"], "min_accuracy": 0.999},
        report=tmp_path,
        junit=tmp_path / "out" / "gates.xml",
    )
    (outcome,) = report.outcomes
    assert (report.version, outcome.result, report.exit_code) == ("1", "failed", 1)
    assert outcome.reason.startswith("1 of 3 checks failed: ✗ accuracy")
    assert (
        registry.get_version("gated", 1)
        .tags["nbops.gate.performance"]
        .startswith(f"failed {outcome.run_id} ")
    )
    cases = junit_cases(tmp_path / "out" / "gates.xml")["performance"]
    assert cases["accuracy"].find("failure") is not None and cases["f1"].find("failure") is None
    assert list(cases["run"]) == []  # the notebook ran to its end: only a check failed
    assert store.client().get_run(outcome.run_id).info.status == "FAILED"


@SHARED_STORE
def test_refused_parameters_run_nothing_and_list_the_declared_ones(project, tmp_path) -> None:
    before = len(gate_runs("performance")) + len(gate_runs("latency"))
    undeclared = gates.run(
        ["performance", "latency"], "models:/gated/1", {"min_acuracy": 0.9}, report=tmp_path / "a"
    )
    assert undeclared.exit_code == 2 and {o.result for o in undeclared.outcomes} == {"error"}
    reason = undeclared.outcomes[0].reason
    assert "it does not declare 'min_acuracy'" in reason and "min_accuracy (float)" in reason
    assert "model_uri (str)" in reason and "batch_size (int)" in undeclared.outcomes[1].reason

    wrong = gates.run(
        ["performance", "latency"],
        "models:/gated/1",
        {"min_accuracy": "high", "batch_size": 2.5, "data_path": project["holdout"]},
        report=tmp_path / "b",
    )
    performance, latency = wrong.outcomes
    assert wrong.exit_code == 2
    assert "'min_accuracy' must be float, not str 'high'" in performance.reason
    assert "'batch_size' must be int, not float 2.5" in latency.reason
    assert not list((tmp_path / "a").glob("*.ipynb")) and not list((tmp_path / "b").glob("*.ipynb"))
    assert len(gate_runs("performance")) + len(gate_runs("latency")) == before
    assert junit_cases(tmp_path / "b" / "junit.xml")["latency"]["run"].find("error") is not None

    # One refused gate keeps the others from running too.
    missing = gates.run(
        ["latency", str(tmp_path / "nope.ipynb")],
        "models:/gated/1",
        {"data_path": project["holdout"]},
        report=tmp_path / "c",
    )
    assert [o.result for o in missing.outcomes] == ["error", "error"]
    assert missing.outcomes[0].reason == "not run: nope could not run"
    assert missing.outcomes[1].reason.startswith("could not run: no notebook ")


@SHARED_STORE
def test_a_model_version_that_does_not_exist_is_refused_up_front(project, tmp_path) -> None:
    from nbops.errors import InvalidInput, NotFound

    with pytest.raises(NotFound, match="no version 9"):
        gates.run(["performance"], "models:/gated/9", report=tmp_path)
    with pytest.raises(NotFound, match="no alias 'nope'"):
        gates.run(["performance"], "models:/gated@nope", report=tmp_path)
    with pytest.raises(InvalidInput, match="models:/NAME/VERSION"):
        gates.run(["performance"], "runs:/abc/model", report=tmp_path)
    with pytest.raises(InvalidInput, match="set by --model"):
        gates.run(["performance"], "models:/gated/1", {"model_uri": "x"}, report=tmp_path)


@SHARED_STORE
def test_each_way_a_gate_notebook_can_stop(project, tmp_path) -> None:
    paths = [
        notebook(tmp_path / "raises.ipynb", "raise ValueError('boom')"),
        notebook(tmp_path / "exit1.ipynb", "import sys\nsys.exit(1)"),
        notebook(tmp_path / "exit0.ipynb", "import sys\nsys.exit(0)"),
        notebook(tmp_path / "interrupted.ipynb", "raise KeyboardInterrupt"),
        notebook(tmp_path / "dies.ipynb", "import os\nos._exit(3)"),
        notebook(tmp_path / "fine.ipynb", "import os\nprint(os.environ['NBOPS_NOTEBOOK_PATH'])"),
    ]
    report = gates.run([str(p) for p in paths], "models:/gated/1", parallel=3, report=tmp_path / "report")
    outcomes = {o.name: o for o in report.outcomes}
    assert report.exit_code == 1
    assert {name: o.result for name, o in outcomes.items()} == {
        "raises": "failed",
        "exit1": "failed",
        "exit0": "failed",
        "interrupted": "failed",
        "dies": "failed",
        "fine": "passed",
    }
    # Each reason names the author's third cell (parameters, check, then the one that stopped)
    # with its prompt, In [4]: papermill's injected parameters cell ran second.
    assert outcomes["raises"].reason == "cell 3 (In [4]): ValueError: boom"
    assert outcomes["exit1"].reason == "cell 3 (In [4]): sys.exit(1)"
    assert outcomes["exit0"].reason == "cell 3 (In [4]): sys.exit(0) stopped the gate before its end"
    assert outcomes["interrupted"].reason == "cell 3 (In [4]): interrupted (KeyboardInterrupt)"
    assert re.fullmatch(r"the kernel died while running cell 3( \(In \[4\]\))?", outcomes["dies"].reason)
    for name, source in [
        ("raises", "raise ValueError"),
        ("exit1", "sys.exit(1)"),
        ("exit0", "sys.exit(0)"),
        ("interrupted", "raise KeyboardInterrupt"),
        ("dies", "os._exit(3)"),
    ]:
        assert source in named_cell(outcomes[name]).source
    assert all(len(o.checks) == 1 and o.executed.exists() and o.html.exists() for o in outcomes.values())
    # The kernel was told which notebook it runs (lineage).
    fine = nbformat.read(outcomes["fine"].executed, as_version=4)
    assert str(paths[-1]) in fine.cells[3].outputs[0]["text"]
    cases = junit_cases(report.junit)
    assert cases["dies"]["run"].find("failure").get("message") == outcomes["dies"].reason
    assert cases["dies"]["ok"].find("failure") is None and list(cases["fine"]["run"]) == []
    assert {r.data.tags["nbops.gate.result"] for r in gate_runs("dies")} == {"failed"}


@SHARED_STORE
def test_a_hanging_gate_is_killed_with_its_whole_process_group(project, tmp_path) -> None:
    pids = tmp_path / "pids"
    path = notebook(
        tmp_path / "hangs.ipynb",
        "import os, subprocess\n"
        "child = subprocess.Popen(['sleep', '600'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')",
        "import time\ntime.sleep(600)",
    )
    # Long enough for a kernel to start and reach the hanging cell on a busy machine.
    report = gates.run([str(path)], "models:/gated/1", timeout=60, report=tmp_path / "report")
    (outcome,) = report.outcomes
    assert (outcome.result, report.exit_code) == ("failed", 1)
    assert re.fullmatch(r"timed out after 60 s while running cell 4( \(In \[5\]\))?", outcome.reason)
    # The partial notebook is kept, with what ran before the timeout.
    assert [c.name for c in outcome.checks] == ["ok"] and outcome.html.exists()
    assert named_cell(outcome).metadata.papermill.status == "running"
    assert "time.sleep(600)" in named_cell(outcome).source
    kernel, child = (int(pid) for pid in pids.read_text().split())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in (kernel, child)):
        time.sleep(0.1)
    assert not _alive(kernel) and not _alive(child)
    assert registry.get_version("gated", 1).tags["nbops.gate.hangs"].startswith("failed ")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@SHARED_STORE
def test_a_gate_without_a_parameters_cell_could_not_run(project, tmp_path) -> None:
    path = notebook(tmp_path / "untagged.ipynb", parameters=None)
    report = gates.run([str(path)], "models:/gated/1", report=tmp_path / "report")
    (outcome,) = report.outcomes
    assert (outcome.result, report.exit_code, outcome.executed) == ("error", 2, None)
    assert "no cell tagged 'parameters'" in outcome.reason
    assert gate_runs("untagged") == [] and "nbops.gate.untagged" not in registry.get_version("gated", 1).tags


@SHARED_STORE
def test_the_cli_end_to_end(project, tmp_path) -> None:
    command = [sys.executable, "-m", "nbops.cli", "gate", "run", "latency", "--model", "models:/gated/1"]
    options = ["-p", "data_path", project["holdout"], "-p", "max_p95_ms", "5000", "-p", "repeats", "3"]
    options += ["--report", str(tmp_path / "report"), "--junit", str(tmp_path / "junit.xml")]
    env = os.environ | {"MLFLOW_TRACKING_URI": project["uri"]}
    done = subprocess.run(
        command + options, cwd=project["folder"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "latency: running…" in done.stderr and re.search(r"latency: passed \(1 check, ", done.stderr)
    assert re.search(r"^latency\s+passed\s+1/1\s", done.stdout, flags=re.MULTILINE), done.stdout
    assert set(junit_cases(tmp_path / "junit.xml")["latency"]) == {"latency_p95_ms", "run"}
    assert (tmp_path / "report" / "latency.html").exists()

    refused = subprocess.run(
        [*command, "-p", "batch_size", "2.5", "--report", str(tmp_path / "refused")],
        cwd=project["folder"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode == 2
    assert "'batch_size' must be int, not float 2.5" in refused.stdout and "error" in refused.stderr


@SHARED_STORE
def test_the_gate_magic_uses_the_same_runner(project, tmp_path, capsys) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("colors", "nocolor")
    shell.run_line_magic("reload_ext", "nbops")
    line = f"%gate latency --model models:/gated/1 -p data_path {project['holdout']} -p repeats 3"
    assert shell.run_cell(f"{line} -p max_p95_ms 5000 --report {tmp_path / 'ok'}").success
    out = capsys.readouterr().out
    assert re.search(r"latency: passed \(1 check, ", out) and re.search(r"^latency\s+passed\s+1/1", out, re.M)
    failed = shell.run_cell(f"{line} -p max_p95_ms 0.000001 --report {tmp_path / 'slow'}")
    assert not failed.success
    assert "UsageError: gates failed: see the table above" in capsys.readouterr().err
    assert registry.get_version("gated", 1).tags["nbops.gate.latency"].startswith("failed ")


def test_the_ci_template_runs_the_shipped_gates_and_uploads_the_report() -> None:
    import yaml

    workflow = yaml.safe_load((ROOT / "templates" / "github-actions" / "nbops-gates.yml").read_text())
    steps = workflow["jobs"]["gates"]["steps"]
    run = next(s["run"] for s in steps if s.get("name") == "Run the gates")
    assert run.startswith("nbops gate run performance data_validation fairness latency")
    for name in ("performance", "data_validation", "fairness", "latency"):
        assert (ROOT / "notebooks" / "gates" / f"{name}.ipynb").is_file()
    assert "--junit gate-reports/junit.xml" in run
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "gate-reports/"


# --- a project's own gates, by name (both backends) -----------------------------------------------

KNOWN = "data_validation, fairness, latency, llm_quality, my_gate, performance"


def exact_notebook(path: Path, parameters: str, *sources: str) -> Path:
    """A gate notebook of exactly these cells: the parameters cell, then ``sources``."""
    cells = [new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(source) for source in sources]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), path)
    return path


def own_gates(root: Path) -> Path:
    """``root`` as a project with its own ``my_gate`` and its own copy of the shipped ``latency``."""
    folder = root / "notebooks" / "gates"
    folder.mkdir(parents=True)
    exact_notebook(
        folder / "my_gate.ipynb",
        "model_uri = ''\nmin_value = 0.0",
        "from nbops import gate\ngate.check('value', 1.0, '>=', min_value)",
    )
    exact_notebook(
        folder / "latency.ipynb",
        "model_uri = ''",
        "from nbops import gate\ngate.check('project_copy', 1, '==', 1)",
    )
    return root


@pytest.fixture
def team(tracking_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with its own gates and ``[tool.nbops.policy]``, and ``models:/teamed/1`` in its store."""
    from sklearn.linear_model import LogisticRegression

    root = own_gates(tmp_path / "team")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "team"\n\n[tool.nbops.policy]\nproduction = ["my_gate"]\n'
    )
    monkeypatch.chdir(root)
    X = np.arange(20, dtype=float).reshape(10, 2)
    registry.register(LogisticRegression().fit(X, [0, 1] * 5), "teamed")
    return root


def test_a_projects_own_gate_runs_by_name_in_the_cli_and_the_magic(team: Path, capsys) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    command = [sys.executable, "-m", "nbops.cli", "gate", "run", "--model", "models:/teamed/1"]

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*command, *args], cwd=team, capture_output=True, text=True, timeout=600)

    passed = cli("my_gate", "latency", "-p", "min_value", "0.5", "--parallel", "2", "--report", "r1")
    assert passed.returncode == 0, passed.stderr + passed.stdout
    assert re.search(r"^my_gate\s+passed\s+1/1\s", passed.stdout, flags=re.MULTILINE), passed.stdout
    # The project's own latency.ipynb wins over the shipped gate of that name.
    executed = nbformat.read(team / "r1" / "latency.ipynb", as_version=4)
    assert [c.name for c in gate.checks_from_notebook(executed)] == ["project_copy"]
    assert registry.get_version("teamed", 1).tags["nbops.gate.my_gate"].startswith("passed ")

    failed = cli("my_gate", "-p", "min_value", "5", "--report", "r2")
    assert failed.returncode == 1, failed.stderr
    assert re.search(r"^my_gate\s+failed\s+0/1\s.*1 of 1 checks failed: ✗ value 1 >= 5$", failed.stdout, re.M)
    assert registry.get_version("teamed", 1).tags["nbops.gate.my_gate"].startswith("failed ")

    shell = InteractiveShell.instance()
    shell.run_line_magic("colors", "nocolor")
    shell.run_line_magic("reload_ext", "nbops")
    line = f"%gate my_gate --model models:/teamed/1 --report {team / 'r3'}"
    assert shell.run_cell(f"{line} -p min_value 0.5").success
    assert re.search(r"^my_gate\s+passed\s+1/1", capsys.readouterr().out, flags=re.MULTILINE)
    assert registry.get_version("teamed", 1).tags["nbops.gate.my_gate"].startswith("passed ")
    assert not shell.run_cell(f"{line} -p min_value 5").success
    shown = capsys.readouterr()
    assert "1 of 1 checks failed: ✗ value 1 >= 5" in shown.out
    assert "UsageError: gates failed: see the table above" in shown.err
    assert registry.get_version("teamed", 1).tags["nbops.gate.my_gate"].startswith("failed ")


def test_an_unknown_gate_name_is_one_line_listing_the_known_names(team: Path, capsys) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from nbops.errors import InvalidInput

    message = (
        f"no gate named 'my_gaet'; known gates: {KNOWN} (nbops gate list shows where each comes from); "
        "add notebooks/gates/my_gaet.ipynb or name a notebook path."
    )
    with pytest.raises(InvalidInput) as caught:
        gates.run(["performance", "my_gaet"], "models:/teamed/1")
    assert str(caught.value) == message

    done = subprocess.run(
        [sys.executable, "-m", "nbops.cli", "gate", "run", "my_gaet", "--model", "models:/teamed/1"],
        cwd=team,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"nbops: error: {message}\n")

    shell = InteractiveShell.instance()
    shell.run_line_magic("colors", "nocolor")
    shell.run_line_magic("reload_ext", "nbops")
    assert not shell.run_cell("%gate my_gaet --model models:/teamed/1").success
    assert f"UsageError: {message}" in capsys.readouterr().err
    assert (
        not (team / "gate-reports").exists()
        and "nbops.gate.my_gaet" not in registry.get_version("teamed", 1).tags
    )


def test_gate_list_shows_each_name_where_it_comes_from_and_which_copy_wins(tmp_path: Path) -> None:
    """Listing reads only the folders: no store is involved."""
    root = own_gates(tmp_path / "team")
    (root / "pyproject.toml").write_text('[project]\nname = "team"\n')

    def cli(*args: str) -> str:
        command = [sys.executable, "-m", "nbops.cli", "gate", "list", *args]
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    table = cli().splitlines()
    assert re.fullmatch(r"GATE\s+FROM\s+NOTEBOOK\s+NOTE", table[0])
    rows = {line.split()[0]: line.split(maxsplit=3)[1:] for line in table[1:]}
    assert list(rows) == KNOWN.split(", ")
    assert rows["my_gate"] == ["project", "notebooks/gates/my_gate.ipynb"]
    source, path, note = rows["latency"]
    assert (source, path) == ("project", "notebooks/gates/latency.ipynb")
    assert note.startswith("overrides the shipped /") and note.endswith("/latency.ipynb")
    assert rows["performance"][0] == "shipped" and rows["performance"][1].endswith("/performance.ipynb")

    listed = json.loads(cli("--json"))
    assert listed["project_root"] == str(root)
    entries = {g["name"]: g for g in listed["gates"]}
    assert list(entries) == KNOWN.split(", ")
    assert entries["my_gate"] == {
        "name": "my_gate",
        "source": "project",
        "path": str(root / "notebooks" / "gates" / "my_gate.ipynb"),
        "overrides": [],
    }
    assert entries["latency"]["path"] == str(root / "notebooks" / "gates" / "latency.ipynb")
    (overridden,) = entries["latency"]["overrides"]
    assert overridden["source"] == "shipped"
    # The shipped copy is nbops' own latency gate (in the installed package or this checkout).
    assert (
        Path(overridden["path"]).read_bytes() == (ROOT / "notebooks" / "gates" / "latency.ipynb").read_bytes()
    )
    for name in ("data_validation", "fairness", "performance"):
        assert entries[name]["source"] == "shipped" and not entries[name]["overrides"]
        assert (
            Path(entries[name]["path"]).read_bytes()
            == (ROOT / "notebooks" / "gates" / f"{name}.ipynb").read_bytes()
        )


def test_a_policy_naming_a_projects_gate_blocks_promotion_until_it_passed(team: Path, tmp_path: Path) -> None:
    from nbops.errors import PolicyError

    def promote() -> dict:
        return registry.promote("teamed", 1, "production", "the team gate says so")

    with pytest.raises(PolicyError, match=r"required gates not passed: my_gate \(not run\);"):
        promote()
    failed = gates.run(["my_gate"], "models:/teamed/1", {"min_value": 5}, report=tmp_path / "failed")
    assert failed.outcomes[0].result == "failed"
    with pytest.raises(PolicyError, match=r"required gates not passed: my_gate \(failed\);"):
        promote()
    assert "production" not in registry.get_version("teamed", 1).aliases

    passed = gates.run(["my_gate"], "models:/teamed/1", {"min_value": 0.5}, report=tmp_path / "passed")
    assert passed.passed, passed.summary_table()
    done = promote()
    assert done["to_version"] == "1" and not done.get("forced")
    assert "production" in registry.get_version("teamed", 1).aliases


# --- reasons name the cell as its author counts it, with its prompt (both backends) ---------------


def test_a_reason_names_the_cell_as_its_author_counts_it_with_its_prompt_type_and_message(
    team: Path, tmp_path: Path
) -> None:
    check = "from nbops import gate\ngate.check('ok', 1, '>=', 0)"
    paths = [
        # A 3-cell gate that raises in its last cell.
        exact_notebook(
            tmp_path / "raises_last.ipynb",
            "model_uri = ''",
            check,
            "raise ValueError('threshold must be positive')",
        ),
        # sys.exit(1) in the gate's third cell, with a fourth that never runs.
        exact_notebook(
            tmp_path / "exits.ipynb", "model_uri = ''", check, "import sys\nsys.exit(1)", "print('never')"
        ),
        # A line magic that fails: IPython reports it without an error output.
        exact_notebook(
            tmp_path / "magic.ipynb",
            "model_uri = ''",
            check,
            "%load_ext nbops\n%gate my_gaet --model models:/teamed/1",
        ),
    ]
    report = gates.run([str(p) for p in paths], "models:/teamed/1", parallel=3, report=tmp_path / "report")
    outcomes = {o.name: o for o in report.outcomes}
    assert {o.result for o in report.outcomes} == {"failed"}
    # In each gate the failed cell is the author's third. On disk it is the 6th (papermill added an
    # error banner on top, its injected parameters and a banner above the failed cell), and its
    # prompt is In [4]: the injected parameters cell ran second.
    assert outcomes["raises_last"].reason == "cell 3 (In [4]): ValueError: threshold must be positive"
    assert outcomes["exits"].reason == "cell 3 (In [4]): sys.exit(1)"
    assert (
        outcomes["magic"].reason
        == f"cell 3 (In [4]): UsageError: no gate named 'my_gaet'; known gates: {KNOWN} (nbops gate list shows where each comes from); add notebooks/gates/my_gaet.ipynb or name a notebook path."
    )
    for path in paths:
        outcome = outcomes[path.stem]
        cell = named_cell(outcome)  # the reason agrees with the notebook on disk
        assert cell.source == nbformat.read(path, as_version=4).cells[2].source
        assert cell.metadata.papermill.exception is True
        assert nbformat.read(outcome.executed, as_version=4).cells.index(cell) == 5
    # The same reason is the JUnit failure and the recorded run's reason.
    cases = junit_cases(report.junit)
    assert cases["exits"]["run"].find("failure").get("message") == outcomes["exits"].reason
    (run,) = gate_runs("raises_last")
    assert run.data.tags["nbops.gate.reason"] == outcomes["raises_last"].reason
