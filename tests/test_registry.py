"""The registry: real store, real models that load and predict, history and audit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import nbops
from nbops import audit, registry
from nbops.errors import InvalidInput, NotFound


@pytest.fixture(scope="module")
def data():
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)


def snapshot(uri: str, name: str):
    client = MlflowClient(uri)
    models = {m.name: (dict(m.aliases)) for m in client.search_registered_models()}
    versions = [v.version for v in client.search_model_versions(f"name = '{name}'")] if name in models else []
    return models, sorted(versions), [e.seq for e in audit.events()]


def test_register_logs_a_loadable_version_with_lineage_card_and_audit(tracking_uri, data, fitted) -> None:
    X, _ = data
    with nbops.track("train") as run:
        nbops.log_dataset(X, "iris")
        nbops.log_metric("accuracy", 0.97)
        version = registry.register(fitted, "iris-clf", data=X, description="Sorts <b>irises</b> | demo")
    assert (version.name, version.version, version.run_id) == ("iris-clf", "1", run.info.run_id)
    loaded = mlflow.pyfunc.load_model("models:/iris-clf/1")
    assert list(loaded.predict(X.head(3))) == list(fitted.predict(X.head(3)))
    mv = MlflowClient(tracking_uri).get_model_version("iris-clf", "1")
    run_tags = MlflowClient(tracking_uri).get_run(run.info.run_id).data.tags
    assert mv.tags["nbops.env.python"] == run_tags["nbops.env.python"]  # lineage copied onto the version
    assert mv.tags["nbops.dataset.iris.sha256"] == nbops.datasets.fingerprint(X, "iris").sha256
    assert "scikit-learn==" in mv.tags[registry.REQUIREMENTS_TAG]
    card = registry.model_card("iris-clf", 1)
    assert "# Model card: iris-clf version 1" in card
    assert "| accuracy | 0.97 |" in card and "| iris | training | 150x4 |" in card
    assert "| sepal length (cm) | double |" in card
    html_path = MlflowClient(tracking_uri).download_artifacts(
        run.info.run_id, "model_cards/iris-clf/v1/model_card.html"
    )
    html_text = Path(html_path).read_text()
    assert "<b>irises</b>" not in html_text and "&lt;b&gt;irises&lt;/b&gt;" in html_text
    (event,) = audit.events(model="iris-clf")
    assert (event.action, event.version) == ("register", "1")


def test_register_outside_a_run_creates_one(tracking_uri, fitted, data) -> None:
    version = registry.register(fitted, "standalone", data=data[0], alias="challenger")
    run = MlflowClient(tracking_uri).get_run(version.run_id)
    assert run.info.run_name == "register-standalone" and run.info.status == "FINISHED"
    assert version.aliases == ["challenger"]


def test_promote_and_rollback_walk_the_alias_history(tracking_uri, fitted, data) -> None:
    for _ in range(3):
        registry.register(fitted, "walker", data=data[0])
    registry.promote("walker", 1, "champion", "first")
    registry.promote("walker", 2, "champion", "better")
    registry.promote("walker", 3, "champion", "best")
    assert registry.alias_holder("walker", "champion") == "3"
    assert registry.rollback("walker", "champion", "3 broke prod")["to_version"] == "2"
    assert registry.alias_holder("walker", "champion") == "2"
    assert registry.rollback("walker", "champion", "2 too")["to_version"] == "1"
    with pytest.raises(InvalidInput, match="no earlier version to roll back to"):
        registry.rollback("walker", "champion", "again")
    timeline = registry.history("walker")["champion"]
    assert [(t["action"], t["from_version"], t["to_version"]) for t in timeline] == [
        ("promote", None, "1"),
        ("promote", "1", "2"),
        ("promote", "2", "3"),
        ("rollback", "3", "2"),
        ("rollback", "2", "1"),
    ]
    assert timeline[3]["reason"] == "3 broke prod"
    assert audit.verify().ok
    # The cards follow the alias: regenerated when it moves.
    assert "| Aliases | champion |" in _stored_card(tracking_uri, "walker", 1)
    assert "| Aliases | none |" in _stored_card(tracking_uri, "walker", 3)


def _stored_card(uri: str, name: str, version: int) -> str:
    client = MlflowClient(uri)
    run_id = client.get_model_version(name, str(version)).run_id
    return Path(client.download_artifacts(run_id, f"model_cards/{name}/v{version}/model_card.md")).read_text()


def test_model_aliases_reads_what_mlflow_has_for_a_server_to_follow(tracking_uri, fitted, data) -> None:
    from mlflow.exceptions import MlflowException

    from nbops import store
    from nbops.registry.versions import model_aliases

    for _ in range(2):
        registry.register(fitted, "followed", data=data[0])
    client = store.client()
    assert model_aliases(client, "followed") == {}
    registry.promote("followed", 1, "champion", "first")
    registry.promote("followed", 2, "challenger", "try it")
    assert model_aliases(client, "followed") == {"champion": "1", "challenger": "2"}
    registry.promote("followed", 2, "champion", "better")
    expected = {
        k: str(v) for k, v in MlflowClient(tracking_uri).get_registered_model("followed").aliases.items()
    }
    assert model_aliases(client, "followed") == expected == {"champion": "2", "challenger": "2"}
    with pytest.raises(MlflowException, match="not found"):
        model_aliases(client, "nobody")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: registry.promote("nope", 1, "champion", "r"), NotFound, "no registered model named 'nope'"),
        (lambda: registry.promote("refused", 9, "champion", "r"), NotFound, "has no version 9"),
        (lambda: registry.promote("refused", 1, "v1", "r"), InvalidInput, "alias 'v1' is not allowed"),
        (
            lambda: registry.promote("refused", 1, "latest", "r"),
            InvalidInput,
            "alias 'latest' is not allowed",
        ),
        (lambda: registry.promote("refused", 1, "bad alias!", "r"), InvalidInput, "is not allowed"),
        (lambda: registry.promote("refused", 1, "champion", " "), InvalidInput, "a reason is required"),
        (lambda: registry.rollback("refused", "champion", "r"), InvalidInput, "no earlier version"),
        (lambda: registry.register(LogisticRegression(), "refused"), InvalidInput, "is not fitted"),
        (lambda: registry.register({"not": "a model"}, "refused"), InvalidInput, "cannot register a dict"),
    ],
)
def test_refusals_leave_registry_and_audit_as_they_were(
    tracking_uri, fitted, data, call, error, message
) -> None:
    registry.register(fitted, "refused", data=data[0])
    before = snapshot(tracking_uri, "refused")
    with pytest.raises(error, match=message):
        call()
    assert snapshot(tracking_uri, "refused") == before


def test_listing_models_and_versions(tracking_uri, fitted, data) -> None:
    registry.register(fitted, "listed", data=data[0], alias="champion")
    registry.register(fitted, "listed", data=data[0])
    (model,) = [m for m in registry.list_models() if m["name"] == "listed"]
    assert model["aliases"] == {"champion": "1"} and model["latest_version"] == "2"
    versions = registry.list_versions("listed")
    assert [(v["version"], v["aliases"]) for v in versions] == [("2", []), ("1", ["champion"])]


def test_tree_ensembles_register_and_load_back(tracking_uri, data) -> None:
    from sklearn.ensemble import RandomForestClassifier

    X, y = data
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    version = registry.register(forest, "forest", data=X)
    loaded = mlflow.pyfunc.load_model(version.model_uri)
    assert list(loaded.predict(X.head(4))) == list(forest.predict(X.head(4)))


def test_rollback_target_names_the_previous_holder(tracking_uri, fitted, data) -> None:
    for _ in range(2):
        registry.register(fitted, "target", data=data[0])
    assert registry.rollback_target("target") is None
    registry.promote("target", 1, "champion", "a")
    registry.promote("target", 2, "champion", "b")
    assert registry.rollback_target("target") == "1"


PROMOTERS = 4
PROMOTER = """
import sys, time
from pathlib import Path
from nbops import registry
version, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
registry.history("contested")  # MLflow imported and the store opened before the start signal
ready.touch()
while not go.exists():
    time.sleep(0.002)
registry.promote("contested", version, "champion", f"process {version} wins")
"""


def start_together(code: str, args: list[str], folder: Path) -> None:
    """Run one process of ``code`` per argument; all reach the store, then start at one signal.

    argv is (argument, ready-file, go-file): each touches its ready-file once connected and
    waits for the go-file, so what overlaps is the promotions, not the imports. Run as users
    run them: without PYTEST_CURRENT_TEST, which turns on MLflow's own (slow) self-checks.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    # MLflow's telemetry thread sets and unsets a variable while requests reads os.environ (a KeyError
    # inside MLflow against a server); off, as in CI, so what is tested is the registry, not that race.
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    go = folder / "go"
    ready = [folder / f"ready-{i}" for i in range(len(args))]
    procs = [
        subprocess.Popen([sys.executable, "-c", code, arg, str(flag), str(go)], env=env, cwd=folder)
        for arg, flag in zip(args, ready, strict=True)
    ]
    try:
        deadline = time.monotonic() + 600  # a guard against a hang on a loaded machine, not a target
        while not all(flag.exists() for flag in ready):
            assert time.monotonic() < deadline, "the promoting processes did not get ready"
            assert all(p.poll() is None for p in procs), "a promoting process died before the signal"
            time.sleep(0.01)
        go.touch()
        assert [p.wait(timeout=600) for p in procs] == [0] * len(args)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def test_processes_promoting_one_alias_at_once_record_a_true_sequence(
    tracking_uri, fitted, data, tmp_path
) -> None:
    """Each promotion's from_version is the version the one before it left: v1→a, a→b, b→c ...

    The alias, the history, the audit log and the rollback target all tell that same story.
    """
    versions = [str(v) for v in range(2, PROMOTERS + 2)]
    for _ in range(PROMOTERS + 1):
        registry.register(fitted, "contested", data=data[0])
    registry.promote("contested", 1, "champion", "baseline")

    start_together(PROMOTER, versions, tmp_path)

    timeline = registry.history("contested")["champion"]
    moves = [(t["action"], t["from_version"], t["to_version"]) for t in timeline]
    assert [action for action, _, _ in moves] == ["promote"] * (PROMOTERS + 1)
    assert moves[0][1:] == (None, "1") and sorted(to for _, _, to in moves[1:]) == versions
    assert [frm for _, frm, _ in moves[1:]] == [to for _, _, to in moves[:-1]]  # one chain, no branches
    logged = audit.events(model="contested", action="promote")
    assert [(e.from_version, e.to_version) for e in logged] == [m[1:] for m in moves]
    assert [e.seq for e in logged] == sorted(e.seq for e in logged)
    winner, before = moves[-1][2], moves[-2][2]
    assert registry.alias_holder("contested", "champion") == winner
    assert registry.rollback_target("contested") == before
    assert audit.verify().ok
    # A rollback goes back to what the log says came before the winner, and says so.
    undone = registry.rollback("contested", "champion", "undo")
    assert (undone["from_version"], undone["to_version"]) == (winner, before)
    assert registry.alias_holder("contested", "champion") == before


def test_removing_an_alias_is_audited_and_can_be_rolled_back(tracking_uri, fitted, data) -> None:
    registry.register(fitted, "removable", data=data[0], alias="champion")
    registry.remove_alias("removable", "champion", "retire the model")
    assert registry.alias_holder("removable", "champion") is None
    assert [e.action for e in audit.events(model="removable")][-1] == "remove_alias"
    with pytest.raises(InvalidInput, match="has no alias 'champion' to remove"):
        registry.remove_alias("removable", "champion", "again")
    assert registry.rollback("removable", "champion", "bring it back")["to_version"] == "1"
    assert registry.alias_holder("removable", "champion") == "1"


def test_promotion_policy_requires_passed_gates_unless_forced(tracking_uri, fitted, data, tmp_path) -> None:
    from nbops.errors import PolicyError

    (tmp_path / "pyproject.toml").write_text('[tool.nbops.policy]\nchampion = ["performance", "fairness"]\n')
    registry.register(fitted, "governed", data=data[0])
    client = MlflowClient(tracking_uri)
    before = snapshot(tracking_uri, "governed")
    with pytest.raises(
        PolicyError, match=r"required gates not passed: performance \(not run\), fairness \(not run\)"
    ):
        registry.promote("governed", 1, "champion", "ship it")
    client.set_model_version_tag("governed", "1", "nbops.gate.performance", "passed r1 2026-01-01T00:00:00Z")
    client.set_model_version_tag("governed", "1", "nbops.gate.fairness", "failed r2 2026-01-01T00:00:00Z")
    with pytest.raises(PolicyError, match=r"fairness \(failed\)"):
        registry.promote("governed", 1, "champion", "ship it")
    assert snapshot(tracking_uri, "governed") == before  # refusals change nothing
    assert registry.promote("governed", 1, "staging", "no policy for this alias")["to_version"] == "1"
    forced = registry.promote("governed", 1, "champion", "hotfix", force=True)
    assert forced["forced"] and registry.alias_holder("governed", "champion") == "1"
    event = audit.events(model="governed")[-1]
    assert event.details["forced"] == "true" and "fairness (failed)" in event.details["policy_gaps"]
    client.set_model_version_tag("governed", "1", "nbops.gate.fairness", "passed r3 2026-01-02T00:00:00Z")
    assert "forced" not in registry.promote("governed", 1, "champion", "all gates green")
    assert "| fairness | passed | 2026-01-02T00:00:00Z |" in registry.model_card("governed", 1)


def test_a_model_named_with_a_quote_is_found_like_any_other(tracking_uri, fitted, data) -> None:
    X, _ = data
    with nbops.track("quoted"):
        registry.register(fitted, "o'brien-risk", data=X, alias="champion")
    registry.register(fitted, "o'brien-risk", data=X)
    assert [v["version"] for v in registry.list_versions("o'brien-risk")] == ["2", "1"]
    assert {m["name"]: m["latest_version"] for m in registry.list_models()} == {"o'brien-risk": "2"}
    nbops.monitor.log_batch("o'brien-risk@champion", X)
    assert nbops.monitor.series("o'brien-risk", 1, ["batch.rows"])["batch.rows"][0]["value"] == len(X)


# --- the top-level calls -------------------------------------------------------------------------

FRESH_IMPORT = """
import sys
import nbops
loaded = sorted(m for m in ("mlflow", "sklearn", "nbops.registry") if m in sys.modules)
top = [nbops.register, nbops.promote, nbops.rollback]
import nbops.registry
same = [f is getattr(nbops.registry, f.__name__) for f in top]
print(loaded, same, sorted({"register", "promote", "rollback"} & set(nbops.__all__)))
"""


def test_import_nbops_is_light_and_the_top_level_calls_are_the_registry_functions() -> None:
    """``import nbops`` loads neither MLflow nor the registry; the names resolve on first use."""
    done = subprocess.run([sys.executable, "-c", FRESH_IMPORT], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] [True, True, True] ['promote', 'register', 'rollback']"
    assert (nbops.register, nbops.promote, nbops.rollback) == (
        registry.register,
        registry.promote,
        registry.rollback,
    )
    assert nbops.register is registry.register


TOP_LEVEL = """
import sys
import nbops
assert "mlflow" not in sys.modules, "import nbops loaded MLflow"
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True, as_frame=True)
model = LogisticRegression(max_iter=500).fit(X, y)
first = nbops.register(model, name="top-level", data=X, alias="champion", description="as documented")
second = nbops.register(model, name="top-level", data=X)
nbops.promote("top-level", second.version, "champion", reason="v2 scores better")
back = nbops.rollback("top-level", "champion", reason="v2 misbehaves")
print(first.version, second.version, back["from_version"], back["to_version"])
"""


def test_the_documented_top_level_calls_work_from_a_fresh_process(tracking_uri, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"  # see start_together
    done = subprocess.run(
        [sys.executable, "-c", TOP_LEVEL], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["1", "2", "2", "1"]
    assert registry.alias_holder("top-level", "champion") == "1"
    assert MlflowClient(tracking_uri).get_model_version("top-level", "1").description == "as documented"
    timeline = registry.history("top-level")["champion"]
    assert [(t["action"], t["from_version"], t["to_version"]) for t in timeline] == [
        ("promote", None, "1"),
        ("promote", "1", "2"),
        ("rollback", "2", "1"),
    ]
    assert [e.action for e in audit.events(model="top-level")] == [
        "register",
        "promote",
        "register",
        "promote",
        "rollback",
    ]
