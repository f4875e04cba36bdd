"""The REST face, served by a real Jupyter server with the nbops extension."""

import asyncio
import json
import os
import re
import signal
import threading
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from lab_server import with_nbops_as_alice
from mlflow import MlflowClient
from tornado.httpclient import HTTPClientError

import nbops
from nbops import audit, catalog, registry
from nbops.server import API_PREFIX, ROUTES, route_pattern
from nbops.server.store_threads import STORE_THREADS

POLICY = '[tool.nbops.policy]\nchampion = ["performance", "fairness"]\n'


@pytest.fixture
def jp_server_config(jp_server_config):
    return with_nbops_as_alice(jp_server_config)


SPEC = yaml.safe_load((Path(nbops.__file__).parent / "server" / "openapi.yaml").read_text())


def _as_json_schema(node):
    """OpenAPI 3.0 schema → JSON Schema; objects are closed, so every field served is documented."""
    if isinstance(node, list):
        return [_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    schema = {key: _as_json_schema(value) for key, value in node.items() if key != "example"}
    if "properties" in schema and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    if schema.pop("nullable", False):
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def assert_documented(parts: tuple[str, ...], method: str, body) -> None:
    """``body`` matches what openapi.yaml promises for a 200 of this route: the sidebar is written against it."""
    import jsonschema

    path = "/".join(parts)
    (template,) = [t for t, _ in ROUTES if re.fullmatch(route_pattern(t), path)]
    schema = SPEC["paths"]["/" + template][method]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    document = _as_json_schema({"allOf": [schema], "components": SPEC["components"]})
    jsonschema.Draft7Validator(document).validate(body)


async def get_json(jp_fetch, *parts, **kwargs):
    response = await jp_fetch("nbops", "api", *parts, **kwargs)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = json.loads(response.body)
    assert_documented(parts, "get", body)
    return body


async def post_json(jp_fetch, *parts, body: dict):
    response = await jp_fetch("nbops", "api", *parts, method="POST", body=json.dumps(body))
    assert response.code == 200
    answer = json.loads(response.body)
    assert_documented(parts, "post", answer)
    return answer


async def error_of(request) -> tuple[int, dict]:
    """Status and JSON body of a request that must fail."""
    with pytest.raises(HTTPClientError) as info:
        await request
    body = info.value.response.body.decode()
    assert "Traceback" not in body
    return info.value.code, json.loads(body)


def add_model(client: MlflowClient, name: str, versions: int = 1, **tags_by_version: dict) -> None:
    client.create_registered_model(name)
    for _ in range(versions):
        client.create_model_version(name, "s3://nowhere/model")
    for version, tags in tags_by_version.items():
        for key, value in tags.items():
            client.set_model_version_tag(name, version.removeprefix("v"), key, value)


def gate(result: str) -> str:
    return f"{result} 0123456789abcdef0123456789abcdef 2026-02-03T04:05:06Z"


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


def handler_methods(cls: type) -> set[str]:
    """The HTTP methods a handler serves: defined by it or by an nbops handler it extends."""
    ours = [k for k in cls.__mro__ if k.__module__ == cls.__module__]
    return {m for m in ("get", "post", "put", "patch", "delete") if any(m in vars(k) for k in ours)}


def test_every_route_and_method_is_documented_in_the_openapi_file() -> None:
    spec = yaml.safe_load((Path(nbops.__file__).parent / "server" / "openapi.yaml").read_text())
    documented = {p.strip("/"): set(operations) - {"parameters"} for p, operations in spec["paths"].items()}
    served = {path: handler_methods(cls) for path, cls in ROUTES}
    assert served == documented
    assert spec["servers"][0]["url"] == "/" + API_PREFIX
    assert spec["info"]["version"] == nbops.__version__
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method != "parameters":
                assert "403" in operation["responses"], f"{method} {path} does not document 403"
                if path != "/status":  # every other route reads the store (and needs MLflow)
                    assert "503" in operation["responses"], f"{method} {path} does not document 503"


# --- models, versions, one version ---------------------------------------------------------------


async def test_models_lists_a_page_with_aliases_gates_policy_and_the_total(
    jp_fetch, tracking_uri, jp_root_dir
) -> None:
    (Path(jp_root_dir) / "pyproject.toml").write_text(POLICY)
    client = MlflowClient(tracking_uri)
    add_model(client, "churn", 2, v2={"nbops.gate.performance": gate("passed")})
    client.set_registered_model_alias("churn", "champion", "2")
    add_model(client, "fraud", 1)
    add_model(client, "zeta", 3)

    first = await get_json(jp_fetch, "models", params={"max_results": 2})
    assert first["total"] == 3 and [m["name"] for m in first["models"]] == ["churn", "fraud"]
    churn = first["models"][0]
    assert churn["aliases"] == {"champion": "2"}
    assert (churn["latest_version"], churn["versions_count"], churn["open_alerts"]) == ("2", 2, 0)
    assert churn["gates"] == {"2": {"performance": "passed"}}
    assert churn["required_gates"] == {"champion": ["performance", "fairness"]}
    assert isinstance(churn["updated"], int)
    second = await get_json(
        jp_fetch, "models", params={"max_results": 2, "page_token": first["next_page_token"]}
    )
    assert [m["name"] for m in second["models"]] == ["zeta"] and second["next_page_token"] is None
    assert second["total"] == 3
    found = await get_json(jp_fetch, "models", params={"filter": "RAU"})
    assert [m["name"] for m in found["models"]] == ["fraud"] and found["total"] == 1


async def test_readiness_scores_each_model_with_its_next_steps_and_the_project_level(
    jp_fetch, tracking_uri
) -> None:
    client = MlflowClient(tracking_uri)
    add_model(client, "churn", 1, v1={"nbops.gate.data_validation": gate("passed")})
    add_model(client, "fraud", 1)

    body = await get_json(jp_fetch, "readiness")
    assert body["schema"] == "nbops.assess/1"
    assert [m["model"] for m in body["models"]] == ["churn", "fraud"]
    churn = body["models"][0]
    (data_1,) = [t for t in churn["tests"] if t["id"] == "data-1"]
    assert (data_1["status"], data_1["points"]) == ("by hand", 0.5)
    assert data_1["next_step"] and "champion" in data_1["next_step"]
    assert body["project"]["level"] and body["project"]["score"] == min(m["score"] for m in body["models"])

    one = await get_json(jp_fetch, "readiness", params={"model": "fraud"})
    assert [m["model"] for m in one["models"]] == ["fraud"]
    code, answer = await error_of(jp_fetch("nbops", "api", "readiness", params={"model": "nobody"}))
    assert code == 404 and "nobody" in answer["message"]


async def test_versions_and_one_version_in_detail(jp_fetch, tracking_uri, jp_root_dir) -> None:
    (Path(jp_root_dir) / "pyproject.toml").write_text(POLICY)
    client = MlflowClient(tracking_uri)
    with nbops.track("train") as run:
        nbops.log_metric("accuracy", 0.91)
    client.create_registered_model("churn")
    client.create_model_version("churn", "s3://nowhere/model", run_id=run.info.run_id, description="v1")
    client.create_model_version("churn", "s3://nowhere/model", run_id=run.info.run_id)
    client.set_model_version_tag("churn", "1", "nbops.gate.performance", gate("passed"))
    client.set_registered_model_alias("churn", "champion", "1")

    page = await get_json(jp_fetch, "models", "churn", "versions", params={"max_results": 1})
    assert page["total"] == 2 and page["next_page_token"]
    (newest,) = page["versions"]
    assert (newest["version"], newest["aliases"], newest["run_id"]) == ("2", [], run.info.run_id)
    rest = await get_json(
        jp_fetch, "models", "churn", "versions", params={"page_token": page["next_page_token"]}
    )
    assert [(v["version"], v["aliases"], v["gates"]) for v in rest["versions"]] == [
        ("1", ["champion"], {"performance": "passed"})
    ]

    detail = await get_json(jp_fetch, "models", "churn", "versions", "1")
    assert detail["aliases"] == ["champion"] and detail["description"] == "v1"
    assert detail["metrics"] == {"accuracy": 0.91}
    assert detail["gates"]["performance"] == {
        "result": "passed",
        "run_id": "0123456789abcdef0123456789abcdef",
        "time": "2026-02-03T04:05:06Z",
    }
    assert detail["policy"] == {
        "champion": {"required": ["performance", "fairness"], "missing": ["fairness"]}
    }
    assert detail["lineage"]["source_run"]["run_name"] == "train"
    assert "<h1>Model card: churn version 1</h1>" in detail["card_html"]


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (("models", "nope", "versions"), "no registered model named 'nope'"),
        (("models", "nope", "versions", "1"), "no registered model named 'nope'"),
        (("models", "churn", "versions", "9"), "has no version 9"),
    ],
)
async def test_unknown_models_and_versions_are_404s(jp_fetch, tracking_uri, parts, message) -> None:
    add_model(MlflowClient(tracking_uri), "churn")
    code, body = await error_of(jp_fetch("nbops", "api", *parts))
    assert code == 404 and message in body["message"] and body["error"] == "NotFound"


# --- alias changes and the audit log -------------------------------------------------------------


async def test_promote_and_rollback_from_the_sidebar_are_audited_as_the_jupyter_user(
    jp_fetch, tracking_uri, jp_root_dir
) -> None:
    add_model(MlflowClient(tracking_uri), "churn", 2)
    first = await post_json(
        jp_fetch, "models", "churn", "promote", body={"version": "1", "alias": "champion", "reason": "first"}
    )
    assert (first["from_version"], first["to_version"], first["aliases"]) == (None, "1", {"champion": "1"})
    second = await post_json(
        jp_fetch, "models", "churn", "promote", body={"version": 2, "alias": "champion", "reason": "better"}
    )
    assert second["aliases"] == {"champion": "2"}
    back = await post_json(
        jp_fetch, "models", "churn", "rollback", body={"alias": "champion", "reason": "v2 drifts"}
    )
    assert (back["from_version"], back["to_version"], back["aliases"]) == ("2", "1", {"champion": "1"})

    log = await get_json(jp_fetch, "audit", params={"model": "churn", "max_results": 2})
    assert log["total"] == 3
    assert [(e["action"], e["actor"], e["source"], e["reason"]) for e in log["events"]] == [
        ("rollback", "alice", "sidebar", "v2 drifts"),
        ("promote", "alice", "sidebar", "better"),
    ]
    assert log["events"][0]["summary"].startswith(f"#{log['events'][0]['seq']} ")
    rest = await get_json(jp_fetch, "audit", params={"model": "churn", "page_token": log["next_page_token"]})
    assert [e["reason"] for e in rest["events"]] == ["first"] and rest["next_page_token"] is None


async def test_a_promotion_the_policy_refuses_is_a_409_naming_the_missing_gates(
    jp_fetch, tracking_uri, jp_root_dir
) -> None:
    (Path(jp_root_dir) / "pyproject.toml").write_text(POLICY)
    client = MlflowClient(tracking_uri)
    add_model(
        client,
        "churn",
        1,
        v1={"nbops.gate.performance": gate("passed"), "nbops.gate.fairness": gate("failed")},
    )
    request = {"version": "1", "alias": "champion", "reason": "ship it"}
    code, body = await error_of(
        jp_fetch("nbops", "api", "models", "churn", "promote", method="POST", body=json.dumps(request))
    )
    assert code == 409 and body["error"] == "PolicyError"
    assert body["missing_gates"] == ["fairness"] and "fairness (failed)" in body["message"]
    assert client.get_registered_model("churn").aliases == {} and audit.events(model="churn") == []
    forced = await post_json(jp_fetch, "models", "churn", "promote", body={**request, "force": True})
    assert forced["forced"] is True and forced["aliases"] == {"champion": "1"}


@pytest.mark.parametrize(
    ("route", "body", "message"),
    [
        ("promote", {"version": "1", "alias": "champion"}, "a reason is required"),
        ("promote", {"version": "1", "alias": "champion", "reason": "  "}, "a reason is required"),
        ("promote", {"version": "1", "alias": "champion", "reason": "r", "force": "yes"}, "force must be"),
        (
            "promote",
            {"version": "1", "alias": "champion", "reason": "r", "by": "me"},
            "unknown field(s) 'by'",
        ),
        ("promote", {"alias": "champion", "reason": "r"}, "is not a version number"),
        ("rollback", {"alias": "champion", "reason": "r"}, "no earlier version to roll back to"),
    ],
)
async def test_bad_alias_changes_are_400s_with_the_fix(jp_fetch, tracking_uri, route, body, message) -> None:
    add_model(MlflowClient(tracking_uri), "churn")
    code, answer = await error_of(
        jp_fetch("nbops", "api", "models", "churn", route, method="POST", body=json.dumps(body))
    )
    assert code == 400 and message in answer["message"]


# --- monitoring ----------------------------------------------------------------------------------


def batch(n: int, seed: int, shift: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(shift, 1, n), rng.normal(0, 1, n)
    region = rng.choice(["north", "south", "east"], n, p=[0.1, 0.2, 0.7] if shift else [0.4, 0.4, 0.2])
    return pd.DataFrame({"x1": x1, "x2": x2, "region": region}), (x1 + 0.5 * x2 > shift).astype(int)


async def test_monitoring_series_alerts_and_the_open_alert_count_of_each_model(
    jp_fetch, tracking_uri, jp_root_dir
) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from nbops import monitor

    root = Path(jp_root_dir)
    (root / "pyproject.toml").write_text(
        '[tool.nbops.alerts.drifting]\nmetric = "drift.share"\nop = ">="\nthreshold = 0.5\nwindow = 1\n'
    )
    X, y = batch(1000, 0)
    columns = ColumnTransformer([("n", "passthrough", ["x1", "x2"]), ("c", OneHotEncoder(), ["region"])])
    model = make_pipeline(columns, LogisticRegression()).fit(X, y)
    registry.register(model, "loans", data=X, alias="champion", start=root)
    for seed, shift in [(1, 0.0), (2, 1.5)]:
        Xb, yb = batch(400, seed, shift)
        monitor.log_batch("loans@champion", Xb, model.predict(Xb), yb, start=root)

    series = await get_json(
        jp_fetch,
        "models",
        "loans",
        "versions",
        "1",
        "monitoring",
        params={"metrics": "drift.share,performance.*"},
    )
    assert [p["step"] for p in series["drift.share"]] == [1, 2]
    assert series["drift.share"][0]["value"] < 0.5 <= series["drift.share"][1]["value"]
    assert "performance.accuracy" in series and set(series["drift.share"][0]) == {
        "step",
        "timestamp",
        "value",
    }
    (alert,) = await get_json(jp_fetch, "alerts", params={"model": "loans"})
    assert alert["state"] == "open" and alert["model"] == "loans"
    assert await get_json(jp_fetch, "alerts", params={"state": "resolved"}) == []
    (row,) = (await get_json(jp_fetch, "models"))["models"]
    assert row["open_alerts"] == 1
    code, body = await error_of(jp_fetch("nbops", "api", "alerts", params={"state": "closed"}))
    assert code == 400 and "state must be open or resolved" in body["message"]


async def test_an_alert_shows_each_notification_channels_outcome_with_its_reason(
    jp_fetch, tracking_uri, jp_root_dir
) -> None:
    from sklearn.linear_model import LogisticRegression

    from nbops import monitor

    root = Path(jp_root_dir)
    (root / "pyproject.toml").write_text(
        '[tool.nbops.alerts.drifting]\nmetric = "drift.share"\nop = ">="\nthreshold = 0.5\nwindow = 1\n'
        'notify = ["ghost"]\n'
    )
    X, y = batch(400, 0)
    X = X[["x1", "x2"]]
    model = LogisticRegression().fit(X, y)
    registry.register(model, "loans", data=X, alias="champion", start=root)
    Xb, _ = batch(400, 2, 1.5)
    monitor.log_batch("loans@champion", Xb[["x1", "x2"]], model.predict(Xb[["x1", "x2"]]), start=root)

    # The sender is a detached process: wait for its record (a channel nobody defined fails at once).
    for _ in range(600):
        (alert,) = await get_json(jp_fetch, "alerts", params={"model": "loans"})
        if alert["deliveries"]:
            break
        await asyncio.sleep(0.1)
    (delivery,) = alert["deliveries"]
    assert (delivery["stage"], delivery["channel"], delivery["state"], delivery["attempts"]) == (
        "opened",
        "ghost",
        "failed",
        1,
    )
    assert delivery["detail"] == "channel 'ghost' is not defined under [tool.nbops.notify]"
    assert delivery["at"].endswith("Z")
    assert not any(key.startswith("notify.") for key in alert)


async def test_prompts_are_paged_with_their_versions_and_moved_by_name_under_the_policy(
    jp_fetch, tracking_uri, jp_root_dir
) -> None:
    from nbops import prompts

    root = Path(jp_root_dir)
    (root / "pyproject.toml").write_text('[tool.nbops.policy]\nproduction = ["review"]\n')
    prompts.register("answer", "Answer {{question}} politely.", start=root)
    prompts.register("answer", "Answer {{question}} in {{language}}.", start=root)
    prompts.register("summary", "Summarise {{text}}.", start=root)

    first = await get_json(jp_fetch, "prompts", params={"max_results": 1})
    assert [p["name"] for p in first["prompts"]] == ["answer"] and first["total"] == 2
    rest = await get_json(jp_fetch, "prompts", params={"page_token": first["next_page_token"]})
    assert [p["name"] for p in rest["prompts"]] == ["summary"] and rest["next_page_token"] is None
    versions = await get_json(jp_fetch, "prompts", "answer", "versions")
    assert [(v["version"], v["variables"]) for v in versions["versions"]] == [
        ("2", ["question", "language"]),
        ("1", ["question"]),
    ]
    assert versions["versions"][0]["template"] == "Answer {{question}} in {{language}}."

    body = {"version": "2", "alias": "production", "reason": "clearer"}
    code, refused = await error_of(
        jp_fetch("nbops", "api", "prompts", "answer", "promote", method="POST", body=json.dumps(body))
    )
    assert code == 409 and refused["missing_gates"] == ["review"]
    forced = await post_json(jp_fetch, "prompts", "answer", "promote", body={**body, "force": True})
    assert (forced["model"], forced["to_version"], forced["aliases"]) == (
        "prompts:/answer",
        "2",
        {"production": "2"},
    )
    await post_json(
        jp_fetch,
        "prompts",
        "answer",
        "promote",
        body={"version": 1, "alias": "production", "reason": "a", "force": True},
    )
    back = await post_json(
        jp_fetch, "prompts", "answer", "rollback", body={"alias": "production", "reason": "v1 too terse"}
    )
    assert (back["from_version"], back["to_version"], back["aliases"]) == ("1", "2", {"production": "2"})
    (shown,) = [
        v for v in (await get_json(jp_fetch, "prompts", "answer", "versions"))["versions"] if v["aliases"]
    ]
    assert (shown["version"], shown["aliases"]) == ("2", ["production"])
    log = await get_json(jp_fetch, "audit", params={"max_results": 1})
    assert [(e["action"], e["model"], e["actor"]) for e in log["events"]] == [
        ("rollback", "prompts:/answer", "alice")
    ]

    code, missing = await error_of(jp_fetch("nbops", "api", "prompts", "nothing", "versions"))
    assert code == 404 and "no prompt named 'nothing'" in missing["message"]
    code, bad = await error_of(jp_fetch("nbops", "api", "prompts", params={"page_token": "x"}))
    assert code == 400 and "page_token" in bad["message"]


# --- never blocking the event loop ---------------------------------------------------------------


async def test_status_answers_while_slow_listings_hold_every_store_thread(
    jp_fetch, tracking_uri, monkeypatch
) -> None:
    """Store calls run in worker threads: listings that never finish must not hold up anything else.

    The listings block until the test releases them, after nbops' and Jupyter's own status calls
    have answered; if either status call waited for a listing, the test would block instead of
    reaching the release (the listings give up after a minute, and the order check then fails).
    """
    entered: list[int] = []
    release = threading.Event()

    def stuck_models(*args, **kwargs):
        entered.append(1)
        release.wait(timeout=60)
        return {"models": [], "total": 0, "next_page_token": None}

    monkeypatch.setattr(catalog, "models", stuck_models)
    await get_json(jp_fetch, "status")  # warm-up
    listings = [asyncio.ensure_future(jp_fetch("nbops", "api", "models")) for _ in range(STORE_THREADS + 1)]
    try:
        while len(entered) < STORE_THREADS:
            await asyncio.sleep(0.005)
        for _ in range(5):
            assert (await get_json(jp_fetch, "status"))["version"] == nbops.__version__
            assert (await jp_fetch("api", "status")).code == 200
        assert not any(listing.done() for listing in listings), "a status call waited for a listing"
        assert len(entered) == STORE_THREADS, "more listings ran at once than there are store threads"
    finally:
        release.set()  # the store threads are shared by the module's other tests
    for listing in listings:
        assert json.loads((await listing).body)["total"] == 0
    assert len(entered) == STORE_THREADS + 1


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
