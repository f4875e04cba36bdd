"""The per-batch numbers beyond drift: performance, latency, fairness, health and cost.

Plain functions from arrays to ``{metric name: float}``; ``batches.log_batch`` prefixes and stores
them. A number that cannot be computed from the batch (one class only, no positives in a group)
is left out rather than stored as NaN, so alert rules never fire on a NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

CLASSIFICATION, REGRESSION = "classification", "regression"


def task_of(labels: np.ndarray, predictions: np.ndarray) -> str:
    """Classification when labels or predictions are not floats, or are floats holding few whole values."""
    for values in (labels, predictions):
        if values.dtype.kind not in "fc":
            return CLASSIFICATION
    both = np.concatenate([labels, predictions]).astype(float)
    both = both[np.isfinite(both)]
    if both.size and np.all(both == np.round(both)) and np.unique(both).size <= 20:
        return CLASSIFICATION
    return REGRESSION


def performance(labels: Any, predictions: Any, scores: Any = None, positive: Any = None) -> dict[str, float]:
    """Accuracy, F1 and ROC-AUC (classification) or RMSE and MAE (regression)."""
    from sklearn import metrics

    y, p = _array(labels), _array(predictions)
    if y.shape[0] != p.shape[0]:
        raise ValueError(f"labels has {y.shape[0]} rows but predictions has {p.shape[0]}.")
    if y.size == 0:
        return {}
    if task_of(y, p) == REGRESSION:
        error = p.astype(float) - y.astype(float)
        return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}
    out = {"accuracy": float(metrics.accuracy_score(y, p))}
    classes = np.unique(np.concatenate([y, p]))
    if classes.size == 2:
        pos = positive_label(classes, positive)
        out["f1"] = float(metrics.f1_score(y, p, pos_label=pos, zero_division=0))
        if scores is not None and np.unique(y).size == 2:
            s = _array(scores)
            if s.ndim == 2:
                s = s[:, -1]
            out["roc_auc"] = float(metrics.roc_auc_score(y == pos, s))
    else:
        out["f1"] = float(metrics.f1_score(y, p, average="macro", zero_division=0))
    return out


def positive_label(classes: np.ndarray, positive: Any = None) -> Any:
    """The positive class: the one given, else 1 / True / "yes" when present, else the last of the sorted classes."""
    if positive is not None:
        return positive
    for c in classes:
        if str(c).strip().lower() in ("1", "1.0", "true", "yes"):
            return c
    return sorted(classes, key=str)[-1]


def latency(latency_ms: Any) -> dict[str, float]:
    values = _array(latency_ms).astype(float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99), "mean_ms": float(values.mean())}


def fairness(groups: Any, predictions: Any, labels: Any = None, positive: Any = None) -> dict[str, float]:
    """Selection rate and true-positive rate per group, and their largest gaps.

    ``demographic_parity_difference`` is the largest gap in selection rate between groups,
    ``equal_opportunity_difference`` the largest gap in true-positive rate (labels needed).
    """
    g = pd.Series(_array(groups)).astype(str).to_numpy()
    p = _array(predictions)
    classes = np.unique(p if labels is None else np.concatenate([p, _array(labels)]))
    if classes.size == 0:
        return {}
    pos = positive_label(classes, positive)
    selected = p == pos
    out: dict[str, float] = {}
    rates, tprs = [], []
    for group in np.unique(g):
        mask = g == group
        rate = float(selected[mask].mean())
        out[f"selection_rate.{group}"] = rate
        rates.append(rate)
        if labels is not None:
            positives = mask & (_array(labels) == pos)
            if positives.any():
                tpr = float(selected[positives].mean())
                out[f"tpr.{group}"] = tpr
                tprs.append(tpr)
    if len(rates) >= 2:
        out["demographic_parity_difference"] = max(rates) - min(rates)
    if len(tprs) >= 2:
        out["equal_opportunity_difference"] = max(tprs) - min(tprs)
    return out


def health(
    features: pd.DataFrame, expected: list[str], schema_violations: int, errors: int
) -> dict[str, float]:
    """Missing-value rate over the expected columns present, schema violations and errors."""
    present = [c for c in expected if c in features.columns]
    cells = len(features) * len(present)
    missing = int(features[present].isna().to_numpy().sum()) if cells else 0
    return {
        "missing_rate": missing / cells if cells else 0.0,
        "schema_violations": float(schema_violations),
        "errors": float(errors),
    }


def cost(cpu_seconds: float | None, rows: int, prices: dict[str, Any]) -> dict[str, float]:
    """Cost per 1,000 predictions from ``[tool.nbops.monitoring]`` prices.

    ``price_per_cpu_hour`` turns measured CPU time into money; ``price_per_1k_predictions`` is a
    flat price (a managed endpoint's, say). Both may be set; they add up.
    """
    if rows <= 0:
        return {}
    total = 0.0
    known = False
    hourly = prices.get("price_per_cpu_hour")
    if hourly is not None and cpu_seconds is not None:
        total += float(hourly) * cpu_seconds / 3600 / rows * 1000
        known = True
    flat = prices.get("price_per_1k_predictions")
    if flat is not None:
        total += float(flat)
        known = True
    return {"per_1k_predictions": total} if known and math.isfinite(total) else {}


def _array(values: Any) -> np.ndarray:
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            return values.to_numpy()
        values = values.iloc[:, 0]
    return np.asarray(values)
