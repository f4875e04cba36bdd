"""Logging production batches for a model version, and reading their history back.

Each model version gets one run in the ``nbops-monitoring`` experiment; each batch is one step of
its metrics (step = batch number, timestamp = the batch's time). That keeps history queryable with
plain MLflow (``MlflowClient.get_metric_history``) and chartable by the sidebar, on SQLite or on
a shared tracking server alike.

Batch numbers are claimed with a write-once run parameter (``nbops.batch.<n>``): two processes
logging batches for the same version at once get different numbers instead of overwriting
each other's points. The claim travels in the same ``log_batch`` call as the batch's metrics, and
the store writes the params first: a claim that loses writes nothing, and a batch nobody contends
for costs one store round trip (plus one to read the model version).
"""

from __future__ import annotations

import math
import numbers
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import config, store
from ..errors import InvalidInput, NotFound
from .runs import (  # the store layout of monitoring runs; re-exported for callers of batches
    _record,
    _run_key,
    _writing,
    latest,
)

_Start = Path | str | None
_KEY = re.compile(r"[^\w.\-/ :]")
#: Drift statistics stored per feature (when applicable to its kind).
_DRIFT_STATS = ("statistic", "p_value", "psi", "wasserstein", "unseen_share", "effect")


@dataclass
class BatchResult:
    """What one logged batch recorded; shown as a short summary in a notebook."""

    model: str
    version: str
    batch: int
    run_id: str
    timestamp: datetime
    rows: int
    metrics: dict[str, float]
    drift: Any = None  # the per-feature drift table (DataFrame) or None without a reference profile
    alerts: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def drift_share(self) -> float | None:
        return self.metrics.get("drift.share")

    def summary(self) -> str:
        parts = [f"{self.model} v{self.version} batch {self.batch}: {self.rows:,} rows"]
        if self.drift_share is not None:
            drifted = int(self.metrics.get("drift.drifted_features", 0))
            parts.append(f"{drifted} feature(s) drifted ({self.drift_share:.0%})")
        for key, label in (("performance.accuracy", "accuracy"), ("performance.rmse", "RMSE")):
            if key in self.metrics:
                parts.append(f"{label} {self.metrics[key]:.3f}")
        if "latency.p95_ms" in self.metrics:
            parts.append(f"p95 {self.metrics['latency.p95_ms']:.1f} ms")
        for alert in self.alerts:
            parts.append(f"alert {alert['state']}: {alert['message']}")
        parts.extend(self.notes)
        return "; ".join(parts)

    def __repr__(self) -> str:
        return f"<BatchResult {self.summary()}>"


def _version(model: str, start: _Start) -> tuple[str, str, Any]:
    """``(name, version, ModelVersion)`` of a ``log_batch`` model spec, in one store call.

    ``reference.resolve`` reads the version and ``reference.load_profile`` would read it again;
    the version read here carries the profile's location already. Errors come from ``resolve``.
    """
    from mlflow.exceptions import MlflowException

    from . import reference

    found = reference._SPEC.fullmatch(model.strip()) if isinstance(model, str) else None
    if found is None:
        reference.resolve(model, start)  # raises its one-line InvalidInput
        raise InvalidInput(f"model must be NAME@ALIAS or NAME/VERSION, not {model!r}.")
    client = store.client(start)
    try:
        if found["version"]:
            mv = client.get_model_version(found["name"], found["version"])
        else:
            mv = client.get_model_version_by_alias(found["name"], found["alias"] or "champion")
    except MlflowException:
        reference.resolve(model, start)  # a missing model, version or alias: its NotFound says which
        raise
    return mv.name, str(mv.version), mv


# --- logging a batch -------------------------------------------------------------------------------


def log_batch(
    model: str,
    features: Any,
    predictions: Any = None,
    labels: Any = None,
    latency_ms: Any = None,
    sensitive: Any = None,
    timestamp: datetime | float | str | None = None,
    *,
    scores: Any = None,
    errors: int = 0,
    cpu_seconds: float | None = None,
    peak_memory_mb: float | None = None,
    positive: Any = None,
    start: _Start = None,
) -> BatchResult:
    """Record one batch of production data for ``model`` (``NAME@ALIAS``, ``NAME/VERSION`` or ``NAME``).

    ``features`` is the batch's input table; ``predictions`` what the model answered; ``labels``
    the truth when known (then performance is computed and compared with the version's
    baseline); ``latency_ms`` per-prediction latencies; ``sensitive`` a column name of
    ``features`` or an array of groups for fairness; ``scores`` class probabilities for ROC-AUC.
    Everything is checked before anything is written.
    """
    import numpy as np

    from . import drift as drift_mod
    from . import quality, reference

    name, version, mv = _version(model, start)
    when = _timestamp(timestamp)
    _counts(errors=errors, cpu_seconds=cpu_seconds, peak_memory_mb=peak_memory_mb)
    notes: list[str] = []
    try:
        ref = reference.version_profile(mv, start)
    except NotFound as exc:
        ref = None
        notes.append(f"no drift: {exc}")
    frame = _frame(features, list(ref.features) if ref else None)
    rows = len(frame)
    preds = _column(predictions, "predictions", rows)
    truth = _column(labels, "labels", rows)
    groups = _groups(sensitive, frame, rows)
    probs = None if scores is None else np.asarray(scores)
    if truth is not None and preds is None:
        raise InvalidInput("labels need predictions to compare with: pass predictions=... as well.")

    settings = config.resolve(start)
    options = _monitoring_options(settings)
    thresholds = {
        k: options[k] for k in ("alpha", "psi_threshold", "effect_threshold", "ks_method") if k in options
    }

    metrics: dict[str, float] = {"batch.rows": float(rows)}
    table = None
    if ref is not None:
        table = drift_mod.drift(ref, frame, **thresholds)
        metrics["drift.share"] = drift_mod.drift_share(table)
        metrics["drift.drifted_features"] = float(table["drifted"].sum())
        for row in table.to_dict("records"):
            for stat in _DRIFT_STATS:
                metrics[f"drift.{row['feature']}.{stat}"] = row[stat]
            if not row["note"]:
                metrics[f"drift.{row['feature']}.drifted"] = float(bool(row["drifted"]))
        if preds is not None and ref.prediction is not None and rows:
            column = drift_mod.column_drift(ref.prediction, preds, **thresholds)
            for stat in _DRIFT_STATS:
                metrics[f"prediction.{stat}"] = column.get(stat, math.nan)
            if not column.get("note"):
                metrics["prediction.drifted"] = float(bool(column["drifted"]))
    if truth is not None and preds is not None:
        scored = quality.performance(truth, preds, probs, positive)
        baseline = reference.baseline_metrics(name, version, start)
        for key, value in scored.items():
            metrics[f"performance.{key}"] = value
            if key in baseline:
                metrics[f"performance.{key}.change"] = value - baseline[key]
    if latency_ms is not None:
        metrics.update({f"latency.{k}": v for k, v in quality.latency(latency_ms).items()})
    if groups is not None and preds is not None:
        fair = quality.fairness(groups, preds, truth, positive)
        metrics.update({f"fairness.{k}": v for k, v in fair.items()})
    if cpu_seconds is not None:
        metrics["resource.cpu_seconds"] = float(cpu_seconds)
    if peak_memory_mb is not None:
        metrics["resource.peak_memory_mb"] = float(peak_memory_mb)
    metrics.update({f"cost.{k}": v for k, v in quality.cost(cpu_seconds, rows, options).items()})
    violations = int(table["schema_violation"].sum()) if table is not None else 0
    expected = list(ref.features) if ref else list(frame.columns)
    metrics.update({f"health.{k}": v for k, v in quality.health(frame, expected, violations, errors).items()})
    metrics = {_key(k): float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}

    run_id, batch = _record(store.client(start), name, version, metrics, when, start)

    from . import alerting

    with _writing(_run_key(name, version, start), run_id):
        changes = alerting.evaluate(name, version, batch=batch, start=start)
        if batch == 1 or changes:  # the stored card says whether the version is monitored and alerting
            from ..registry import refresh_card

            refresh_card(name, version, start=start)
    return BatchResult(name, version, batch, run_id, when, rows, metrics, table, changes, notes)


def _key(name: str) -> str:
    return _KEY.sub("_", name)[:250]


def _timestamp(value: datetime | float | str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        try:
            return _timestamp(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            pass
    try:  # pandas.Timestamp, numpy.datetime64
        import pandas as pd

        return _timestamp(pd.Timestamp(value).to_pydatetime())
    except Exception:
        raise InvalidInput(
            f"timestamp must be a datetime, an ISO-8601 string or seconds since the epoch, not {value!r}."
        ) from None


def _counts(**values: Any) -> None:
    """``errors``, ``cpu_seconds`` and ``peak_memory_mb`` are numbers >= 0 (``errors`` a whole one)."""
    for key, value in values.items():
        if value is None and key != "errors":
            continue
        whole = key == "errors"
        kind = numbers.Integral if whole else numbers.Real
        if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value) or value < 0:
            kind = "a whole number" if whole else "a number"
            raise InvalidInput(f"{key} must be {kind} >= 0, not {value!r}.")


def _frame(features: Any, expected: list[str] | None) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(features, pd.DataFrame):
        frame = features.set_axis([str(c) for c in features.columns], axis=1)
    elif isinstance(features, pd.Series):
        frame = features.to_frame(name=str(features.name or "value"))
    else:
        array = None if isinstance(features, dict | str | bytes) or features is None else np.asarray(features)
        if array is None or array.ndim != 2:
            got = type(features).__name__ if array is None else f"{array.ndim}-D data of shape {array.shape}"
            raise InvalidInput(
                f"features must be a table, got {got}: pass a pandas DataFrame with the features as "
                "columns (pandas.DataFrame(batch)), or a 2-D array whose columns are in the reference's order."
            )
        if expected and len(expected) != array.shape[1]:
            raise InvalidInput(
                f"features has {array.shape[1]} columns but the reference has {len(expected)} "
                f"({', '.join(expected[:8])}{', ...' if len(expected) > 8 else ''}): "
                "pass a DataFrame with the reference's column names."
            )
        names = expected if expected else [str(i) for i in range(array.shape[1])]
        frame = pd.DataFrame(array, columns=names)
    if frame.columns.has_duplicates:
        twice = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise InvalidInput(
            f"features has duplicate column names ({', '.join(twice)}): rename or drop them so each "
            "feature is one column, e.g. batch.loc[:, ~batch.columns.duplicated()]."
        )
    return frame


def _column(values: Any, what: str, rows: int) -> Any:
    import numpy as np
    import pandas as pd

    if values is None:
        return None
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise InvalidInput(f"{what} must be one column, got {values.shape[1]} columns.")
        values = values.iloc[:, 0]
    array = None if isinstance(values, dict | str | bytes) else np.asarray(values)
    if array is not None and array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array is None or array.ndim != 1:
        got = type(values).__name__ if array is None else f"an array of shape {array.shape}"
        raise InvalidInput(f"{what} must be one column of values (a list, array or Series), got {got}.")
    if len(array) != rows:
        raise InvalidInput(f"{what} has {len(array)} values but the batch has {rows} rows.")
    return array


def _groups(sensitive: Any, frame: Any, rows: int) -> Any:
    if sensitive is None:
        return None
    if isinstance(sensitive, str):
        if sensitive not in frame.columns:
            raise InvalidInput(
                f"sensitive column {sensitive!r} is not in the batch; its columns are {', '.join(frame.columns)}."
            )
        return frame[sensitive].to_numpy()
    return _column(sensitive, "sensitive", rows)


def _monitoring_options(settings: config.Settings) -> dict[str, Any]:
    from ..errors import ConfigError

    options = settings.tool.get("monitoring", {})
    if not isinstance(options, dict):
        raise ConfigError(f"[tool.nbops.monitoring] in {settings.pyproject} must be a table.")
    methods = ("auto", "exact", "asymp")  # drift.KS_METHODS, without importing scipy here
    if options.get("ks_method", "auto") not in methods:
        raise ConfigError(
            f"[tool.nbops.monitoring] ks_method in {settings.pyproject} must be one of {', '.join(methods)}."
        )
    for key in (
        "alpha",
        "psi_threshold",
        "effect_threshold",
        "price_per_cpu_hour",
        "price_per_1k_predictions",
    ):
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            raise ConfigError(f"[tool.nbops.monitoring] {key} in {settings.pyproject} must be a number >= 0.")
    return options


# --- scoring in nbops --------------------------------------------------------------------------------


def score_and_log(
    model: str,
    features: Any,
    labels: Any = None,
    *,
    sensitive: Any = None,
    request_size: int = 100,
    timestamp: datetime | float | str | None = None,
    positive: Any = None,
    start: _Start = None,
) -> BatchResult:
    """Score ``features`` with the registered version and log the batch with its resource use.

    Rows are scored in requests of ``request_size`` rows; each request's wall time is a latency
    sample. CPU seconds (``time.process_time``) and peak memory (``tracemalloc``) cover the
    scoring only, not loading the model. A request that raises counts its rows as errors;
    scoring stops with an error only when every request failed.
    """
    import tracemalloc

    import numpy as np
    import pandas as pd

    from . import reference

    if not isinstance(request_size, int) or isinstance(request_size, bool) or request_size < 1:
        raise InvalidInput(f"request_size must be a whole number >= 1, got {request_size!r}.")
    name, version, mv = _version(model, start)
    predictor, proba = _load_model(name, version, start)
    try:
        expected = list(reference.version_profile(mv, start).features)
    except NotFound:
        expected = None
    frame = _frame(features, expected)
    rows = len(frame)
    if labels is not None:  # checked before scoring, not after the model has run
        _column(labels, "labels", rows)
    if sensitive is not None and not isinstance(sensitive, str):
        _column(sensitive, "sensitive", rows)
    outputs: list[Any] = []
    probabilities: list[Any] = []
    latencies: list[float] = []
    errors = 0
    first_error: BaseException | None = None
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    cpu0 = time.process_time()
    try:
        for begin in range(0, rows, request_size):
            chunk = frame.iloc[begin : begin + request_size]
            t0 = time.perf_counter()
            try:
                out = np.asarray(predictor(chunk))
                if proba is not None:
                    probabilities.append(np.asarray(proba(chunk)))
            except Exception as exc:
                errors += len(chunk)
                first_error = first_error or exc
                out = np.full(len(chunk), None, dtype=object)
            latencies.append((time.perf_counter() - t0) * 1000)
            outputs.append(out.reshape(len(chunk), -1)[:, 0] if out.ndim > 1 else out)
    finally:
        cpu = time.process_time() - cpu0
        _, peak = tracemalloc.get_traced_memory()
        if not tracing:
            tracemalloc.stop()
    if rows and errors == rows:
        raise InvalidInput(f"every request failed scoring {name} v{version}: {first_error}")
    predictions = np.concatenate(outputs) if outputs else np.array([])
    scores = np.concatenate(probabilities) if probabilities and not errors else None
    keep = None
    if errors:  # judge only the rows that were scored; their predictions lose the object dtype
        keep = pd.notna(predictions)
        predictions = pd.Series(predictions).infer_objects().to_numpy()
    result = log_batch(
        f"{name}/{version}",
        frame if keep is None else frame[keep],
        predictions if keep is None else predictions[keep],
        labels=None if labels is None else (np.asarray(labels) if keep is None else np.asarray(labels)[keep]),
        latency_ms=latencies,
        sensitive=sensitive
        if keep is None or sensitive is None or isinstance(sensitive, str)
        else np.asarray(sensitive)[keep],
        timestamp=timestamp,
        scores=scores,
        errors=errors,
        cpu_seconds=cpu,
        peak_memory_mb=max(peak - base, 0) / 2**20,
        positive=positive,
        start=start,
    )
    if first_error is not None:
        result.notes.append(f"{errors} row(s) failed to score: {first_error}")
    return result


_MODELS: dict[tuple[str, str, str], tuple[Any, Any]] = {}


def _load_model(name: str, version: str, start: _Start) -> tuple[Any, Any]:
    """``(predict, predict_proba or None)`` of a registered version, loaded once per process."""
    uri = store.settings(start).tracking_uri
    key = (uri, name, version)
    if key not in _MODELS:
        store.fluent(start)
        model_uri = f"models:/{name}/{version}"
        try:
            import mlflow.sklearn

            native = mlflow.sklearn.load_model(model_uri)
            _MODELS[key] = (native.predict, getattr(native, "predict_proba", None))
        except Exception:
            import mlflow.pyfunc

            _MODELS[key] = (mlflow.pyfunc.load_model(model_uri).predict, None)
    return _MODELS[key]


#: What ``compare`` lines up, in this order (per-feature drift stays in the drift table).
COMPARED = (
    "batch.rows",
    "drift.share",
    "drift.drifted_features",
    "prediction.psi",
    "prediction.statistic",
    "performance.accuracy",
    "performance.f1",
    "performance.roc_auc",
    "performance.rmse",
    "performance.mae",
    "latency.p50_ms",
    "latency.p95_ms",
    "latency.p99_ms",
    "fairness.demographic_parity_difference",
    "fairness.equal_opportunity_difference",
    "resource.cpu_seconds",
    "cost.per_1k_predictions",
    "health.missing_rate",
    "health.errors",
)


def compare(name: str, a: str = "champion", b: str = "challenger", start: _Start = None) -> Any:
    """Two versions (aliases or numbers) side by side on their latest batches: a DataFrame.

    Log the same batch for both (canary or shadow traffic) to make the comparison fair.
    """
    import pandas as pd

    from . import reference

    columns = {}
    for which in (a, b):
        spec = f"{name}/{which}" if str(which).isdigit() else f"{name}@{which}"
        _, version = reference.resolve(spec, start)
        columns[f"{which} (v{version})"] = latest(name, version, start)
    keys = [k for k in COMPARED if any(k in c for c in columns.values())]
    table = pd.DataFrame(
        {label: [values.get(k) for k in keys] for label, values in columns.items()}, index=keys
    )
    first, second = table.columns
    table["difference"] = table[second] - table[first]
    table.index.name = "metric"
    return table
