"""Gates on prompt versions: the shipped ``llm_quality`` gate run on ``prompts:/NAME@ALIAS``, its verdict
recorded on the prompt version, and the promotion policy reading it before ``%promote prompts:/NAME``.

The application is a deterministic fake LLM (``app.py``, written into the project): no network, no
key. It follows the second prompt's instruction ("in capitals") and not the first's, so one version
passes the gate and the other fails it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from nbops import audit, gates, prompts, registry, store
from nbops.errors import InvalidInput, NotFound, PolicyError
from nbops.gate import Check
from nbops.gate_records import record
from nbops.gate_verdicts import GateOutcome

TAG_VALUE = re.compile(r"(passed|failed|error) [0-9a-f]{32} \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
APP = """\
import nbops.llm

@nbops.llm.traced(model="fake-llm")
def call(text, prompt):
    city = text.rsplit(" ", 1)[-1]
    return "ANSWER: " + city.upper() if "in capitals" in text else "maybe " + city

def answer(question, prompt):
    return call(prompt.format(question=question), prompt)
"""
ROWS = [
    {"inputs": {"question": c}, "expectations": {"expected_response": f"ANSWER: {c.upper()}"}}
    for c in ("paris", "rome", "oslo")
]
POLICY = '\n[tool.nbops.policy.prompts.qa]\nproduction = ["llm_quality"]\n'


@pytest.fixture
def app(project: Path) -> dict[str, object]:
    """Two versions of prompt ``qa`` (v2 is ``candidate``), the fake application and its rows."""
    (project / "app.py").write_text(APP)
    (project / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS))
    with (project / "pyproject.toml").open("a") as f:
        f.write(POLICY)
    prompts.register("qa", "Answer: {{question}}")
    prompts.register("qa", "Reply in capitals after 'ANSWER: ' to {{question}}", alias="candidate")
    return {
        "data_path": str(project / "rows.jsonl"),
        "predict": "app:answer",
        "min_scores": '{"exact_match": 1.0}',
    }


def gate_tag(version: int) -> str | None:
    return store.client().get_prompt_version("qa", version).tags.get("nbops.gate.llm_quality")


@pytest.mark.sqlite_only(
    reason="two papermill kernels running MLflow's evaluation; the server side of recording a verdict "
    "on a prompt version is tested below without a kernel"
)
def test_the_llm_quality_gate_judges_prompt_versions_and_the_policy_reads_its_verdicts(
    project: Path, app: dict[str, object], tmp_path: Path
) -> None:
    # Before any gate ran, the policy names the missing gate in one line and changes nothing.
    with pytest.raises(PolicyError) as refused:
        registry.promote("prompts:/qa", 2, "production", "ship it")
    assert str(refused.value).startswith(
        "prompts:/qa version 2 cannot become production: required gates not passed: llm_quality (not run);"
    )
    assert "\n" not in str(refused.value)

    # The CLI on an explicit version: the first prompt's answers do not match, so the gate fails.
    failed = subprocess.run(
        [sys.executable, "-m", "nbops.cli", "gate", "run", "llm_quality", "--model", "prompts:/qa/1"]
        + [arg for key, value in app.items() for arg in ("-p", key, str(value))]
        + ["--report", str(tmp_path / "v1")],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert re.search(r"^llm_quality\s+failed\s+0/1\s", failed.stdout, flags=re.MULTILINE), failed.stdout
    assert "prompts:/qa/1: a gate failed" in failed.stdout
    assert TAG_VALUE.fullmatch(gate_tag(1) or "") and gate_tag(1).startswith("failed ")

    # Python on the alias: resolved to version 2 once, which passes.
    done = gates.run(["llm_quality"], "prompts:/qa@candidate", app, report=tmp_path / "v2")
    assert (done.model, done.version, done.model_uri, done.exit_code) == (
        "prompts:/qa",
        "2",
        "prompts:/qa/2",
        0,
    )
    (outcome,) = done.outcomes
    assert outcome.result == "passed" and outcome.parameters["model_uri"] == "prompts:/qa/2"
    assert TAG_VALUE.fullmatch(gate_tag(2) or "") and gate_tag(2).split()[:2] == ["passed", outcome.run_id]
    assert prompts.versions("qa")[0]["gates"] == {"llm_quality": "passed"}
    # The gate's run, report and audit event, as for a model version.
    run = store.client().get_run(outcome.run_id)
    assert (run.data.tags["nbops.gate.model"], run.data.tags["nbops.gate.version"]) == ("prompts:/qa", "2")
    assert {"llm_quality.ipynb", "llm_quality.html", "junit.xml"} <= {
        p.name for p in (tmp_path / "v2").iterdir()
    }
    suites = ET.parse(tmp_path / "v2" / "junit.xml").getroot()
    assert suites.get("name") == "nbops gates prompts:/qa/2" and suites.get("failures") == "0"
    gate_events = [(e.model, e.version, e.details["result"]) for e in audit.events(action="gate")]
    assert gate_events == [("prompts:/qa", "1", "failed"), ("prompts:/qa", "2", "passed")]

    # The policy now lets version 2 through, and still holds version 1 back, naming why.
    assert registry.promote("prompts:/qa", 2, "production", "passed llm_quality")["to_version"] == "2"
    assert prompts.load("qa@production").version == 2
    with pytest.raises(PolicyError, match=r"required gates not passed: llm_quality \(failed\);"):
        registry.promote("prompts:/qa", 1, "production", "older is better")


def test_a_verdict_is_recorded_on_the_prompt_version_and_read_by_the_policy(project: Path, app: dict) -> None:
    ran = GateOutcome("llm_quality", "passed", "1 of 1 checks passed", Path("llm_quality.ipynb"), ran=True)
    ran.checks = [Check("exact_match/mean", 1.0, ">=", 1.0, True)]
    record(ran, "prompts:/qa", "2", None)
    assert TAG_VALUE.fullmatch(gate_tag(2) or "") and gate_tag(2).split()[:2] == ["passed", ran.run_id]
    assert gate_tag(1) is None
    run = store.client().get_run(ran.run_id)
    assert run.data.tags["nbops.gate.model"] == "prompts:/qa" and run.data.metrics == {
        "check.exact_match/mean": 1.0
    }
    (event,) = audit.events(action="gate")
    assert (event.model, event.version, event.details["result"]) == ("prompts:/qa", "2", "passed")
    assert registry.policy_gaps("prompts:/qa", "2", "production") == []
    assert registry.policy_gaps("prompts:/qa", "1", "production") == ["llm_quality (not run)"]
    assert registry.promote("prompts:/qa", 2, "production", "gated")["to_version"] == "2"


def test_a_forced_prompt_promotion_is_audited_with_what_was_missing(project: Path, app: dict) -> None:
    # The prompt's own policy table wins over the project-wide lists (which require nothing here).
    assert registry.required_gates("production", model="prompts:/qa") == ["llm_quality"]
    assert registry.required_gates("production", model="prompts:/other") == []
    assert registry.required_gates("production", model="qa") == []  # a model of that name: not the prompt
    # The tables of [tool.nbops.policy] are not aliases: listing the policy's aliases does not trip on them.
    assert registry.required_gates("prompts") == [] and registry.required_gates("models") == []
    forced = registry.promote("prompts:/qa", 1, "production", "hotfix, gate later", force=True)
    assert forced["forced"] is True and forced["to_version"] == "1"
    (event,) = [e for e in audit.events(action="promote") if e.alias == "production"]
    assert (event.model, event.alias, event.to_version) == ("prompts:/qa", "production", "1")
    assert event.details == {"forced": "true", "policy_gaps": "llm_quality (not run)"}
    assert event.reason == "hotfix, gate later"


def test_a_prompt_reference_that_does_not_resolve_is_one_line_and_runs_nothing(
    project: Path, app: dict, tmp_path: Path
) -> None:
    cases = {
        "prompts:/missing@x": (
            NotFound,
            "no prompt named 'missing'; nbops.prompts.list_prompts() shows the prompts.",
        ),
        "prompts:/qa@production": (NotFound, "prompt 'qa' has no alias 'production'; nbops.prompts.versions"),
        "prompts:/qa/7": (NotFound, "prompt 'qa' has no version 7; nbops.prompts.versions shows them."),
        "prompts:/qa": (InvalidInput, "--model must be prompts:/NAME/VERSION or prompts:/NAME@ALIAS"),
    }
    for uri, (error, message) in cases.items():
        with pytest.raises(error) as caught:
            gates.run(["llm_quality"], uri, app, report=tmp_path / "never")
        assert str(caught.value).startswith(message) and "\n" not in str(caught.value), uri
    assert not (tmp_path / "never").exists()
    assert audit.events(action="gate") == []

    cli = subprocess.run(
        [sys.executable, "-m", "nbops.cli", "gate", "run", "llm_quality", "--model", "prompts:/missing@x"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 4  # not found, as for a model version that does not exist
    assert cli.stderr.strip().splitlines() == [
        "nbops: error: no prompt named 'missing'; nbops.prompts.list_prompts() shows the prompts."
    ]


def test_the_gate_magic_takes_a_prompt_reference(project: Path, app: dict, capsys) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("colors", "nocolor")
    shell.run_line_magic("reload_ext", "nbops")
    assert not shell.run_cell("%gate llm_quality --model prompts:/missing@x").success
    err = capsys.readouterr().err
    assert "no prompt named 'missing'; nbops.prompts.list_prompts() shows the prompts." in err
    assert "Traceback" not in err
    # The version may also follow the gate names, as on the command line.
    assert not shell.run_cell("%gate llm_quality prompts:/missing@x").success
    err = capsys.readouterr().err
    assert "no prompt named 'missing'; nbops.prompts.list_prompts() shows the prompts." in err
    assert not shell.run_cell("%gate llm_quality").success
    err = capsys.readouterr().err
    assert "no model or prompt version to gate" in err and "Traceback" not in err


def test_the_cli_takes_the_prompt_version_positionally_after_the_gates(
    project: Path, app: dict, tmp_path: Path
) -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "nbops.cli", "gate", "run", "llm_quality", "prompts:/qa@candidate"]
        + [arg for key, value in app.items() for arg in ("-p", key, str(value))]
        + ["--report", str(tmp_path / "v2")],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert re.search(r"^llm_quality\s+passed\s+1/1\s", ran.stdout, flags=re.MULTILINE), ran.stdout
    # The alias was resolved to version 2: the verdict is on that prompt version, not on version 1.
    assert TAG_VALUE.fullmatch(gate_tag(2) or "") and gate_tag(2).startswith("passed ")
    assert gate_tag(1) is None
    assert prompts.versions("qa")[0]["gates"] == {"llm_quality": "passed"}
    assert [(e.model, e.version) for e in audit.events(action="gate")] == [("prompts:/qa", "2")]


@pytest.mark.sqlite_only(reason="refused while reading the command line, before any store is read")
def test_the_cli_refuses_two_versions_or_none_in_one_line(project: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nbops.cli", "gate", "run", *args],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=120,
        )

    two = cli("llm_quality", "prompts:/qa@candidate", "--model", "prompts:/qa/1")
    none = cli("llm_quality")
    both = cli("llm_quality", "prompts:/qa/1", "models:/churn@production")
    for done in (two, none, both):
        assert done.returncode == 2, done.stdout + done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert line.endswith("name it once, positionally (prompts:/NAME@ALIAS) or with --model."), line
    assert two.stderr.startswith(
        "nbops: error: gates run on one version at a time, not prompts:/qa/1, prompts:/qa@candidate;"
    )
    assert none.stderr.startswith("nbops: error: no model or prompt version to gate;")
    assert audit.events(action="gate") == []


@pytest.mark.sqlite_only(reason="reads only the project's gate folder and the working directory")
def test_a_version_is_told_from_a_gate_without_ever_taking_a_gate_for_a_version(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbops.gate_plans import split_subject

    monkeypatch.chdir(project)
    (project / "notebooks" / "gates").mkdir(parents=True)
    (project / "notebooks" / "gates" / "smoke@v2.ipynb").write_text(
        "{}"
    )  # a gate name that looks like NAME@ALIAS
    (project / "checks").mkdir()
    (project / "checks" / "3").write_text("{}")  # a notebook path that looks like NAME/VERSION

    assert split_subject(["performance", "prompts:/qa/2"], None, project) == (
        ["performance"],
        "prompts:/qa/2",
    )
    assert split_subject(["churn@production", "performance"], None, project) == (
        ["performance"],
        "models:/churn@production",
    )
    assert split_subject(["performance", "churn/3"], None, project) == (["performance"], "models:/churn/3")
    assert split_subject(["gates/x@y.ipynb"], "models:/churn/3", project) == (
        ["gates/x@y.ipynb"],
        "models:/churn/3",
    )
    for ambiguous in ("smoke@v2", "checks/3"):
        with pytest.raises(InvalidInput) as caught:
            split_subject([ambiguous, "prompts:/qa/2"], None, project)
        assert str(caught.value).startswith(
            f"{ambiguous!r} is both a gate and a model version; name the version with --model"
        )
        # With --model naming the version, the argument is the gate.
        assert split_subject([ambiguous], "prompts:/qa/2", project) == ([ambiguous], "prompts:/qa/2")
