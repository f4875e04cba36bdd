"""Points from evidence: each assessable test is automated, done by hand, or missing, with why.

A check returns the status, the evidence that counted (what a reader can go and look at), and
the one next step that would earn the missing points — a command to run or a line for
``pyproject.toml``. Nothing here reads the store: ``evidence`` did, once, for every model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from .. import lineage
from .evidence import (
    CARD_TAG,
    GATE_TAG,
    REPRODUCE_GATE,
    REPRODUCE_TAG,
    REPRODUCE_VERDICT_TAG,
    ModelEvidence,
    ProjectEvidence,
)
from .rubric import AUTOMATED_POINTS, MANUAL_POINTS, SECTIONS, TESTS, level

AUTOMATED, MANUAL, MISSING, NOT_ASSESSABLE = "automated", "by hand", "missing", "not assessable"
POINTS = {AUTOMATED: AUTOMATED_POINTS, MANUAL: MANUAL_POINTS, MISSING: 0.0, NOT_ASSESSABLE: 0.0}


@dataclass
class TestResult:
    """One test of one model: its status and points, the evidence that counted, the next step."""

    id: str
    section: str
    title: str
    status: str
    points: float
    evidence: list[str] = field(default_factory=list)
    next_step: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ModelScore:
    model: str
    version: str | None
    serving_alias: str
    serves: bool
    tests: list[TestResult]

    @property
    def sections(self) -> dict[str, float]:
        return {s: sum(t.points for t in self.tests if t.section == s) for s in SECTIONS}

    @property
    def score(self) -> float:
        """The paper's final score: the lowest section score."""
        return min(self.sections.values())

    @property
    def level(self) -> str:
        return level(self.score)


_Verdict = tuple[str, list[str], str | None]


def score_model(e: ModelEvidence, project: ProjectEvidence) -> ModelScore:
    """Every test of the rubric for one model."""
    results = []
    for test in TESTS:
        if test.check is None:
            status, evidence, step = NOT_ASSESSABLE, [], None
        elif e.version is None:
            status, evidence, step = (
                MISSING,
                [],
                f"register a version: nbops.register(model, name={e.name!r})",
            )
        else:
            kind, _, argument = test.check.partition(":")
            status, evidence, step = _CHECKS[kind](e, project, argument)
        results.append(TestResult(test.id, test.section, test.title, status, POINTS[status], evidence, step))
    return ModelScore(e.name, e.version, project.serving_alias, e.serves, results)


def _uri(e: ModelEvidence) -> str:
    return f"models:/{e.name}/{e.version}"


def _policy_line(e: ModelEvidence, project: ProjectEvidence, gate: str) -> str:
    return _policy_line_for(project.serving_alias, [*e.required_gates, gate])


def _gate(e: ModelEvidence, project: ProjectEvidence, gate: str) -> _Verdict:
    words = e.tags.get(GATE_TAG + gate, "").split()
    result = words[0] if words else None
    required = gate in e.required_gates
    where = f"policy requires {gate} for {project.serving_alias}" if required else ""
    if result != "passed":
        seen = [f"{gate} gate {result} on v{e.version} (run {words[1]})"] if len(words) > 1 else []
        return MISSING, [*seen, *([where] if where else [])], f"nbops gate run {gate} --model {_uri(e)}"
    evidence = [f"{gate} gate passed on v{e.version} (run {words[1] if len(words) > 1 else '?'})"]
    if required:
        return AUTOMATED, [*evidence, where], None
    return MANUAL, evidence, _policy_line(e, project, gate)


def _lineage(e: ModelEvidence, project: ProjectEvidence, _: str) -> _Verdict:
    recorded = {
        "notebook": e.tags.get(lineage.TAG_NOTEBOOK),
        "cell": e.tags.get(lineage.TAG_CELL_HASH),
        "git commit": e.tags.get(lineage.TAG_GIT_COMMIT),
    }
    have = [
        f"{what} {value[:12] if what != 'notebook' else value}" for what, value in recorded.items() if value
    ]
    if recorded["notebook"] and (recorded["cell"] or recorded["git commit"]):
        if e.tags.get(lineage.TAG_GIT_DIRTY) == "true":
            have.append("git tree was dirty")
        return MANUAL, have, None
    return (
        MISSING,
        have,
        "train in a %%track cell of a notebook under git, then %register it (lineage is copied onto the version)",
    )


def _baseline(e: ModelEvidence, project: ProjectEvidence, _: str) -> _Verdict:
    words = e.tags.get(GATE_TAG + "performance", "").split()
    step = f"nbops gate run performance --model {_uri(e)} -p champion_uri models:/{e.name}@{project.serving_alias}"
    if not words or words[0] != "passed":
        seen = [f"performance gate {words[0]} on v{e.version}"] if words else []
        return MISSING, seen, step
    if not e.champion_uri:
        return MISSING, [f"performance gate passed on v{e.version} without champion_uri"], step
    evidence = [
        f"performance gate passed against {e.champion_uri} (run {words[1] if len(words) > 1 else '?'})"
    ]
    if "performance" in e.required_gates:
        return AUTOMATED, [*evidence, f"policy requires performance for {project.serving_alias}"], None
    return MANUAL, evidence, _policy_line(e, project, "performance")


def _card(e: ModelEvidence, project: ProjectEvidence, _: str) -> _Verdict:
    intended = e.description or e.tags.get("nbops.card.intended_use", "")
    rendered = e.tags.get(CARD_TAG)
    evidence = []
    if intended:
        evidence.append("intended use documented")
    if rendered:
        evidence.append(f"card at {rendered}")
    if intended and rendered:
        return MANUAL, evidence, None
    if not intended:
        return (
            MISSING,
            evidence,
            f"nbops.registry.refresh_card({e.name!r}, {e.version}, card={{'intended_use': '...'}})",
        )
    return MISSING, evidence, f"nbops.registry.refresh_card({e.name!r}, {e.version})"


def _reproduced(e: ModelEvidence, project: ProjectEvidence, _: str) -> _Verdict:
    """``nbops reproduce`` keeps its verdict as ``nbops.reproduce`` (``<verdict> <run> <time>``) and as
    the gate ``reproducible``; ``nbops.reproduce.verdict`` (the verdict alone) is read as well."""
    words = e.tags.get(REPRODUCE_TAG, "").split()
    verdict = e.tags.get(REPRODUCE_VERDICT_TAG) or (words[0] if words else None)
    step = f"nbops reproduce {e.name}/{e.version}"
    if verdict != "reproduced":
        return MISSING, [f"last reproduction: {verdict}"] if verdict else [], step
    run = f" (run {words[1]})" if len(words) > 1 else ""
    evidence = [f"v{e.version} reproduced{run}"]
    if REPRODUCE_GATE in e.required_gates:
        return AUTOMATED, [*evidence, f"policy requires {REPRODUCE_GATE} for {project.serving_alias}"], None
    return MANUAL, evidence, _policy_line(e, project, REPRODUCE_GATE)


def _policy(e: ModelEvidence, project: ProjectEvidence, _: str) -> _Verdict:
    passed = sorted(
        key.removeprefix(GATE_TAG)
        for key, value in e.tags.items()
        if key.startswith(GATE_TAG) and value.split()[:1] == ["passed"]
    )
    alias = project.serving_alias
    if e.required_gates:
        missing = [g for g in e.required_gates if g not in passed]
        needs = f"policy requires {', '.join(e.required_gates)} for {alias}"
        if not missing:
            return AUTOMATED, [needs, f"v{e.version} passed all of them"], None
        step = f"nbops gate run {' '.join(missing)} --model {_uri(e)}"
        if passed:
            return MANUAL, [needs, f"v{e.version} passed {', '.join(passed)}"], step
        return MISSING, [needs], step
    if passed:
        return MANUAL, [f"v{e.version} passed {', '.join(passed)}"], _policy_line_for(alias, passed)
    return MISSING, [], f"nbops gate run performance data_validation --model {_uri(e)}"


def _policy_line_for(alias: str, gates: list[str]) -> str:
    return f"under [tool.nbops.policy]: {alias} = [{', '.join(json.dumps(g) for g in gates)}]"


def _canary(e: ModelEvidence, project: ProjectEvidence, _: str) -> _Verdict:
    evidence = []
    if e.canary_events:
        evidence.append(f"{e.canary_events} canary event(s) in the audit log")
    if e.canary_served:
        evidence.append("a deployment served a canary split")
    step = f"nbops serve {e.name}@{project.serving_alias} --canary challenger=10"
    if e.canary_events and project.canary_configured:
        return AUTOMATED, [*evidence, "[tool.nbops.canary] configures the rollout"], None
    if evidence:
        return (
            MANUAL,
            evidence,
            None if e.canary_events else "under [tool.nbops.canary]: steps = [10, 50, 100]",
        )
    return MISSING, evidence, step


def _rollback(e: ModelEvidence, project: ProjectEvidence, _: str) -> _Verdict:
    alias = project.serving_alias
    if not project.audit_ok:
        return MISSING, ["the audit chain is broken"], "nbops audit --verify"
    if e.rollback_target is None:
        return (
            MISSING,
            [f"audit chain intact ({project.audit_checked} events)"],
            f"nbops promote {e.name} VERSION --to {alias} --reason TEXT (a second promotion leaves one to roll back to)",
        )
    evidence = [
        f"{alias} can roll back to v{e.rollback_target}",
        f"audit chain intact ({project.audit_checked} events)",
    ]
    if e.canary_events:
        return AUTOMATED, [*evidence, "canary rollouts roll back on their own verdict"], None
    return MANUAL, evidence, f"nbops serve {e.name}@{alias} --canary challenger=10"


#: The alert rule a next step proposes per family: metric, op, threshold.
_RULES = {
    "drift": ("drift.share", ">=", 0.3),
    "latency": ("latency.p95_ms", ">=", 500),
    "performance": ("performance.accuracy.change", "<=", -0.05),
}
_FAMILIES = {"drift": ("drift.", "prediction."), "latency": ("latency.",), "performance": ("performance.",)}


def _monitored(e: ModelEvidence, project: ProjectEvidence, family: str) -> _Verdict:
    prefixes = _FAMILIES[family]
    seen = sorted(m for m in e.monitored_metrics if m.startswith(prefixes))
    watched = sorted({m for m in e.alert_metrics if m.startswith(prefixes)})
    if not seen:
        if family == "performance":
            step = f"nbops.monitor.log_labels({e.name!r}, request_ids, labels)"
        else:
            step = f"nbops serve {e.name}@{project.serving_alias} (or nbops.monitor.log_batch)"
        return MISSING, [], step
    where = "served " if e.serves else ""
    evidence = [f"{len(seen)} {family} metric(s) on the {where}v{e.version} batches ({seen[0]}, …)"]
    if watched:
        return AUTOMATED, [*evidence, f"alert rule on {', '.join(watched)}"], None
    metric, op, threshold = _RULES[family]
    rule = f'{e.name}-{family} = {{ metric = "{metric}", op = "{op}", threshold = {threshold}, model = {json.dumps(e.name)} }}'
    return MANUAL, evidence, f"under [tool.nbops.alerts]: {rule}"


def _review(e: ModelEvidence, project: ProjectEvidence, _: str) -> _Verdict:
    step = f"nbops review {e.name}"
    if not project.reviews_recorded:
        return MISSING, ["this nbops records no reviews"], step
    last = e.last_review
    if last is None:
        return MISSING, [], step
    when = str(last.get("when", ""))
    evidence = [f"last review {when} by {last.get('who') or 'unknown'}"]
    if project.review_period is None:
        return MANUAL, evidence, 'under [tool.nbops.review]: every = "90d"'
    age = datetime.now(UTC) - datetime.fromtimestamp(int(last.get("timestamp", 0)) / 1000, UTC)
    if age > project.review_period:
        return MISSING, [*evidence, f"older than every = {project.review_every}"], step
    return AUTOMATED, [*evidence, f"within every = {project.review_every}"], None


_CHECKS: dict[str, Callable[[ModelEvidence, ProjectEvidence, str], _Verdict]] = {
    "gate": _gate,
    "lineage": _lineage,
    "baseline": _baseline,
    "card": _card,
    "reproduced": _reproduced,
    "policy": _policy,
    "canary": _canary,
    "rollback": _rollback,
    "monitor": _monitored,
    "review": _review,
}


def unknown_checks() -> list[str]:
    """Checks the rubric names that scoring does not know (a test keeps them in step)."""
    return [t.id for t in TESTS if t.check and t.check.partition(":")[0] not in _CHECKS]
