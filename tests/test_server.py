"""The REST face, served by a real Jupyter server with the nbops extension."""

import asyncio
import json
import os
import re
import signal
from pathlib import Path

import mlflow
import pytest
import yaml
from tornado.httpclient import HTTPClientError

import nbops
from nbops.server import API_PREFIX, ROUTES


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config["ServerApp"]["jpserver_extensions"]["nbops"] = True
    return jp_server_config


async def get_json(jp_fetch, *parts, **kwargs):
    response = await jp_fetch("nbops", "api", *parts, **kwargs)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def test_runs_lists_tracked_runs_newest_first(jp_fetch, tracking_uri) -> None:
    with nbops.track("first"):
        pass
    with pytest.raises(RuntimeError), nbops.track("second"):
        raise RuntimeError("boom")
    body = await get_json(jp_fetch, "runs")
    assert [(r["run_name"], r["status"]) for r in body["runs"]] == [
        ("second", "FAILED"),
        ("first", "FINISHED"),
    ]
    assert body["store"] == tracking_uri
    assert body["next_page_token"] is None
    assert body["runs"][0]["experiment_name"] == "Default"


async def test_runs_pages_with_a_token(jp_fetch, tracking_uri) -> None:
    for i in range(3):
        with nbops.track(f"r{i}"):
            pass
    first = await get_json(jp_fetch, "runs", params={"max_results": 2})
    second = await get_json(
        jp_fetch, "runs", params={"max_results": 2, "page_token": first["next_page_token"]}
    )
    assert [r["run_name"] for r in first["runs"] + second["runs"]] == ["r2", "r1", "r0"]


async def test_server_uses_the_embedded_store_of_its_root_dir(jp_fetch, jp_root_dir, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    body = await get_json(jp_fetch, "runs")
    assert body == {
        "runs": [],
        "next_page_token": None,
        "store": f"sqlite:///{Path(jp_root_dir).resolve() / '.nbops' / 'mlflow.db'}",
    }


async def test_status_names_the_store_without_its_password(jp_fetch, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://ml:hunter2@db:5432/mlflow")
    body = await get_json(jp_fetch, "status")
    assert body["version"] == nbops.__version__
    assert body["store"] == "postgresql://ml:***@db:5432/mlflow"
    assert body["store_source"] == "env"


@pytest.mark.parametrize("value", ["0", "abc", "100000"])
async def test_bad_page_size_is_a_400_with_a_message(jp_fetch, tracking_uri, value) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("nbops", "api", "runs", params={"max_results": value})
    assert info.value.code == 400
    body = json.loads(info.value.response.body)
    assert "max_results must be" in body["message"]
    assert "Traceback" not in info.value.response.body.decode()


async def test_garbage_page_token_is_a_400(jp_fetch, tracking_uri) -> None:
    with nbops.track("r"):
        pass
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("nbops", "api", "runs", params={"page_token": "not-a-token"})
    assert info.value.code == 400
    assert "start again from the first page" in json.loads(info.value.response.body)["message"]


async def test_broken_config_is_reported_not_crashed(jp_fetch, jp_root_dir, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (Path(jp_root_dir) / "pyproject.toml").write_text("[tool.nbops\n")
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("nbops", "api", "runs")
    assert info.value.code == 400
    assert "not valid TOML" in json.loads(info.value.response.body)["message"]


@pytest.mark.parametrize(("path", "_cls"), ROUTES)
async def test_every_route_refuses_requests_without_a_token(jp_fetch, tracking_uri, path, _cls) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("nbops", "api", path, headers={"Authorization": ""})
    assert info.value.code == 403


def test_every_route_is_documented_in_the_openapi_file() -> None:
    spec = yaml.safe_load((Path(nbops.__file__).parent / "server" / "openapi.yaml").read_text())
    documented = {p.strip("/") for p in spec["paths"]}
    served = {path for path, _ in ROUTES}
    assert served == documented
    assert spec["servers"][0]["url"] == "/" + API_PREFIX
    assert spec["info"]["version"] == nbops.__version__


def test_lab_extension_version_matches_the_python_package() -> None:
    package = json.loads((Path(__file__).parents[1] / "lab_extension" / "package.json").read_text())
    assert package["version"] == nbops.__version__
    assert re.fullmatch(r"\.\./python_pkg/nbops/labextension", package["jupyterlab"]["outputDir"])


def teardown_module() -> None:
    while mlflow.active_run():
        mlflow.end_run()


async def test_a_crashed_kernel_is_restarted_and_its_orphaned_run_marked_killed(
    jp_serverapp, tracking_uri
) -> None:
    from mlflow import MlflowClient

    from nbops import lineage, liveness

    manager = jp_serverapp.kernel_manager
    kernel_id = await manager.start_kernel(kernel_name="python3")
    client = manager.get_kernel(kernel_id).client()
    client.start_channels()
    await client.wait_for_ready(timeout=60)
    client.execute("%load_ext nbops")
    client.execute("%%track doomed\nimport time\nfor _ in range(600):\n    time.sleep(0.1)")
    store = MlflowClient(tracking_uri)

    async def poll(predicate, what: str):
        for _ in range(300):
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}")

    (run,) = await poll(lambda: store.search_runs(["0"], "attributes.status = 'RUNNING'"), "the run to start")
    assert run.data.tags[lineage.TAG_KERNEL] == kernel_id
    client.stop_channels()
    # The kernel dies without a chance to clean up; Jupyter's auto-restarter notices and restarts it.
    os.kill(manager.get_kernel(kernel_id).provisioner.process.pid, signal.SIGKILL)
    killed = await poll(
        lambda: (r := store.get_run(run.info.run_id)).info.status == "KILLED" and r, "the server to mark it"
    )
    assert "ended while the run was RUNNING" in killed.data.tags[liveness.KILLED_REASON_TAG]
    assert "nbops.error" not in killed.data.tags  # the run itself never saw an exception
    await manager.shutdown_kernel(kernel_id, now=True)
