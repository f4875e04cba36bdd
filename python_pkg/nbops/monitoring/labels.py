"""Labels that arrive after the predictions: joined by request ID, scored on the batches they belong to.

A served model's answers are logged in batches (``nbops.serving.inference_log``) with a small
artifact per batch on the version's monitoring run, ``inference/batch-<n>.jsonl``: the request
ID, the row within the request, and the prediction of every row. Whether a loan defaulted or a
customer churned is known days later; ``log_labels(MODEL, request_ids, labels)`` finds those
rows, keeps the labels beside them (``inference/labels-<n>.jsonl``, merged with any given earlier)
and records the performance of every batch that received labels as metrics at that batch's step —
``performance.accuracy`` etc. with ``.change`` against the version's baseline, exactly as
``log_batch(labels=...)`` computes them, plus ``labels.rows`` — so ``series()``, ``latest()``, the
sidebar's charts and the alert rules see delayed performance like any other.

Each join adds a point at the batch's step, a millisecond after the previous one there, so the
newest point of a step (the one ``latest()`` shows) always counts every label known so far.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import store
from ..errors import InvalidInput, NotFound
from .profile_store import _quiet_download as _quiet  # one switch for MLflow's progress bars

_Start = Path | str | None

ARTIFACT_DIR = "inference"  # as nbops.serving.inference_log writes it
_BATCH_FILE = re.compile(r"batch-(\d+)\.jsonl")
#: Downloaded batch files, which are written once: (tracking URI, run id, path) → lines.
_BATCHES: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
_CACHED_BATCHES = 256


@dataclass
class LabelResult:
    """What one ``log_labels`` call joined, and where."""

    model: str
    matched: int
    unknown: int
    unknown_ids: list[str]
    #: ``{"version", "batch", "labelled_rows", "metrics"}`` per batch that received labels.
    batches: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.model}: {self.matched} label(s) joined"]
        for item in self.batches:
            score = item["metrics"].get("performance.accuracy", item["metrics"].get("performance.rmse"))
            label = "accuracy" if "performance.accuracy" in item["metrics"] else "RMSE"
            shown = f", {label} {score:.3f}" if score is not None else ""
            parts.append(f"v{item['version']} batch {item['batch']}: {item['labelled_rows']} labelled{shown}")
        if self.unknown:
            parts.append(f"{self.unknown} request ID(s) not found (e.g. {', '.join(self.unknown_ids[:3])})")
        parts.extend(f"alert {a['state']}: {a['message']}" for a in self.alerts)
        return "; ".join(parts)

    def __repr__(self) -> str:
        return f"<LabelResult {self.summary()}>"


def log_labels(
    model: str, request_ids: Any, labels: Any, *, positive: Any = None, start: _Start = None
) -> LabelResult:
    """Join ``labels`` to the predictions served for ``request_ids`` and record each batch's performance.

    ``model`` is ``NAME/VERSION``, ``NAME@ALIAS`` (the version it points at now) or ``NAME`` (every
    version that has served: canary and shadow answers included). A request that scored several
    rows takes a list of labels (one per row), or is addressed row by row as ``ID#ROW``. Unknown
    request IDs are counted in the result; when none is found, ``NotFound`` says what to check.
    """
    ids = _ids(request_ids)
    values = _labels(labels, len(ids))
    name, versions = _versions(model, start)
    wanted: dict[str, Any] = dict(zip(ids, values, strict=True))
    found: dict[tuple[str, int], dict[tuple[str, int], Any]] = {}
    client = store.client(start)
    uri = store.settings(start).tracking_uri
    from .runs import monitoring_run_id

    runs: dict[str, str] = {}
    matched: set[str] = set()
    for version in versions:
        run_id = monitoring_run_id(name, version, start, create=False)
        if run_id is None:
            continue
        runs[version] = run_id
        # Each version on its own: a shadowed request was answered by two versions under one ID.
        # A request's rows are never split between batches: once its batch is read, it is done.
        left = set(wanted)
        for batch in sorted(_batch_numbers(client, run_id), reverse=True):
            if not left:
                break
            joined: dict[tuple[str, int], Any] = {}
            hit: set[str] = set()
            for line in _batch_lines(client, uri, run_id, batch):
                key, label = _label_of(line, wanted)
                if key in left:
                    joined[(str(line["request_id"]), int(line.get("row", 0)))] = label
                    hit.add(key)
            if joined:
                found[(version, batch)] = joined
                left -= hit
                matched |= hit
    left = set(wanted) - matched
    if not matched:
        where = f"versions {', '.join(versions)}" if len(versions) > 1 else f"version {versions[0]}"
        raise NotFound(
            f"none of the {len(ids)} request ID(s) is among the predictions logged for {name} ({where}); "
            "check the IDs (the X-Request-Id header of each answer) and that their batches have been "
            "logged (a served model logs one every batch_rows rows or batch_seconds seconds)."
        )
    result = LabelResult(name, len(matched), len(left), sorted(left)[:20])
    touched: dict[str, int] = {}
    for (version, batch), joined in sorted(found.items(), key=lambda kv: (int(kv[0][0]), kv[0][1])):
        metrics, rows = _score(client, uri, name, version, runs[version], batch, joined, positive, start)
        result.batches.append({"version": version, "batch": batch, "labelled_rows": rows, "metrics": metrics})
        touched[version] = max(batch, touched.get(version, 0))
    from . import alerting

    for version, batch in touched.items():
        result.alerts.extend(alerting.evaluate(name, version, batch=batch, start=start))
    return result


# --- arguments -------------------------------------------------------------------------------------


def _ids(request_ids: Any) -> list[str]:
    if isinstance(request_ids, str | bytes) or not hasattr(request_ids, "__iter__"):
        raise InvalidInput("request_ids must be a list of request IDs (the X-Request-Id of each answer).")
    ids = [str(i) for i in request_ids]
    if not ids:
        raise InvalidInput("request_ids is empty: pass the IDs of the requests the labels belong to.")
    if len(set(ids)) != len(ids):
        raise InvalidInput(
            "request_ids holds the same ID twice: pass one label (or list of labels) per request."
        )
    return ids


def _labels(labels: Any, count: int) -> list[Any]:
    import numpy as np

    if isinstance(labels, str | bytes) or not hasattr(labels, "__iter__"):
        raise InvalidInput("labels must be a list with one label per request ID.")
    values = [
        v.tolist() if isinstance(v, np.ndarray) else (v.item() if hasattr(v, "item") else v) for v in labels
    ]
    if len(values) != count:
        raise InvalidInput(
            f"labels has {len(values)} values but request_ids has {count}: pass one per request."
        )
    return values


def _versions(model: str, start: _Start) -> tuple[str, list[str]]:
    """``(name, versions)`` to search: one for NAME/VERSION or NAME@ALIAS, every monitored one for NAME."""
    from . import reference
    from .runs import monitored_versions

    text = model.strip().removeprefix("models:/") if isinstance(model, str) else ""
    if not text:
        raise InvalidInput(f"model must be NAME, NAME@ALIAS or NAME/VERSION, not {model!r}.")
    if "@" in text or "/" in text:
        name, version = reference.resolve(text, start)
        return name, [str(version)]
    versions = [v["version"] for v in monitored_versions(text, start)]
    if not versions:
        raise NotFound(
            f"no batches have been logged for {text!r}: labels join the predictions of a served model "
            "(nbops serve) once its first batch is logged; check the model name."
        )
    return text, versions


# --- the stored batches ----------------------------------------------------------------------------


def _batch_numbers(client: Any, run_id: str) -> list[int]:
    found = []
    for item in client.list_artifacts(run_id, ARTIFACT_DIR):
        match = _BATCH_FILE.fullmatch(Path(item.path).name)
        if match:
            found.append(int(match[1]))
    return found


def _download(client: Any, run_id: str, path: str) -> list[dict[str, Any]] | None:
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="nbops-labels-") as folder, _quiet():
        try:
            local = client.download_artifacts(run_id, path, folder)
        except (MlflowException, OSError):
            return None
        text = Path(local).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _batch_lines(client: Any, uri: str, run_id: str, batch: int) -> list[dict[str, Any]]:
    key = (uri, run_id, f"{ARTIFACT_DIR}/batch-{batch}.jsonl")
    if key not in _BATCHES:
        lines = _download(client, run_id, key[2])
        if lines is None:
            return []
        if len(_BATCHES) >= _CACHED_BATCHES:
            del _BATCHES[next(iter(_BATCHES))]
        _BATCHES[key] = lines
    return _BATCHES[key]


def _label_of(line: dict[str, Any], wanted: dict[str, Any]) -> tuple[str | None, Any]:
    """``(key, label)`` for a logged row: by ``ID#ROW``, else by ``ID`` (a list: one label per row)."""
    request_id, row = str(line.get("request_id")), int(line.get("row", 0))
    key = f"{request_id}#{row}"
    if key in wanted:
        return key, wanted[key]
    if request_id in wanted:
        label = wanted[request_id]
        if isinstance(label, list | tuple):
            return (request_id, label[row]) if row < len(label) else (None, None)
        return request_id, label
    return None, None


def _score(
    client: Any,
    uri: str,
    name: str,
    version: str,
    run_id: str,
    batch: int,
    joined: dict[tuple[str, int], Any],
    positive: Any,
    start: _Start,
) -> tuple[dict[str, float], int]:
    """Merge the labels into the batch's labels file and record its performance at the batch's step."""
    import numpy as np
    from mlflow.entities import Metric

    from . import quality, reference

    path = f"{ARTIFACT_DIR}/labels-{batch}.jsonl"
    known = {(d["request_id"], d["row"]): d["label"] for d in (_download(client, run_id, path) or [])}
    known.update(joined)
    predicted = {
        (d["request_id"], d["row"]): d.get("prediction") for d in _batch_lines(client, uri, run_id, batch)
    }
    pairs = [(label, predicted.get(key)) for key, label in known.items()]
    # Rows with one scalar prediction are scored; several outputs per row (a dict, a list) are not.
    pairs = [(y, p) for y, p in pairs if y is not None and p is not None and not isinstance(p, dict | list)]
    metrics: dict[str, float] = {"labels.rows": float(len(pairs))}
    if pairs:
        truth, predictions = np.asarray([p[0] for p in pairs]), np.asarray([p[1] for p in pairs])
        scored = quality.performance(truth, predictions, None, positive)
        baseline = reference.baseline_metrics(name, version, start)
        for key, value in scored.items():
            metrics[f"performance.{key}"] = value
            if key in baseline:
                metrics[f"performance.{key}.change"] = value - baseline[key]
    with tempfile.TemporaryDirectory(prefix="nbops-labels-") as folder:
        local = Path(folder) / f"labels-{batch}.jsonl"
        local.write_text(
            "".join(
                json.dumps({"request_id": rid, "row": row, "label": label}, default=str) + "\n"
                for (rid, row), label in known.items()
            ),
            encoding="utf-8",
        )
        client.log_artifact(run_id, str(local), ARTIFACT_DIR)
    millis = _timestamp(client, run_id, batch)
    entries = [Metric(k, float(v), millis, batch) for k, v in sorted(metrics.items()) if np.isfinite(v)]
    client.log_batch(run_id, metrics=entries)
    return metrics, len(pairs)


def _timestamp(client: Any, run_id: str, batch: int) -> int:
    """The batch's own time, or a millisecond after the last label point of that batch."""
    rows = [m.timestamp for m in client.get_metric_history(run_id, "batch.rows") if m.step == batch]
    earlier = [m.timestamp for m in client.get_metric_history(run_id, "labels.rows") if m.step == batch]
    when = rows[0] if rows else 0
    return max([when, *(t + 1 for t in earlier)])
