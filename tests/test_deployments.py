"""Deployment records: which model servers run where, in the store, from Python, the CLI and REST."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_inference_log import wait_until
from test_server import assert_documented, error_of

from nbops.cli import main
from nbops.serving.deployments import end_deployment, heartbeat, list_deployments, register_deployment


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config["ServerApp"]["jpserver_extensions"]["nbops"] = True
    return jp_server_config


def start_server(model: str = "scorer", url: str = "http://127.0.0.1:5001", **kwargs) -> str:
    fields = {"alias": "champion", "version": "1", "canary": None, "shadow": None, **kwargs}
    return register_deployment(model=model, url=url, **fields)


def test_a_server_is_live_while_it_beats_and_stopped_once_it_ends(project: Path) -> None:
    first = start_server(canary={"challenger": 10}, shadow="shadowy")
    (found,) = list_deployments()
    assert found["id"] == first and found["status"] == "live"
    assert (found["model"], found["alias"], found["version"], found["url"]) == (
        "scorer",
        "champion",
        "1",
        "http://127.0.0.1:5001",
    )
    assert found["canary"] == {"challenger": 10} and found["shadow"] == "shadowy"
    assert (found["host"], found["pid"]) == (socket.gethostname(), str(os.getpid()))

    stats = {"logged_rows": 40, "dropped_rows": 0, "last_error": None}
    heartbeat(first, version="2", canary=None, stats=stats)  # the alias moved; the canary ended
    (found,) = list_deployments("scorer")
    assert found["version"] == "2" and found["canary"] == {} and found["stats"] == stats

    second = start_server("other", "http://127.0.0.1:5002")
    assert [d["id"] for d in list_deployments()] == [second, first]  # newest first
    assert [d["id"] for d in list_deployments("other")] == [second]

    end_deployment(first)
    assert [d["id"] for d in list_deployments()] == [second]
    ended = {d["id"]: d["status"] for d in list_deployments(stopped=True)}
    assert ended == {first: "stopped", second: "live"}


def test_a_server_that_stopped_beating_lists_as_stale(project: Path) -> None:
    with (project / "pyproject.toml").open("a") as f:
        f.write("\n[tool.nbops.serving]\nheartbeat_seconds = 0.05\n")
    silent = start_server()
    (found,) = list_deployments()
    assert found["heartbeat_seconds"] == 0.05 and found["stopped"] is None
    wait_until(lambda: list_deployments()[0]["status"] == "stale", "three missed heartbeats")
    assert list_deployments(stopped=True)[0]["id"] == silent  # still running as far as the store knows


def test_nbops_deployments_prints_the_servers_as_a_table_or_json(project: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["deployments"]).output == "no model servers running\n"
    start_server(canary={"challenger": 10})
    table = runner.invoke(main, ["deployments", "--model", "scorer"])
    assert table.exit_code == 0
    header, row = table.output.splitlines()
    assert header.split() == [
        "MODEL",
        "ALIAS",
        "VERSION",
        "CANARY",
        "SHADOW",
        "STATUS",
        "URL",
        "HOST:PID",
        "HEARTBEAT",
    ]
    assert row.split()[:8] == [
        "scorer",
        "champion",
        "v1",
        "challenger",
        "10%",
        "-",
        "live",
        "http://127.0.0.1:5001",
    ]
    (listed,) = json.loads(runner.invoke(main, ["deployments", "--json"]).output)
    assert listed["model"] == "scorer" and listed["status"] == "live"
    assert (
        runner.invoke(main, ["deployments", "--model", "nobody"]).output
        == "no model servers running for nobody\n"
    )


async def test_the_rest_api_lists_deployments_with_their_latest_stats(jp_fetch, tracking_uri) -> None:
    deployment = start_server()
    heartbeat(deployment, version="1", canary=None, stats={"logged_rows": 12, "last_error": None})
    response = await jp_fetch("nbops", "api", "deployments", params={"model": "scorer"})
    body = json.loads(response.body)
    assert_documented(("deployments",), "get", body)
    (found,) = body
    assert found["id"] == deployment and found["status"] == "live" and found["stats"]["logged_rows"] == 12
    empty = await jp_fetch("nbops", "api", "deployments", params={"model": "other"})
    assert json.loads(empty.body) == []
    code, error = await error_of(jp_fetch("nbops", "api", "deployments", params={"stopped": "yes"}))
    assert code == 400 and error["message"] == "stopped must be true or false, got 'yes'."
