"""The gate runner: real kernels in their own process groups, a real store, real reports.

One classifier is registered per module (as in test_gate_notebooks.py) in a temporary project whose
``notebooks/gates`` is the repository's, so the shipped gates are found by name. Each failure mode
has a small notebook of its own, written in tmp.
"""

from __future__ import annotations

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

from nbops import audit, gates, registry, store

ROOT = Path(__file__).parents[1]
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


def junit_cases(path: Path) -> dict[str, dict[str, ET.Element]]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    return {
        suite.get("name"): {case.get("name"): case for case in suite.iter("testcase")}
        for suite in root.iter("testsuite")
    }


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
    assert re.fullmatch(r"cell \d+ raised ValueError: boom", outcomes["raises"].reason)
    assert re.fullmatch(r"cell \d+ called sys\.exit\(1\)", outcomes["exit1"].reason)
    assert re.fullmatch(
        r"cell \d+ called sys\.exit\(0\): the gate stopped before its end", outcomes["exit0"].reason
    )
    assert re.fullmatch(r"cell \d+ was interrupted \(KeyboardInterrupt\)", outcomes["interrupted"].reason)
    assert outcomes["dies"].reason == "the kernel died while running cell 3"
    assert all(len(o.checks) == 1 and o.executed.exists() and o.html.exists() for o in outcomes.values())
    # The kernel was told which notebook it runs (lineage).
    fine = nbformat.read(outcomes["fine"].executed, as_version=4)
    assert str(paths[-1]) in fine.cells[3].outputs[0]["text"]
    cases = junit_cases(report.junit)
    assert cases["dies"]["run"].find("failure").get("message") == "the kernel died while running cell 3"
    assert cases["dies"]["ok"].find("failure") is None and list(cases["fine"]["run"]) == []
    assert {r.data.tags["nbops.gate.result"] for r in gate_runs("dies")} == {"failed"}


def test_a_hanging_gate_is_killed_with_its_whole_process_group(project, tmp_path) -> None:
    pids = tmp_path / "pids"
    path = notebook(
        tmp_path / "hangs.ipynb",
        "import os, subprocess\n"
        "child = subprocess.Popen(['sleep', '600'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')",
        "import time\ntime.sleep(600)",
    )
    began = time.monotonic()
    report = gates.run([str(path)], "models:/gated/1", timeout=20, report=tmp_path / "report")
    assert time.monotonic() - began < 60
    (outcome,) = report.outcomes
    assert (outcome.result, report.exit_code) == ("failed", 1)
    assert outcome.reason == "timed out after 20 s while running cell 4"
    # The partial notebook is kept, with what ran before the timeout.
    assert [c.name for c in outcome.checks] == ["ok"] and outcome.html.exists()
    partial = nbformat.read(outcome.executed, as_version=4)
    assert partial.cells[4].metadata.papermill.status == "running"
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


def test_a_gate_without_a_parameters_cell_could_not_run(project, tmp_path) -> None:
    path = notebook(tmp_path / "untagged.ipynb", parameters=None)
    report = gates.run([str(path)], "models:/gated/1", report=tmp_path / "report")
    (outcome,) = report.outcomes
    assert (outcome.result, report.exit_code, outcome.executed) == ("error", 2, None)
    assert "no cell tagged 'parameters'" in outcome.reason
    assert gate_runs("untagged") == [] and "nbops.gate.untagged" not in registry.get_version("gated", 1).tags


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
    for gate in ("performance", "data_validation", "fairness", "latency"):
        assert (ROOT / "notebooks" / "gates" / f"{gate}.ipynb").is_file()
    assert "--junit gate-reports/junit.xml" in run
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "gate-reports/"
