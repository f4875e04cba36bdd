"""The per-batch numbers beyond drift: performance, latency, fairness, health and cost.

Plain functions from arrays to ``{metric name: float}``; ``batches.log_batch`` prefixes and stores
them. A number that cannot be computed from the batch (one class only, no positives in a group)
is left out rather than stored as NaN, so alert rules never fire on a NaN.

Labels, predictions and scores are checked before scikit-learn sees them: missing labels, labels of
another kind than the predictions (text against numbers, continuous values against classes), a
``positive`` class that is not among them, or scores that are not one finite number per row are each
refused with a one-line :class:`~nbops.errors.DataError` that says what to pass instead.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from nbops.errors import DataError

CLASSIFICATION, REGRESSION = "classification", "regression"


def task_of(labels: np.ndarray, predictions: np.ndarray) -> str:
    """Classification when labels or predictions are not floats, or are floats holding few whole values.

    Fractional float predictions against numeric labels are a regression, whatever the labels' dtype
    (integer counts or prices are common regression targets).
    """
    if labels.dtype.kind in "iuf" and predictions.dtype.kind == "f" and not _whole(predictions):
        return REGRESSION
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

    y, p = _values(labels, "labels"), _values(predictions, "predictions")
    if y.shape[0] != p.shape[0]:
        raise DataError(
            f"labels has {y.shape[0]} values but predictions has {p.shape[0]}: pass one label per prediction."
        )
    if y.size == 0:
        return {}
    _check_kinds(y, p)
    if task_of(y, p) == REGRESSION:
        error = p.astype(float) - y.astype(float)
        return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}
    y, p = _as_classes(y, p)
    classes = np.unique(np.concatenate([y, p]))
    out = {"accuracy": float(metrics.accuracy_score(y, p))}
    if classes.size == 2:
        pos = positive_label(classes, positive)
        out["f1"] = float(metrics.f1_score(y, p, pos_label=pos, zero_division=0))
        if scores is not None and np.unique(y).size == 2:
            out["roc_auc"] = float(metrics.roc_auc_score(y == pos, _scores(scores, len(y))))
    else:
        if positive is not None:
            positive_label(classes, positive)  # refuse a positive class the batch does not have
        out["f1"] = float(metrics.f1_score(y, p, average="macro", zero_division=0))
    return out


def positive_label(classes: np.ndarray, positive: Any = None) -> Any:
    """The positive class: the one given, else 1 / True / "yes" when present, else the last of the sorted classes."""
    if positive is not None:
        if not any(_same(c, positive) for c in classes):
            shown = ", ".join(repr(c.item() if hasattr(c, "item") else c) for c in classes[:10])
            raise DataError(
                f"positive={positive!r} is not one of the batch's classes ({shown}): pass one of them."
            )
        return next(c for c in classes if _same(c, positive))
    for c in classes:
        if str(c).strip().lower() in ("1", "1.0", "true", "yes"):
            return c
    return sorted(classes, key=str)[-1]


def latency(latency_ms: Any) -> dict[str, float]:
    """Percentiles of the latencies in milliseconds (per prediction or per request); non-finite ones are left out."""
    try:
        values = np.asarray(_array(latency_ms), dtype=float).ravel()
    except (TypeError, ValueError):
        raise DataError(
            "latency_ms must be numbers: milliseconds per prediction or per request, as a list or array."
        ) from None
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
    try:
        classes = np.unique(p if labels is None else np.concatenate([p, _array(labels)]))
    except TypeError:
        raise DataError(
            "predictions (and labels) mix values that cannot be compared, such as text and numbers: "
            "pass one kind of class label."
        ) from None
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


def _values(values: Any, what: str) -> np.ndarray:
    """One column of labels or predictions, with no missing values."""
    array = _array(values)
    if array.ndim != 1:
        raise DataError(f"{what} must be one column, got an array of shape {array.shape}.")
    missing = int(pd.isna(array).sum()) if array.dtype.kind in "fcOSUMm" else 0
    if missing:
        raise DataError(f"{what} has {missing} missing value(s): pass only the rows whose {what} are known.")
    return array


def _kind(values: np.ndarray) -> str:
    """``"number"``, ``"bool"``, ``"text"`` or ``"mixed"``: what a column of labels holds."""
    if values.dtype.kind in "iuf":
        return "number"
    if values.dtype.kind == "b":
        return "bool"
    if values.dtype.kind in "SU":
        return "text"
    if values.dtype.kind == "O":
        inferred = pd.api.types.infer_dtype(values, skipna=True)
        if inferred in {"integer", "floating", "mixed-integer-float", "decimal"}:
            return "number"
        if inferred == "boolean":
            return "bool"
        if inferred in {"string", "bytes", "empty"}:
            return "text"
        return "mixed"
    return values.dtype.name


def _check_kinds(y: np.ndarray, p: np.ndarray) -> None:
    """Labels and predictions must hold the same kind of values, else no metric means anything."""
    ky, kp = _kind(y), _kind(p)
    for what, kind in (("labels", ky), ("predictions", kp)):
        if kind == "mixed":
            inferred = pd.api.types.infer_dtype(y if what == "labels" else p, skipna=True)
            raise DataError(
                f"{what} mix kinds of values ({inferred}): pass one kind, all numbers or all text."
            )
        if kind not in {"number", "bool", "text"}:
            raise DataError(f"{what} hold {kind} values: pass class labels or numbers.")
    if ky != kp and {ky, kp} != {"number", "bool"}:
        plural = {"number": "numbers", "bool": "booleans", "text": "text"}
        raise DataError(
            f"labels are {plural[ky]} but predictions are {plural[kp]}: pass labels in the same form as the model's "
            f"predictions (e.g. {_example(p)})."
        )
    if ky == "number" and kp == "number":
        continuous = [what for what, v in (("labels", y), ("predictions", p)) if not _whole(v)]
        if len(continuous) == 1 and task_of(y, p) == CLASSIFICATION:
            other = "predictions" if continuous[0] == "labels" else "labels"
            raise DataError(
                f"{continuous[0]} are continuous numbers but {other} are classes: "
                f"pass labels in the same form as the model's predictions (e.g. {_example(p)})."
            )


def _whole(values: np.ndarray) -> bool:
    numbers = values.astype(float)
    numbers = numbers[np.isfinite(numbers)]
    return bool(np.all(numbers == np.round(numbers)))


def _example(values: np.ndarray) -> str:
    try:
        shown = np.unique(values)[:3]
    except TypeError:
        shown = values[:3]
    return ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in shown)


def _as_classes(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Booleans against 0/1 numbers compare as numbers; everything else is left as it is."""
    if {y.dtype.kind, p.dtype.kind} == {"b"} or "b" not in {y.dtype.kind, p.dtype.kind}:
        return y, p
    return y.astype(float) if y.dtype.kind == "b" else y, p.astype(float) if p.dtype.kind == "b" else p


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) or str(a) == str(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _scores(scores: Any, rows: int) -> np.ndarray:
    """The positive class's probability per row, from one column or a ``predict_proba`` matrix."""
    try:
        s = np.asarray(_array(scores), dtype=float)
    except (TypeError, ValueError):
        raise DataError(
            "scores must be numbers: the positive class's probability per row, or predict_proba's matrix."
        ) from None
    if s.ndim == 2:
        s = s[:, -1]
    if s.ndim != 1 or len(s) != rows:
        raise DataError(
            f"scores has shape {np.shape(scores)} but the batch has {rows} labelled rows: "
            "pass one score per row (or predict_proba's matrix)."
        )
    if not np.isfinite(s).all():
        raise DataError(
            f"scores has {int((~np.isfinite(s)).sum())} missing or infinite value(s): pass finite probabilities."
        )
    return s


def _array(values: Any) -> np.ndarray:
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            return values.to_numpy()
        values = values.iloc[:, 0]
    return np.asarray(values)
