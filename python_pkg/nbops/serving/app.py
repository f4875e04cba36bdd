"""The ASGI dispatcher in front of MLflow's scoring apps, and the model wrapper that captures.

MLflow's own FastAPI app (``mlflow.pyfunc.scoring_server.init``) speaks the scoring protocol for
one model; nbops builds one per served version and puts :class:`Dispatcher` in front. Per request it
picks the version (champion, or a canary by the request ID's hash), enforces the bearer token and
the body limit, stamps ``X-Nbops-Model-Version`` and ``X-Request-Id`` on the answer, hands the
exchange to the inference log, and copies the request to the shadow version after the client has
its answer (``shadow.py``). The protocol itself (formats, 400 JSON errors) stays MLflow's.

The features and predictions reach the inference log without parsing the body twice:
:class:`CapturingModel` sits between MLflow's app and the real model and writes them into the
request's :class:`Exchange`, found through a context variable (``asyncio.to_thread`` copies it).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from .routing import choose

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_log = logging.getLogger("nbops.serving")

STATUS_PATH = "/nbops/status"
#: The canary verdict Argo Rollouts' AnalysisTemplate asks for (``?model=…&version=…``).
CANARY_PATH = "/nbops/canary"
#: Paths a load balancer or a rollout controller probes: answered without the token. The canary
#: verdict carries counts and rates, never features or predictions.
OPEN_PATHS = frozenset({"/ping", "/health", CANARY_PATH})
_MAX_REQUEST_ID = 200


class Served(Protocol):
    """A loaded version as the dispatcher sees it."""

    version: str
    app: ASGIApp
    model: CapturingModel


class ServingState(Protocol):
    """What the dispatcher reads per request (``nbops.serving.engine.Engine`` provides it)."""

    alias: str
    slots: dict[str, Served]
    canary: dict[str, int]
    shadow: str | None
    token: str | None
    settings: Any
    shadow_runner: ShadowCopies | None

    def record(self, version: str, exchange: Exchange, status: int, latency_ms: float) -> None: ...
    def status(self) -> dict[str, Any]: ...
    def canary_verdict(self, model: str, version: str) -> tuple[int, dict[str, Any]]: ...
    def start(self) -> None: ...
    def close(self) -> None: ...


class ShadowCopies(Protocol):
    """Where the dispatcher hands a copy of each answered request (``nbops.serving.shadow``)."""

    def submit(
        self, shadow: Served, answered: Served, scope: Scope, body: bytes, exchange: Exchange, *, busy: bool
    ) -> None: ...


@dataclass
class Exchange:
    """What one request left behind for the inference log (filled in by :class:`CapturingModel`)."""

    request_id: str
    features: Any = None
    params: dict[str, Any] | None = None
    predictions: Any = None
    model_error: str | None = None


_CURRENT: ContextVar[Exchange | None] = ContextVar("nbops_serving_exchange", default=None)


class CapturingModel:
    """The PyFuncModel MLflow's app calls, which also records what it saw.

    ``predict`` keeps MLflow's ``(data, params=None)`` signature (MLflow inspects it to decide
    whether to pass params). A schema error stays MLflow's (a 400); anything else the model raises
    becomes a 500 whose message names the version and exception type only — the traceback goes to
    the server log, never to the client.
    """

    def __init__(self, model: Any, version: str) -> None:
        self._model = model
        self.version = version

    @property
    def metadata(self) -> Any:
        return self._model.metadata

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INTERNAL_ERROR

        exchange = _CURRENT.get()
        if exchange is not None:
            exchange.params = params
        try:
            predictions = self._model.predict(data, params=params)
        except MlflowException:
            raise
        except Exception as exc:
            request_id = exchange.request_id if exchange else "-"
            _log.exception("version %s raised while predicting request %s", self.version, request_id)
            if exchange is not None:
                exchange.model_error = type(exc).__name__
            raise MlflowException(
                model_error_message(self.version, type(exc).__name__), INTERNAL_ERROR
            ) from None
        if exchange is not None:
            exchange.features, exchange.predictions = data, predictions
        return predictions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


def model_error_message(version: str, error: str) -> str:
    return f"model version {version} raised {error} while predicting; the server log has the details."


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error_code": code, "message": message}).encode()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def request_id_of(scope: Scope) -> str:
    """The client's ``X-Request-Id`` when it is a sane token, else a new uuid4 hex."""
    given = _header(scope, b"x-request-id")
    if given and len(given) <= _MAX_REQUEST_ID and given.isascii() and given.isprintable() and given.strip():
        return given.strip()
    return uuid.uuid4().hex


def authorized(scope: Scope, token: str | None) -> bool:
    if not token:
        return True
    given = _header(scope, b"authorization") or ""
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


class Dispatcher:
    """The ASGI callable uvicorn runs: routing, limits, headers, capture, shadow copies.

    It reads ``engine.slots`` (alias → served version) once per request; the follower replaces
    that mapping in one assignment, so a request keeps the version it took while a swap happens.
    """

    def __init__(self, engine: ServingState) -> None:
        self.engine = engine
        self.in_flight = 0  # requests between their body and their answer (read on the event loop only)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        engine = self.engine
        slots = engine.slots
        champion = slots[engine.alias]
        request_id = request_id_of(scope)
        stamp = [(b"x-request-id", request_id.encode())]
        path = scope.get("path", "")
        if path not in OPEN_PATHS and not authorized(scope, engine.token):
            message = "this server needs 'Authorization: Bearer <NBOPS_SERVE_TOKEN>'."
            headers = [
                *stamp,
                (b"x-nbops-model-version", champion.version.encode()),
                (b"www-authenticate", b"Bearer"),
            ]
            await _answer(send, 401, _error_body("UNAUTHENTICATED", message), headers)
            return
        if path == STATUS_PATH:
            body = json.dumps(await asyncio.to_thread(engine.status), default=str).encode()
            await _answer(send, 200, body, [*stamp, (b"x-nbops-model-version", champion.version.encode())])
            return
        if path == CANARY_PATH:
            code, answer = await asyncio.to_thread(_canary, engine, scope)  # may read the store
            body = json.dumps(answer, default=str).encode()
            await _answer(send, code, body, [*stamp, (b"x-nbops-model-version", champion.version.encode())])
            return
        if path == "/invocations" and scope.get("method") == "POST":
            await self._invoke(scope, receive, send, slots, request_id)
            return
        await champion.app(dict(scope), receive, _stamping(send, champion.version, request_id, None))

    async def _invoke(self, scope: Scope, receive: Receive, send: Send, slots: dict, request_id: str) -> None:
        engine = self.engine
        began = time.perf_counter()
        limit = engine.settings.max_body_bytes
        body = await _read_body(scope, receive, limit)
        if body is None:
            version = slots[engine.alias].version
            message = f"the request body is over the server's limit of {limit} bytes; send smaller batches."
            headers = [(b"x-request-id", request_id.encode()), (b"x-nbops-model-version", version.encode())]
            await _answer(send, 413, _error_body("REQUEST_TOO_LARGE", message), headers)
            return
        canary = choose(request_id, engine.canary)
        served = slots.get(canary) if canary else None
        served = served or slots[engine.alias]
        exchange = Exchange(request_id)
        status: list[int] = [500]
        token = _CURRENT.set(exchange)
        self.in_flight += 1
        try:
            await served.app(
                dict(scope),
                _replay(body, receive),
                _stamping(send, served.version, request_id, exchange, status),
            )
        finally:
            self.in_flight -= 1
            _CURRENT.reset(token)
            engine.record(served.version, exchange, status[0], (time.perf_counter() - began) * 1000.0)
        shadow = slots.get(engine.shadow) if engine.shadow else None
        if shadow is not None and engine.shadow_runner is not None:
            engine.shadow_runner.submit(shadow, served, scope, body, exchange, busy=self.in_flight > 0)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Start the background work (deployment record, follower) with the server; close it last."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await asyncio.to_thread(self.engine.start)
                except Exception as exc:
                    _log.exception("serving could not start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(self.engine.close)
                await send({"type": "lifespan.shutdown.complete"})
                return


def _canary(engine: ServingState, scope: Scope) -> tuple[int, dict[str, Any]]:
    """The canary verdict for ``?model=…&version=…`` (both required: a 400 JSON names the missing one)."""
    from urllib.parse import parse_qs

    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    model, version = (query.get(key, [""])[0].strip() for key in ("model", "version"))
    if not model or not version:
        missing = "model" if not model else "version"
        message = f"{CANARY_PATH} needs ?model=NAME&version=V; {missing} is missing."
        return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": message}
    return engine.canary_verdict(model, version)


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it is known to exceed ``limit`` bytes."""
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body over once, then waits on the client as usual."""
    given = [False]

    async def replay() -> Message:
        if not given[0]:
            given[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _stamping(
    send: Send, version: str, request_id: str, exchange: Exchange | None, status: list[int] | None = None
) -> Send:
    """A ``send`` that adds nbops' headers, and swaps a model error's body for a plain one-line JSON."""
    replaced = [False]

    async def stamped(message: Message) -> None:
        if message["type"] == "http.response.start":
            code = message["status"]
            if status is not None:
                status[0] = code
            headers = [
                (k, v)
                for k, v in message.get("headers", [])
                if k.lower() not in (b"x-request-id", b"x-nbops-model-version")
            ]
            headers += [(b"x-nbops-model-version", version.encode()), (b"x-request-id", request_id.encode())]
            if exchange is not None and exchange.model_error and code >= 500:
                replaced[0] = True
                body = _error_body("INTERNAL_ERROR", model_error_message(version, exchange.model_error))
                await _answer(
                    send,
                    code,
                    body,
                    [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-type")],
                )
                return
            message = {**message, "headers": headers}
        elif replaced[0]:
            return
        await send(message)

    return stamped
