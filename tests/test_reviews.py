"""Health reviews as records, the review schedule's overdue alert, and reviews of LLM applications.

Real stores, real papermill kernels for ``nbops review``, a real HTTP receiver on 127.0.0.1 for
the notifications. A review older than the period is recorded with an earlier time through
``reviews.record(at=...)`` (how a review made elsewhere is imported), so nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_notify import Receiver, as_user, cli, configure, eventually, register

import nbops.llm as llm
from nbops import audit, monitor, notify, store
from nbops.cli import ExitCode
from nbops.errors import ConfigError
from nbops.monitoring import alerting, reviews

SCHEDULE = """
[tool.nbops.review]
every = "1h"
notify = ["team"]

[tool.nbops.notify.team]
type = "webhook"
url_env = "TEAM_URL"
backoff = 0.05
"""


@pytest.fixture
def team() -> Iterator[Receiver]:
    """The webhook receiver of the ``team`` channel, answering 200."""
    receiver = Receiver(["200"])
    yield receiver
    receiver.close()


def overdue_alerts(state: str | None = None) -> list[dict]:
    return [a for a in monitor.alerts(model="loans", state=state) if a["rule"] == reviews.RULE]


def test_a_review_older_than_the_period_opens_one_alert_and_notifies_once_and_a_review_resolves_it(
    project: Path, team: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_user(monkeypatch)
    receiver = team
    monkeypatch.setenv("TEAM_URL", receiver.url)
    configure(project, SCHEDULE)
    register()
    assert monitor.last_review("loans") is None
    old = project / "old-review.html"
    old.write_text("<html>the review of two hours ago</html>")
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    first = reviews.record("loans", old, at=two_hours_ago)
    assert first["who"] == audit.default_actor()
    assert first["when"] == two_hours_ago.isoformat(timespec="seconds").replace("+00:00", "Z")

    checked = cli("monitor", "check")
    assert checked.exit_code == ExitCode.CHECK_FAILED, checked.output
    assert "review-overdue" in checked.output and "warning" in checked.output
    (alert,) = overdue_alerts()
    assert alert["state"] == "open" and alert["severity"] == "warning"
    assert alert["message"] == (
        f"the health review of loans is overdue: last reviewed {two_hours_ago:%Y-%m-%d}, every 1h"
    )
    again = cli("monitor", "check")  # the same episode: no second alert, no second message
    assert again.exit_code == ExitCode.CHECK_FAILED and len(overdue_alerts()) == 1
    rendered = cli("review", "loans", "--batches", "1", "--output", str(project / "review.html"))
    assert rendered.exit_code == 0, rendered.output
    latest = monitor.last_review("loans")
    assert latest is not None and latest["run_id"] != first["run_id"]
    assert f"recorded: reviewed by {latest['who']} at {latest['when']}" in rendered.output
    assert latest["report"].endswith("/review/review.html")
    copy = store.client().download_artifacts(latest["run_id"], "review/review.html", str(project))
    assert "Health review: loans" in Path(copy).read_text()
    (event,) = [
        e for e in audit.events(model="loans") if e.action == "review" and e.seq == int(latest["audit_event"])
    ]
    assert event.details["review"] == latest["run_id"] and event.actor == latest["who"]

    # The sender of the overdue notice ran meanwhile, in its own process.
    eventually(
        "the overdue notice delivered",
        lambda: (
            notify.outcomes(overdue_alerts()[0]).get("opened", {}).get("team", {}).get("state") == "delivered"
        ),
    )
    (sent,) = [r["json"] for r in receiver.requests]
    assert sent["kind"] == "review-overdue" and sent["model"] == "loans"
    assert sent["facts"]["Period"] == "1h" and sent["facts"]["Last review"] == first["when"]
    assert sent["summary"].startswith("Review overdue: loans")
    assert sent["run_id"] == first["run_id"]  # the link goes to the last review
    assert "rule review-overdue" in notify.listing()[0]["used_by"]

    resolved = cli("monitor", "check")
    assert resolved.exit_code == ExitCode.OK, resolved.output
    (alert,) = overdue_alerts()
    assert alert["state"] == "resolved" and alert["resolution"] == (
        f"reviewed by {latest['who']} on {latest['when'][:10]}"
    )
    eventually("the resolution delivered", lambda: len(receiver.requests) == 2)
    assert receiver.requests[1]["json"]["kind"] == "alert-resolved"


@pytest.mark.sqlite_only(reason="reading [tool.nbops.review] touches no store")
def test_a_bad_review_period_is_one_line_naming_the_table(project: Path) -> None:
    configure(project, '\n[tool.nbops.review]\nevery = "3 months"\n')
    with pytest.raises(ConfigError, match=r'every under \[tool.nbops.review\] in .* e.g. every = "90d"'):
        reviews.schedule(project)
    checked = cli("monitor", "check")
    assert checked.exit_code == ExitCode.USAGE
    assert len(checked.output.strip().splitlines()) == 1 and "'3 months'" in checked.output
    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text().replace('every = "3 months"\n', "")
    )
    assert reviews.schedule(project).period == timedelta(days=90)  # quarterly when left out
    assert alerting.check_reviews(start=project) == []  # no model registered: nothing due


def test_an_llm_application_is_reviewed_by_its_windows(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_MODEL_CATALOG_URI", raising=False)
    configure(
        project,
        "\n[tool.nbops.llm.prices.fake-llm]\ninput_per_million_tokens = 2000.0\n"
        "output_per_million_tokens = 6000.0\n",
    )
    mlflow = store.fluent(project)
    mlflow.set_experiment("llm-app")
    mlflow.genai.register_prompt("qa", "Answer briefly: {{question}}")
    mlflow.genai.set_prompt_alias("qa", "production", 1)
    store.client(project).set_prompt_version_tag("qa", "1", "nbops.eval.exact_match.mean", "0.75")
    ask = llm.traced(lambda q: "The answer is " + q.upper(), model="fake-llm", prompt="qa@production")
    for _ in range(3):
        ask("What is the capital of France?")
    llm.log_window(prompt="qa@production")

    page = monitor.review("prompts:/qa", batches=5, output=project / "llm-review.html")
    html = page.read_text()
    assert "LLM application: prompts:/qa v1" in html
    for column in (
        "calls",
        "tokens in",
        "cost / 1k calls",
        "p50 ms",
        "p95 ms",
        "error rate",
        "quality.exact_match",
    ):
        assert column in html
    assert monitor.last_review("prompts:/qa")["report"].endswith("/review/llm-review.html")


def backdate_first_version(project: Path, backend: str, request: pytest.FixtureRequest, hours: int) -> int:
    """Write the creation time of ``loans`` version 1 into the store's database, ``hours`` ago.

    MLflow sets creation times itself; the test writes them where the store keeps them (the
    SQLite file, or the server's PostgreSQL database) so nothing sleeps. The registered model's
    own creation time is left as it is (now).
    """
    import sqlalchemy

    uri = (
        request.getfixturevalue("team_server").db_uri()
        if backend == "server"
        else f"sqlite:///{project / '.nbops' / 'mlflow.db'}"
    )
    millis = int((datetime.now(UTC) - timedelta(hours=hours)).timestamp() * 1000)
    engine = sqlalchemy.create_engine(uri)
    try:
        with engine.begin() as connection:
            connection.execute(
                sqlalchemy.text(
                    "UPDATE model_versions SET creation_time = :at WHERE name = 'loans' AND version = 1"
                ),
                {"at": millis},
            )
    finally:
        engine.dispose()
    return millis


def test_a_model_never_reviewed_is_overdue_once_its_first_version_is_older_than_the_period(
    project: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    configure(project, '\n[tool.nbops.review]\nevery = "1h"\n')
    register(alias=None)
    assert alerting.check_reviews(start=project) == []  # registered just now: not due yet
    assert overdue_alerts() == []
    registered = backdate_first_version(project, backend, request, hours=2)
    assert reviews.registered_at("loans") == registered  # the first version, not the model's name
    assert store.client().get_registered_model("loans").creation_timestamp > registered
    (opened,) = alerting.check_reviews(start=project)
    (alert,) = overdue_alerts(state="open")
    assert (
        alert["message"]
        == "the health review of loans is overdue: never reviewed since registration, every 1h"
    )
    assert opened["id"] == alert["id"]
    assert alerting.check_reviews(start=project) == []  # the same episode: nothing new


def test_last_reviews_reads_the_newest_review_of_many_models_in_one_search(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = project / "review.html"
    report.write_text("<html>reviewed</html>")
    now = datetime.now(UTC)
    reviews.record("loans", report, at=now - timedelta(hours=3))
    newest = reviews.record("loans", report, at=now - timedelta(hours=1))
    other = reviews.record("cards", report, at=now - timedelta(hours=2))
    searches = []
    search_runs = store.client().__class__.search_runs

    def counted(self, *args, **kwargs):  # the real search, counted
        searches.append(args)
        return search_runs(self, *args, **kwargs)

    monkeypatch.setattr(store.client().__class__, "search_runs", counted)
    found = reviews.last_reviews(["loans", "cards", "never-reviewed"], project)
    assert len(searches) == 1
    assert found["never-reviewed"] is None
    assert (found["loans"]["run_id"], found["cards"]["run_id"]) == (newest["run_id"], other["run_id"])
    assert found["loans"] == monitor.last_review("loans")
