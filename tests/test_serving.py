"""``nbops serve``: real servers on 127.0.0.1 in front of real registered models.

One server is shared by most tests (starting one costs seconds): it serves ``iris@champion`` with
a 30 % canary on ``challenger`` (a model that raises, or answers slowly for a negative first
feature) and a shadow on ``shadow`` (a model that sleeps, then raises), behind a bearer token and a
small body limit. Tests that need the champion pick request IDs whose hash sends them there. The
last test of that group stops it. One more test serves from the project's store on both backends.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cloudpickle
import mlflow
import pandas as pd
import pytest
import requests
from click.testing import CliRunner
from IPython.core.interactiveshell import InteractiveShell
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

import nbops
from nbops import registry, store
from nbops.cli import ExitCode, main
from nbops.serving import process, routing
from nbops.serving.deployments import list_deployments

TOKEN = "test-serving-token"
DEADLINE = 60.0


class Misbehaving(mlflow.pyfunc.PythonModel):
    """A challenger that raises (or, for a negative first feature, answers slowly) and a shadow that sleeps."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def predict(self, context, model_input, params=None):
        if self.mode == "shadow":
            time.sleep(0.2)
            raise RuntimeError("shadow-secret-detail")
        if float(model_input.iloc[0, 0]) < 0:
            Path(os.environ["NBOPS_TEST_SLOW_MARKER"]).touch()
            time.sleep(1.5)
            return [7] * len(model_input)
        raise RuntimeError("challenger-secret-detail")


cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the server process cannot import tests/


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    return load_iris(return_X_y=True, as_frame=True)


def champion_ids(count: int, prefix: str = "id") -> list[str]:
    """Request IDs the 30 % canary leaves to the champion."""
    found = (f"{prefix}-{i}" for i in range(100_000))
    return [rid for rid in found if routing.choose(rid, {"challenger": 30}) is None][:count]


def post(
    url: str, body, request_id: str | None = None, token: str | None = TOKEN, **headers
) -> requests.Response:
    headers = {"Content-Type": "application/json", **headers}
    if request_id:
        headers["X-Request-Id"] = request_id
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return requests.post(f"{url}/invocations", data=data, headers=headers, timeout=30)


def split(frame: pd.DataFrame) -> dict:
    return {"dataframe_split": frame.to_dict(orient="split")}


def wait_for(condition, what: str, deadline: float = DEADLINE):
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` after the deadline."""
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture(scope="module")
def shared(tmp_path_factory, new_store, iris) -> Iterator[dict]:
    """The shared server: a private SQLite project with five versions of ``iris``."""
    root = tmp_path_factory.mktemp("serving") / "project"
    root.mkdir()
    new_store(root / ".nbops")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "serving"\n\n[tool.nbops.serving]\nmax_body_bytes = 4096\n'
        "poll_seconds = 0.2\nheartbeat_seconds = 0.5\nbatch_rows = 50\nbatch_seconds = 1.0\n"
    )
    X, y = iris
    marker = root / "slow-request-started"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.setenv("NBOPS_SERVE_TOKEN", TOKEN)
        patch.setenv("NBOPS_TEST_SLOW_MARKER", str(marker))
        patch.chdir(root)
        fitted = LogisticRegression(max_iter=500).fit(X, y)
        registry.register(fitted, "iris", data=X, alias="champion")  # v1
        registry.register(Misbehaving("challenger"), "iris", alias="challenger")  # v2
        registry.register(Misbehaving("shadow"), "iris", alias="shadow")  # v3
        other = DecisionTreeClassifier(max_depth=1).fit(X, y)
        registry.register(other, "iris", data=X)  # v4
        registry.register(fitted, "iris", data=X)  # v5, made unloadable by a test
        server = nbops.serve("iris@champion", canary={"challenger": 30}, shadow="shadow", start=root)
        try:
            yield {"root": root, "server": server, "X": X, "fitted": fitted, "other": other, "marker": marker}
        finally:
            server.stop()
            from backends import forget_process_state

            forget_process_state()


shared_store_only = pytest.mark.sqlite_only(reason="the shared server runs on its own SQLite store")


@shared_store_only
def test_every_answer_names_its_version_and_request_id(shared) -> None:
    url, X = shared["server"].url, shared["X"]
    ping = requests.get(f"{url}/ping", timeout=10)  # probes need no token
    assert ping.status_code == 200 and ping.headers["X-Nbops-Model-Version"] == "1"
    assert len(ping.headers["X-Request-Id"]) == 32
    (rid,) = champion_ids(1)
    answer = post(url, split(X.head(3)), request_id=rid)
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Request-Id"] == rid and answer.headers["X-Nbops-Model-Version"] == "1"
    assert answer.json()["predictions"] == shared["fitted"].predict(X.head(3)).tolist()
    fresh = post(url, {"dataframe_records": X.head(1).to_dict(orient="records")})
    assert int(fresh.headers["X-Request-Id"], 16) and len(fresh.headers["X-Request-Id"]) == 32


@shared_store_only
def test_canary_share_is_binomial_and_sticky_and_a_raising_model_is_a_clean_500(shared) -> None:
    url, row = shared["server"].url, split(shared["X"].head(1))
    versions = {}
    with requests.Session() as session:
        for i in range(400):
            answer = session.post(
                f"{url}/invocations",
                data=json.dumps(row),
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {TOKEN}",
                    "X-Request-Id": f"c-{i}",
                },
                timeout=30,
            )
            versions[f"c-{i}"] = answer.headers["X-Nbops-Model-Version"]
            if versions[f"c-{i}"] == "2":
                assert answer.status_code == 500
                assert answer.json()["error_code"] == "INTERNAL_ERROR"
                assert "Traceback" not in answer.text and "secret" not in answer.text
            else:
                assert answer.status_code == 200, answer.text
    share = sum(v == "2" for v in versions.values())
    assert abs(share - 120) <= 4 * math.sqrt(400 * 0.3 * 0.7)
    for rid in ("c-0", "c-1", "c-2", "c-3"):  # the same ID lands on the same version every time
        assert {post(url, row, request_id=rid).headers["X-Nbops-Model-Version"] for _ in range(3)} == {
            versions[rid]
        }


@shared_store_only
def test_a_shadow_that_raises_or_sleeps_never_changes_the_champions_answer(shared) -> None:
    server, X = shared["server"], shared["X"]
    settled = lambda: (s := server.status()["shadow_copies"])["in_flight"] == 0 and s  # noqa: E731
    before = wait_for(settled, "earlier shadow copies to finish")
    expected = shared["fitted"].predict(X.head(2)).tolist()
    for rid in champion_ids(12, "shadow"):
        answer = post(server.url, split(X.head(2)), request_id=rid)
        assert (answer.status_code, answer.json()["predictions"]) == (200, expected)
        assert answer.headers["X-Nbops-Model-Version"] == "1"
    copies = wait_for(settled, "the shadow copies to finish")
    assert copies["sent"] + copies["dropped"] - before["sent"] - before["dropped"] >= 12
    assert copies["failed"] - before["failed"] == copies["sent"] - before["sent"] > 0


@shared_store_only
def test_token_body_limit_and_bad_input_answer_4xx_json(shared) -> None:
    url, X = shared["server"].url, shared["X"]
    (rid,) = champion_ids(1, "limits")
    for token in (None, "wrong"):
        refused = post(url, split(X.head(1)), request_id=rid, token=token)
        assert refused.status_code == 401 and refused.json()["error_code"] == "UNAUTHENTICATED"
        assert refused.headers["X-Nbops-Model-Version"] == "1" and refused.headers["X-Request-Id"] == rid
    too_big = post(url, split(pd.concat([X] * 4)), request_id=rid)
    assert too_big.status_code == 413 and "4096 bytes" in too_big.json()["message"]
    malformed = post(url, "{not json", request_id=rid)
    assert malformed.status_code == 400 and malformed.json()["error_code"] == "BAD_REQUEST"
    missing = post(url, split(X.head(1).drop(columns=X.columns[0])), request_id=rid)
    assert missing.status_code == 400 and "error_code" in missing.json()
    assert "Traceback" not in missing.text


@shared_store_only
def test_the_server_follows_promote_and_rollback_without_a_failed_request(shared) -> None:
    server, X = shared["server"], shared["X"]
    seen: list[tuple[int, str]] = []
    stop = threading.Event()

    def client() -> None:
        with requests.Session() as session:
            for rid in champion_ids(100_000, "follow"):
                if stop.is_set():
                    return
                answer = session.post(
                    f"{server.url}/invocations",
                    data=json.dumps(split(X.head(2))),
                    headers={
                        "Content-Type": "application/json",
                        "Authorization": f"Bearer {TOKEN}",
                        "X-Request-Id": rid,
                    },
                    timeout=30,
                )
                seen.append((answer.status_code, answer.headers.get("X-Nbops-Model-Version", "")))

    thread = threading.Thread(target=client)
    thread.start()
    try:
        wait_for(lambda: len(seen) > 5, "the first answers")
        registry.promote("iris", 4, "champion", "serving test: promote")
        wait_for(lambda: seen[-1][1] == "4", "answers from version 4")
        registry.rollback("iris", "champion", "serving test: roll back")
        wait_for(lambda: seen[-1][1] == "1", "answers from version 1 again")
        count = len(seen)
        wait_for(lambda: len(seen) > count + 5, "answers after the rollback")
    finally:
        stop.set()
        thread.join()
    assert {status for status, _ in seen} == {200}
    order = [v for i, (_, v) in enumerate(seen) if i == 0 or seen[i - 1][1] != v]
    assert order == ["1", "4", "1"]
    assert [s["to"] for s in server.status()["swaps"] if s["alias"] == "champion"][-2:] == ["4", "1"]


@shared_store_only
def test_a_version_that_cannot_load_leaves_the_old_one_serving(shared) -> None:
    server, X = shared["server"], shared["X"]
    client = store.client(shared["root"])
    source = client.get_model_version_download_uri("iris", "5")
    (Path(source.removeprefix("file://")) / "MLmodel").unlink()
    registry.promote("iris", 5, "champion", "serving test: a broken version")
    try:
        failure = wait_for(lambda: server.status()["failures"], "the failure in status()")
        assert (failure[0]["alias"], failure[0]["version"], failure[0]["serving"]) == ("champion", "5", "1")
        (rid,) = champion_ids(1, "broken")
        answer = post(server.url, split(X.head(1)), request_id=rid)
        assert (answer.status_code, answer.headers["X-Nbops-Model-Version"]) == (200, "1")
    finally:
        registry.rollback("iris", "champion", "serving test: back from the broken version")
    wait_for(lambda: not server.status()["failures"], "the failure to clear once the alias is back")


@shared_store_only
def test_stop_finishes_requests_in_flight_and_leaves_no_process(shared) -> None:
    server, X = shared["server"], shared["X"]
    slow_id = next(f"slow-{i}" for i in range(1000) if routing.choose(f"slow-{i}", {"challenger": 30}))
    row = X.head(1).copy()
    row.iloc[0, 0] = -1.0
    answers: list[requests.Response] = []
    thread = threading.Thread(target=lambda: answers.append(post(server.url, split(row), request_id=slow_id)))
    thread.start()
    wait_for(shared["marker"].exists, "the slow request to reach the model")
    status = server.status()
    deployment = status["deployment_id"]
    assert status["inference_log"]["logged_rows"] + status["inference_log"]["pending_rows"] > 400
    beat = wait_for(
        lambda: [d for d in list_deployments("iris", shared["root"]) if d["stats"].get("logged_rows")],
        "a heartbeat carrying the inference log's counters",
    )
    assert (beat[0]["id"], beat[0]["canary"], beat[0]["shadow"]) == (deployment, {"challenger": 30}, "shadow")
    assert server.stop() == 0
    thread.join()
    assert (answers[0].status_code, answers[0].json()["predictions"]) == (200, [7])
    assert group_gone(server.pid)
    (record,) = [d for d in list_deployments("iris", shared["root"], stopped=True) if d["id"] == deployment]
    assert record["status"] == "stopped"
    # The request that was in flight at the stop is in the inference log the stop flushed.
    assert slow_id in logged_request_ids(shared["root"], "iris", answers[0].headers["X-Nbops-Model-Version"])


def logged_request_ids(root: Path, name: str, version: str) -> set[str]:
    """The request IDs in every ``inference/batch-<n>.jsonl`` of the version's monitoring run."""
    from nbops.monitoring.runs import monitoring_run_id

    client = store.client(root)
    run_id = monitoring_run_id(name, version, root, create=False)
    found: set[str] = set()
    with tempfile.TemporaryDirectory() as folder:
        for item in client.list_artifacts(run_id, "inference") if run_id else []:
            if Path(item.path).name.startswith("batch-"):
                lines = Path(client.download_artifacts(run_id, item.path, folder)).read_text().splitlines()
                found |= {json.loads(line)["request_id"] for line in lines if line}
    return found


def test_serve_magic_from_the_project_store_logs_requests_and_records_the_deployment(
    project, iris, monkeypatch, capsys
) -> None:
    monkeypatch.delenv("NBOPS_SERVE_TOKEN", raising=False)  # (the shared server's, if it ran first)
    X, y = iris
    registry.register(LogisticRegression(max_iter=500).fit(X, y), "flowers", data=X, alias="champion")
    shell = InteractiveShell.instance()
    shell.run_line_magic("reload_ext", "nbops")
    server = shell.run_line_magic("serve", "flowers@champion --name flowers")
    try:
        shell.run_line_magic("serve", "--list")
        assert f"flowers: flowers@champion at {server.url}" in capsys.readouterr().out
        answer = post(server.url, split(X.head(4)), request_id="from-the-store", token=None)
        assert answer.status_code == 200 and answer.headers["X-Nbops-Model-Version"] == "1"
        (record,) = list_deployments("flowers")
        assert (record["id"], record["url"], record["status"]) == (
            server.status()["deployment_id"],
            server.url,
            "live",
        )
    finally:
        shell.run_line_magic("serve", "--stop flowers")
    assert "stopped flowers (exit code 0)" in capsys.readouterr().out
    assert group_gone(server.pid) and nbops.serving.servers() == []
    assert list_deployments("flowers") == []
    assert [d["status"] for d in list_deployments("flowers", stopped=True)] == ["stopped"]
    history = nbops.monitoring.series("flowers", 1)  # the inference log closed its batch on the way out
    assert [point["value"] for point in history["batch.rows"]] == [4]


@pytest.mark.sqlite_only(reason="argument checks stop before any store is used")
def test_cli_refuses_bad_arguments_in_one_line(project) -> None:
    runner = CliRunner()
    for args, code in (
        (["serve", "no-alias"], ExitCode.USAGE),
        (["serve", "m@champion", "--canary", "challenger=150"], ExitCode.USAGE),
        (["serve", "m@champion", "--canary", "challenger"], ExitCode.USAGE),
        (["serve", "ghost@champion", "--port", "0"], ExitCode.NOT_FOUND),
    ):
        result = runner.invoke(main, args)
        assert result.exit_code == code, result.output
        assert result.output.count("\n") == 1 and result.output.startswith("nbops: error: ")


def test_routing_is_stable_and_a_public_address_without_token_warns() -> None:
    assert routing.bucket("abc") == routing.bucket("abc") and 0 <= routing.bucket("abc") < routing.BUCKETS
    ids = [f"r{i}" for i in range(2000)]
    picks = [routing.choose(i, {"a": 10, "b": 20}) for i in ids]
    assert {p for p in picks} == {"a", "b", None}
    assert all((p == "a") == (routing.bucket(i) < 1000) for i, p in zip(ids, picks, strict=True))
    assert process.exposure_warning("127.0.0.1", None) is None
    assert process.exposure_warning("0.0.0.0", "secret") is None
    assert "NBOPS_SERVE_TOKEN" in process.exposure_warning("0.0.0.0", None)
