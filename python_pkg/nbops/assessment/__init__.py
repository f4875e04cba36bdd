"""Production readiness from recorded evidence: each model scored on the ML Test Score rubric.

``nbops.assess()`` (and ``nbops assess``) reads what nbops has recorded — lineage, gate results,
the promotion policy, model cards, reproductions, canary steps, the audit log, monitoring batches,
alert rules and reviews — and scores every registered model against the automatable part of
Breck et al.'s 28 tests, saying per test which evidence counted and the one step that would earn
the missing points. Tests that need a person's judgment are listed as not assessable, never
guessed.

Parts: ``rubric`` (the 28 tests as data), ``evidence`` (a fixed number of store-side reads for
the whole project), ``scoring`` (points from evidence), ``report`` (JSON, text, HTML).
"""

from __future__ import annotations

from .. import config
from .evidence import gather
from .report import SCHEMA, Assessment, now
from .rubric import TESTS, level
from .scoring import score_model

__all__ = ["SCHEMA", "TESTS", "Assessment", "assess", "level"]


def assess(model: str | None = None, start: config.Start = None) -> Assessment:
    """Score ``model`` (default: every registered model) on the ML Test Score from the store's records.

    An unknown model is a ``NotFound`` naming where the models are listed.
    """
    if model is not None:
        from ..identifiers import check_model_name

        check_model_name(model)
    project = config.resolve(start)
    evidence = gather(model, project)
    return Assessment(evidence, [score_model(e, evidence) for e in evidence.models], now())
