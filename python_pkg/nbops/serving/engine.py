"""One served model in one process: its versions, inference log, deployment record and followers.

:class:`Engine` is what the dispatcher reads per request (``slots``, ``canary``, ``shadow``) and
what the background threads write: the follower swaps a slot when its alias moves, the heartbeat
keeps the deployment record current. Loading a version builds MLflow's own scoring app around a
:class:`~nbops.serving.app.CapturingModel`, after one warm-up prediction on the version's input
example so the first real request does not pay for lazy imports and caches.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NbopsError, NotFound
from .app import ASGIApp, CapturingModel, Exchange
from .following import Follower, Ticker, first_line
from .heap import freeze_loaded
from .inference_log import _rows
from .routing import check_split
from .shadow import ShadowRunner

_log = logging.getLogger("nbops.serving")

_Start = Path | str | None


@dataclass(frozen=True)
class Served:
    """A loaded version: the alias it serves for, MLflow's app around it, and its wrapper."""

    alias: str
    version: str
    app: ASGIApp
    model: CapturingModel


def parse_target(target: str) -> tuple[str, str]:
    """``"churn@champion"`` → ``("churn", "champion")``; the alias is what makes following possible."""
    name, sep, alias = str(target).strip().rpartition("@")
    if not sep or not name or not alias:
        raise InvalidInput(f"serve takes MODEL@ALIAS, e.g. churn@champion; got {target!r}.")
    return name, alias


def load_version(name: str, version: str, alias: str, start: _Start = None) -> Served:
    """Load version ``version`` of ``name``, warm it once, and build MLflow's scoring app for it."""
    from mlflow.pyfunc import scoring_server

    from .. import store

    mlflow = store.fluent(start)
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    example = getattr(model, "input_example", None)
    if example is not None:
        model.predict(example)
    wrapped = CapturingModel(model, str(version))
    return Served(alias, str(version), scoring_server.init(wrapped), wrapped)


class Engine:
    """The state of ``nbops serve NAME@ALIAS`` in one process."""

    def __init__(
        self,
        name: str,
        alias: str,
        *,
        url: str,
        canary: dict[str, int] | None = None,
        shadow: str | None = None,
        settings: Any = None,
        token: str | None = None,
        pinned: str | None = None,
        start: _Start = None,
    ) -> None:
        from .. import store
        from .canary_config import CanarySettings
        from .settings import ServingSettings

        self.name, self.alias, self.url, self.start_dir = name, alias, url, start
        self.canary = check_split(canary or {})
        self.shadow = shadow
        # A pinned engine (a version-pinned image) serves that version for its alias and never follows.
        self.pinned = str(pinned) if pinned else None
        if self.pinned and (self.canary or shadow):
            raise InvalidInput(
                f"{name}/{self.pinned} is pinned to one version; it takes no canary or shadow."
            )
        served = [alias, *self.canary, *([shadow] if shadow else [])]
        if len(set(served)) != len(served):
            raise InvalidInput(f"{name}@{alias}: the champion, canary and shadow aliases must all differ.")
        self.settings = settings or ServingSettings.from_settings(store.settings(start))
        self.canary_settings = CanarySettings.from_settings(store.settings(start))
        self.token = token if token is not None else (os.environ.get("NBOPS_SERVE_TOKEN") or None)
        self.slots: dict[str, Served] = {}
        self.failures: dict[str, dict[str, str]] = {}
        self.poll_error: str | None = None
        self.swaps: list[dict[str, str]] = []
        self.deployment_id: str | None = None
        self.log: Any = None
        self.shadow_runner: ShadowRunner | None = None
        self.analysis: Any = None
        self._threads: list[Any] = []
        self._closed = False
        self._lock = threading.Lock()

    @property
    def aliases(self) -> list[str]:
        return [self.alias, *self.canary, *([self.shadow] if self.shadow else [])]

    def load(self) -> None:
        """Load every served alias's current version; a missing alias or model is one clear line."""
        from .. import store

        model = _registered_model(store.client(self.start_dir), self.name)
        for alias in self.aliases:
            version = self.pinned if self.pinned and alias == self.alias else model.aliases.get(alias)
            if version is None:
                raise NotFound(
                    f"model {self.name!r} has no alias {alias!r}; promote a version to it first "
                    f"(nbops registry promote {self.name} VERSION {alias})."
                )
            try:
                self.slots = {
                    **self.slots,
                    alias: load_version(self.name, str(version), alias, self.start_dir),
                }
            except Exception as exc:
                raise NbopsError(
                    f"version {version} of {self.name!r} ({alias}) cannot be loaded: {first_line(exc)}"
                ) from exc

    def start(self) -> None:
        """Open the inference log, record the deployment, start following and heartbeats."""
        from .canary import start_analysis
        from .deployments import register_deployment
        from .inference_log import InferenceLog

        self.log = InferenceLog(self.name, self.settings, start=self.start_dir)
        if self.shadow:
            self.shadow_runner = ShadowRunner(self.record, share=self.settings.shadow_share)
        self.deployment_id = register_deployment(
            model=self.name,
            alias=self.alias,
            url=self.url,
            version=self.version,
            canary=self.canary or None,
            shadow=self.shadow,
            start=self.start_dir,
        )
        self._threads = [
            *([] if self.pinned else [Follower(self, self.settings.poll_seconds)]),
            Ticker(self.settings.heartbeat_seconds, self.heartbeat, "nbops-serve-heartbeat"),
        ]
        self.analysis = start_analysis(self, self.canary_settings)
        if self.analysis is not None:
            self.analysis.begin()
            self._threads.append(Ticker(self.settings.poll_seconds, self.analysis.tick, "nbops-serve-canary"))
        # What the first monitoring batch imports is loaded now, so it is frozen with the rest.
        from ..monitoring import alerting, batches  # noqa: F401

        freeze_loaded()
        for thread in self._threads:
            thread.start()

    def load_version(self, alias: str, version: str) -> Served:
        return load_version(self.name, version, alias, self.start_dir)

    @property
    def version(self) -> str:
        return self.slots[self.alias].version

    def swap(self, served: Served) -> None:
        """Serve ``served`` for its alias from the next request on (one reference assignment)."""
        with self._lock:
            previous = self.slots.get(served.alias)
            self.slots = {**self.slots, served.alias: served}
            self.failures.pop(served.alias, None)
            self.swaps.append(
                {
                    "alias": served.alias,
                    "from": previous.version if previous else "",
                    "to": served.version,
                    "at": _now(),
                }
            )
            del self.swaps[:-20]  # the recent ones are what status() shows
        _log.warning("%s@%s now serves version %s", self.name, served.alias, served.version)

    def failed(self, alias: str, version: str, exc: BaseException) -> None:
        """A version the alias moved to could not load: keep serving the old one, say so."""
        serving = self.slots[alias].version
        with self._lock:
            self.failures[alias] = {
                "alias": alias,
                "version": version,
                "serving": serving,
                "error": f"{type(exc).__name__}: {first_line(exc)}",
                "at": _now(),
            }
        _log.error(
            "%s@%s moved to version %s, which cannot be loaded (%s); still serving version %s",
            self.name, alias, version, first_line(exc), serving,
        )  # fmt: skip

    def record(self, version: str, exchange: Exchange, status: int, latency_ms: float) -> None:
        if self.analysis is not None:
            rows = _rows(exchange.features, exchange.predictions)
            self.analysis.observe(version, status, latency_ms, exchange.predictions, rows)
        if self.log is not None:
            self.log.record(
                version, exchange.request_id, exchange.features, exchange.predictions, latency_ms, status
            )

    def heartbeat(self) -> None:
        from .deployments import heartbeat

        if self.deployment_id is None:
            return
        try:
            heartbeat(
                self.deployment_id,
                version=self.version,
                canary=self.canary or None,
                stats=self.log.stats() if self.log is not None else {},
                canary_analysis=self.analysis.snapshot() if self.analysis is not None else None,
                start=self.start_dir,
            )
        except Exception as exc:  # the store being away must not stop serving
            _log.warning("heartbeat for deployment %s failed: %s", self.deployment_id, first_line(exc))

    def status(self) -> dict[str, Any]:
        """What this server serves and how it is doing, as JSON-ready facts."""
        with self._lock:
            slots = dict(self.slots)
            failures = list(self.failures.values())
            swaps = list(self.swaps)
        return {
            "model": self.name,
            "alias": self.alias,
            "url": self.url,
            "pid": os.getpid(),
            "deployment_id": self.deployment_id,
            "version": slots[self.alias].version,
            "versions": {alias: served.version for alias, served in slots.items()},
            "canary": dict(self.canary),
            "shadow": self.shadow,
            "failures": failures,
            "poll_error": self.poll_error,
            "swaps": swaps,
            "inference_log": self.log.stats() if self.log is not None else {},
            "shadow_copies": self.shadow_runner.stats() if self.shadow_runner is not None else {},
            "canary_analysis": self.analysis.snapshot() if self.analysis is not None else None,
        }

    def canary_verdict(self, model: str, version: str) -> tuple[int, dict[str, Any]]:
        """``GET /nbops/canary?model=…&version=…``: the verdict Argo Rollouts' analysis reads.

        A canary this server runs itself: ``running`` while the steps go on, ``passed`` once the
        version is promoted (or already is the champion), ``failed`` once it was rolled back,
        aborted or blocked by the policy; another version is a 404 there (its own canary is what
        it judges, and it moves to the version its canary alias moves to within ``poll_seconds``).

        A server that runs no canary judges any other version from the store (``canary_store``):
        in Kubernetes the canary runs in pods of its own and Argo asks a stable pod, which reads
        the batches both versions logged. Never a 404 for the version (Argo would count it as an
        error), only for another model; a store that cannot be read is a 503, which Argo retries.
        """
        from .canary_store import store_verdict

        if model != self.name:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST",
                         "message": f"this server serves {self.name!r}, not {model!r}."}  # fmt: skip
        if self.analysis is not None and self.analysis.version == version:
            state = self.analysis.snapshot()
            keys = ("verdict", "state", "reason", "step", "steps", "share", "requests", "rules")
            return 200, {"model": model, "version": version, "source": "server",
                         **{k: state[k] for k in keys}}  # fmt: skip
        if self.version == version:
            return 200, {"model": model, "version": version, "verdict": "passed", "state": "champion",
                         "reason": f"version {version} is the {self.alias}", "step": None,
                         "steps": [], "share": None, "requests": {}, "rules": []}  # fmt: skip
        if self.analysis is not None:
            return 404, {"error_code": "RESOURCE_DOES_NOT_EXIST",
                         "message": f"this server runs no canary of {model} version {version}; "
                                    f"nbops canary status {model} shows what runs."}  # fmt: skip
        try:
            return 200, store_verdict(self.name, self.version, version, self.canary_settings, self.start_dir)
        except Exception as exc:  # the store away: Argo counts an error and asks again
            _log.warning(
                "canary verdict of %s v%s from the store failed: %s", model, version, first_line(exc)
            )
            return 503, {"error_code": "TEMPORARILY_UNAVAILABLE",
                         "message": f"cannot read the canary's batches from the store: {first_line(exc)}"}  # fmt: skip

    def close(self) -> None:
        """Stop following, flush the inference log, end the deployment record (idempotent)."""
        from .deployments import end_deployment

        if self._closed:
            return
        self._closed = True
        for thread in self._threads:
            thread.stop()
        if self.shadow_runner is not None:
            self.shadow_runner.close()
        if self.log is not None:
            try:
                self.log.close()
            except Exception as exc:
                _log.warning("the inference log could not flush: %s", first_line(exc))
        if self.deployment_id is not None:
            try:
                end_deployment(self.deployment_id, start=self.start_dir)
            except Exception as exc:
                _log.warning("deployment %s could not be ended: %s", self.deployment_id, first_line(exc))


def _registered_model(client: Any, name: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise NotFound(
                f"no registered model named {name!r}; nbops registry list shows the models."
            ) from None
        raise


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
