"""Alerts on a real store: one alert per episode, even when several processes log batches at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient

import nbops
from nbops import audit, config, monitor, registry
from nbops.monitoring import alerting, runs

RULE = """
[tool.nbops.alerts.drifting]
metric = "drift.share"
op = ">="
threshold = 0.5
window = 1
severity = "critical"
"""


def sample(n: int, seed: int, shift: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Two numeric features and a region; ``shift`` moves the population (and the boundary)."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(shift, 1, n)
    x2 = rng.normal(0, 1, n)
    region = rng.choice(["north", "south", "east"], n, p=[0.4, 0.4, 0.2] if not shift else [0.1, 0.2, 0.7])
    y = (x1 + 0.5 * x2 + rng.normal(0, 0.5, n) > shift).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "region": region}), y


def register(name: str = "loans") -> object:
    """Version 1 of ``name`` as champion, with the reference profile monitoring compares with."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    X, y = sample(2000, 0)
    columns = ColumnTransformer(
        [("n", "passthrough", ["x1", "x2"]), ("c", OneHotEncoder(handle_unknown="ignore"), ["region"])]
    )
    model = make_pipeline(columns, LogisticRegression()).fit(X, y)
    with nbops.track(f"train-{name}"):
        registry.register(model, name, data=X, alias="champion")
    return model


def configure(project: Path, text: str) -> None:
    with (project / "pyproject.toml").open("a") as f:
        f.write(text)


def user_env() -> dict[str, str]:
    """The environment a user's process has: without PYTEST_CURRENT_TEST (MLflow's slow self-checks)."""
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


# --- one alert per episode -----------------------------------------------------------------------

WRITERS = 4
WRITER = """
import os, sys, time
import numpy as np
import pandas as pd
from nbops import monitor
from nbops.monitoring import alerting, reference

def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.002)

reference.load_profile("loans", "1")  # MLflow, the store and the profile loaded before the signal
alerting.rules()
rng = np.random.default_rng(100 + int(sys.argv[1]))
n = 400
X = pd.DataFrame({
    "x1": rng.normal(1.5, 1, n),
    "x2": rng.normal(0, 1, n),
    "region": rng.choice(["north", "south", "east"], n, p=[0.1, 0.2, 0.7]),
})
open(sys.argv[2] + "-ready", "w").close()
wait_for(sys.argv[3] + "-go")
monitor.log_batch("loans/1", X, np.zeros(n, dtype=int))
open(sys.argv[2] + "-logged", "w").close()
wait_for(sys.argv[3] + "-check")
monitor.check("loans")  # as cron jobs on several machines would, at the same moment
"""


def test_writers_logging_breaching_batches_at_once_open_one_alert(project: Path, tmp_path: Path) -> None:
    """Each writer logs a breaching batch (rule ``drifting``); then they all run ``monitor check``
    at once for a rule added meanwhile (``drifting-again``): either way one alert per episode."""
    configure(project, RULE)
    register()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(i), str(tmp_path / f"writer-{i}"), str(tmp_path / "start")],
            cwd=project,
            env=user_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(WRITERS)
    ]

    def all_reached(stage: str) -> None:
        deadline = time.monotonic() + 300
        while not all((tmp_path / f"writer-{i}-{stage}").exists() for i in range(WRITERS)):
            dead = [w.stderr.read()[-2000:] for w in writers if w.poll() is not None]
            assert not dead and time.monotonic() < deadline, dead
            time.sleep(0.01)

    try:
        all_reached("ready")
        (tmp_path / "start-go").touch()
        all_reached("logged")
        configure(project, RULE.replace("alerts.drifting]", "alerts.drifting-again]"))
        (tmp_path / "start-check").touch()
        for writer in writers:
            _, err = writer.communicate(timeout=300)
            assert writer.returncode == 0, err[-3000:]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()

    steps = monitor.series("loans", 1, ["batch.rows"])["batch.rows"]
    assert sorted(p["step"] for p in steps) == list(range(1, WRITERS + 1))
    found = monitor.alerts(model="loans")
    assert sorted((a["rule"], a["state"]) for a in found) == [
        ("drifting", "open"),
        ("drifting-again", "open"),
    ]
    assert [e.action for e in audit.events(model="loans")].count("alert") == 2
    # The writers that lost a race left no alert behind.
    client = MlflowClient(config.resolve(project).tracking_uri)
    experiment = client.get_experiment_by_name(alerting.EXPERIMENT)
    assert len(client.search_runs([experiment.experiment_id])) == 2


def test_an_episode_reopens_after_it_resolved_and_is_resolved_once(project: Path) -> None:
    configure(project, RULE)
    model = register()
    states = []
    for batch, shift in enumerate([1.5, 1.5, 0, 1.5, 0]):
        X, _ = sample(400, 20 + batch, shift)
        states.append([a["state"] for a in monitor.log_batch("loans", X, model.predict(X)).alerts])
    assert states == [["open"], [], ["resolved"], ["open"], ["resolved"]]
    found = monitor.alerts(model="loans")
    assert [(a["opened_batch"], a["resolved_batch"]) for a in found] == [(4, 5), (1, 3)]
    # Evaluating the last batch again (a second `monitor check`) changes nothing.
    assert alerting.evaluate("loans", "1") == []
    assert [e.action for e in audit.events(model="loans") if e.action.startswith("alert")] == [
        "alert",
        "alert-resolved",
        "alert",
        "alert-resolved",
    ]
    # Each episode is claimed on the version's monitoring run, where plain MLflow shows it.
    run_id = runs.monitoring_run_id("loans", "1", create=False)
    params = MlflowClient(config.resolve(project).tracking_uri).get_run(run_id).data.params
    episodes = {k: v for k, v in params.items() if k.startswith("nbops.alert.")}
    assert sorted(episodes.values()) == sorted(a["id"] for a in found)
    assert json.dumps(sorted(episodes)) == json.dumps(
        ["nbops.alert.episode.drifting.1", "nbops.alert.episode.drifting.2"]
    )
