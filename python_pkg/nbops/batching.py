"""Buffered run writes: the training loop appends, a background thread writes.

``mlflow.log_metric`` makes one store round trip per point (a few hundred points a
second on SQLite). nbops queues points in memory and writes them with
``log_batch`` (up to 1,000 per call) from a worker thread, so ``log_metric``
returns in microseconds. Small text artifacts (lineage) go the same way, so
starting a run does not wait for uploads. ``close`` writes whatever is left and
must run before the run is marked FINISHED or FAILED: nothing is lost to an
exception.

The worker wakes on a timer, not on every full batch: waking early would make it
compete with the training loop for the GIL exactly while the loop is busiest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from numbers import Real
from typing import Any

from .errors import InvalidInput, StoreError

#: MLflow's limit of metrics per ``log_batch`` call.
BATCH_LIMIT = 1000
FLUSH_INTERVAL_S = 1.0
#: Points held in memory before the worker is woken early (bounds memory, ~100 bytes a point).
WAKE_AT = 200_000

Point = tuple[str, float, int, int]  # key, value, timestamp (ms), step


def as_metric_value(key: str, value: Any) -> float:
    """The float MLflow will store, or a one-line error for anything that is not a number.

    numpy scalars are ``numbers.Real``; 0-d arrays and tensors unwrap through ``.item()``.
    """
    if isinstance(value, Real) and not isinstance(value, bool):
        return float(value)
    item = getattr(value, "item", None)
    if callable(item):
        try:
            value_item = item()
        except (TypeError, ValueError):
            value_item = None
        if isinstance(value_item, Real) and not isinstance(value_item, bool):
            return float(value_item)
    raise InvalidInput(
        f"metric {key!r} must be a number, got {type(value).__name__} {value!r:.60}; "
        "log text with mlflow.log_text or a value with nbops.log_param."
    )


class RunWriter:
    """Metric points and text artifacts of one run, written in order by one worker thread."""

    def __init__(self, client: Any, run_id: str, flush_interval: float = FLUSH_INTERVAL_S) -> None:
        self._client = client
        self._run_id = run_id
        self._interval = flush_interval
        self._points: list[Point] = []
        self._texts: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._error: BaseException | None = None
        self.written = 0
        self._worker = threading.Thread(target=self._run, name=f"nbops-metrics-{run_id[:8]}", daemon=True)
        self._worker.start()

    def add(self, key: str, value: float, step: int | None = None, timestamp: int | None = None) -> None:
        point = (key, value, timestamp if timestamp is not None else int(time.time() * 1000), step or 0)
        with self._lock:
            self._points.append(point)
            full = len(self._points) >= WAKE_AT
        if full:
            self._wake.set()

    def extend(self, points: Iterable[Point]) -> None:
        with self._lock:
            self._points.extend(points)
            full = len(self._points) >= WAKE_AT
        if full:
            self._wake.set()

    def add_text(self, path: str, text: str) -> None:
        with self._lock:
            self._texts.append((path, text))
        self._wake.set()

    def _run(self) -> None:
        while not self._closing:
            self._wake.wait(self._interval)
            self._wake.clear()
            self._write_pending()

    def _write_pending(self) -> None:
        with self._lock:
            pending, self._points = self._points, []
            texts, self._texts = self._texts, []
        for index, (path, text) in enumerate(texts):
            try:
                self._client.log_text(self._run_id, text, path)
            except Exception as exc:
                self._error = exc
                with self._lock:
                    self._texts[:0] = texts[index:]
                break
        if not pending:
            return
        from mlflow.entities import Metric

        for start in range(0, len(pending), BATCH_LIMIT):
            chunk = pending[start : start + BATCH_LIMIT]
            try:
                self._client.log_batch(self._run_id, metrics=[Metric(k, v, t, s) for k, v, t, s in chunk])
            except Exception as exc:  # keep the points; the next flush or close retries them
                self._error = exc
                with self._lock:
                    self._points[:0] = pending[start:]
                return
            self.written += len(chunk)
            self._error = None

    def close(self) -> None:
        """Stop the worker and write every remaining point; raise if the store refused them."""
        self._closing = True
        self._wake.set()
        self._worker.join()
        self._write_pending()
        if self._error is not None:
            with self._lock:
                lost = f"{len(self._points)} metric points and {len(self._texts)} artifacts"
            raise StoreError(
                f"{lost} could not be written to run {self._run_id}: {self._error}; "
                "check that the tracking store is reachable."
            ) from self._error
