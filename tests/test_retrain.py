"""Retraining as a background job: real papermill kernels, real job processes, a real store."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from click.testing import CliRunner
from test_alerting import RULE, configure, register, sample
from test_notify import Receiver, as_user, eventually

from nbops import audit, monitor, registry
from nbops.monitoring import alerting, retraining

#: The retrain notebook of these tests: it waits until the test creates ``release``, then trains
#: and registers a challenger — so a test can look at everything while the job is running.
TRAIN = """
import os, time
while not os.path.exists(release):
    time.sleep(0.05)
if fail:
    raise RuntimeError(fail)
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
import nbops
from nbops import registry

rng = np.random.default_rng(7)
X = pd.DataFrame({"x1": rng.normal(1.5, 1, 600), "x2": rng.normal(0, 1, 600),
                  "region": rng.choice(["north", "south", "east"], 600)})
y = (X["x1"] + 0.5 * X["x2"] > 1.5).astype(int)
columns = ColumnTransformer(
    [("n", "passthrough", ["x1", "x2"]), ("c", OneHotEncoder(handle_unknown="ignore"), ["region"])]
)
with nbops.track("retrain"):
    registry.register(make_pipeline(columns, LogisticRegression()).fit(X, y), model_name, data=X,
                      alias="challenger")
"""


def retrain_notebook(project: Path) -> Path:
    path = project / "retrain.ipynb"
    nb = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3"},
            "language_info": {"name": "python"},
        }
    )
    params = nbformat.v4.new_code_cell("model_name = ''\nrelease = ''\nfail = ''")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(TRAIN)]
    nbformat.write(nb, path)
    return path


def retraining_rule(project: Path, release: Path, fail: str = "") -> str:
    retrain_notebook(project)
    return RULE + (
        f'retrain = "retrain.ipynb"\nretrain_parameters = {{ release = "{release}", fail = "{fail}" }}\n'
    )


def until(what, deadline_s: float = 300):
    """Poll ``what()`` until it is truthy (a wait, not a timing assertion)."""
    deadline = time.monotonic() + deadline_s
    while not (value := what()):
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.1)
    return value


#: The ``retraining`` event told to a webhook channel (the receiver's URL in ``TEAM_URL``).
TOLD = """
[tool.nbops.notify.team]
type = "webhook"
url_env = "TEAM_URL"

[tool.nbops.notify.events]
retraining = ["team"]
"""


@pytest.fixture
def team(monkeypatch: pytest.MonkeyPatch):
    """A webhook receiver on 127.0.0.1 for the ``retraining`` event; the job inherits its URL."""
    as_user(monkeypatch)
    receiver = Receiver(["200"])
    monkeypatch.setenv("TEAM_URL", receiver.url)
    yield receiver
    receiver.close()


def retrain_steps(model: str = "loans") -> list[str]:
    return [e.details["step"] for e in audit.events(model=model) if e.action == "retrain"]


@pytest.fixture
def release(tmp_path: Path):
    """The file the retrain notebook waits for; created at the end in any case, so no job lingers."""
    path = tmp_path / "release"
    yield path
    path.touch()
    monitor.wait_for_retraining(timeout=300)


def test_log_batch_returns_while_the_retrain_notebook_is_still_running(
    project: Path, release: Path, team: Receiver
) -> None:
    configure(project, retraining_rule(project, release) + TOLD)
    model = register()
    X, _ = sample(400, 50, shift=1.5)
    result = monitor.log_batch("loans", X, model.predict(X))
    # log_batch is back while the notebook still waits for `release`: nothing is registered yet.
    (alert,) = result.alerts
    assert alert["state"] == "open" and alert["retrain_state"] in ("queued", "running")
    assert [v["version"] for v in registry.list_versions("loans")] == ["1"]
    assert until(lambda: monitor.alerts(model="loans")[0]["retrain_state"] == "running")
    assert Path(alert["retrain_log"]).parent == Path(alert["retrain_notebook"]).parent
    # One episode, one job: queueing it again (a second caller) starts nothing.
    assert retraining.queue(alert, alerting.rules()[0]) is False
    assert len(list((project / "monitoring-reports").iterdir())) == 1

    release.touch()
    (done,) = monitor.wait_for_retraining(alerts=result.alerts)
    assert done["retrain_state"] == "finished", done.get("retrain_error")
    assert done["challenger_version"] == "2" and done["gates"] == "none required"
    assert done["retrain_run"] == registry.get_version("loans", 2).run_id
    assert registry.alias_holder("loans", "challenger") == "2"
    assert registry.alias_holder("loans", "champion") == "1"
    assert "retraining loans v1" in Path(done["retrain_log"]).read_text()
    assert retrain_steps() == ["started", "trained", "finished"]
    eventually("the retraining notice delivered", lambda: team.requests)
    (told,) = [r["json"] for r in team.requests]
    assert told["kind"] == "retraining-finished" and told["run_id"] == done["retrain_run"]
    assert (told["model"], told["version"], told["alias"]) == ("loans", "2", "challenger")
    assert (
        told["summary"]
        == "Retrained: loans v2 (challenger): retrained: v2, gates none required, not promoted"
    )
    assert told["facts"]["Gates"] == "none required" and told["facts"]["Promoted"] == "no"


def test_a_failing_retrain_notebook_ends_failed_with_its_reason(
    project: Path, release: Path, team: Receiver, capsys
) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    configure(project, retraining_rule(project, release, fail="warehouse unreachable") + TOLD)
    model = register()
    release.touch()  # the notebook fails at once
    X, _ = sample(400, 51, shift=1.5)
    ip = InteractiveShell.instance()
    ip.run_line_magic("reload_ext", "nbops")
    ip.user_ns.update(batch=X, preds=model.predict(X))
    ip.run_line_magic("monitor", "loans batch --predictions preds --wait")
    out = capsys.readouterr().out
    assert "waiting for retraining" in out
    assert "retraining failed: " in out and "warehouse unreachable" in out
    (alert,) = monitor.alerts(model="loans")
    assert alert["state"] == "open" and alert["retrain_state"] == "failed"
    assert "warehouse unreachable" in alert["retrain_error"]
    assert Path(alert["retrain_notebook"]).is_file()  # the executed notebook is kept
    assert retrain_steps() == ["started", "failed"]
    eventually("the failure notice delivered", lambda: team.requests)
    (told,) = [r["json"] for r in team.requests]
    assert told["kind"] == "retraining-failed" and told["run_id"] == alert["id"]
    assert (
        told["summary"].startswith("Retraining failed: loans v1") and "warehouse unreachable" in told["title"]
    )
    assert told["facts"]["Challenger"] == "none registered" and told["facts"]["Promoted"] == "no"


def test_a_killed_job_shows_failed_instead_of_running_forever(project: Path, release: Path) -> None:
    from nbops.cli import main

    configure(project, retraining_rule(project, release))
    model = register()
    X, _ = sample(400, 52, shift=1.5)
    monitor.log_batch("loans", X, model.predict(X))
    running = until(lambda: [a for a in monitor.alerts(model="loans") if a["retrain_state"] == "running"])
    job = psutil.Process(int(running[0]["retrain_pid"]))
    # Killed mid-notebook: once papermill and its kernel (sessions of their own) run under it.
    until(lambda: retrain_steps() == ["started"] and len(job.children(recursive=True)) >= 2)
    notebook = job.children(recursive=True)
    os.kill(job.pid, signal.SIGKILL)
    until(lambda: not psutil.pid_exists(job.pid) or job.status() == psutil.STATUS_ZOMBIE)
    for process in notebook:
        process.kill()

    (alert,) = monitor.alerts(model="loans")
    assert alert["retrain_state"] == "failed"
    assert f"pid {job.pid}" in alert["retrain_error"] and "ended while running" in alert["retrain_error"]
    checked = CliRunner().invoke(main, ["monitor", "check", "--wait"])
    assert checked.exit_code == 1 and "failed" in checked.output
    # The check recorded the death for good: in the store, and in the audit log.
    (stored,) = monitor.wait_for_retraining(alerts=[alert["id"]])
    assert stored["retrain_state"] == "failed" and stored["retrain_ended_at"]
    assert retrain_steps() == ["started", "failed"]


def test_monitor_check_queues_retraining_without_touching_the_registry(project: Path, release: Path) -> None:
    from nbops.cli import main

    model = register()
    X, _ = sample(400, 53, shift=1.5)
    monitor.log_batch("loans", X, model.predict(X))  # no rule yet: nothing fires
    configure(project, retraining_rule(project, release).replace("severity", 'model = "loans"\nseverity'))
    runner = CliRunner()
    checked = runner.invoke(main, ["monitor", "check"])
    assert checked.exit_code == 1, checked.output
    assert "RETRAIN" in checked.output and ("queued" in checked.output or "running" in checked.output)
    # The check only queued the job: no version, no alias, no registry event came from it.
    assert [v["version"] for v in registry.list_versions("loans")] == ["1"]
    assert registry.alias_holder("loans", "challenger") is None
    actions = [e.action for e in audit.events(model="loans")]
    since = actions[actions.index("alert") :]
    assert "register" not in since and "promote" not in since

    release.touch()
    waited = runner.invoke(main, ["monitor", "check", "--wait", "--model", "loans"])
    assert waited.exit_code == 1, waited.output
    assert "finished: v2" in waited.output
    help_text = runner.invoke(main, ["monitor", "check", "--help"]).output
    assert "--wait" in help_text and "background" in help_text
