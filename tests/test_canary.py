"""Automatic canary analysis: a real ``nbops serve iris@champion --canary challenger=20`` on 127.0.0.1.

One server per backend serves the whole module: each test moves the ``challenger`` alias to a new
version, which starts a new canary on the running server (that is the feature, and it keeps the
module to one start-up per backend). Traffic is small and bounded; the server's rules are loose
where timing could make them flaky (latency) and strict where the test needs a verdict (errors).
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator

import cloudpickle
import mlflow
import pytest
import requests
from backends import BACKENDS, module_project
from click.testing import CliRunner
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from test_serving import split, wait_for

import nbops
from nbops import audit, monitoring, registry
from nbops.cli import ExitCode, main
from nbops.serving import canary_records


class Flaky(mlflow.pyfunc.PythonModel):
    """A worse challenger: raises for rows whose first feature is above 5.8 (about half of iris)."""

    def predict(self, context, model_input, params=None):
        if float(model_input.iloc[0, 0]) > 5.8:
            raise ValueError("flaky challenger")
        return [0] * len(model_input)


cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the server process cannot import tests/

CANARY_TABLE = """
[tool.nbops.serving]
poll_seconds = 0.2
heartbeat_seconds = 0.5
batch_rows = 500
batch_seconds = 2.0

[tool.nbops.canary]
steps = [20, 50, 100]
min_requests = 8
step_seconds = 0
rules = { error_rate = 0.05, latency_p95 = 50.0, prediction_drift = 0.5 }
"""


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """This module's own backend fixture: one server per backend, shared by its tests."""
    return request.param


@pytest.fixture(scope="module")
def canary(backend, tmp_path_factory, new_store, request) -> Iterator[dict]:
    """``iris``: v1 champion, v2 a flaky challenger, v3–v6 good versions the tests move the alias to."""
    root = module_project("canary", backend, tmp_path_factory, new_store, request, CANARY_TABLE)
    X, y = load_iris(return_X_y=True, as_frame=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.delenv("NBOPS_SERVE_TOKEN", raising=False)
        patch.chdir(root)
        fitted = LogisticRegression(max_iter=500).fit(X, y)
        registry.register(fitted, "iris", data=X, alias="champion")  # v1
        registry.register(Flaky(), "iris", alias="challenger")  # v2
        for _ in range(4):  # v3..v6
            registry.register(fitted, "iris")
        server = nbops.serve("iris@champion", canary={"challenger": 20}, start=root)
        try:
            yield {"root": root, "server": server, "X": X}
        finally:
            server.stop()
            from backends import forget_process_state

            forget_process_state()


def verdict(url: str, version: str) -> dict:
    answer = requests.get(f"{url}/nbops/canary", params={"model": "iris", "version": version}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def drive(canary: dict, version: str, until: str, rows=(0, 149), limit: int = 1500) -> dict:
    """Send one-row requests (fresh request IDs) until ``version``'s canary state is ``until``."""
    url, X = canary["server"].url, canary["X"]
    bodies = [json.dumps(split(X.iloc[[row]])) for row in rows]
    with requests.Session() as session:
        for i in range(limit):
            session.post(
                f"{url}/invocations",
                data=bodies[i % len(bodies)],
                headers={"Content-Type": "application/json", "X-Request-Id": uuid.uuid4().hex},
                timeout=30,
            )
            if i % 10 == 9 and (state := verdict(url, version))["state"] == until:
                return state
    pytest.fail(f"the canary of v{version} did not reach {until!r} within {limit} requests")


def analysis(canary: dict, version: str, state: str = "running") -> dict:
    """The canary as the server recorded it (what ``nbops canary`` reads) once ``version`` is ``state``."""

    def recorded() -> dict | None:
        (server,) = canary_records.status("iris")
        found = server["analysis"] or {}
        return found if (found.get("version"), found.get("state")) == (version, state) else None

    return wait_for(recorded, f"the canary of v{version} to be recorded as {state}")


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def test_a_worse_challenger_is_rolled_back_with_the_rule_named(canary) -> None:
    url = canary["server"].url
    started = analysis(canary, "2")
    assert (started["step"], started["share"], started["steps"]) == (1, 20, [20, 50])
    assert verdict(url, "2")["verdict"] == "running"
    ended = drive(canary, "2", "rolled_back")
    assert ended["verdict"] == "failed" and ended["share"] == 0
    assert "rule error_rate failed" in ended["reason"] and "> limit 0.05" in ended["reason"]
    failed = [r for r in ended["rules"] if r["passed"] is False]
    # Its answers are all class 0, so prediction_drift may fail as well; error_rate is the one named first.
    assert failed[0]["rule"] == "error_rate" and failed[0]["value"] > 0.05
    # The champion keeps answering every request; nothing reaches the challenger any more.
    for _ in range(20):
        answer = requests.post(
            f"{url}/invocations",
            json=split(canary["X"].iloc[[149]]),
            headers={"X-Request-Id": uuid.uuid4().hex},
        )
        assert (answer.status_code, answer.headers["X-Nbops-Model-Version"]) == (200, "1")
    assert registry.alias_holder("iris", "champion") == "1"
    # The verdict flips first; the alert and the audit events follow within the same pass.
    (alert,) = wait_for(lambda: monitoring.alerts("iris", state="open"), "the canary's alert")
    assert (alert["rule"], alert["version"], alert["severity"]) == ("canary.error_rate", "2", "critical")
    assert "error_rate" in alert["message"]
    actions = wait_for(
        lambda: (
            (found := [e.action for e in audit.events("iris") if e.source == "canary"])
            and "alert" in found
            and found
        ),
        "the canary's audit events",
    )
    assert actions[:2] == ["canary-started", "canary-rolled-back"] and "alert" in actions
    shown = cli("canary", "status", "iris")
    assert shown.exit_code == 0, shown.output
    assert "verdict: failed (rolled_back): rule error_rate failed" in shown.output
    assert "error_rate" in shown.output and "FAIL" in shown.output


def test_a_good_challenger_walks_the_steps_and_is_promoted(canary) -> None:
    url = canary["server"].url
    registry.promote("iris", 3, "challenger", "canary test: a good challenger")
    analysis(canary, "3")
    ended = drive(canary, "3", "promoted", rows=(0,))
    assert ended["verdict"] == "passed" and ended["step"] == 2
    assert all(r["passed"] for r in ended["rules"]), ended["rules"]
    assert registry.alias_holder("iris", "champion") == "3"
    wait_for(lambda: canary["server"].status()["version"] == "3", "the server to serve v3 as champion")
    assert verdict(url, "3")["verdict"] == "passed"
    events = wait_for(
        lambda: (
            (found := [e for e in audit.events("iris") if e.source == "canary" and e.version == "3"])
            and found[-1].action == "canary-promoted"
            and found
        ),
        "the canary-promoted audit event",
    )
    assert [e.action for e in events] == ["canary-started", "canary-step", "promote", "canary-promoted"]
    assert "step 1 at 20 % passed" in events[1].reason
    as_json = json.loads(cli("canary", "status", "iris", "--json").output)
    assert as_json[0]["analysis"]["state"] == "promoted" and as_json[0]["analysis"]["version"] == "3"


def test_cli_abort_and_promote_reach_the_running_server(canary) -> None:
    server = canary["server"]
    champion = registry.alias_holder("iris", "champion")
    registry.promote("iris", 4, "challenger", "canary test: to abort")
    analysis(canary, "4")
    aborted = cli("canary", "abort", "iris", "-m", "saw odd answers")
    assert aborted.exit_code == 0, aborted.output
    assert "canary of iris v4 aborted; 1 server(s) told" in aborted.output
    state = analysis(canary, "4", "aborted")
    assert state["share"] == 0 and "saw odd answers" in state["reason"]
    assert verdict(server.url, "4")["verdict"] == "failed"
    assert registry.alias_holder("iris", "champion") == champion
    again = cli("canary", "abort", "iris", "-m", "twice")
    assert again.exit_code == ExitCode.NOT_FOUND and "no running canary of 'iris'" in again.output

    registry.promote("iris", 5, "challenger", "canary test: to promote by hand")
    analysis(canary, "5")
    promoted = cli("canary", "promote", "iris", "-m", "looks right")
    assert promoted.exit_code == 0, promoted.output
    assert analysis(canary, "5", "promoted")["share"] == 0
    assert registry.alias_holder("iris", "champion") == "5"
    wait_for(lambda: server.status()["version"] == "5", "the server to serve v5 as champion")
    mine = [
        (e.action, e.reason) for e in audit.events("iris") if e.version in ("4", "5") and e.source == "canary"
    ]
    assert ("canary-aborted", "saw odd answers") in mine and ("canary-promoted", "looks right") in mine


def test_the_policy_blocks_a_promotion_whose_gates_are_missing(canary) -> None:
    pyproject = canary["root"] / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.nbops.policy]\nchampion = ["performance"]\n')
    champion = registry.alias_holder("iris", "champion")
    registry.promote("iris", 6, "challenger", "canary test: no gates")
    analysis(canary, "6")
    refused = cli("canary", "promote", "iris", "-m", "by hand")
    assert refused.exit_code == ExitCode.USAGE and refused.output.count("\n") == 1
    assert "required gates not passed: performance (not run)" in refused.output
    ended = drive(canary, "6", "blocked", rows=(0,))
    assert (
        ended["verdict"] == "failed"
        and ended["reason"] == "blocked by policy: missing gates performance (not run)"
    )
    assert registry.alias_holder("iris", "champion") == champion
    blocked = wait_for(lambda: audit.events("iris", "canary-blocked"), "the canary-blocked audit event")
    assert [(e.action, e.version) for e in blocked] == [("canary-blocked", "6")]


def test_get_canary_answers_the_analysis_template_and_refuses_bad_queries(canary) -> None:
    url = canary["server"].url
    champion = registry.alias_holder("iris", "champion")
    assert verdict(url, champion)["verdict"] == "passed"  # the champion's version has passed
    ended = verdict(url, "6")
    assert set(ended) >= {"verdict", "step", "rules"} and ended["verdict"] in ("running", "passed", "failed")
    missing = requests.get(f"{url}/nbops/canary", params={"model": "iris"}, timeout=10)
    assert missing.status_code == 400 and "version is missing" in missing.json()["message"]
    # A server running its own canary judges that one; a server with none judges from the store
    # (tests/test_canary_store.py). Another model is a 404 either way.
    other = requests.get(f"{url}/nbops/canary", params={"model": "iris", "version": "1"}, timeout=10)
    assert other.status_code == 404 and "runs no canary of iris version 1" in other.json()["message"]
    ghost = requests.get(f"{url}/nbops/canary", params={"model": "ghost", "version": "1"}, timeout=10)
    assert ghost.status_code == 404 and "not 'ghost'" in ghost.json()["message"]


def test_bad_canary_config_is_one_line(tmp_path, monkeypatch) -> None:
    """Refused at start-up, before any store is opened (so no backend to vary)."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    base = '[project]\nname = "demo"\n'
    cases = {
        "steps = [50, 10, 100]": "steps under [tool.nbops.canary] in",
        "rules = { error_rates = 0.1 }": "unknown canary rule 'error_rates'",
        "steps = [10, 150]": "150 % is out of range",
        "rules = { error_rate = 2 }": "canary rule error_rate under [tool.nbops.canary]",
        "min_request = 5": "unknown key 'min_request'",
    }
    for line, expected in cases.items():
        (project / "pyproject.toml").write_text(f"{base}\n[tool.nbops.canary]\n{line}\n")
        result = cli("serve", "ghost@champion", "--port", "0", "--canary", "challenger=10")
        assert result.exit_code == ExitCode.USAGE, result.output
        assert result.output.count("\n") == 1 and result.output.startswith("nbops: error: ")
        assert expected in result.output, result.output
