"""Every notebook in notebooks/ runs headless in a real kernel and stores what it promises."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import papermill as pm
import pytest
from mlflow import MlflowClient

ROOT = Path(__file__).parents[1]
NOTEBOOKS = ROOT / "notebooks"

# Minutes per backend; their gates, registry and monitoring steps run over the team server in the
# store modules and test_team_server.py.
pytestmark = pytest.mark.sqlite_only(reason="whole notebooks take minutes; the server is covered elsewhere")


def all_notebooks() -> list[Path]:
    """The numbered lifecycle notebooks (what ``make demo`` runs).

    Gates (notebooks/gates/) and retrain.ipynb are run by nbops itself and have their own tests.
    """
    return sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))


def check_quickstart(client: MlflowClient) -> None:
    (run,) = client.search_runs(experiment_ids=["0"])
    assert run.info.run_name == "quickstart-random-forest"
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert {k: params[k] for k in ("n_estimators", "max_depth", "random_state")} == {
        "n_estimators": "25",
        "max_depth": "6",
        "random_state": "42",
    }
    assert run.data.metrics["training_accuracy_score"] > 0.9  # scikit-learn autologging
    assert run.data.tags["nbops.cell.sha256"] and run.data.tags["nbops.env.python"]
    assert run.data.metrics["accuracy"] > 0.9
    assert 0.9 < run.data.metrics["f1"] <= 1.0
    version = client.get_model_version_by_alias("quickstart-classifier", "candidate")
    assert version.run_id == run.info.run_id


def check_experiments(client: MlflowClient) -> None:
    experiment = client.get_experiment_by_name("nb-test-experiments")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"sgd-curve", "logreg-C0.5", "logreg-C5.0"}
    assert all(r.info.status == "FINISHED" for r in runs.values())
    curve = runs["sgd-curve"]
    assert [m.step for m in client.get_metric_history(curve.info.run_id, "test_accuracy")] == list(range(4))
    assert {d.dataset.name for d in curve.inputs.dataset_inputs} == {"train", "test"}
    assert curve.data.tags["nbops.dataset.train.shape"] == "398x30"
    assert curve.data.params == {"epochs": "4", "random_state": "0"}
    for name, c in (("logreg-C0.5", "0.5"), ("logreg-C5.0", "5.0")):
        assert runs[name].data.params["C"] == c
        assert runs[name].data.metrics["test_accuracy"] > 0.9


def check_registry(client: MlflowClient) -> None:
    from nbops import audit, registry

    name = "nb-test-model"
    versions = {str(v.version): v for v in client.search_model_versions(f"name = '{name}'")}
    assert sorted(versions) == ["1", "2"]
    aliases = client.get_registered_model(name).aliases
    assert {alias: str(version) for alias, version in aliases.items()} == {"champion": "1", "challenger": "2"}
    assert versions["1"].description.startswith("Flags tumours")
    assert versions["1"].tags["nbops.dataset.train.shape"] == "398x30"
    timeline = registry.history(name)["champion"]
    assert [(t["action"], t["to_version"]) for t in timeline] == [
        ("promote", "1"),
        ("promote", "2"),
        ("rollback", "1"),
    ]
    assert timeline[-1]["reason"] == "version 2 misbehaves on new data"
    card = registry.model_card(name, 1)
    assert "Flags tumours as malignant or benign" in card and "**owner**: ml-team" in card
    actions = [e.action for e in audit.events(model=name)]
    assert actions == ["register", "register", "promote", "promote", "promote", "rollback"]
    assert audit.verify().ok


def check_gates(client: MlflowClient) -> None:
    from nbops import audit, registry

    name = "nb-test-gated"
    tags = client.get_model_version(name, "1").tags
    for gate in ("performance", "data_validation", "fairness", "latency"):
        assert tags[f"nbops.gate.{gate}"].startswith("passed "), gate
    gate_runs = client.search_runs([client.get_experiment_by_name("nbops-gates").experiment_id])
    assert sorted(r.data.tags["nbops.gate.name"] for r in gate_runs) == [
        "data_validation",
        "fairness",
        "latency",
        "performance",
    ]
    assert len([e for e in audit.events(model=name) if e.action == "gate"]) == 4
    assert "| performance | passed |" in registry.model_card(name, 1)


def check_monitoring(client: MlflowClient) -> None:
    from nbops import audit, monitor, registry

    name = "monitored-classifier"
    versions = {v["version"]: v for v in registry.list_versions(name)}
    assert versions["1"]["aliases"] == ["champion"]
    assert versions["2"]["aliases"] == ["challenger"]  # retrained after the drift alert, not promoted
    assert registry.gate_results(registry.get_version(name, 2)) == {
        "performance": "passed",
        "data_validation": "passed",
    }
    shares = [p["value"] for p in monitor.series(name, 1, ["drift.share"])["drift.share"]]
    assert len(shares) == 4 and max(shares[:2]) < 0.3 <= min(shares[2:])
    assert monitor.series(name, 1, ["latency.p95_ms"])["latency.p95_ms"]
    (drift_alert,) = [a for a in monitor.alerts(model=name) if a["rule"] == "feature-drift"]
    assert drift_alert["retrain_state"] == "finished" and drift_alert["gates"] == "passed"
    assert drift_alert["opened_batch"] == 4
    # ... and reached the webhook the notebook started, as the rule's channel.
    from nbops.notify.delivery import outcomes

    assert outcomes(drift_alert)["opened"]["demo-webhook"]["state"] == "delivered"
    actions = [e.action for e in audit.events(model=name)]
    assert "alert" in actions and actions.count("retrain") == 4
    assert "review" in actions and monitor.last_review(name)["report"].endswith(f"/review/review-{name}.html")


def check_serving(client: MlflowClient) -> None:
    from nbops import audit, monitor, registry
    from nbops.serving.deployments import list_deployments

    name = "nb-test-served"
    aliases = client.get_registered_model(name).aliases
    assert {alias: str(version) for alias, version in aliases.items()} == {"champion": "1", "challenger": "2"}
    timeline = registry.history(name)["champion"]
    assert [(t["action"], t["to_version"]) for t in timeline] == [
        ("promote", "1"),
        ("promote", "2"),
        ("rollback", "1"),
        ("promote", "2"),  # the canary of version 2 passed its steps
        ("rollback", "1"),
    ]
    canary = {(e.action, e.version) for e in audit.events(model=name) if e.source == "canary"}
    assert {("canary-rolled-back", "3"), ("canary-promoted", "2")} <= canary  # v3: the buggy challenger
    served = monitor.series(name, 1, ["drift.share", "labels.rows", "performance.accuracy", "latency.p95_ms"])
    assert [p["value"] for p in served["labels.rows"]] == [500.0, 500.0]  # every served row got its label
    shares = [p["value"] for p in served["drift.share"]]
    assert shares[0] < 0.3 <= shares[1]  # the second batch came from the changed population
    assert len(served["performance.accuracy"]) == 2 and len(served["latency.p95_ms"]) >= 2  # + canary traffic
    promoted = monitor.series(name, 2, ["labels.rows"])  # after the promotion, traffic went to version 2
    assert [p["value"] for p in promoted["labels.rows"]] == [500.0]
    deployments = list_deployments(name, stopped=True)  # the first server, then the canary's
    assert [(d["status"], d["alias"]) for d in deployments] == [("stopped", "champion")] * 2


def check_deploy(client: MlflowClient) -> None:
    name = "nb-test-deployed"
    champion = client.get_model_version_by_alias(name, "champion")
    challenger = client.get_model_version_by_alias(name, "challenger")
    # Each version's tag names the last target that deployed it: kserve (champion only) came last.
    assert champion.tags["nbops.deploy.manifests"].startswith("kserve ")
    assert challenger.tags["nbops.deploy.manifests"].startswith("rollouts ")


def check_llmops(client: MlflowClient) -> None:
    from nbops import llm, prompts

    assert str(prompts.load("llmops-demo@production").version) == "2"  # the better version, promoted
    # ... after the llm_quality gate the policy requires passed on it, recorded on the prompt version.
    assert client.get_prompt_version("llmops-demo", 2).tags["nbops.gate.llm_quality"].startswith("passed ")
    means = {v: client.get_prompt_version("llmops-demo", v).tags["nbops.eval.exact_match.mean"] for v in "12"}
    assert means == {"1": "0.0", "2": "1.0"}
    history = llm.history(prompt="llmops-demo@production")
    assert list(history["llm.calls"]) == [20.0, 20.0]  # the evaluations' calls are not traffic
    # "Reply with the answer only, ... Question: What is the capital of X?" is 23 tokens, "ANSWER: X" 4,
    # at $0.50 and $1.50 per million: $17.5 per million calls.
    assert list(history["llm.tokens_in"]) == [460.0, 460.0] and list(history["llm.tokens_out"]) == [
        80.0,
        80.0,
    ]
    assert list(history["llm.cost_per_1k_calls"]) == pytest.approx([0.0175, 0.0175])
    assert list(history["quality.exact_match"]) == [1.0, 1.0]


def check_governance(client: MlflowClient) -> None:
    from nbops import reproducing

    version = client.get_model_version("nb-test-governed", "1")
    assert version.tags["nbops.gate.reproducible"].startswith(
        "failed "
    )  # the last reproduction: changed data
    assert reproducing.latest("nb-test-governed", 1)["verdict"] == "differs"
    experiment = client.get_experiment_by_name(reproducing.EXPERIMENT)
    assert len(client.search_runs([experiment.experiment_id])) == 2


#: What each notebook must leave in the store, and the parameters it runs with in the suite.
EXPECTATIONS: dict[str, tuple[dict, Callable[[MlflowClient], None]]] = {
    "01_quickstart.ipynb": ({"n_estimators": 25}, check_quickstart),
    "02_experiments.ipynb": (
        {"experiment": "nb-test-experiments", "C_values": [0.5, 5.0], "epochs": 4},
        check_experiments,
    ),
    "03_registry.ipynb": ({"model_name": "nb-test-model"}, check_registry),
    "04_gates.ipynb": ({"model_name": "nb-test-gated"}, check_gates),
    "05_monitoring.ipynb": ({"batches": 4, "drift_from": 3, "batch_size": 400}, check_monitoring),
    "06_serving.ipynb": ({"model_name": "nb-test-served"}, check_serving),
    "07_llmops.ipynb": ({"calls": 40, "windows": 2}, check_llmops),
    "08_deploy.ipynb": ({"model_name": "nb-test-deployed"}, check_deploy),
    "09_governance.ipynb": ({"model_name": "nb-test-governed"}, check_governance),
}


def test_every_notebook_has_expectations() -> None:
    names = {p.name for p in all_notebooks()}
    assert names, "notebooks/ holds no notebook"
    assert names == set(EXPECTATIONS), "each notebook needs an entry in EXPECTATIONS"


@pytest.mark.parametrize("notebook", all_notebooks(), ids=lambda p: p.name)
def test_notebook_runs_headless_and_stores_its_results(
    notebook: Path, tracking_uri: str, tmp_path: Path
) -> None:
    parameters, check = EXPECTATIONS[notebook.name]
    if "data_dir" in pm.inspect_notebook(notebook):  # files a notebook writes go to the test's folder
        parameters = {**parameters, "data_dir": str(tmp_path / "data")}
    executed = pm.execute_notebook(
        notebook,
        tmp_path / notebook.name,
        parameters=parameters,
        kernel_name="python3",
        cwd=notebook.parent,
        progress_bar=False,
    )
    check(MlflowClient(tracking_uri))
    assert warnings_shown(executed) == [], "a notebook a user runs shows no warnings"


def warnings_shown(notebook: dict) -> list[str]:
    """The warnings a reader would see in the executed notebook's outputs (cell number: first line)."""
    shown = []
    for number, cell in enumerate(notebook["cells"], start=1):
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", ""))
            for line in text.splitlines():
                if re.search(r"\b\w*Warning\b|^Hint:", line):
                    shown.append(f"cell {number}: {line.strip()[:200]}")
    return shown


def test_make_demo_gates_the_quickstart_candidate_through_the_cli(tracking_uri: str, tmp_path: Path) -> None:
    notebook = NOTEBOOKS / "01_quickstart.ipynb"
    pm.execute_notebook(
        notebook,
        tmp_path / notebook.name,
        parameters={"n_estimators": 25, "data_dir": str(tmp_path / "quickstart-data")},
        kernel_name="python3",
        cwd=notebook.parent,
        progress_bar=False,
    )
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "demo-gates", f"DEMO_OUT={tmp_path}"],
        capture_output=True,
        text=True,
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"performance\s+passed", done.stdout), done.stdout
    tags = MlflowClient(tracking_uri).get_model_version_by_alias("quickstart-classifier", "candidate").tags
    assert {g: tags[f"nbops.gate.{g}"].split()[0] for g in ("performance", "data_validation", "latency")} == {
        "performance": "passed",
        "data_validation": "passed",
        "latency": "passed",
    }
    report = tmp_path / "quickstart-gates"
    assert {"performance.html", "data_validation.ipynb", "latency.html", "junit.xml"} <= {
        p.name for p in report.iterdir()
    }


def test_a_failing_tracked_cell_fails_the_papermill_job_and_records_a_failed_run(
    tracking_uri: str, tmp_path: Path
) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext nbops"),
        nbformat.v4.new_code_cell("%%track nightly-train\nraise RuntimeError('training data missing')"),
        nbformat.v4.new_code_cell("after = True"),
    ]
    source = tmp_path / "job.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(pm.PapermillExecutionError, match="training data missing"):
        pm.execute_notebook(source, tmp_path / "out.ipynb", kernel_name="python3", progress_bar=False)
    (run,) = MlflowClient(tracking_uri).search_runs(experiment_ids=["0"])
    assert (run.info.run_name, run.info.status) == ("nightly-train", "FAILED")
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert executed.cells[-1].get("outputs", []) == []  # papermill stopped at the failing cell
    shown = [o.get("data", {}).get("text/plain", "") for o in executed.cells[-2].outputs]
    assert any("run 'nightly-train' FAILED" in text for text in shown)  # the run card, above the error
