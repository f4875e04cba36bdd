"""The ML Test Score rubric as data: 28 tests in four sections, and the readiness levels.

Breck et al., "The ML Test Score: A Rubric for ML Production Readiness and Technical Debt
Reduction" (IEEE Big Data 2017) lists 7 tests per section. A test done by hand earns half a point,
an automated one a full point; a section scores the sum of its tests, and a model scores its
weakest section, because one untested area is enough to hurt production.

nbops decides a test only from what it has recorded (version tags, gate runs, monitoring runs,
the audit log, the project's policy). Tests that need a person's judgment — whether every feature
is worth its cost, whether hyperparameters were tuned — carry ``check = None`` and are reported as
"not assessable from records", never guessed. Keeping the rubric as data lets the text, JSON and
HTML faces and the README table come from one list.
"""

from __future__ import annotations

from dataclasses import dataclass

SECTIONS = ("data", "model", "infrastructure", "monitoring")
SECTION_TITLES = {
    "data": "Data and features",
    "model": "Model development",
    "infrastructure": "ML infrastructure",
    "monitoring": "Monitoring",
}
MANUAL_POINTS = 0.5
AUTOMATED_POINTS = 1.0


@dataclass(frozen=True)
class Test:
    """One test of the rubric: where it sits, the paper's words, and how nbops decides it."""

    id: str
    section: str
    title: str
    #: The evidence check in ``scoring`` that decides it; ``None``: not assessable from records.
    check: str | None
    #: How nbops decides "by hand" (half a point) and "automated" (a full point), in words.
    decided_by: str
    #: False when records can show the test done but nothing nbops keeps can enforce it.
    automatable: bool = True

    @property
    def assessable(self) -> bool:
        return self.check is not None


_NOT_FROM_RECORDS = "not assessable from records"

TESTS: tuple[Test, ...] = (
    # --- data ------------------------------------------------------------------------------------
    Test(
        "data-1",
        "data",
        "Feature expectations are captured in a schema.",
        "gate:data_validation",
        "by hand: the data_validation gate passed on the version; automated: the policy also "
        "requires it for the serving alias",
    ),
    Test("data-2", "data", "All features are beneficial.", None, _NOT_FROM_RECORDS),
    Test("data-3", "data", "No feature's cost is too much.", None, _NOT_FROM_RECORDS),
    Test("data-4", "data", "Features adhere to meta-level requirements.", None, _NOT_FROM_RECORDS),
    Test("data-5", "data", "The data pipeline has appropriate privacy controls.", None, _NOT_FROM_RECORDS),
    Test("data-6", "data", "New features can be added quickly.", None, _NOT_FROM_RECORDS),
    Test("data-7", "data", "All input feature code is tested.", None, _NOT_FROM_RECORDS),
    # --- model development -----------------------------------------------------------------------
    Test(
        "model-1",
        "model",
        "Model specs are reviewed and submitted.",
        "lineage",
        "by hand: the version carries its lineage (notebook, cell hash and git commit); the review "
        "itself is a person's act that no record enforces",
        automatable=False,
    ),
    Test("model-2", "model", "Offline and online metrics correlate.", None, _NOT_FROM_RECORDS),
    Test("model-3", "model", "All hyperparameters have been tuned.", None, _NOT_FROM_RECORDS),
    Test("model-4", "model", "The impact of model staleness is known.", None, _NOT_FROM_RECORDS),
    Test(
        "model-5",
        "model",
        "A simpler model is not better.",
        "baseline",
        "by hand: the performance gate passed against the champion (champion_uri given); automated: "
        "the policy also requires the performance gate for the serving alias",
    ),
    Test(
        "model-6",
        "model",
        "Model quality is sufficient on important data slices.",
        "gate:fairness",
        "by hand: the fairness (per-slice) gate passed on the version; automated: the policy also "
        "requires it for the serving alias",
    ),
    Test(
        "model-7",
        "model",
        "The model is tested for considerations of inclusion.",
        "card",
        "by hand: the model card is complete (intended use documented and the card rendered); "
        "whether its considerations are sufficient is a person's judgment",
        automatable=False,
    ),
    # --- infrastructure --------------------------------------------------------------------------
    Test(
        "infrastructure-1",
        "infrastructure",
        "Training is reproducible.",
        "reproduced",
        "by hand: nbops reproduce re-ran the training and found the version reproduced "
        "(nbops.reproduce tag); automated: the policy also requires the reproducible gate",
    ),
    Test("infrastructure-2", "infrastructure", "Model specs are unit tested.", None, _NOT_FROM_RECORDS),
    Test(
        "infrastructure-3",
        "infrastructure",
        "The ML pipeline is integration tested.",
        None,
        _NOT_FROM_RECORDS,
    ),
    Test(
        "infrastructure-4",
        "infrastructure",
        "Model quality is validated before serving.",
        "policy",
        "by hand: the version passed gates; automated: the policy requires gates for the serving "
        "alias and the version passed every one",
    ),
    Test("infrastructure-5", "infrastructure", "The model is debuggable.", None, _NOT_FROM_RECORDS),
    Test(
        "infrastructure-6",
        "infrastructure",
        "Models are canaried before serving.",
        "canary",
        "by hand: a canary split was served or canary steps are in the audit log; automated: canary "
        "steps are in the audit log and [tool.nbops.canary] configures the rollout",
    ),
    Test(
        "infrastructure-7",
        "infrastructure",
        "Serving models can be rolled back.",
        "rollback",
        "by hand: the audit log (chain intact) names a version the serving alias can roll back to; "
        "automated: a canary rollout (audited) rolls back on its own verdict",
    ),
    # --- monitoring ------------------------------------------------------------------------------
    Test("monitoring-1", "monitoring", "Dependency changes result in notification.", None, _NOT_FROM_RECORDS),
    Test(
        "monitoring-2",
        "monitoring",
        "Data invariants hold for inputs.",
        "monitor:drift",
        "by hand: drift is measured on the served version's batches; automated: an alert rule "
        "watches a drift.* or prediction.* metric of the model",
    ),
    Test("monitoring-3", "monitoring", "Training and serving are not skewed.", None, _NOT_FROM_RECORDS),
    Test(
        "monitoring-4",
        "monitoring",
        "Models are not too stale.",
        "review",
        "by hand: a health review was recorded; automated: [tool.nbops.review] every sets the period "
        "and the last review is within it",
    ),
    Test("monitoring-5", "monitoring", "Models are numerically stable.", None, _NOT_FROM_RECORDS),
    Test(
        "monitoring-6",
        "monitoring",
        "Computing performance has not regressed.",
        "monitor:latency",
        "by hand: latency is measured on the served version's batches; automated: an alert rule "
        "watches a latency.* metric of the model",
    ),
    Test(
        "monitoring-7",
        "monitoring",
        "Prediction quality has not regressed.",
        "monitor:performance",
        "by hand: labels are joined to served predictions (performance.* batches); automated: an "
        "alert rule watches a performance.* metric of the model",
    ),
)

#: The paper's reading of a final score (the lowest section score), from the bottom up.
LEVELS: tuple[tuple[float, str], ...] = (
    (0.0, "More of a research project than a productionized system."),
    (
        1.0,
        "Not totally untested, but it is worth considering the possibility of serious holes in reliability.",
    ),
    (2.0, "There's been first pass at basic productionization, but additional investment may be needed."),
    (3.0, "Reasonably tested, but it's possible that more of those tests and procedures may be automated."),
    (5.0, "Strong levels of automated testing and monitoring, appropriate for mission-critical systems."),
    (float("inf"), "Exceptional levels of automated testing and monitoring."),
)


def level(score: float) -> str:
    """The paper's words for a final score: 0, up to 1, up to 2, up to 3, up to 5, above 5."""
    for bound, words in LEVELS:
        if score <= bound:
            return words
    return LEVELS[-1][1]


def by_section(section: str) -> list[Test]:
    return [test for test in TESTS if test.section == section]
