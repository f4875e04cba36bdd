"""nbops.catalog on a real SQLite store: the pages the sidebar lists, their totals, and the refusals."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy
from mlflow import MlflowClient

import nbops
from nbops import audit, catalog, registry, store, version_detail
from nbops.errors import InvalidInput, NotFound, PolicyError

POLICY = """
[tool.nbops.policy]
champion = ["performance", "fairness"]

[tool.nbops.policy.models.special]
champion = ["performance"]
staging = ["smoke"]
"""

#: Path-like text that must never be taken for a name, a version, a run id or an artifact path.
PATH_LIKE = [
    "../x",
    "a/../../x",
    "/etc/passwd",
    "%2e%2e%2f",
    "%252e%252e%252f",
    "..\\x",
    "C:\\x",
    "file:///etc/passwd",
    "x#/../..",
    "..",
    "a\nb",
]


@pytest.fixture
def client(tracking_uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri, tracking_uri)


def add_model(
    client: MlflowClient,
    name: str,
    versions: int = 1,
    *,
    aliases: dict[str, str] | None = None,
    gates: dict[str, dict[str, str]] | None = None,
    description: str | None = None,
) -> None:
    """A registered model with ``versions`` versions, made directly in the store (no model files)."""
    client.create_registered_model(name, description=description)
    for _ in range(versions):
        client.create_model_version(name, "s3://nowhere/model")
    for version, results in (gates or {}).items():
        for gate, result in results.items():
            client.set_model_version_tag(
                name, version, f"nbops.gate.{gate}", f"{result} r{gate} 2026-01-01T00:00:00Z"
            )
    for alias, version in (aliases or {}).items():
        client.set_registered_model_alias(name, alias, version)


def test_a_page_of_models_shows_aliases_versions_gates_policy_and_the_total(
    tracking_uri: str, client: MlflowClient, tmp_path: Path
) -> None:
    (tmp_path / "pyproject.toml").write_text(POLICY)
    add_model(
        client,
        "churn",
        3,
        aliases={"champion": "2", "challenger": "3"},
        gates={"1": {"performance": "failed"}, "2": {"performance": "passed", "fairness": "failed"}},
        description="Who leaves next month",
    )
    add_model(client, "special", 1, gates={"1": {"smoke": "error"}})
    client.create_registered_model("empty")

    page = catalog.models(max_results=50)

    assert page["total"] == 3 and page["next_page_token"] is None
    assert [m["name"] for m in page["models"]] == ["churn", "empty", "special"]
    churn, empty, special = page["models"]
    assert isinstance(churn.pop("updated"), int)
    assert churn == {
        "name": "churn",
        "description": "Who leaves next month",
        "aliases": {"challenger": "3", "champion": "2"},
        "latest_version": "3",
        "versions_count": 3,
        # the versions the row shows: the latest and each alias holder (v1's failed gate is not shown)
        "gates": {"3": {}, "2": {"performance": "passed", "fairness": "failed"}},
        "required_gates": {"champion": ["performance", "fairness"]},
        "open_alerts": 0,
    }
    assert (empty["latest_version"], empty["versions_count"], empty["gates"]) == (None, 0, {})
    assert special["gates"] == {"1": {"smoke": "error"}}
    assert special["required_gates"] == {"champion": ["performance"], "staging": ["smoke"]}


def test_pages_follow_the_name_order_and_every_page_knows_the_total(client: MlflowClient) -> None:
    for name in ["e", "a", "d", "c", "b"]:
        add_model(client, name)
    seen, token, totals = [], None, set()
    while True:
        page = catalog.models(max_results=2, page_token=token)
        seen.append([m["name"] for m in page["models"]])
        totals.add(page["total"])
        token = page["next_page_token"]
        if not token:
            break
    assert seen == [["a", "b"], ["c", "d"], ["e"]]
    assert totals == {5}


def test_the_filter_is_a_case_insensitive_part_of_the_name(client: MlflowClient) -> None:
    for name in ["churn-model", "Churn-v2", "fraud", "o'churn"]:
        add_model(client, name)
    page = catalog.models(max_results=2, filter_text="churn")
    assert [m["name"] for m in page["models"]] == ["Churn-v2", "churn-model"]
    assert page["total"] == 3
    assert [m["name"] for m in catalog.models(filter_text="o'ch")["models"]] == ["o'churn"]
    assert catalog.models(filter_text="nothing like it") == {
        "models": [],
        "total": 0,
        "next_page_token": None,
    }


def test_the_client_path_gives_the_same_pages_as_the_sql_path(
    client: MlflowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stores other than SQL (an MLflow server) are read through MlflowClient: same answers."""
    for i in range(7):
        add_model(
            client,
            f"m{i}",
            versions=i % 3,
            aliases={"champion": "1"} if i % 3 else None,
            gates={"1": {"performance": "passed"}} if i % 3 else None,
        )
    add_model(client, "quote'd", 2, gates={"2": {"performance": "failed"}})

    def pages() -> list[dict]:
        found, token = [], None
        while True:
            page = catalog.models(max_results=3, page_token=token)
            for row in page["models"]:
                row.pop("updated")
            found.append(page)
            token = page["next_page_token"]
            if not token:
                return found

    sql = pages()
    monkeypatch.setattr(store, "sql_registry_store", lambda client: None)
    assert pages() == sql
    assert catalog.versions("quote'd")["total"] == 2


def queries_for(call) -> list[str]:
    """The SQL statements ``call()`` sends to the store."""
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        if not statement.startswith("PRAGMA"):  # SQLite's per-connection setup, not a query
            statements.append(" ".join(statement.split())[:80])

    sqlalchemy.event.listen(sqlalchemy.engine.Engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        sqlalchemy.event.remove(sqlalchemy.engine.Engine, "before_cursor_execute", record)
    return statements


def test_a_page_costs_the_same_few_queries_however_many_models_it_shows(client: MlflowClient) -> None:
    for i in range(3):
        add_model(client, f"small{i}", 1, aliases={"champion": "1"})
    few = queries_for(lambda: catalog.models(max_results=2))  # a next page exists: the total is counted
    for i in range(12):
        add_model(client, f"big{i}", 5, aliases={"champion": "2", "challenger": "5"})
    many = queries_for(lambda: catalog.models(max_results=14))
    assert len(few) <= 12, few
    assert len(many) == len(few), f"{len(many)} queries for 14 models against {len(few)} for 2"


def test_listing_a_store_that_was_never_written_does_not_create_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "fresh"\n')
    assert catalog.models(start=tmp_path) == {"models": [], "total": 0, "next_page_token": None}
    assert catalog.audit_page(start=tmp_path) == {"events": [], "total": 0, "next_page_token": None}
    with pytest.raises(NotFound, match="no registered model named 'x'"):
        catalog.versions("x", start=tmp_path)
    assert not (tmp_path / ".nbops").exists()


def test_versions_come_newest_first_with_aliases_gates_and_the_total(client: MlflowClient) -> None:
    add_model(client, "churn", 5, aliases={"champion": "2"}, gates={"2": {"performance": "passed"}})
    client.update_model_version("churn", "4", description="with <b>markup</b>")
    first = catalog.versions("churn", max_results=3)
    assert [v["version"] for v in first["versions"]] == ["5", "4", "3"]
    assert first["total"] == 5 and first["model"] == "churn"
    second = catalog.versions("churn", max_results=3, page_token=first["next_page_token"])
    assert [v["version"] for v in second["versions"]] == ["2", "1"]
    assert second["next_page_token"] is None and second["total"] == 5
    v2 = second["versions"][0]
    assert (v2["aliases"], v2["gates"], v2["status"]) == (["champion"], {"performance": "passed"}, "READY")
    assert first["versions"][1]["description"] == "with <b>markup</b>"  # text, for the UI to show as text
    with pytest.raises(NotFound, match="no registered model named 'nope'"):
        catalog.versions("nope")
    with pytest.raises(InvalidInput, match="start again from the first page"):
        catalog.versions("churn", page_token="not-a-token")


def test_one_version_in_full_lineage_metrics_gates_policy_and_card(tracking_uri: str, tmp_path: Path) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    (tmp_path / "pyproject.toml").write_text(POLICY)
    X, y = load_iris(return_X_y=True, as_frame=True)
    with nbops.track("train") as run:
        nbops.log_dataset(X, "iris")
        nbops.log_metric("accuracy", 0.97)
        nbops.log_param("note", "first try")
        version = registry.register(
            LogisticRegression(max_iter=300).fit(X, y), "iris", description="Classifies <i>irises</i>"
        )
    client = MlflowClient(tracking_uri)
    client.set_model_version_tag(
        "iris", "1", "nbops.gate.performance", f"passed {run.info.run_id} 2026-01-02T03:04:05Z"
    )
    registry.promote("iris", 1, "staging", "try it")

    detail = version_detail.version_detail("iris", version.version)

    assert (detail["model"], detail["version"], detail["status"]) == ("iris", "1", "READY")
    assert detail["aliases"] == ["staging"] and detail["run_id"] == run.info.run_id
    assert detail["description"] == "Classifies <i>irises</i>"
    assert detail["metrics"]["accuracy"] == 0.97 and detail["params"]["note"] == "first try"
    assert detail["gates"] == {
        "performance": {"result": "passed", "run_id": run.info.run_id, "time": "2026-01-02T03:04:05Z"}
    }
    assert detail["policy"] == {
        "champion": {"required": ["performance", "fairness"], "missing": ["fairness"]}
    }
    lineage = detail["lineage"]
    assert lineage["source_run"]["run_id"] == run.info.run_id and lineage["source_run"]["run_name"] == "train"
    (dataset,) = lineage["datasets"]
    assert (dataset["name"], dataset["context"], dataset["shape"]) == ("iris", "training", "150x4")
    assert len(dataset["sha256"]) == 64
    assert lineage["python"] and any(r.startswith("scikit-learn==") for r in lineage["requirements"])
    assert set(lineage["git"]) == {"commit", "branch", "dirty"}
    assert "<h1>Model card: iris version 1</h1>" in detail["card_html"]
    assert "&lt;i&gt;irises&lt;/i&gt;" in detail["card_html"] and "<i>" not in detail["card_html"]
    with pytest.raises(NotFound, match="has no version 7"):
        version_detail.version_detail("iris", "7")


def test_the_detail_shows_the_latest_reproduction_verdict_with_its_metric_table(
    tracking_uri: str, tmp_path: Path
) -> None:
    """Recorded with the reproduce module's own ``records.record``, as ``nbops reproduce`` does."""
    from nbops.reproducing import DIFFERS, MetricRow, Reproduction, records

    client = MlflowClient(tracking_uri)
    with nbops.track("train") as run:
        nbops.log_metric("accuracy", 0.97)
    client.create_registered_model("churn")
    client.create_model_version("churn", "s3://nowhere/model", run_id=run.info.run_id)

    assert version_detail.version_detail("churn", "1")["reproduction"] is None

    result = Reproduction(
        "churn", "1", DIFFERS,
        [MetricRow("accuracy", 0.97, 0.91, 0.01, 0.0619, False), MetricRow("loss", 0.2, None, 0.01, None, False)],
        ["dataset iris changed"], "a" * 40, str(tmp_path / "train.ipynb"), run.info.run_id,
        run_id="b" * 32, time="2026-03-04 05:06 UTC",
    )  # fmt: skip
    records.record(result, 1.0)

    shown = version_detail.version_detail("churn", "1")["reproduction"]
    assert shown["verdict"] == "differs"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?Z", shown["time"])
    assert shown["run_id"] == result.record_run_id and shown["reproduced_run_id"] == "b" * 32
    assert "differs" in shown["summary"] and "0 of 2 metrics within tolerance" in shown["summary"]
    assert shown["metrics"] == [
        {
            "name": "accuracy",
            "original": 0.97,
            "new": 0.91,
            "difference": 0.0619,
            "tolerance": 0.01,
            "ok": False,
        },
        {"name": "loss", "original": 0.2, "new": None, "difference": None, "tolerance": 0.01, "ok": False},
    ]


def test_the_audit_log_pages_newest_first_and_new_events_do_not_shift_pages(tracking_uri: str) -> None:
    for i in range(5):
        audit.append("note", model="a" if i % 2 else "b", reason=f"event {i + 1}")
    first = catalog.audit_page(max_results=2)
    assert [e["seq"] for e in first["events"]] == [5, 4] and first["total"] == 5
    assert first["events"][0]["summary"].startswith("#5 ") and first["events"][0]["reason"] == "event 5"
    audit.append("note", model="a", reason="written while the user reads page one")
    second = catalog.audit_page(max_results=2, page_token=first["next_page_token"])
    assert [e["seq"] for e in second["events"]] == [3, 2]
    last = catalog.audit_page(max_results=2, page_token=second["next_page_token"])
    assert [e["seq"] for e in last["events"]] == [1] and last["next_page_token"] is None
    only_a = catalog.audit_page(model="a")
    assert [e["seq"] for e in only_a["events"]] == [6, 4, 2] and only_a["total"] == 3
    for token in ["before-0", "garbage", "before-x"]:
        with pytest.raises(InvalidInput, match="start again from the first page"):
            catalog.audit_page(page_token=token)


def test_a_refused_promotion_names_the_missing_gates_and_changes_nothing(
    client: MlflowClient, tmp_path: Path
) -> None:
    (tmp_path / "pyproject.toml").write_text(POLICY)
    add_model(client, "churn", 2, gates={"2": {"performance": "passed", "fairness": "failed"}})
    with pytest.raises(PolicyError) as refused:
        catalog.promote("churn", "2", "champion", "ship it", actor="alice")
    assert refused.value.missing_gates == ["fairness"]
    assert refused.value.details() == {"missing_gates": ["fairness"]}
    assert "fairness (failed)" in str(refused.value)
    assert client.get_registered_model("churn").aliases == {}

    forced = catalog.promote("churn", 2, "champion", "hotfix", force=True, actor="alice")
    assert (forced["to_version"], forced["forced"], forced["aliases"]) == ("2", True, {"champion": "2"})
    catalog.promote("churn", "1", "staging", "try", actor="bob")
    assert catalog.promote("churn", "1", "champion", "back", force=True, actor="bob")["aliases"] == {
        "champion": "1",
        "staging": "1",
    }
    back = catalog.rollback("churn", "champion", "v1 misbehaves", actor="carol")
    assert (back["from_version"], back["to_version"]) == ("1", "2")
    assert back["aliases"] == {"champion": "2", "staging": "1"}
    event = audit.events(model="churn")[-1]
    assert (event.action, event.actor, event.source) == ("rollback", "carol", "sidebar")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: catalog.promote("churn", "1", "champion", "", actor="a"), "a reason is required"),
        (lambda: catalog.promote("churn", "1", "champion", 42, actor="a"), "reason must be text"),
        (lambda: catalog.promote("churn", "1", "champion", "r", force="yes", actor="a"), "force must be"),
        (lambda: catalog.promote("churn", "1", "latest", "r", actor="a"), "alias 'latest' is not allowed"),
        (lambda: catalog.promote("churn", None, "champion", "r", actor="a"), "not a version number"),
        (lambda: catalog.promote("churn", "1", ["x"], "r", actor="a"), "an alias is required"),
        (lambda: catalog.rollback("churn", "champion", None, actor="a"), "a reason is required"),
    ],
)
def test_bad_alias_changes_are_refused_before_anything_is_read(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch, call, message: str
) -> None:
    reads = no_store_reads(monkeypatch)
    with pytest.raises(InvalidInput, match=message):
        call()
    assert reads == []


def no_store_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (and refuse) every attempt to reach the store."""
    reads: list[str] = []

    def refuse(*args, **kwargs):
        reads.append("store")
        raise AssertionError("the store was read")

    monkeypatch.setattr(store, "client", refuse)
    monkeypatch.setattr(store, "settings", refuse)
    return reads


@pytest.mark.parametrize("text", PATH_LIKE)
def test_path_like_identifiers_are_refused_in_one_line_before_any_read(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    reads = no_store_reads(monkeypatch)
    calls = [
        lambda: catalog.versions(text),
        lambda: version_detail.version_detail(text, "1"),
        lambda: version_detail.version_detail("churn", text),
        lambda: catalog.audit_page(model=text),
        lambda: catalog.alerts(model=text),
        lambda: catalog.monitoring_series(text, "1"),
        lambda: catalog.monitoring_series("churn", "1", metrics=text),
        lambda: catalog.promote(text, "1", "champion", "r"),
        lambda: catalog.promote("churn", text, "champion", "r"),
        lambda: catalog.rollback(text, "champion", "r"),
        lambda: catalog.check_run_id(text),
    ]
    for call in calls:
        with pytest.raises(InvalidInput) as refused:
            call()
        assert "\n" not in str(refused.value)
    assert reads == []


def test_ordinary_identifiers_pass_the_checks(tmp_path: Path) -> None:
    assert catalog.check_model_name("churn-model_v2.1 (EU)") == "churn-model_v2.1 (EU)"
    assert catalog.check_version(3) == "3" and catalog.check_version("12") == "12"
    assert catalog.check_run_id("0f3a" * 8) == "0f3a" * 8
    assert catalog.check_metrics("drift.share, performance.accuracy,drift.*.psi") == [
        "drift.share",
        "performance.accuracy",
        "drift.*.psi",
    ]
    assert catalog.check_metrics(None) is None
    for bad in ["0", "-1", "1.0", "v3", "", True]:
        with pytest.raises(InvalidInput, match="not a version number"):
            catalog.check_version(bad)


@pytest.mark.parametrize("text", [*PATH_LIKE, "", "a//b", "./a", "a/"])
def test_artifact_paths_stay_inside_their_folder(tmp_path: Path, text: str) -> None:
    with pytest.raises(InvalidInput):
        catalog.check_artifact_path(tmp_path, text)


def test_a_symlink_out_of_the_artifact_folder_is_refused(tmp_path: Path) -> None:
    """No route reads artifacts today; the check is ready (and tested) for the first that does."""
    artifacts = tmp_path / "artifacts"
    (artifacts / "model_cards").mkdir(parents=True)
    (artifacts / "model_cards" / "card.md").write_text("# card")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "key").write_text("hunter2")
    os.symlink(outside, artifacts / "model_cards" / "escape")
    os.symlink(artifacts / "model_cards" / "card.md", artifacts / "alias.md")  # inside: fine
    assert catalog.check_artifact_path(artifacts, "model_cards/card.md").read_text() == "# card"
    assert catalog.check_artifact_path(artifacts, "alias.md").read_text() == "# card"
    with pytest.raises(InvalidInput, match="leads outside the artifact folder"):
        catalog.check_artifact_path(artifacts, "model_cards/escape/key")


def test_open_alert_counts_come_from_monitoring_and_its_failures_are_not_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import nbops.monitoring as monitoring

    monkeypatch.setattr(monitoring, "open_alert_counts", lambda start=None: {"churn": 2}, raising=False)
    assert catalog.open_alert_counts() == {"churn": 2}

    def broken(start=None):
        raise RuntimeError("the alert store is down")

    monkeypatch.setattr(monitoring, "open_alert_counts", broken)
    with pytest.raises(RuntimeError, match="alert store is down"):
        catalog.open_alert_counts()  # a failure inside monitoring is not hidden


def test_required_gates_reads_the_project_policy_once_and_model_overrides(
    tmp_path: Path, tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(POLICY)
    assert catalog.required_gates(["churn", "special"]) == {
        "churn": {"champion": ["performance", "fairness"]},
        "special": {"champion": ["performance"], "staging": ["smoke"]},
    }
    calls = Counter()
    original = registry.required_gates

    def counted(*args, **kwargs):
        calls["required_gates"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(registry, "required_gates", counted)
    catalog.required_gates([f"m{i}" for i in range(50)])
    assert calls["required_gates"] <= 3  # not once per model
