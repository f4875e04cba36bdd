"""Keeping a running server in step with the registry: alias following and heartbeats.

Promoting or rolling back an alias is the whole deployment: the follower re-reads the model's
aliases every ``poll_seconds`` (one indexed query for all of them), loads a version the alias moved to
*beside* the one serving, warms it, and only then swaps it in. A version that cannot load never
replaces a working one: the old version keeps serving, and the failure is kept in the server's
status and logged (nbops' alerting opens alerts from monitoring rules only, so there is no alert
to open for it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from .heap import freeze_loaded

_log = logging.getLogger("nbops.serving")


def first_line(exc: BaseException) -> str:
    """An exception's first line, bounded: what a status field or a log line can carry."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


class Ticker(threading.Thread):
    """Call ``action`` every ``interval`` seconds until :meth:`stop`; an error is logged, not fatal."""

    def __init__(self, interval: float, action: Callable[[], None], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.interval = interval
        self.action = action
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.action()
            except Exception:
                _log.exception("%s failed", self.name)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)


class Follower(Ticker):
    """Re-reads the served aliases and swaps in the versions they point to.

    ``engine`` is the serving engine: ``name``, ``start_dir``, ``aliases``, ``slots``, ``failures``,
    ``poll_error``, ``load_version(alias, version)``, ``swap(served)`` and ``failed(...)``.
    """

    def __init__(self, engine: Any, poll_seconds: float) -> None:
        super().__init__(poll_seconds, self.tick, "nbops-serve-follower")
        self.engine = engine
        self._swapped = False

    def tick(self) -> None:
        """One pass; the first after a swap settles the heap, the old version's requests done by then."""
        if self._swapped:
            self._swapped = False
            freeze_loaded()
        self.check()

    def check(self) -> None:
        """One pass: read the aliases once, load and swap each one that moved."""
        from .. import store
        from ..registry.versions import model_aliases

        engine = self.engine
        try:
            aliases = model_aliases(store.client(engine.start_dir), engine.name)
        except Exception as exc:  # store away: keep serving what we have
            engine.poll_error = f"{type(exc).__name__}: {first_line(exc)}"
            return
        engine.poll_error = None
        for alias in engine.aliases:
            holder = aliases.get(alias)
            if holder is None or self._stopped.is_set():
                continue  # an alias removed keeps its last version serving
            current = engine.slots[alias].version
            if holder == current:
                engine.failures.pop(alias, None)  # moved back to what serves
                continue
            if engine.failures.get(alias, {}).get("version") == holder:
                continue  # already failed to load; retried only once the alias moves again
            try:
                served = engine.load_version(alias, holder)
            except Exception as exc:
                engine.failed(alias, holder, exc)
                continue
            engine.swap(served)
            self._swapped = True
