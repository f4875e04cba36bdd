"""What a served model saw and answered, turned into monitoring batches without slowing a request.

``InferenceLog.record`` is called once per scoring request, on the request's own thread: it only
appends to an in-memory buffer (a few microseconds under one lock) and never touches the store, so
a slow or unreachable tracking server cannot slow an answer. One background thread closes a batch
per served version every ``batch_rows`` rows or ``batch_seconds`` seconds, whichever comes first,
and logs it with ``nbops.monitoring.batches.log_batch`` — drift, latency, errors and health, as for
any batch — plus:

* ``health.client_errors`` (requests refused with a 4xx: the caller's fault, never the model's, so
  not in ``health.errors``) and ``health.dropped_rows`` at the batch's step;
* ``inference/batch-<n>.jsonl`` on the version's monitoring run: one line per row with its request
  ID, row number in the request, status and prediction (and the feature values with
  ``keep_payloads``), so labels that arrive days later can be joined to what the model answered
  (``nbops.monitor.log_labels``).

While the store cannot be reached the rows wait in the buffer, which holds at most
``max_buffer_rows`` rows: past that the oldest are dropped and counted (``stats()``), never an
unbounded queue. Tracking servers are probed before each write (one quick request, the probe nbops
uses at first contact) so an outage is noticed in seconds instead of after MLflow's minutes of
retries. When the store answers again, the waiting rows are logged and the number dropped is
written on the next batch and reported in a warning.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import NbopsError, StoreError
from .settings import ServingSettings

log = logging.getLogger(__name__)

_Start = Path | str | None

#: Where a batch's request IDs and predictions go on the version's monitoring run.
ARTIFACT_DIR = "inference"
#: First and longest wait between attempts while the store is failing (seconds).
RETRY_FIRST, RETRY_LONGEST = 0.5, 10.0


def batch_artifact(batch: int) -> str:
    """The file name of a batch's predictions under ``ARTIFACT_DIR``."""
    return f"batch-{batch}.jsonl"


@dataclass
class _Request:
    seq: int
    monotonic: float
    wall: float
    request_id: str
    features: Any
    predictions: Any
    latency_ms: float
    status: int
    rows: int


@dataclass
class _Batch:
    """Requests taken out of the buffer, written step by step until every step is stored."""

    requests: list[_Request]
    rows: int
    dropped: int
    result: Any = None  # the BatchResult once log_batch has stored it
    extras_done: bool = False
    artifact_done: bool = False


@dataclass
class _Version:
    pending: deque[_Request] = field(default_factory=deque)
    rows: int = 0
    dropped: int = 0  # dropped since the last batch was taken: written on the next one
    writing: _Batch | None = None
    columns: list[str] | None = None


class InferenceLog:
    """The monitoring side of one served model: ``record`` per request, ``close`` at shutdown."""

    def __init__(self, model_name: str, settings: ServingSettings, *, start: _Start = None) -> None:
        self.model_name = model_name
        self.settings = settings
        self.start = start
        self._cond = threading.Condition()
        self._versions: dict[str, _Version] = {}
        self._seq = 0
        self._held = 0  # rows buffered or being written
        self._logged_rows = 0
        self._logged_batches = 0
        self._dropped_rows = 0
        self._last_error: str | None = None
        self._retry_at = 0.0
        self._retry_wait = RETRY_FIRST
        self._flushing = False  # close(): every pending row is due now
        self._deadline: float | None = None  # close(): give up retrying after this
        self._stopped = False
        self._thread = threading.Thread(
            target=self._run, name=f"nbops-inference-log-{model_name}", daemon=True
        )
        self._thread.start()

    # --- the request side: never blocks on the store, never raises ---------------------------------

    def record(
        self,
        version: str,
        request_id: str,
        features: Any,
        predictions: Any,
        latency_ms: float,
        status: int,
    ) -> None:
        """Buffer one answered request for the next batch of ``version``; returns at once."""
        try:
            rows = _rows(features, predictions)
            now = time.monotonic()
            with self._cond:
                if self._stopped:
                    self._dropped_rows += rows
                    return
                state = self._versions.get(str(version))
                if state is None:
                    state = self._versions[str(version)] = _Version()
                self._seq += 1
                request = _Request(
                    seq=self._seq,
                    monotonic=now,
                    wall=time.time(),
                    request_id=str(request_id),
                    features=features,
                    predictions=predictions,
                    latency_ms=float(latency_ms),
                    status=int(status),
                    rows=rows,
                )
                state.pending.append(request)
                state.rows += rows
                self._held += rows
                if self._held > self.settings.max_buffer_rows:
                    self._make_room()
                # Wake the writer only when it has something new to do: a first row to time, a
                # batch just full. Waking it on every request would cost each one a thread switch.
                full = state.rows >= self.settings.batch_rows > state.rows - rows
                if full or len(state.pending) == 1:
                    self._cond.notify()
        except Exception as exc:  # a request's answer must never fail because of its monitoring
            self._last_error = f"could not record request {request_id!r}: {type(exc).__name__}: {exc}"

    def _make_room(self) -> None:
        """Drop the oldest buffered requests (of any version) until the buffer fits its bound."""
        while self._held > self.settings.max_buffer_rows:
            heads = [(s.pending[0].seq, s) for s in self._versions.values() if s.pending]
            if not heads:
                return  # only the batches being written are held: at most one per version
            _, state = min(heads, key=lambda pair: pair[0])
            oldest = state.pending.popleft()
            state.rows -= oldest.rows
            state.dropped += oldest.rows
            self._held -= oldest.rows
            if self._dropped_rows == 0 or state.dropped == oldest.rows:
                log.warning(
                    "nbops: the inference log of %s holds %d rows (max_buffer_rows) while the store "
                    "cannot be written; dropping the oldest (%s)",
                    self.model_name,
                    self.settings.max_buffer_rows,
                    self._last_error or "the store is slow",
                )
            self._dropped_rows += oldest.rows

    def stats(self) -> dict[str, Any]:
        """Counters for a health endpoint or a deployment heartbeat."""
        with self._cond:
            return {
                "logged_rows": self._logged_rows,
                "logged_batches": self._logged_batches,
                "dropped_rows": self._dropped_rows,
                "pending_rows": self._held,
                "last_error": self._last_error,
            }

    def close(self, timeout: float = 10.0) -> None:
        """Log what is pending (giving up after ``timeout`` seconds), then stop the thread."""
        with self._cond:
            self._flushing = True
            self._deadline = time.monotonic() + max(timeout, 0.0)
            self._cond.notify_all()
        self._thread.join(max(timeout, 0.0) + 1.0)
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            left = self._held
            if left:
                self._dropped_rows += left
                self._held = 0
                for state in self._versions.values():
                    state.pending.clear()
                    state.rows = 0
                    state.writing = None
                log.warning(
                    "nbops: %d row(s) of %s were not logged before shutdown (%s)",
                    left,
                    self.model_name,
                    self._last_error or f"the store did not answer within {timeout} s",
                )

    # --- the writer thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                job = self._next_job()
                while job is None:
                    if self._stopped or (self._flushing and self._held == 0):
                        return
                    if self._deadline is not None and time.monotonic() >= self._deadline:
                        return
                    self._cond.wait(self._wait_time())
                    job = self._next_job()
            version, batch = job
            try:
                done = self._write(version, batch)
            except Exception as exc:  # a bug in a step must not end the thread
                self._last_error = f"{type(exc).__name__}: {exc}"
                done = False
            with self._cond:
                if done:
                    self._retry_wait = RETRY_FIRST
                else:
                    self._retry_at = time.monotonic() + self._retry_wait
                    self._retry_wait = min(self._retry_wait * 2, RETRY_LONGEST)

    def _next_job(self) -> tuple[str, _Batch] | None:
        """A batch to write now (a retry first, else one that is due), taken under the lock."""
        now = time.monotonic()
        if now < self._retry_at:
            return None
        for version, state in self._versions.items():
            if state.writing is not None:
                return version, state.writing
        for version, state in self._versions.items():
            if state.pending and (
                self._flushing
                or state.rows >= self.settings.batch_rows
                or now - state.pending[0].monotonic >= self.settings.batch_seconds
            ):
                state.writing = self._take(state)
                return version, state.writing
        return None

    def _wait_time(self) -> float | None:
        now = time.monotonic()
        waits = [self._retry_at - now] if self._retry_at > now else []
        waits += [
            s.pending[0].monotonic + self.settings.batch_seconds - now
            for s in self._versions.values()
            if s.pending
        ]
        if self._deadline is not None:
            waits.append(self._deadline - now)
        return max(min(waits), 0.01) if waits else None

    def _take(self, state: _Version) -> _Batch:
        taken: list[_Request] = []
        rows = 0
        while state.pending and (not taken or rows + state.pending[0].rows <= self.settings.batch_rows):
            request = state.pending.popleft()
            taken.append(request)
            rows += request.rows
        state.rows -= rows
        batch = _Batch(taken, rows, state.dropped)
        state.dropped = 0
        return batch

    def _write(self, version: str, batch: _Batch) -> bool:
        """Store the batch's remaining steps; True when it is done with (stored, or refused as data)."""
        from mlflow.entities import Metric

        from .. import store

        state = self._versions[version]
        try:
            uri = store.settings(self.start).tracking_uri
            if urlsplit(uri).scheme.lower() in ("http", "https"):
                store.check(uri)  # seconds, not MLflow's minutes of retries, to notice an outage
            if batch.result is None:
                batch.result = self._log_batch(version, batch, state)
            result = batch.result
            if not batch.extras_done:
                millis = int(result.timestamp.timestamp() * 1000)
                client_errors = sum(r.rows for r in batch.requests if 400 <= r.status < 500)
                extras = {"health.client_errors": client_errors, "health.dropped_rows": batch.dropped}
                metrics = [Metric(k, float(v), millis, result.batch) for k, v in extras.items()]
                store.client(self.start).log_batch(result.run_id, metrics=metrics)
                batch.extras_done = True
            if not batch.artifact_done:
                self._upload(result, batch)
                batch.artifact_done = True
        except NbopsError as exc:
            if isinstance(exc, StoreError):
                return self._failed(version, str(exc))
            # The batch itself is refused (the version is gone, the data cannot be compared):
            # retrying cannot help; count its rows as dropped and carry on with the next.
            with self._cond:
                self._last_error = f"a batch of {self.model_name} v{version} was refused: {exc}"
                if state.writing is batch:
                    self._dropped_rows += batch.rows
                    self._held -= batch.rows
                    state.writing = None
            log.warning("nbops: %s", self._last_error)
            return True
        except Exception as exc:
            return self._failed(version, f"{type(exc).__name__}: {store.error_reason(exc)}")
        with self._cond:
            self._logged_rows += batch.rows
            self._logged_batches += 1
            if state.writing is batch:
                self._held -= batch.rows
                state.writing = None
            else:  # close() gave up on it and counted it dropped; it made it after all
                self._dropped_rows -= batch.rows
            if self._last_error and self._last_error.startswith("cannot log"):
                self._last_error = None
        if batch.dropped:
            log.warning(
                "nbops: %d row(s) of %s v%s were dropped while the store could not be written; "
                "recorded as health.dropped_rows on batch %d",
                batch.dropped,
                self.model_name,
                version,
                batch.result.batch,
            )
        return True

    def _failed(self, version: str, reason: str) -> bool:
        with self._cond:
            self._last_error = f"cannot log a batch of {self.model_name} v{version}: {reason}"
        return False

    def _log_batch(self, version: str, batch: _Batch, state: _Version) -> Any:
        import numpy as np
        import pandas as pd

        from ..monitoring import batches

        answered = [r for r in batch.requests if r.status < 400 and r.features is not None]
        errors = sum(r.rows for r in batch.requests if r.status >= 500)
        latencies = [r.latency_ms for r in batch.requests if not 400 <= r.status < 500]
        latencies = [v for v in latencies if math.isfinite(v)] or None
        frames = [_table(r.features) for r in answered]
        if frames and all(isinstance(f, np.ndarray) for f in frames):
            features: Any = np.vstack(frames)
        elif frames:
            columns = next((list(f.columns) for f in frames if isinstance(f, pd.DataFrame)), None)
            features = pd.concat(
                [f if isinstance(f, pd.DataFrame) else pd.DataFrame(f, columns=columns) for f in frames],
                ignore_index=True,
            )
            state.columns = [str(c) for c in features.columns]
        else:  # only failed requests: an empty batch that still carries their count
            features = pd.DataFrame(columns=state.columns or [])
        per_request = [_predictions(r.predictions, r.rows) for r in answered]
        predictions = None
        if per_request and all(column is not None for column, _ in per_request):
            predictions = np.concatenate([column for column, _ in per_request])
        when = datetime.fromtimestamp(batch.requests[-1].wall, UTC)
        model = f"{self.model_name}/{version}"
        try:
            return batches.log_batch(
                model,
                features,
                predictions,
                latency_ms=latencies,
                errors=errors,
                timestamp=when,
                start=self.start,
            )
        except NbopsError as exc:
            if predictions is None or isinstance(exc, StoreError):
                raise
            # Predictions monitoring cannot compare (several outputs per row, say): the batch's
            # drift, latency and health still count; the predictions stay in the artifact.
            return batches.log_batch(
                model, features, None, latency_ms=latencies, errors=errors, timestamp=when, start=self.start
            )

    def _upload(self, result: Any, batch: _Batch) -> None:
        from .. import store

        with tempfile.TemporaryDirectory(prefix="nbops-inference-") as folder:
            path = Path(folder) / batch_artifact(result.batch)
            with path.open("w", encoding="utf-8") as out:
                for line in self._lines(batch):
                    out.write(json.dumps(line, default=str) + "\n")
            store.client(self.start).log_artifact(result.run_id, str(path), ARTIFACT_DIR)

    def _lines(self, batch: _Batch) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        keep = self.settings.keep_payloads
        for request in batch.requests:
            _, values = _predictions(request.predictions, request.rows)
            rows = _records(request.features, request.rows) if keep else [None] * request.rows
            for row in range(request.rows):
                line = {
                    "request_id": request.request_id,
                    "row": row,
                    "status": request.status,
                    "prediction": values[row],
                }
                if keep:
                    line["features"] = rows[row]
                lines.append(line)
        return lines


# --- turning one request's inputs and outputs into rows --------------------------------------------


def _rows(features: Any, predictions: Any) -> int:
    """How many rows a request scored: its table's length, else its predictions', else one."""
    for value in (features, predictions):
        if value is None or isinstance(value, str | bytes):
            continue
        if isinstance(value, dict):  # column name -> values
            value = next(iter(value.values()), None)
            if value is None or isinstance(value, str | bytes):
                return 1
        try:
            return max(len(value), 1)
        except TypeError:  # a scalar, a 0-d array
            return 1
    return 1


def _table(features: Any) -> Any:
    """A request's features as a DataFrame, or a 2-D array when it came as one."""
    import numpy as np
    import pandas as pd

    if isinstance(features, pd.DataFrame):
        return features
    if isinstance(features, pd.Series):
        return features.to_frame()
    if isinstance(features, dict):
        return pd.DataFrame({k: np.atleast_1d(v) for k, v in features.items()})
    array = np.asarray(features)
    return array.reshape(len(array), -1) if array.ndim != 2 else array


def _predictions(predictions: Any, rows: int) -> tuple[Any, list[Any]]:
    """``(one value per row as an array or None, JSON-ready values per row)``."""
    import numpy as np
    import pandas as pd

    if predictions is None:
        return None, [None] * rows
    try:
        if isinstance(predictions, dict):
            predictions = pd.DataFrame(predictions)
        if isinstance(predictions, pd.DataFrame):
            if predictions.shape[1] != 1:
                values = predictions.to_dict("records")
                return None, values if len(values) == rows else [None] * rows
            predictions = predictions.iloc[:, 0]
        array = np.asarray(predictions)
        if array.ndim == 0:
            array = array.reshape(1)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if len(array) != rows:
            return None, [None] * rows
        if array.ndim != 1:
            return None, array.tolist()
        return array, array.tolist()
    except Exception:
        return None, [None] * rows


def _records(features: Any, rows: int) -> list[Any]:
    """The feature values of each row, for ``keep_payloads``."""
    import pandas as pd

    if features is None:
        return [None] * rows
    try:
        table = _table(features)
        values = table.to_dict("records") if isinstance(table, pd.DataFrame) else table.tolist()
        return values if len(values) == rows else [None] * rows
    except Exception:
        return [None] * rows
