"""Automatic canary analysis inside ``nbops serve MODEL@champion --canary challenger=10``.

The server already splits traffic by request ID and knows which version answered each request, so
it judges the canary on what each version actually served. A step lasts until both versions have
``min_requests`` requests in it and ``step_seconds`` have passed; then every rule of
``[tool.nbops.canary]`` is compared with its limit:

* all pass → the next step's share (10 → 50 → …); after the last step below 100 %, the challenger's
  version is promoted to the champion alias through the registry's normal ``promote`` — the
  promotion policy's required gates still apply, and a refusal ends the canary as *blocked*, never
  as a forced promotion;
* one fails → the canary goes to 0 %, the champion keeps serving, an alert is opened, and the
  verdict names the rule and its values.

Every start, step and ending is an audit event. The state is kept on the deployment run (see
``canary_records``), re-written on each change, so ``nbops canary status`` reads it from anywhere
and ``nbops canary promote|abort`` reach the server through the same record.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from .canary_config import CanarySettings
from .canary_records import ABORTED, ACTIONS, BLOCKED, PROMOTED, ROLLED_BACK, RUNNING, VERDICTS
from .canary_rules import Window, evaluate, prediction_values
from .following import first_line

_log = logging.getLogger("nbops.serving")


class CanaryAnalysis:
    """The canary of one server: its window, its step, and what it decided.

    ``engine`` is the serving engine (``name``, ``alias``, ``canary``, ``slots``, ``start_dir``,
    ``deployment_id``); the analysis changes the split by assigning ``engine.canary`` a new dict,
    which the dispatcher reads once per request.
    """

    def __init__(self, engine: Any, alias: str, settings: CanarySettings) -> None:
        self.engine = engine
        self.alias = alias
        self.settings = settings
        self.shares = settings.plan(engine.canary[alias])
        self.step = 1
        self.state = RUNNING
        self.reason = "collecting requests"
        self.results: list[dict[str, Any]] = []
        self.window = Window()
        self.began = time.monotonic()
        self.champion_version = ""
        self.version = ""
        self._handled: str | None = None
        self._lock = threading.Lock()

    # --- the request side ------------------------------------------------------------------------

    def observe(self, version: str, status: int, latency_ms: float, predictions: Any, rows: int) -> None:
        """Count one answered request for the current step (no store call)."""
        if self.state != RUNNING:
            return
        values = prediction_values(predictions, rows) if predictions is not None else []
        self.window.observe(version, status, latency_ms, values)

    # --- the background side ---------------------------------------------------------------------

    def begin(self) -> None:
        """Record the start: the versions compared, the plan, an audit event."""
        from .canary_records import audit_event, save_state

        self._versions()
        state = self.snapshot()
        save_state(self.engine.deployment_id, state, self.engine.start_dir)
        plan = " → ".join(f"{s} %" for s in self.shares)
        audit_event(
            "canary-started",
            state,
            f"canary of {self.alias} at {plan}, then promotion",
            self.engine.start_dir,
        )

    def _maybe_restart(self) -> None:
        """The canary alias moved to a new version after the last canary ended: judge that one."""
        slots = self.engine.slots
        current = slots[self.alias].version
        if current in (self.version, slots[self.engine.alias].version):
            return
        with self._lock:
            self.step, self.state, self.reason, self.results = 1, RUNNING, "collecting requests", []
            self.window, self.began = Window(), time.monotonic()
        self.engine.canary = {**self.engine.canary, self.alias: self.shares[0]}
        self.begin()

    def _versions(self) -> None:
        slots = self.engine.slots
        self.champion_version = slots[self.engine.alias].version
        self.version = slots[self.alias].version

    def tick(self) -> None:
        """One pass of the ticker: a command from a person first, then the step's verdict."""
        if self.engine.deployment_id is None:
            return
        if self.state != RUNNING:
            self._maybe_restart()
            return
        self._follow_command()
        if self.state != RUNNING:
            return
        if self.engine.slots[self.alias].version != self.version:  # the alias moved mid-canary
            with self._lock:
                self.step, self.reason, self.results = 1, "collecting requests", []
                self.window, self.began = Window(), time.monotonic()
            self.engine.canary = {**self.engine.canary, self.alias: self.shares[0]}
            self.begin()
        self._versions()
        champion = self.window.snapshot(self.champion_version)
        challenger = self.window.snapshot(self.version)
        enough = min(champion.requests, challenger.requests) >= self.settings.min_requests
        due = enough and time.monotonic() - self.began >= self.settings.step_seconds
        # The labelled metric is a store read: only when the step is judged, not on every pass.
        performance = self._performance() if due and "performance" in self.settings.rules else (None, None)
        self.results = evaluate(self.settings.rules, champion, challenger, performance)
        failed = [r for r in self.results if r["passed"] is False]
        if not due:
            self.reason = (
                f"step {self.step}: {challenger.requests} challenger and {champion.requests} champion "
                f"requests of {self.settings.min_requests} needed, for at least {self.settings.step_seconds:g} s"
            )
            return
        if failed:
            self._roll_back(failed)
        elif self.step < len(self.shares):
            self._advance()
        else:
            self._promote()

    def _advance(self) -> None:
        from .canary_records import audit_event, save_state

        passed = self.snapshot()
        self.step += 1
        share = self.shares[self.step - 1]
        self.engine.canary = {**self.engine.canary, self.alias: share}
        self.window, self.began = Window(), time.monotonic()
        self.reason = f"step {self.step - 1} passed; now {share} %"
        _log.warning("%s canary of v%s: %s", self.engine.name, self.version, self.reason)
        save_state(self.engine.deployment_id, self.snapshot(), self.engine.start_dir)
        audit_event("canary-step", passed, f"step {passed['step']} at {passed['share']} % passed: "
                    f"{_summary(self.results)}; moving to {share} %", self.engine.start_dir)  # fmt: skip

    def _promote(self) -> None:
        from .. import registry
        from ..errors import PolicyError

        reason = f"canary passed every step ({' → '.join(f'{s} %' for s in self.shares)}): {_summary(self.results)}"
        try:
            registry.promote(
                self.engine.name,
                self.version,
                self.engine.alias,
                reason,
                source="canary",
                actor="nbops serve",
                start=self.engine.start_dir,
            )
        except PolicyError:
            gaps = registry.policy_gaps(
                self.engine.name, self.version, self.engine.alias, self.engine.start_dir
            )
            self._end(BLOCKED, f"blocked by policy: missing gates {', '.join(gaps)}")
            return
        except Exception as exc:  # the store away: try again on the next pass
            self.reason = f"promotion failed, retrying: {first_line(exc)}"
            _log.warning("%s canary: %s", self.engine.name, self.reason)
            return
        self._end(PROMOTED, reason)

    def _roll_back(self, failed: list[dict[str, Any]]) -> None:
        from .canary_records import open_alert

        reason = "; ".join(
            f"rule {r['rule']} failed: {r['value']:.4g} > limit {r['limit']:g} ({r['note']})" for r in failed
        )
        self._end(ROLLED_BACK, reason)
        open_alert(self.snapshot(), failed, self.engine.start_dir)

    def _follow_command(self) -> None:
        """Act on ``nbops canary promote|abort`` written on the deployment run (already audited there)."""
        from .canary_records import read_command

        try:
            command = read_command(self.engine.deployment_id, self.engine.start_dir)
        except Exception as exc:
            _log.warning("%s canary: cannot read commands: %s", self.engine.name, first_line(exc))
            return
        if not command or command.get("id") == self._handled:
            return
        if command.get("version") not in (None, self.version):
            return  # meant for an earlier canary of this server
        self._handled = command.get("id")
        action = command.get("action")
        if action in (PROMOTED, ABORTED):
            reason = f"{action} by {command.get('actor', 'someone')}: {command.get('reason', '')}"
            self._end(action, reason, recorded=True)

    def _end(self, ending: str, reason: str, *, recorded: bool = False) -> None:
        """0 % to the challenger, the state saved; audit and notify unless the command did already."""
        from .canary_records import audit_event, notify, save_state

        with self._lock:
            if self.state != RUNNING:
                return
            self.state, self.reason = ending, reason
        self.engine.canary = {**self.engine.canary, self.alias: 0}
        _log.warning("%s canary of v%s %s: %s", self.engine.name, self.version, ending, reason)
        state = self.snapshot()
        try:
            save_state(self.engine.deployment_id, state, self.engine.start_dir)
        except Exception as exc:
            _log.warning("%s canary state could not be saved: %s", self.engine.name, first_line(exc))
        if not recorded:
            audit_event(ACTIONS[ending], state, reason, self.engine.start_dir)
            notify(state, self.engine.start_dir)

    def _performance(self) -> tuple[float | None, float | None]:
        """The labelled metric of both versions from their monitoring runs (None until labels came)."""
        from ..monitoring.runs import latest

        metric = self.settings.performance_metric
        try:
            champion = latest(self.engine.name, self.champion_version, self.engine.start_dir)
            challenger = latest(self.engine.name, self.version, self.engine.start_dir)
        except Exception:
            return None, None
        return champion.get(metric), challenger.get(metric)

    # --- reading -----------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The canary as ``nbops canary status`` and ``/nbops/canary`` show it: JSON-ready."""
        champion = self.window.snapshot(self.champion_version).summary()
        challenger = self.window.snapshot(self.version).summary()
        return {
            "model": self.engine.name,
            "deployment_id": self.engine.deployment_id,
            "alias": self.alias,
            "version": self.version,
            "champion_alias": self.engine.alias,
            "champion_version": self.champion_version,
            "state": self.state,
            "verdict": VERDICTS[self.state],
            "reason": self.reason,
            "step": self.step,
            "steps": list(self.shares),
            "share": self.engine.canary.get(self.alias, 0),
            "min_requests": self.settings.min_requests,
            "requests": {"champion": champion, "challenger": challenger},
            "rules": list(self.results),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }


def _summary(results: list[dict[str, Any]]) -> str:
    judged = [f"{r['rule']} {r['value']:.3g} <= {r['limit']:g}" for r in results if r["passed"]]
    return ", ".join(judged) or "no rule had data"


def start_analysis(engine: Any, settings: CanarySettings) -> CanaryAnalysis | None:
    """The analysis for ``engine``'s canary, or None when there is none to judge."""
    from ..errors import ConfigError

    if not settings.analysis or not engine.canary:
        return None
    if len(engine.canary) > 1:
        raise ConfigError(
            "automatic canary analysis judges one canary alias at a time; give one --canary, "
            "or set analysis = false under [tool.nbops.canary]."
        )
    (alias,) = engine.canary
    return CanaryAnalysis(engine, alias, settings)
