"""nbops against a team's MLflow tracking server on PostgreSQL (``backends.py`` starts both).

The store-behaviour modules already run every store test on this backend too (``[server]``
ids); this module adds what only a shared server raises: many processes writing through it at
once, artifacts that travel through the server's proxy, a gate notebook whose kernel talks to
the server, and the ways a team's store can be unusable — each a one-line ``StoreError`` (exit
code 5 from the CLI) that names the store without its password and says what to do, with
nothing written.
"""

from __future__ import annotations

import http.server
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import psycopg2
import pytest
from backends import forget_process_state
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import nbops
from nbops import audit, gates, monitor, registry, store
from nbops.errors import StoreError

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent
WRITERS = 8
POINTS = 2000


@pytest.fixture
def backend() -> str:
    """Every ``tracking_uri``/``project`` here is the team server (conftest's default is SQLite)."""
    return "server"


@pytest.fixture
def busy(team_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``MLFLOW_TRACKING_URI`` for a server with two worker processes, on an empty store.

    Concurrent writers then reach the database through separate server processes, so
    nothing but the database (and nbops) keeps their writes apart.
    """
    uri = team_server.busy_url()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    yield uri
    forget_process_state()


def nbops_cli(*args: str, cwd: Path, uri: str | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": str(BIN), "HOME": str(cwd)}
    if uri is not None:
        env["MLFLOW_TRACKING_URI"] = uri
    return subprocess.run([BIN / "nbops", *args], cwd=cwd, env=env, capture_output=True, text=True)


def classifier() -> tuple[object, pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.iloc[:, :8]
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y), X, y


def start_together(code: str, count: int, folder: Path, env: dict[str, str] | None = None) -> None:
    """Run ``count`` processes of ``code`` (argv: index, go-file); all start writing at one moment.

    Each imports nbops and reaches the store first, then touches its ready-file and waits for
    the go-file, so the writes themselves overlap rather than the imports.
    """
    go = folder / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(i), str(go)], cwd=folder, env=env)
        for i in range(count)
    ]
    try:
        deadline = time.monotonic() + 180
        while len(list(folder.glob("ready-*"))) < count:
            assert time.monotonic() < deadline, "the writers did not get ready"
            assert all(p.poll() is None for p in procs), "a writer died before starting"
            time.sleep(0.05)
        go.touch()
        assert [p.wait(timeout=300) for p in procs] == [0] * count
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


WRITER = """
import sys, time
from pathlib import Path
import pandas as pd
import nbops
from nbops import store
i, go = int(sys.argv[1]), Path(sys.argv[2])
batch = pd.read_csv("batch.csv")
store.client().search_experiments(max_results=1)  # connected: only the writing is left
Path(f"ready-{i}").touch()
while not go.exists():
    time.sleep(0.005)
with nbops.track(f"writer-{i}", experiment="team"):
    for step in range(%(points)d):
        nbops.log_metric("loss", 1.0 / (step + 1), step=step)
    nbops.log_metrics({"writer": i, "accuracy": 0.5 + i / 100})
nbops.monitor.log_batch("loans@champion", batch)
"""


def test_eight_writers_log_metrics_and_batches_through_the_server_at_once(busy: str, tmp_path: Path) -> None:
    model, X, _ = classifier()
    with nbops.track("train"):
        registry.register(model, "loans", data=X, alias="champion")
    X.sample(200, random_state=1).to_csv(tmp_path / "batch.csv", index=False)

    start_together(WRITER % {"points": POINTS}, WRITERS, tmp_path)

    client = store.client()
    experiment = client.get_experiment_by_name("team")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == sorted(f"writer-{i}" for i in range(WRITERS))
    for run in runs:
        i = int(run.data.metrics["writer"])
        assert run.info.run_name == f"writer-{i}" and run.info.status == "FINISHED"
        assert run.data.metrics["accuracy"] == 0.5 + i / 100
        history = client.get_metric_history(run.info.run_id, "loss")
        assert sorted(m.step for m in history) == list(range(POINTS))
    # Eight batches of one version: eight distinct batch numbers, none lost or doubled.
    steps = sorted(p["step"] for p in monitor.series("loans", 1, ["batch.rows"])["batch.rows"])
    assert steps == list(range(1, WRITERS + 1))
    assert audit.verify().ok


PROMOTER = """
import sys, time
from pathlib import Path
from nbops import registry, store
i, go = int(sys.argv[1]), Path(sys.argv[2])
store.client().search_experiments(max_results=1)
Path(f"ready-{i}").touch()
while not go.exists():
    time.sleep(0.001)
registry.promote("contested", str(i + 2), "champion", f"process {i} wants v{i + 2}")
"""


def test_two_processes_promoting_one_alias_leave_alias_history_and_audit_consistent(
    busy: str, tmp_path: Path
) -> None:
    model, X, _ = classifier()
    for _ in range(3):
        registry.register(model, "contested", data=X.head(50))
    registry.promote("contested", 1, "champion", "baseline")

    start_together(PROMOTER, 2, tmp_path)

    timeline = registry.history("contested")["champion"]
    assert [t["action"] for t in timeline] == ["promote"] * 3
    assert sorted(t["to_version"] for t in timeline[1:]) == ["2", "3"]
    assert [t["seq"] for t in timeline] == sorted({t["seq"] for t in timeline})
    # The alias is where the log's last event put it, and the chain has no fork or gap.
    assert registry.alias_holder("contested", "champion") == timeline[-1]["to_version"]
    result = audit.verify()
    assert result.ok, result
    # Rolling back walks the log: to the version the other process had promoted just before.
    undone = registry.rollback("contested", "champion", "undo the race")
    assert undone["to_version"] == timeline[-2]["to_version"]
    assert registry.alias_holder("contested", "champion") == timeline[-2]["to_version"]
    assert audit.verify().ok


def test_write_once_params_are_a_compare_and_set_over_rest(busy: str) -> None:
    """The audit log claims its next link with a param MLflow refuses to overwrite: over REST too."""
    tracking_uri = busy
    client = MlflowClient(tracking_uri)
    run_id = client.create_run("0").info.run_id
    client.log_param(run_id, "claim", "a")
    client.log_param(run_id, "claim", "a")  # the same value again is allowed
    with pytest.raises(MlflowException):
        client.log_param(run_id, "claim", "b")

    # Sixteen claimants at once, through two server workers: exactly one wins.
    contested = client.create_run("0").info.run_id

    def claim(i: int) -> bool:
        try:
            MlflowClient(tracking_uri).log_param(contested, "next", f"writer-{i}")
            return True
        except MlflowException:
            return False

    with ThreadPoolExecutor(16) as pool:
        won = [i for i, ok in enumerate(pool.map(claim, range(16))) if ok]
    assert len(won) == 1
    assert client.get_run(contested).data.params["next"] == f"writer-{won[0]}"


def test_models_cards_and_artifacts_travel_through_the_server_proxy(tracking_uri: str, team_server) -> None:
    model, X, y = classifier()
    with nbops.track("train"):
        nbops.log_metric("accuracy", float(model.score(X, y)))
        nbops.log_dataset(X, "train")
        version = registry.register(model, "proxied", data=X, description="through the proxy").version
    mv = registry.get_version("proxied", version)
    run = MlflowClient(tracking_uri).get_run(mv.run_id)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    # The card went through the server into its --artifacts-destination, not to a local folder.
    cards = list(team_server.artifacts.rglob(f"{mv.run_id}/artifacts/model_cards/proxied/v1/model_card.md"))
    assert len(cards) == 1 and "through the proxy" in cards[0].read_text()
    assert not (Path.cwd() / "mlruns").exists()
    loaded = mlflow.pyfunc.load_model(f"models:/proxied/{version}")
    assert (loaded.predict(X.head(5)) == model.predict(X.head(5))).all()
    registry.refresh_card("proxied", version)
    assert registry.card_facts("proxied", version)["metrics"]


class Requests:
    """HTTP requests this process sends (every MLflow REST call and artifact transfer goes through
    ``requests.Session.request``), counted from every thread."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import requests

        self.sent = 0
        lock = threading.Lock()
        send = requests.Session.request

        def counted(session, *args, **kwargs):
            with lock:
                self.sent += 1
            return send(session, *args, **kwargs)

        monkeypatch.setattr(requests.Session, "request", counted)

    def during(self, call) -> int:
        before = self.sent
        call()
        return self.sent - before


#: Requests of one registration with data: the run read once (1), the registered model (1), the
#: logged model — created, linked to the run and its metrics, seven files, finalised (11) — the
#: version (1), the reference profile — file, tag (3) — the audit event (5), the card — two files,
#: a tag (3): 25, and one to spare.
REGISTRATION_REQUESTS = 26


def test_registration_and_listing_send_a_bounded_number_of_requests(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, X, _ = classifier()
    trained = {}
    for name, metrics in (("few", 2), ("many", 40)):
        with nbops.track(name) as run:
            nbops.log_metrics({f"metric_{i}": i / 100 for i in range(metrics)})
        trained[name] = run.info.run_id
    for _ in range(2):  # the store's first use; the audit log's first events, which look further back
        registry.register(model, "warm-up")
    requests = Requests(monkeypatch)

    sent = {
        name: requests.during(lambda run_id=run_id: registry.register(model, "loans", data=X, run_id=run_id))
        for name, run_id in trained.items()
    }
    # Before: about 45 requests, and one more per metric of the run (log_model read each one's history).
    assert sent["few"] == sent["many"] <= REGISTRATION_REQUESTS, sent
    client = MlflowClient(tracking_uri)
    assert [client.get_model_version("loans", v).run_id for v in ("1", "2")] == [
        trained["few"],
        trained["many"],
    ]
    assert client.get_run(trained["many"]).info.status == "FINISHED"

    listed = requests.during(registry.list_models)
    for i in range(6):
        client.create_registered_model(f"more-{i}")
        client.create_model_version(f"more-{i}", f"runs:/{trained['few']}/model", run_id=trained["few"])
    assert requests.during(registry.list_models) == listed == 1  # before: one more per model
    latest = {m["name"]: m["latest_version"] for m in registry.list_models()}
    assert latest == {"warm-up": "2", "loans": "2", **{f"more-{i}": "1" for i in range(6)}}


def test_a_shipped_gate_runs_against_the_server(tracking_uri: str, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "gated"\n')
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "gates").symlink_to(ROOT / "notebooks" / "gates")
    model, X, y = classifier()
    order = np.random.default_rng(0).permutation(len(X))
    registry.register(model, "gated", data=X.iloc[order[:400]], alias="candidate")
    holdout = tmp_path / "holdout.csv"
    X.assign(target=y).iloc[order[400:]].to_csv(holdout, index=False)

    report = gates.run(
        ["performance"],
        "models:/gated@candidate",
        {"data_path": str(holdout), "min_accuracy": 0.8},
        report=tmp_path / "report",
    )
    assert report.passed, report.summary_table()
    tags = registry.get_version("gated", 1).tags
    assert tags["nbops.gate.performance"].startswith("passed ")
    run_id = tags["nbops.gate.performance"].split()[1]
    artifacts = {a.path for a in store.client().list_artifacts(run_id, "gate")}
    assert artifacts == {"gate/performance.ipynb", "gate/performance.html"}
    assert [e.details["result"] for e in audit.events(model="gated", action="gate")] == ["passed"]


# --- a store that cannot be used ------------------------------------------------------------------


def assert_refused(uri: str, cwd: Path, *needles: str, secret: str | None = None) -> None:
    """``nbops info``/``runs`` exit 5 with one line naming the store; ``track`` runs nothing."""
    shown = nbops.config.redact_uri(uri)
    for command in ("info", "runs"):
        began = time.monotonic()
        done = nbops_cli(command, cwd=cwd, uri=uri)
        assert time.monotonic() - began < 30, f"nbops {command} took too long to give up"
        assert done.returncode == 5, (command, done.stdout, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stderr.startswith("nbops: error: ") and shown in done.stderr
        for needle in needles:
            assert needle in done.stderr
        if secret is not None:
            assert secret not in done.stderr + done.stdout
    body: list[int] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        with pytest.raises(StoreError) as raised, nbops.track("never"):
            body.append(1)
    assert body == [] and shown in str(raised.value)
    assert "\n" not in str(raised.value)
    if secret is not None:
        assert secret not in str(raised.value)


def test_a_server_that_is_not_running_is_reported_in_seconds(tmp_path: Path) -> None:
    from backends import free_port

    uri = f"http://127.0.0.1:{free_port()}"
    assert_refused(uri, tmp_path, "cannot reach the MLflow tracking server", "start the server")


class _Refuses(http.server.BaseHTTPRequestHandler):
    """A reverse proxy in front of the server that does not know this client."""

    def _refuse(self) -> None:
        body = b'{"error_code": "UNAUTHENTICATED", "message": "You are not authenticated."}'
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _refuse

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refuses)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_refuses_the_credentials_says_which_variables_to_set(
    refusing_server: str, tmp_path: Path
) -> None:
    uri = f"http://ana:hunter2-secret@{refusing_server}"
    assert_refused(uri, tmp_path, "HTTP 401", "MLFLOW_TRACKING_USERNAME", "ana:***@", secret="hunter2-secret")


def test_a_database_uri_with_a_wrong_password_is_refused_without_showing_it(
    team_server, tmp_path: Path
) -> None:
    uri = team_server.db_uri(password="not-the-password")
    assert_refused(uri, tmp_path, "password authentication failed", "nbops:***@", secret="not-the-password")


def _older_revision() -> str:
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    scripts = ScriptDirectory.from_config(_get_alembic_config(db_url=""))
    return scripts.get_revision(scripts.get_current_head()).down_revision


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_a_store_on_an_older_schema_asks_for_mlflow_db_upgrade_and_is_left_alone(
    database: str, team_server, _pristine_store: Path, tmp_path: Path
) -> None:
    old = _older_revision()
    if database == "postgresql":
        uri = team_server.new_database("older_schema")
        connect = lambda: psycopg2.connect(uri.replace("postgresql+psycopg2", "postgresql"))  # noqa: E731
    else:
        db = tmp_path / "old" / "mlflow.db"
        db.parent.mkdir()
        shutil.copyfile(_pristine_store, db)
        uri = f"sqlite:///{db}"
        connect = lambda: sqlite3.connect(db)  # noqa: E731

    def contents() -> tuple:
        conn = connect()
        try:
            cur = conn.cursor()
            cur.execute("SELECT version_num FROM alembic_version")
            version = cur.fetchall()
            cur.execute("SELECT count(*) FROM experiments")
            experiments = cur.fetchall()
            cur.execute("SELECT count(*) FROM runs")
            return version, experiments, cur.fetchall()
        finally:
            conn.close()

    conn = connect()
    with conn:
        conn.cursor().execute(f"UPDATE alembic_version SET version_num = '{old}'")
    conn.close()
    before = contents()

    assert_refused(
        uri, tmp_path, f"schema version {old}", "mlflow db upgrade", secret=team_server.postgres.password
    )
    assert contents() == before == ([(old,)], [(1,)], [(0,)])
    assert not (tmp_path / "old" / "artifacts").exists()


def test_a_store_a_newer_mlflow_upgraded_asks_for_that_mlflow(team_server, tmp_path: Path) -> None:
    uri = team_server.new_database("newer_schema")
    conn = psycopg2.connect(uri.replace("postgresql+psycopg2", "postgresql"))
    with conn:
        conn.cursor().execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    conn.close()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        with pytest.raises(StoreError, match=r"does not know .* install that MLflow version"):
            store.settings()
