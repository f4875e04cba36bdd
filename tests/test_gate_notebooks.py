"""Every shipped gate notebook, run headless by papermill against a model registered in a real store.

One classifier is trained and registered per module; each gate runs once with thresholds it meets
and once with thresholds (or data) it does not, and the verdict is read back from the executed notebook.
"""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path

import nbformat
import numpy as np
import papermill as pm
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nbops import gate, registry

#: One module-wide store and classifier that every gate notebook reads; what is checked here is the
#: notebooks' arithmetic, not the store (test_team_server.py runs a shipped gate over the server).
pytestmark = pytest.mark.sqlite_only(reason="the gate notebooks' computations; one module-wide store")

ROOT = Path(__file__).parents[1]
GATES = ROOT / "notebooks" / "gates"
SHIPPED = [*sorted(GATES.glob("*.ipynb")), ROOT / "templates" / "gate.ipynb"]


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory, new_store) -> dict[str, str]:
    """A registered classifier (``models:/gated/1``, alias champion) and its CSVs."""
    folder = tmp_path_factory.mktemp("gates")
    uri = new_store(folder / "store")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(folder)
        X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        rng = np.random.default_rng(0)
        order = rng.permutation(len(X))
        train, holdout = order[:400], order[400:]
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        model.fit(X.iloc[train], y.iloc[train])
        registry.register(model, "gated", data=X.iloc[train], alias="champion")
        # A sensitive column that is not a model input; group "a" holds most positives.
        group = np.where(rng.random(len(X)) < 0.15 + 0.7 * y.to_numpy(), "a", "b")
        frame = X.assign(group=group, target=y)
        paths = {"reference": folder / "reference.csv", "holdout": folder / "holdout.csv"}
        frame.iloc[train].to_csv(paths["reference"], index=False)
        frame.iloc[holdout].to_csv(paths["holdout"], index=False)

        drifted = frame.iloc[holdout].copy()
        drifted.loc[drifted.index[: len(drifted) // 5], "mean radius"] = np.nan
        drifted["mean area"] = drifted["mean area"] * 10
        drifted.loc[drifted.index[:10], "group"] = "c"
        drifted["worst texture"] = "t" + drifted["worst texture"].astype(str)
        paths["drifted"] = folder / "drifted.csv"
        drifted.drop(columns=["mean smoothness"]).to_csv(paths["drifted"], index=False)

        yield {"folder": str(folder), "model_uri": "models:/gated/1"} | {k: str(v) for k, v in paths.items()}


_runs = itertools.count()


def run_gate(notebook: Path, gated: dict[str, str], **parameters) -> nbformat.NotebookNode:
    output = Path(gated["folder"]) / f"{notebook.stem}-{next(_runs)}.ipynb"
    with contextlib.suppress(pm.PapermillExecutionError):  # the verdict says why
        pm.execute_notebook(
            notebook,
            output,
            parameters={"model_uri": gated["model_uri"]} | parameters,
            kernel_name="python3",
            cwd=gated["folder"],
            progress_bar=False,
        )
    return nbformat.read(output, as_version=4)


def by_name(nb: nbformat.NotebookNode) -> dict[str, gate.Check]:
    return {c.name: c for c in gate.checks_from_notebook(nb)}


@pytest.mark.parametrize("notebook", SHIPPED, ids=lambda p: p.stem)
def test_every_gate_declares_its_parameters_and_documents_them(notebook: Path) -> None:
    declared = pm.inspect_notebook(notebook)
    assert "model_uri" in declared
    assert declared["model_uri"]["inferred_type_name"] == "str"
    assert all(p["default"] not in (None, "") for p in declared.values())
    nb = nbformat.read(notebook, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert all(f"`{name}`" in first.source for name in declared), "the first cell explains every parameter"
    assert nbformat.validate(nb) is None
    assert all(c.get("outputs", []) == [] for c in nb.cells), "gates are shipped without outputs"


def test_performance_gate(gated) -> None:
    notebook = GATES / "performance.ipynb"
    common = {"data_path": gated["holdout"], "champion_uri": "models:/gated@champion"}
    passing = run_gate(notebook, gated, min_accuracy=0.9, min_f1=0.9, min_roc_auc=0.95, **common)
    assert gate.verdict(passing) == ("passed", "all 4 checks passed")
    checks = by_name(passing)
    assert set(checks) == {"accuracy", "f1", "roc_auc", "accuracy_vs_champion"}
    assert checks["roc_auc"].value > checks["accuracy"].value > 0.9  # roc_auc from sklearn's predict_proba

    failing = run_gate(notebook, gated, min_accuracy=0.999, max_regression=-0.05, **common)
    status, reason = gate.verdict(failing)
    checks = by_name(failing)
    assert status == "failed" and "accuracy" in reason and "accuracy_vs_champion" in reason
    assert not checks["accuracy"].passed and not checks["accuracy_vs_champion"].passed
    assert checks["f1"].passed and checks["roc_auc"].passed


def test_data_validation_gate(gated) -> None:
    notebook = GATES / "data_validation.ipynb"
    paths = {"reference_path": gated["reference"]}
    passing = run_gate(notebook, gated, data_path=gated["holdout"], max_out_of_range=0.05, **paths)
    assert gate.verdict(passing)[0] == "passed", gate.verdict(passing)[1]
    checks = by_name(passing)
    assert {"schema:model_inputs", "schema:columns", "schema:dtypes"} <= set(checks)
    assert {"range:mean radius", "missing:mean radius", "categories:group", "range:target"} <= set(checks)

    failing = run_gate(notebook, gated, data_path=gated["drifted"], max_out_of_range=0.05, **paths)
    status, reason = gate.verdict(failing)
    assert status == "failed"
    checks = by_name(failing)
    failed = {name for name, c in checks.items() if not c.passed}
    assert failed == {
        "schema:model_inputs",
        "schema:columns",
        "schema:dtypes",
        "missing:mean radius",
        "range:mean area",
        "categories:group",
    }, reason
    assert checks["schema:columns"].value == 1  # "mean smoothness" is missing
    assert checks["categories:group"].value == pytest.approx(10 / 169)
    assert "range:worst texture" not in checks  # a column that changed kind has no range check


def test_fairness_gate(gated) -> None:
    notebook = GATES / "fairness.ipynb"
    passing = run_gate(
        notebook, gated, data_path=gated["holdout"], max_selection_rate_gap=0.9, max_tpr_gap=0.2
    )
    assert gate.verdict(passing) == ("passed", "all 2 checks passed")
    gap = by_name(passing)["selection_rate_gap"].value
    assert 0.3 < gap < 0.9  # group "a" holds most positives
    table = [o for o in passing.cells[-2].outputs if "text/html" in o.get("data", {})]
    assert table and "selection_rate" in table[0]["data"]["text/html"]

    failing = run_gate(notebook, gated, data_path=gated["holdout"], max_selection_rate_gap=0.1)
    status, reason = gate.verdict(failing)
    checks = by_name(failing)
    assert status == "failed" and "selection_rate_gap" in reason
    assert not checks["selection_rate_gap"].passed and checks["tpr_gap"].passed


def test_latency_gate(gated) -> None:
    notebook = GATES / "latency.ipynb"
    passing = run_gate(
        notebook, gated, data_path=gated["holdout"], batch_size=256, repeats=10, max_p95_ms=2000
    )
    assert gate.verdict(passing) == ("passed", "all 1 checks passed")
    assert 0 < by_name(passing)["latency_p95_ms"].value < 2000

    failing = run_gate(notebook, gated, data_path=gated["holdout"], repeats=5, max_p95_ms=0.001)
    status, reason = gate.verdict(failing)
    assert status == "failed" and "latency_p95_ms" in reason


def test_template_gate(gated) -> None:
    notebook = ROOT / "templates" / "gate.ipynb"
    passing = run_gate(notebook, gated, data_path=gated["holdout"], min_accuracy=0.9)
    assert gate.verdict(passing)[0] == "passed"
    failing = run_gate(notebook, gated, data_path=gated["holdout"], min_accuracy=0.999)
    assert gate.verdict(failing)[0] == "failed" and not by_name(failing)["accuracy"].passed


def test_a_gate_without_a_model_fails_with_the_reason(gated) -> None:
    failing = run_gate(GATES / "latency.ipynb", gated, model_uri="", data_path=gated["holdout"])
    status, reason = gate.verdict(failing)
    assert status == "failed" and "ValueError: this gate needs -p model_uri" in reason
    # The reason names the cell by its position among the gate's own cells and its prompt.
    (error,) = gate.errors_in_notebook(failing)
    assert reason.startswith(f"cell {error.position} (In [{error.execution_count}]): ValueError: ")
    cell = failing.cells[error.index]
    written = nbformat.read(GATES / "latency.ipynb", as_version=4).cells
    assert cell.source == written[error.position - 1].source
    assert cell.execution_count == error.execution_count
    assert [o.ename for o in cell.outputs if o.output_type == "error"] == ["ValueError"]
