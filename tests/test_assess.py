"""nbops.assess / nbops assess on real stores: points per test from recorded evidence, and moving.

Three models at different maturity: ``bare`` (registered, nothing else), ``manual`` (lineage and
gates passed, nothing requiring them) and ``auto`` (a policy requiring its gates, a real
registration with a reference profile, two promotions, monitored batches with labels and
latencies, alert rules). Evidence is written the way nbops writes it: version tags in the gate
records' format, ``nbops.promote``, ``nbops.monitor.log_batch``, ``reviews.record``, one real gate
run.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

import nbops
from nbops import lineage, store
from nbops.assessment import SCHEMA, TESTS, level
from nbops.assessment.rubric import SECTIONS
from nbops.cli import main
from nbops.errors import NotFound

POLICY = """
[tool.nbops.policy.models.auto]
champion = ["data_validation", "fairness", "performance", "reproducible"]

[tool.nbops.alerts.auto-drift]
metric = "drift.share"
op = ">="
threshold = 0.5
model = "auto"
"""
GATES = ("data_validation", "fairness", "performance", "reproducible")


def gate_tag(client: MlflowClient, name: str, version: str, gate: str, result: str = "passed") -> None:
    """A gate verdict on a version, in the format ``gate_records.record`` writes."""
    client.set_model_version_tag(
        name, version, f"nbops.gate.{gate}", f"{result} r{gate} 2026-01-01T00:00:00Z"
    )


def performance_run(client: MlflowClient, name: str, version: str, champion: str) -> None:
    """A performance gate run that compared with the champion, named by the version's tag."""
    experiment_id = store.ensure_experiment("nbops-gates")
    run = client.create_run(experiment_id, tags={"nbops.gate.name": "performance"})
    client.log_param(run.info.run_id, "champion_uri", champion)
    client.set_terminated(run.info.run_id)
    client.set_model_version_tag(
        name, version, "nbops.gate.performance", f"passed {run.info.run_id} 2026-01-01T00:00:00Z"
    )


def lending(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"income": rng.normal(50, 10, rows), "debt": rng.normal(20, 5, rows)})
    return frame, (frame["income"] - frame["debt"] > 30).astype(int).to_numpy()


def build(project: Path) -> None:
    """The three fixture models; ``auto`` is monitored and promoted twice under its policy."""
    (project / "pyproject.toml").write_text((project / "pyproject.toml").read_text() + POLICY)
    client = store.client()
    client.create_registered_model("bare")
    client.create_model_version("bare", "s3://nowhere/model")

    client.create_registered_model("manual", description="Scores lending risk; not for pricing.")
    client.create_model_version(
        "manual",
        "s3://nowhere/model",
        tags={
            lineage.TAG_NOTEBOOK: "notebooks/train.ipynb",
            lineage.TAG_CELL_HASH: "ab" * 32,
            lineage.TAG_GIT_COMMIT: "c0ffee" * 6,
            lineage.TAG_GIT_DIRTY: "false",
        },
    )
    for gate in ("data_validation", "fairness"):
        gate_tag(client, "manual", "1", gate)
    client.set_model_version_tag("manual", "1", "nbops.reproduce", "reproduced rrepro 2026-01-01T00:00:00Z")

    client.create_registered_model("auto")
    client.create_model_version("auto", "s3://nowhere/model")
    frame, labels = lending(300, 0)
    model = LogisticRegression().fit(frame, labels)
    nbops.register(model, name="auto", data=frame, description="Scores lending risk.")
    for version in ("1", "2"):
        for gate in GATES:
            gate_tag(client, "auto", version, gate)
        client.set_model_version_tag(
            "auto", version, "nbops.reproduce", "reproduced rrepro 2026-01-01T00:00:00Z"
        )
    performance_run(client, "auto", "2", "models:/auto@champion")
    nbops.promote("auto", "1", "champion", reason="first release")
    nbops.promote("auto", "2", "champion", reason="beats v1 on the holdout set")
    batch, truth = lending(200, 1)
    nbops.monitor.log_batch(
        "auto@champion",
        batch,
        predictions=model.predict(batch),
        labels=truth,
        latency_ms=np.full(len(batch), 12.0),
    )


def results(assessment: nbops.assessment.Assessment, model: str) -> dict[str, tuple[str, float]]:
    found = next(m for m in assessment.models if m.model == model)
    return {t.id: (t.status, t.points) for t in found.tests}


def test_the_rubric_is_the_papers_28_tests_seven_per_section() -> None:
    assert len(TESTS) == 28
    assert len({t.id for t in TESTS}) == 28
    for section in SECTIONS:
        assert sum(t.section == section for t in TESTS) == 7
    assert all(t.decided_by for t in TESTS)
    assert sum(t.assessable for t in TESTS) == 13
    from nbops.assessment.scoring import unknown_checks

    assert unknown_checks() == []
    assert level(0) == "More of a research project than a productionized system."
    assert level(0.5).startswith("Not totally untested")
    assert level(5.5).startswith("Exceptional")


def test_three_models_score_by_their_evidence_and_the_score_moves_with_new_evidence(project: Path) -> None:
    build(project)
    assessment = nbops.assess()
    assert [m.model for m in assessment.models] == ["auto", "bare", "manual"]

    bare = results(assessment, "bare")
    assert {status for test_id, (status, _) in bare.items() if TESTS_BY_ID[test_id].check} == {"missing"}
    assert sum(points for _, points in bare.values()) == 0
    assert bare["data-2"] == ("not assessable", 0.0)

    manual = results(assessment, "manual")
    assert manual["data-1"] == ("by hand", 0.5)  # passed, but no policy requires it
    assert manual["model-6"] == ("by hand", 0.5)
    assert manual["model-1"] == ("by hand", 0.5)  # lineage
    assert manual["infrastructure-4"] == ("by hand", 0.5)
    assert manual["infrastructure-1"] == ("by hand", 0.5)  # reproduced, not required
    assert manual["model-5"] == ("missing", 0.0)  # no performance gate against the champion
    detail = next(m for m in assessment.models if m.model == "manual")
    data_1 = next(t for t in detail.tests if t.id == "data-1")
    assert data_1.evidence == ["data_validation gate passed on v1 (run rdata_validation)"]
    assert data_1.next_step == 'under [tool.nbops.policy]: champion = ["data_validation"]'
    lineage_test = next(t for t in detail.tests if t.id == "model-1")
    assert "notebook notebooks/train.ipynb" in lineage_test.evidence

    auto = results(assessment, "auto")
    scored = next(m for m in assessment.models if m.model == "auto")
    assert scored.version == "2" and scored.serves
    assert auto["data-1"] == ("automated", 1.0)
    assert auto["model-5"] == ("automated", 1.0)  # compared with the champion, required by the policy
    assert auto["infrastructure-4"] == ("automated", 1.0)
    assert auto["infrastructure-1"] == ("automated", 1.0)  # reproduced, and the policy requires it
    assert auto["infrastructure-7"] == ("by hand", 0.5)  # champion can roll back to v1
    assert auto["monitoring-2"] == ("automated", 1.0)  # drift measured, and a rule watches it
    assert auto["monitoring-6"] == ("by hand", 0.5)
    assert auto["monitoring-7"] == ("by hand", 0.5)  # labels joined
    rollback = next(t for t in scored.tests if t.id == "infrastructure-7")
    assert rollback.evidence[0] == "champion can roll back to v1"
    assert scored.score == 1.0  # data: one automated test; model development: more
    assert assessment.score == 0.0 and assessment.to_dict()["project"]["weakest"] == ["bare", "manual"]

    # New evidence: the latency rule the table proposes, a recorded review under a schedule.
    latency = next(t for t in scored.tests if t.id == "monitoring-6")
    where, line = latency.next_step.split(": ", 1)
    assert where == "under [tool.nbops.alerts]"
    assert line == 'auto-latency = { metric = "latency.p95_ms", op = ">=", threshold = 500, model = "auto" }'
    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text()
        + f"\n[tool.nbops.alerts]\n{line}\n"
        + '\n[tool.nbops.review]\nevery = "30d"\n'
    )
    report = project / "review.html"
    report.write_text("<p>reviewed</p>")
    from nbops.monitoring import reviews

    reviews.record("auto", report)
    again = results(nbops.assess("auto"), "auto")
    assert again["monitoring-6"] == ("automated", 1.0)
    assert again["monitoring-4"] == ("automated", 1.0)
    assert results(assessment, "auto")["monitoring-4"] == ("missing", 0.0)


def test_running_a_gate_moves_the_score(project: Path) -> None:
    """A real gate run (the project's own ``fairness`` gate, one papermill kernel) earns its half point."""
    client = store.client()
    client.create_registered_model("bare")
    client.create_model_version("bare", "s3://nowhere/model")
    assert results(nbops.assess("bare"), "bare")["model-6"] == ("missing", 0.0)
    gates = project / "notebooks" / "gates"
    gates.mkdir(parents=True)
    parameters = nbformat.v4.new_code_cell('model_uri = ""')
    parameters.metadata["tags"] = ["parameters"]
    check = nbformat.v4.new_code_cell('from nbops import gate\ngate.check("largest_gap", 0.02, "<=", 0.1)')
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook = nbformat.v4.new_notebook(cells=[parameters, check], metadata={"kernelspec": kernelspec})
    nbformat.write(notebook, gates / "fairness.ipynb")
    report = nbops.gates.run(["fairness"], "models:/bare/1", report=project / "gate-report")
    assert report.passed
    scored = next(m for m in nbops.assess("bare").models if m.model == "bare")
    fairness = next(t for t in scored.tests if t.id == "model-6")
    assert (fairness.status, fairness.points) == ("by hand", 0.5)
    assert fairness.evidence == [f"fairness gate passed on v1 (run {report.outcomes[0].run_id})"]
    assert scored.sections["model"] == 0.5


#: The --json layout CI reads (schema nbops.assess/1): these keys stay, new ones may be added.
TOP_KEYS = {"schema", "nbops_version", "generated", "rubric", "serving_alias", "project", "models"}
PROJECT_KEYS = {"models", "score", "level", "weakest", "counts", "audit", "review_every"}
MODEL_KEYS = {"model", "version", "serves", "score", "level", "sections", "tests"}
TEST_KEYS = {"id", "section", "title", "status", "points", "evidence", "next_step"}


def test_the_command_prints_stable_json_writes_html_and_refuses_an_unknown_model(project: Path) -> None:
    client = store.client()
    client.create_registered_model("bare")
    client.create_model_version("bare", "s3://nowhere/model")
    client.create_registered_model("<b>odd")
    runner = CliRunner()

    done = runner.invoke(main, ["assess", "--json", "--html", str(project / "out" / "ready.html")])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert set(report) == TOP_KEYS and report["schema"] == SCHEMA == "nbops.assess/1"
    assert set(report["project"]) == PROJECT_KEYS
    assert report["project"]["counts"] == {"automated": 0, "by hand": 0, "missing": 26, "not assessable": 30}
    assert report["project"]["score"] == 0.0 and report["project"]["models"] == 2
    for model in report["models"]:
        assert set(model) == MODEL_KEYS and set(model["sections"]) == set(SECTIONS)
        assert [t["id"] for t in model["tests"]] == [t.id for t in TESTS]
        assert all(set(t) == TEST_KEYS for t in model["tests"])
    bare = next(m for m in report["models"] if m["model"] == "bare")
    data_1 = bare["tests"][0]
    assert (
        data_1["status"] == "missing"
        and data_1["next_step"] == "nbops gate run data_validation --model models:/bare/1"
    )
    page = (project / "out" / "ready.html").read_text()
    assert "&lt;b&gt;odd" in page and "<b>odd" not in page
    assert "nbops gate run data_validation --model models:/bare/1" in page

    table = runner.invoke(main, ["assess", "bare"])
    assert table.exit_code == 0
    assert "bare v1: score 0" in table.stdout
    assert "data-1" in table.stdout and "data-2" not in table.stdout.split("not assessable")[0]

    refused = runner.invoke(main, ["assess", "nope"])
    assert refused.exit_code == 4
    assert (
        refused.stderr
        == "nbops: error: no registered model named 'nope'; nbops registry list shows the models.\n"
    )
    with pytest.raises(NotFound):
        nbops.assess("nope")


TESTS_BY_ID = {t.id: t for t in TESTS}
