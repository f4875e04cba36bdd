"""Shadow copies: each request scored by the shadow version too, after the client has its answer.

The shadow never shares a thread with the champion's requests: its copies run on a thread pool of
their own, at most ``max_in_flight`` at once, and a copy that arrives while that many run is
dropped and counted rather than queued. A shadow that sleeps or raises therefore holds only its
own thread, and its answers go to the inference log under the shadow version.

Two things keep a busy server's champion fast:

* **Parsed once.** When the shadow version takes the same column schema as the version that
  answered, the shadow scores the input MLflow's app already parsed for that answer (through
  the same pyfunc ``predict``, which enforces the schema again into a new frame); only
  otherwise does the copy go through MLflow's app from the raw body. On a one-row sklearn
  request this is about a third of the work of answering it.
* **A CPU budget while requests wait.** Every copy takes CPU the champion's requests could
  have used, so while other requests are in flight the shadow may use at most ``share`` of one
  core, on average (``[tool.nbops.serving] shadow_share``); copies beyond it are dropped and
  counted. An idle server shadows every request; a saturated one shadows a steady sample.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .app import _CURRENT, Exchange, Message, Scope, _replay

_log = logging.getLogger("nbops.serving")


class ShadowRunner:
    """Copies of requests to the shadow version, on a thread pool (and event loop) of their own."""

    def __init__(
        self,
        record: Callable[[str, Exchange, int, float], None],
        *,
        share: float = 0.05,
        max_in_flight: int = 1,
    ) -> None:
        self._record = record
        self._max = max_in_flight
        self._share = share
        self._burst = share  # a second's worth of budget, spent at once after a quiet spell
        self._credit = self._burst  # seconds of CPU the shadow may still take while requests wait
        self._refilled = time.monotonic()
        self._same_input: dict[tuple[str, str], bool] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.in_flight = self.sent = self.failed = self.dropped = 0
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="nbops-shadow")
        self._loop = asyncio.new_event_loop()
        self._loop.set_default_executor(self._pool)
        self._thread = threading.Thread(target=self._loop.run_forever, name="nbops-shadow-loop", daemon=True)
        self._thread.start()

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "sent": self.sent,
                "failed": self.failed,
                "dropped": self.dropped,
                "in_flight": self.in_flight,
            }

    def submit(
        self,
        shadow: Any,
        answered: Any,
        scope: Scope,
        body: bytes,
        exchange: Exchange,
        *,
        busy: bool,
    ) -> None:
        """Copy a request answered by ``answered`` to ``shadow``, or drop it (counted); returns at once.

        ``exchange`` is what the answer captured (the parsed input, when the model was reached);
        ``busy`` says whether other requests are in flight, when the CPU budget applies.
        """
        with self._lock:
            now = time.monotonic()
            self._credit = min(self._credit + (now - self._refilled) * self._share, self._burst)
            self._refilled = now
            if self._closed or self.in_flight >= self._max or (busy and self._credit <= 0):
                self.dropped += 1
                return
            self.in_flight += 1
            self.sent += 1
        if exchange.features is not None and self._takes_same_input(answered, shadow):
            self._pool.submit(self._score, shadow, exchange.features, exchange.params, exchange.request_id)
        else:
            asyncio.run_coroutine_threadsafe(
                self._through_app(shadow, dict(scope), body, exchange.request_id), self._loop
            )

    def _takes_same_input(self, answered: Any, shadow: Any) -> bool:
        """Whether both versions declare the same column schema (then one parse serves both)."""
        key = (answered.version, shadow.version)
        same = self._same_input.get(key)
        if same is None:
            try:
                mine = answered.model.metadata.get_input_schema()
                theirs = shadow.model.metadata.get_input_schema()
                same = mine is not None and not mine.is_tensor_spec() and mine == theirs
            except Exception:
                same = False
            self._same_input[key] = same
        return same

    def _score(self, shadow: Any, features: Any, params: dict[str, Any] | None, request_id: str) -> None:
        """On a pool thread: the shadow's pyfunc ``predict`` on the input already parsed."""
        from mlflow.exceptions import MlflowException

        exchange = Exchange(request_id)
        token = _CURRENT.set(exchange)
        status = 200
        began, cpu = time.perf_counter(), time.thread_time()
        try:
            shadow.model.predict(features, params=params)
        except MlflowException:  # a schema refusal (400), or the model raised (500, logged by the wrapper)
            status = 500 if exchange.model_error else 400
        except Exception:
            status = 500
            _log.exception("shadow version %s failed on request %s", shadow.version, request_id)
        finally:
            _CURRENT.reset(token)
            self._done(shadow.version, exchange, status, began, time.thread_time() - cpu)

    async def _through_app(self, shadow: Any, scope: Scope, body: bytes, request_id: str) -> None:
        """On the shadow's loop: the copy through MLflow's app, from the raw body."""
        exchange = Exchange(request_id)
        _CURRENT.set(exchange)  # this task's own context: the champion's exchange is not touched
        status = [500]
        began = time.perf_counter()

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]

        try:
            await shadow.app(scope, _replay(body, _no_client), send)
        except Exception:
            _log.exception("shadow version %s failed on request %s", shadow.version, request_id)
        finally:
            # Its CPU is spread over this loop and a pool thread: the time it took is charged.
            self._done(shadow.version, exchange, status[0], began, time.perf_counter() - began)

    def _done(self, version: str, exchange: Exchange, status: int, began: float, cost: float) -> None:
        with self._lock:
            self.in_flight -= 1
            self.failed += status >= 500
            self._credit = max(self._credit - cost, -self._burst)
        self._record(version, exchange, status, (time.perf_counter() - began) * 1000.0)

    def close(self, timeout: float = 5.0) -> None:
        """Let copies in flight finish for up to ``timeout`` seconds, then stop the loop and pool."""
        with self._lock:
            self._closed = True
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.02)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=1.0)
        self._pool.shutdown(wait=False, cancel_futures=True)


async def _no_client() -> Message:
    """What a copy's app hears after the body: no client to hang up; it stops listening when it answers."""
    await asyncio.sleep(3600)
    return {"type": "http.disconnect"}
