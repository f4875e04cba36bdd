"""LLM applications: traced calls with tokens and cost, offline evaluation, LLM monitoring.

Built on MLflow's GenAI primitives — tracing, ``mlflow.genai.evaluate`` and its scorers, the prompt
registry — with nbops' lifecycle around them. ``tracing`` (``traced``, ``flush``), ``usage`` (token
counts and the project's price table), ``evaluation`` (``evaluate`` and the deterministic
scorers), ``monitoring`` (store-side aggregates per prompt version and per LLM model, logged into
nbops' monitoring so alert rules apply). Importing this package is cheap; MLflow loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .evaluation import EvaluationResult, evaluate, exact_match, json_valid, length, no_pii, regex
    from .monitoring import history, log_window, summary
    from .tracing import flush, traced

_WHERE = {
    "traced": "tracing",
    "flush": "tracing",
    "evaluate": "evaluation",
    "EvaluationResult": "evaluation",
    "exact_match": "evaluation",
    "regex": "evaluation",
    "length": "evaluation",
    "json_valid": "evaluation",
    "no_pii": "evaluation",
    "summary": "monitoring",
    "log_window": "monitoring",
    "history": "monitoring",
}

__all__ = [
    "EvaluationResult",
    "evaluate",
    "exact_match",
    "flush",
    "history",
    "json_valid",
    "length",
    "log_window",
    "no_pii",
    "regex",
    "summary",
    "traced",
]


__getattr__ = lazy.exports(__name__, _WHERE)
