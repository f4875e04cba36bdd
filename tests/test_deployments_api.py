"""The sidebar's Deployments section over REST: a server's traffic over time, ending its canary, and
the image and manifests recorded on a version; served by a real Jupyter server with nbops.

The server and its canary are records in the store written by the core functions ``nbops serve``
uses (``register_deployment``, ``heartbeat``, ``log_batch``): no model server is started.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from lab_server import with_nbops_as_alice
from mlflow import MlflowClient
from test_server import assert_documented
from tornado.httpclient import HTTPClientError

from nbops import audit
from nbops.monitoring.batches import log_batch
from nbops.serving.canary_records import COMMAND_TAG
from nbops.serving.deployments import heartbeat, register_deployment

POLICY = '[tool.nbops.policy]\nchampion = ["performance", "fairness"]\n'


@pytest.fixture
def jp_server_config(jp_server_config):
    return with_nbops_as_alice(jp_server_config)


async def get_json(jp_fetch, *parts, **kwargs):
    response = await jp_fetch("nbops", "api", *parts, **kwargs)
    body = json.loads(response.body)
    assert_documented(parts, "get", body)
    return body


async def post(jp_fetch, *parts, body: dict) -> tuple[int, dict]:
    try:
        response = await jp_fetch("nbops", "api", *parts, method="POST", body=json.dumps(body))
    except HTTPClientError as exc:
        return exc.code, json.loads(exc.response.body)
    answer = json.loads(response.body)
    assert_documented(parts, "post", answer)
    return response.code, answer


def canary_state(deployment_id: str, state: str = "running") -> dict:
    """The state ``CanaryAnalysis.snapshot`` writes: v2 (challenger) at 10 % against v1."""
    side = {"requests": 40, "errors": 0, "error_rate": 0.0, "latency_p95_ms": 12.0}
    return {
        "model": "shop", "deployment_id": deployment_id, "alias": "challenger", "version": "2",
        "champion_alias": "champion", "champion_version": "1", "state": state,
        "verdict": "running", "reason": "step 1: 40 challenger and 40 champion requests of 50 needed",
        "step": 1, "steps": [10, 50], "share": 10, "min_requests": 50,
        "requests": {"champion": side, "challenger": side},
        "rules": [{"rule": "error_rate", "value": 0.0, "limit": 0.05, "passed": True, "note": "vs champion"},
                  {"rule": "latency_p95", "value": None, "limit": 1.5, "passed": None, "note": "waiting"}],
        "updated": "2026-11-29T21:00:00Z",
    }  # fmt: skip


@pytest.fixture
def served(tracking_uri: str) -> dict:
    """``shop`` v1 as champion, v2 as challenger at 10 %, a live server of them and two batches each."""
    client = MlflowClient(tracking_uri)
    client.create_registered_model("shop")
    for _ in range(2):
        client.create_model_version("shop", "s3://nowhere/model")
    client.set_registered_model_alias("shop", "champion", "1")
    client.set_registered_model_alias("shop", "challenger", "2")
    deployment = register_deployment(
        model="shop", alias="champion", url="http://127.0.0.1:5001", version="1",
        canary={"challenger": 10}, shadow=None,
    )  # fmt: skip
    began = float(client.get_run(deployment).data.tags["nbops.deployment.started"])
    features = pd.DataFrame({"x": [0.1, 0.2, 0.3, 0.4]})
    for minute, version, errors in ((1, "1", 0), (2, "1", 1), (1, "2", 4), (3, "2", 0)):
        when = datetime.fromtimestamp(began + 60 * minute, UTC)
        log_batch(f"shop/{version}", features, latency_ms=[10.0] * 4, errors=errors, timestamp=when)
    before = datetime.fromtimestamp(began - 600, UTC)  # another server's batch, before this one started
    log_batch("shop/1", features, latency_ms=[99.0], timestamp=before)
    return {"id": deployment, "client": client}


def live_canary(served: dict, state: str = "running") -> None:
    """A fresh heartbeat carrying the canary's state, as the server writes it."""
    heartbeat(
        served["id"],
        version="1",
        canary={"challenger": 10},
        stats={},
        canary_analysis=canary_state(served["id"], state),
    )


async def test_traffic_gives_rate_latency_and_errors_per_batch_since_the_server_started(
    jp_fetch, served
) -> None:
    live_canary(served)
    body = await get_json(jp_fetch, "deployments", served["id"], "traffic")
    assert (body["model"], body["alias"], body["stopped"]) == ("shop", "champion", None)
    assert body["versions"] == [{"version": "1", "role": "champion"}, {"version": "2", "role": "canary"}]
    rows = [
        (p["version"], p["role"], p["rows"], p["requests_per_minute"], p["error_rate"])
        for p in body["points"]
    ]
    assert rows == [
        ("1", "champion", 4, pytest.approx(4.0), 0.0),  # 4 rows in the minute since the start
        ("1", "champion", 5, pytest.approx(5.0), pytest.approx(1 / 5)),
        ("2", "canary", 8, pytest.approx(8.0), pytest.approx(4 / 8)),
        ("2", "canary", 4, pytest.approx(2.0), 0.0),  # two minutes after its previous batch
    ]
    assert [p["p95_ms"] for p in body["points"]] == [pytest.approx(10.0)] * 4  # the 99 ms batch came before
    canary = body["canary"]
    assert (canary["state"], canary["step"], canary["share"], canary["version"]) == ("running", 1, 10, "2")
    assert [r["passed"] for r in canary["rules"]] == [True, None]


async def test_traffic_of_an_unknown_or_foreign_id_is_a_404(jp_fetch, served) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("nbops", "api", "deployments", "0123456789abcdef0123456789abcdef", "traffic")
    assert info.value.code == 404
    some_run = served["client"].create_run("0").info.run_id  # a run, but not a deployment
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("nbops", "api", "deployments", some_run, "traffic")
    assert info.value.code == 404 and "no deployment" in json.loads(info.value.response.body)["message"]


async def test_promote_canary_is_refused_with_the_missing_gates_while_the_policy_requires_them(
    jp_fetch, served, jp_root_dir
) -> None:
    (Path(jp_root_dir) / "pyproject.toml").write_text(POLICY)
    live_canary(served)
    code, body = await post(jp_fetch, "models", "shop", "canary", "promote", body={"reason": "looks good"})
    assert code == 409 and body["error"] == "PolicyError"
    assert body["missing_gates"] == ["performance", "fairness"] and "abort the canary" in body["message"]
    assert str(served["client"].get_registered_model("shop").aliases["champion"]) == "1"
    assert COMMAND_TAG not in served["client"].get_run(served["id"]).data.tags
    assert audit.events(model="shop") == []


async def test_promote_canary_moves_the_champion_and_tells_the_server_audited_like_the_cli(
    jp_fetch, served
) -> None:
    live_canary(served)
    code, body = await post(jp_fetch, "models", "shop", "canary", "promote", body={"reason": "looks good"})
    assert code == 200, body
    assert (body["state"], body["version"], body["servers"]) == ("promoted", "2", [served["id"]])
    assert str(served["client"].get_registered_model("shop").aliases["champion"]) == "2"
    command = json.loads(served["client"].get_run(served["id"]).data.tags[COMMAND_TAG])
    assert (command["action"], command["version"], command["reason"]) == ("promoted", "2", "looks good")
    events = [(e.action, e.version, e.alias, e.source, e.reason, e.actor) for e in audit.events(model="shop")]
    assert events == [  # the Jupyter user is the actor, as for the sidebar's other actions
        ("promote", "2", "champion", "canary", "looks good", "alice"),
        ("canary-promoted", "2", "challenger", "canary", "looks good", "alice"),
    ]
    assert command["actor"] == "alice"


async def test_abort_canary_tells_the_server_and_is_audited_and_needs_a_running_canary(
    jp_fetch, served
) -> None:
    code, body = await post(jp_fetch, "models", "shop", "canary", "abort", body={"reason": "too slow"})
    assert code == 404 and "no running canary" in body["message"]  # no canary state recorded yet
    live_canary(served)
    code, body = await post(jp_fetch, "models", "shop", "canary", "abort", body={"reason": "too slow"})
    assert code == 200 and (body["state"], body["verdict"]) == ("aborted", "failed")
    assert json.loads(served["client"].get_run(served["id"]).data.tags[COMMAND_TAG])["action"] == "aborted"
    (event,) = audit.events(model="shop")
    assert (event.action, event.version, event.reason, event.details["share"], event.actor) == (
        "canary-aborted", "2", "too slow", "10", "alice",
    )  # fmt: skip
    assert str(served["client"].get_registered_model("shop").aliases["champion"]) == "1"
    code, body = await post(jp_fetch, "models", "shop", "canary", "abort", body={})
    assert code == 400 and "reason is required" in body["message"]


async def test_a_version_shows_the_image_it_was_built_as_and_its_manifests(jp_fetch, tracking_uri) -> None:
    client = MlflowClient(tracking_uri)
    client.create_registered_model("shop")
    for _ in range(2):
        client.create_model_version("shop", "s3://nowhere/model")
    tags = {
        "nbops.deploy.image": "registry.example.com/shop:v1",
        "nbops.deploy.image_digest": "sha256:" + "c" * 64,
        "nbops.deploy.image_id": "sha256:" + "d" * 64,
        "nbops.deploy.manifests": "rollouts /srv/gitops/shop",
    }
    for key, value in tags.items():
        client.set_model_version_tag("shop", "1", key, value)
    one = await get_json(jp_fetch, "models", "shop", "versions", "1")
    assert one["deploy"] == {
        "image": "registry.example.com/shop:v1",
        "image_digest": "sha256:" + "c" * 64,
        "image_id": "sha256:" + "d" * 64,
        "manifests": {"target": "rollouts", "folder": "/srv/gitops/shop"},
    }
    assert (await get_json(jp_fetch, "models", "shop", "versions", "2"))["deploy"] is None


def test_the_detail_reads_the_tags_deploy_writes() -> None:
    from nbops import version_detail
    from nbops.deploy import image, manifests

    assert (
        version_detail.DEPLOY_IMAGE_TAG,
        version_detail.DEPLOY_DIGEST_TAG,
        version_detail.DEPLOY_IMAGE_ID_TAG,
        version_detail.DEPLOY_MANIFESTS_TAG,
    ) == (image.TAG_IMAGE, image.TAG_DIGEST, image.TAG_IMAGE_ID, manifests.MANIFESTS_TAG)


def test_the_served_state_is_what_a_running_server_writes() -> None:
    """The canary state used above has every field the server's snapshot has (no drift between them)."""
    from nbops.serving.canary import CanaryAnalysis
    from nbops.serving.canary_config import CanarySettings

    engine = type("Engine", (), {"name": "shop", "alias": "champion", "canary": {"challenger": 10},
                                 "deployment_id": "d", "slots": {}})()  # fmt: skip
    analysis = CanaryAnalysis(engine, "challenger", CanarySettings())
    assert set(analysis.snapshot()) == set(canary_state("d"))
