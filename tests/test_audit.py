"""The audit log on a real SQLite MLflow store: chain, tamper evidence, concurrent writers, CLI."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType

from nbops import audit
from nbops.audit.layout import tags_for
from nbops.errors import InvalidInput, StoreError

BIN = Path(sys.executable).parent


def nbops_cli(*args: str, uri: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PATH": str(BIN), "HOME": str(cwd), "MLFLOW_TRACKING_URI": uri}
    return subprocess.run([BIN / "nbops", *args], cwd=cwd, env=env, capture_output=True, text=True)


def audit_runs(uri: str, view: int = ViewType.ACTIVE_ONLY) -> list:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(audit.EXPERIMENT)
    return client.search_runs([experiment.experiment_id], run_view_type=view, max_results=1000)


def a_few_changes() -> list[audit.Event]:
    return [
        audit.append("register", model="churn", version=1, source="notebooks/train.ipynb", actor="ana"),
        audit.append("register", model="fraud", version="1", source="cli", actor="bo"),
        audit.append(
            "promote",
            model="churn",
            version="1",
            alias="champion",
            to_version="1",
            reason="first model",
            source="sidebar",
            actor="ana",
        ),
        audit.append(
            "promote",
            model="churn",
            version="2",
            alias="champion",
            from_version="1",
            to_version="2",
            reason="AUC 0.91 → 0.93 on the March holdout\nsigned off by risk",
            details={"gate": "passed", "auc": 0.93},
            actor="cy",
        ),
        audit.append(
            "rollback", model="churn", alias="champion", from_version="2", to_version="1", reason="drift"
        ),
    ]


# --- appending and reading -----------------------------------------------------------------------


def test_events_come_back_in_order_with_every_field(tracking_uri: str) -> None:
    written = a_few_changes()
    read = audit.events()
    assert read == written
    assert [e.seq for e in read] == [1, 2, 3, 4, 5]
    promote = read[3]
    assert (promote.action, promote.model, promote.version, promote.alias) == (
        "promote",
        "churn",
        "2",
        "champion",
    )
    assert (promote.from_version, promote.to_version, promote.actor) == ("1", "2", "cy")
    assert promote.reason == "AUC 0.91 → 0.93 on the March holdout\nsigned off by risk"
    assert promote.details == {"gate": "passed", "auc": "0.93"}
    assert read[0].source == "notebooks/train.ipynb" and read[0].version == "1"
    assert read[1].alias is None and read[1].details == {}
    assert read[4].actor == audit.default_actor()
    for event in read:
        assert event.time.endswith("Z") and len(event.time) == len("2025-01-31T09:30:00.123Z")
    assert audit.head() == read[-1]


def test_each_event_hashes_its_fields_and_links_to_the_one_before(tracking_uri: str) -> None:
    written = a_few_changes()
    assert written[0].prev_hash == ""
    for before, after in itertools.pairwise(written):
        assert after.prev_hash == before.hash
    for event in written:
        fields = event.to_dict()
        del fields["hash"], fields["run_id"]
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        assert event.hash == hashlib.sha256(canonical.encode()).hexdigest()


def test_filters_are_done_by_the_store(tracking_uri: str) -> None:
    a_few_changes()
    assert [e.seq for e in audit.events(model="churn")] == [1, 3, 4, 5]
    assert [e.seq for e in audit.events(model="fraud")] == [2]
    assert [e.seq for e in audit.events(action="promote")] == [3, 4]
    assert [e.seq for e in audit.events(model="churn", action="rollback")] == [5]
    assert audit.events(model="nobody") == []
    quoted = audit.append("register", model='it\'s "quoted"', version="1")
    assert audit.events(model='it\'s "quoted"') == [quoted]


def test_events_are_runs_of_the_audit_experiment_with_tags(tracking_uri: str) -> None:
    event = a_few_changes()[3]
    run = MlflowClient(tracking_uri).get_run(event.run_id)
    assert run.info.run_name == "audit-4" and run.info.status == "FINISHED"
    experiment = MlflowClient(tracking_uri).get_experiment(run.info.experiment_id)
    assert experiment.name == "nbops-audit"
    tags = run.data.tags
    assert tags["nbops.audit.seq"] == "0000000004"
    assert tags["nbops.audit.action"] == "promote"
    assert tags["nbops.audit.details"] == '{"auc":"0.93","gate":"passed"}'
    assert tags["nbops.audit.hash"] == event.hash and tags["nbops.audit.prev_hash"] == event.prev_hash
    assert "nbops.audit.source" not in tags  # None is an absent tag
    # The next event's run is named on this one, write-once: that is what keeps writers in line.
    assert run.data.params["nbops.audit.next"] == audit.events()[4].run_id


def test_reading_an_empty_project_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert audit.events() == [] and audit.head() is None
    assert audit.verify() == audit.Verification(ok=True, checked=0, problems=[])
    assert not (tmp_path / ".nbops").exists()


def test_an_existing_store_without_a_log_is_not_given_one_by_reading(tracking_uri: str) -> None:
    assert audit.events() == [] and audit.head() is None
    assert MlflowClient(tracking_uri).get_experiment_by_name(audit.EXPERIMENT) is None


def test_derived_fields_come_from_the_event_the_append_is_chained_after(tracking_uri: str) -> None:
    seen: list[audit.Event | None] = []

    def moved(previous: audit.Event | None) -> dict[str, str | None]:
        seen.append(previous)
        return {"from_version": previous.to_version if previous else None, "to_version": "3"}

    first = audit.append("promote", model="churn", alias="champion", derive=moved)
    second = audit.append("promote", model="churn", alias="champion", to_version="9", derive=moved)
    assert seen == [None, first]
    assert (first.from_version, first.to_version) == (None, "3")
    assert (second.from_version, second.to_version) == ("3", "3")  # derived fields win
    assert audit.events() == [first, second] and audit.verify().ok


def test_a_derive_that_refuses_writes_nothing(tracking_uri: str) -> None:
    audit.append("register", model="churn", version="1")

    def refuse(previous: audit.Event | None) -> dict[str, str]:
        raise InvalidInput("alias 'champion' of 'churn' has no earlier version to roll back to")

    with pytest.raises(InvalidInput, match="no earlier version"):
        audit.append("rollback", model="churn", alias="champion", derive=refuse)
    with pytest.raises(InvalidInput, match="must be one line"):
        audit.append("promote", model="churn", derive=lambda previous: {"to_version": "2\n3"})
    assert [e.seq for e in audit.events()] == [1]
    assert len(audit_runs(tracking_uri, ViewType.ALL)) == 1


# --- checks before writing -----------------------------------------------------------------------


def test_a_too_long_reason_is_refused_and_nothing_is_appended(tracking_uri: str) -> None:
    audit.append("register", model="churn", version="1")
    with pytest.raises(InvalidInput, match=r"reason is 2,001 characters; .* at most 2,000"):
        audit.append("promote", model="churn", reason="x" * 2001)
    assert [e.seq for e in audit.events()] == [1]
    assert len(audit_runs(tracking_uri, ViewType.ALL)) == 1
    assert audit.append("promote", model="churn", reason="x" * 2000).seq == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "Promote!"}, "audit action 'Promote!' is not valid"),
        ({"action": "promote", "model": "a\nb"}, "must be one line"),
        ({"action": "promote", "model": 3}, "must be text"),
        ({"action": "gate", "details": {"rows": [1, 2]}}, "must be text or a number"),
        ({"action": "gate", "details": {"log": "x" * 5000}}, "at most 4,000"),
    ],
)
def test_malformed_events_are_refused_before_the_store_is_touched(
    tracking_uri: str, kwargs: dict, message: str
) -> None:
    kwargs = dict(kwargs)  # the parameter is shared by this test's [sqlite] and [server] runs
    action = kwargs.pop("action")
    with pytest.raises(InvalidInput, match=message):
        audit.append(action, **kwargs)
    assert MlflowClient(tracking_uri).get_experiment_by_name(audit.EXPERIMENT) is None


# --- verification --------------------------------------------------------------------------------


def test_an_untouched_log_verifies(tracking_uri: str) -> None:
    a_few_changes()
    assert audit.verify() == audit.Verification(ok=True, checked=5, problems=[])


def test_an_edited_tag_is_reported_at_its_event(tracking_uri: str, tmp_path: Path) -> None:
    events = a_few_changes()
    MlflowClient(tracking_uri).set_tag(events[2].run_id, "nbops.audit.reason", "nothing happened")
    result = audit.verify()
    assert not result.ok and result.checked == 5
    assert [(p.position, p.kind) for p in result.problems] == [(3, "edited")]
    done = nbops_cli("audit", "--verify", uri=tracking_uri, cwd=tmp_path)
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines() == [
        f"event 3 was edited: its fields no longer match its hash (run {events[2].run_id})"
    ]


def test_a_rewrite_with_a_recomputed_hash_breaks_the_next_link(tracking_uri: str) -> None:
    events = a_few_changes()
    forged = audit.Event(**{**events[1].to_dict(), "actor": "mallory"})
    client = MlflowClient(tracking_uri)
    client.set_tag(forged.run_id, "nbops.audit.actor", "mallory")
    client.set_tag(forged.run_id, "nbops.audit.hash", forged.compute_hash())
    assert [(p.position, p.kind) for p in audit.verify().problems] == [(3, "forked")]


def test_removed_tags_and_added_tags_count_as_edits(tracking_uri: str) -> None:
    events = a_few_changes()
    client = MlflowClient(tracking_uri)
    client.delete_tag(events[3].run_id, "nbops.audit.details")
    client.set_tag(events[1].run_id, "nbops.audit.alias", "champion")
    assert [(p.position, p.kind) for p in audit.verify().problems] == [(2, "edited"), (4, "edited")]


def test_a_deleted_event_is_reported_at_its_position_and_the_log_goes_on(
    tracking_uri: str, tmp_path: Path
) -> None:
    events = a_few_changes()
    MlflowClient(tracking_uri).delete_run(events[1].run_id)
    assert [e.seq for e in audit.events()] == [1, 3, 4, 5]
    assert [e.seq for e in audit.events(model="fraud")] == []
    result = audit.verify()
    assert [(p.position, p.kind) for p in result.problems] == [(2, "deleted")]
    assert f"mlflow runs restore --run-id {events[1].run_id}" in result.problems[0].message
    assert audit.append("promote", model="churn", to_version="2").seq == 6
    done = nbops_cli("audit", "--verify", uri=tracking_uri, cwd=tmp_path)
    assert done.returncode == 3
    assert done.stdout.startswith("event 2 is missing (deleted): its run ")
    MlflowClient(tracking_uri).restore_run(events[1].run_id)
    assert audit.verify() == audit.Verification(ok=True, checked=6, problems=[])


def test_appending_after_a_deleted_newest_event_says_how_to_restore_it(tracking_uri: str) -> None:
    events = a_few_changes()
    MlflowClient(tracking_uri).delete_run(events[-1].run_id)
    with pytest.raises(StoreError, match=f"mlflow runs restore --run-id {events[-1].run_id}"):
        audit.append("promote", model="churn")
    assert [(p.position, p.kind) for p in audit.verify().problems] == [(5, "deleted")]


def test_runs_that_lost_or_never_finished_are_not_events(tracking_uri: str) -> None:
    """What a losing writer leaves behind (deleted, or RUNNING if it died) is not an event."""
    events = a_few_changes()
    client = MlflowClient(tracking_uri)
    experiment_id = client.get_run(events[0].run_id).info.experiment_id
    loser_tags = {"nbops.audit.seq": "0000000003", "nbops.audit.prev_run_id": events[1].run_id}
    deleted = client.create_run(experiment_id, tags={**loser_tags, "nbops.audit.action": "promote"})
    client.delete_run(deleted.info.run_id)
    client.create_run(experiment_id, tags={**loser_tags, "nbops.audit.action": "register"})  # died
    assert audit.events() == events and audit.head() == events[-1]
    assert audit.verify().ok
    assert audit.append("register", model="churn", version="3").seq == 6


def test_an_event_whose_writer_died_before_finishing_it_still_counts(tracking_uri: str) -> None:
    events = a_few_changes()
    client = MlflowClient(tracking_uri)
    client.update_run(events[-1].run_id, status="RUNNING")  # claimed, never marked FINISHED
    assert audit.events() == events and audit.events(action="rollback") == [events[-1]]
    assert audit.head() == events[-1] and audit.verify().ok
    assert audit.append("register", model="churn", version="3").prev_hash == events[-1].hash
    assert client.get_run(events[-1].run_id).info.status == "FINISHED"  # the next writer finished it


def test_a_finished_run_that_is_not_on_the_chain_is_a_fork(tracking_uri: str) -> None:
    events = a_few_changes()
    client = MlflowClient(tracking_uri)
    experiment_id = client.get_run(events[0].run_id).info.experiment_id
    fake = audit.Event(
        seq=6, time=audit.utc_now(), actor="mallory", action="promote", prev_hash=events[-1].hash
    )
    fake = audit.Event(**{**fake.to_dict(), "hash": fake.compute_hash()})
    run = client.create_run(experiment_id, tags=tags_for(fake))
    client.set_terminated(run.info.run_id, "FINISHED")
    problems = audit.verify().problems
    assert [(p.position, p.kind) for p in problems] == [(6, "forked")]
    assert "is not on the chain" in problems[0].message


# --- concurrent writers --------------------------------------------------------------------------

WRITERS = 8
EACH = 10
WRITER = """
import os, sys, time
from nbops import audit
audit.head()  # MLflow imported and the store opened before the start signal
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.002)
def after(previous):  # what the slot it lands in follows, as the registry derives from_version
    return {{"from_version": None if previous is None else str(previous.seq)}}
for n in range({each}):
    audit.append("promote", model="m", actor="writer-" + sys.argv[1], details={{"n": n}}, derive=after)
"""


def test_eight_processes_appending_at_once_keep_one_linear_chain(tracking_uri: str, tmp_path: Path) -> None:
    """They start on an empty store, so they also race to create the experiment and event 1."""
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(WRITERS)]
    # As users run them: without PYTEST_CURRENT_TEST, which turns on MLflow's own (slow) self-checks.
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    # MLflow's telemetry thread sets and unsets a variable while requests reads os.environ (a KeyError
    # inside MLflow against a server); off, as in CI, so what is tested is the log, not that race.
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER.format(each=EACH), str(i), str(ready[i]), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(WRITERS)
    ]
    try:
        deadline = time.monotonic() + 600  # a guard against a hang on a loaded machine, not a target
        while not all(path.exists() for path in ready):
            assert time.monotonic() < deadline and all(w.poll() is None for w in writers)
            time.sleep(0.01)
        go.touch()
        for writer in writers:
            _, err = writer.communicate(timeout=300)
            assert writer.returncode == 0, err[-3000:]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()

    found = audit.events()
    total = WRITERS * EACH
    assert [e.seq for e in found] == list(range(1, total + 1))
    # What each writer derived is about the event it was really chained after, never a stale head.
    assert [e.from_version for e in found] == [None, *(str(seq) for seq in range(1, total))]
    assert audit.verify() == audit.Verification(ok=True, checked=total, problems=[])
    by_writer: dict[str, list[int]] = {}
    for event in found:
        by_writer.setdefault(event.actor, []).append(int(event.details["n"]))
    assert by_writer == {f"writer-{i}": list(range(EACH)) for i in range(WRITERS)}
    # Every loser deleted its own run: nothing is left RUNNING.
    assert all(r.info.status == "FINISHED" for r in audit_runs(tracking_uri))


# --- the command ---------------------------------------------------------------------------------


def test_the_command_lists_filters_and_prints_json(tracking_uri: str, tmp_path: Path) -> None:
    a_few_changes()
    lines = nbops_cli("audit", uri=tracking_uri, cwd=tmp_path).stdout.splitlines()
    assert lines[0].split() == [
        "SEQ",
        "TIME",
        "ACTOR",
        "ACTION",
        "MODEL",
        "VERSION",
        "ALIAS",
        "FROM→TO",
        "REASON",
        "SOURCE",
    ]
    assert [line.split()[:4:3] for line in lines[1:]] == [
        ["1", "register"],
        ["2", "register"],
        ["3", "promote"],
        ["4", "promote"],
        ["5", "rollback"],
    ]
    assert "2→1" in lines[5] and "drift" in lines[5] and "AUC 0.91 → 0.93 on the March holdout" in lines[4]
    fraud = nbops_cli("audit", "--model", "fraud", uri=tracking_uri, cwd=tmp_path).stdout.splitlines()
    assert len(fraud) == 2 and fraud[1].split()[:5:4] == ["2", "fraud"]
    promoted = json.loads(
        nbops_cli("audit", "--action", "promote", "--json", uri=tracking_uri, cwd=tmp_path).stdout
    )
    assert [e["seq"] for e in promoted] == [3, 4]
    assert promoted[1]["details"] == {"auc": "0.93", "gate": "passed"} and promoted[1]["run_id"]
    done = nbops_cli("audit", "--verify", uri=tracking_uri, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "audit log verified: 5 events, chain intact\n")
    report = json.loads(nbops_cli("audit", "--verify", "--json", uri=tracking_uri, cwd=tmp_path).stdout)
    assert report == {"ok": True, "checked": 5, "problems": []}


def test_the_command_on_an_empty_log_says_what_will_appear(tracking_uri: str, tmp_path: Path) -> None:
    done = nbops_cli("audit", uri=tracking_uri, cwd=tmp_path)
    assert done.returncode == 0 and "No audit events yet" in done.stdout and "promote" in done.stdout
    assert nbops_cli("audit", "--verify", uri=tracking_uri, cwd=tmp_path).stdout == (
        "audit log verified: 0 events, chain intact\n"
    )


def test_the_command_explains_the_chain_and_refuses_filtered_verification(
    tracking_uri: str, tmp_path: Path
) -> None:
    help_text = nbops_cli("audit", "--help", uri=tracking_uri, cwd=tmp_path).stdout
    assert "SHA-256" in help_text and "hash of event N-1" in help_text and "exit" in help_text
    done = nbops_cli("audit", "--verify", "--model", "churn", uri=tracking_uri, cwd=tmp_path)
    assert done.returncode == 2 and "drop --model and --action" in done.stderr


def test_format_event_is_one_line() -> None:
    event = audit.Event(
        seq=7,
        time="2025-01-31T09:30:00.123Z",
        actor="ana",
        action="promote",
        model="churn",
        version="3",
        alias="champion",
        from_version="2",
        to_version="3",
        reason="better\nrecall",
        source="cli",
    )
    assert audit.format_event(event) == (
        "#7 2025-01-31T09:30:00.123Z ana promote churn v3 @champion 2→3 — better recall [cli]"
    )


def test_the_default_actor_is_the_os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "someone")
    monkeypatch.setenv("LOGNAME", "someone")
    assert audit.default_actor() == "someone"
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "getuid", lambda: 2**31 - 7)  # no passwd entry either
    assert audit.default_actor() == "unknown"
