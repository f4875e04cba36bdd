"""How a canary is judged: the ``[tool.nbops.canary]`` table, read and checked once at start-up.

The same table drives ``nbops deploy manifests`` (Argo's ``steps`` and ``pause``) and the automatic
analysis of ``nbops serve --canary``: one set of steps for a laptop server and a cluster. Each rule
is a limit *relative to the champion on the same window*, so a busy hour that slows both versions
does not fail the challenger. A typo (``error_rates``) or a step list that goes down is refused
with one line naming the key: a canary judged by a rule nobody wrote is worse than none.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import Settings

TABLE = "[tool.nbops.canary]"

#: rule → (what its value is, lowest allowed limit, highest allowed limit)
RULES: dict[str, tuple[str, float, float]] = {
    "error_rate": ("challenger's error rate minus the champion's", 0.0, 1.0),
    "latency_p95": ("challenger's p95 latency divided by the champion's", 0.0, math.inf),
    "prediction_drift": ("distance between the two versions' prediction distributions (0–1)", 0.0, 1.0),
    "performance": ("champion's labelled metric minus the challenger's", 0.0, math.inf),
}
DEFAULT_RULES = {"error_rate": 0.01, "latency_p95": 1.5}
KEYS = ("analysis", "steps", "min_requests", "step_seconds", "rules", "performance_metric", "pause")


@dataclass(frozen=True)
class CanarySettings:
    """The canary knobs; ``CanarySettings.from_settings(config.resolve())`` reads the project's.

    ``analysis`` is on when the project has a ``[tool.nbops.canary]`` table (a canary without one
    stays a fixed split, as before the table existed) unless ``analysis = false``.
    """

    analysis: bool = False
    steps: tuple[int, ...] = (10, 50, 100)
    min_requests: int = 100  # per version, per step
    step_seconds: float = 60.0  # each step holds at least this long
    rules: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RULES))
    performance_metric: str = "quality.accuracy"

    @classmethod
    def from_settings(cls, settings: Settings) -> CanarySettings:
        """The ``[tool.nbops.canary]`` table of a resolved project, checked, over the defaults."""
        table = settings.tool.get("canary")
        where = f" in {settings.pyproject}" if settings.pyproject else ""
        if table is None:
            return cls()
        if not isinstance(table, dict):
            raise ConfigError(f"{TABLE}{where} must be a table; see the README's serving section.")
        unknown = sorted(set(table) - set(KEYS))
        if unknown:
            raise ConfigError(
                f"unknown key {unknown[0]!r} under {TABLE}{where}; the keys are {', '.join(KEYS)}."
            )
        analysis = table.get("analysis", True)
        if not isinstance(analysis, bool):
            raise ConfigError(f"analysis under {TABLE}{where} must be true or false, not {analysis!r}.")
        return cls(
            analysis=analysis,
            steps=_steps(table.get("steps", [10, 50, 100]), where),
            min_requests=_number(table, "min_requests", 100, where, whole=True, low=1),
            step_seconds=_number(table, "step_seconds", 60.0, where, whole=False, low=0),
            rules=_rules(table.get("rules", DEFAULT_RULES), where),
            performance_metric=_text(table, "performance_metric", "quality.accuracy", where),
        )

    def plan(self, first: int) -> list[int]:
        """The shares a canary started at ``first`` % moves through; reaching 100 is the promotion."""
        return [first, *(s for s in self.steps if s > first and s < 100)]


def _steps(value: Any, where: str) -> tuple[int, ...]:
    fine = (
        isinstance(value, list)
        and value
        and all(isinstance(s, int) and not isinstance(s, bool) for s in value)
    )
    if not fine:
        raise ConfigError(f"steps under {TABLE}{where} must be a list of percentages, e.g. [10, 50, 100].")
    outside = [s for s in value if not 1 <= s <= 100]
    if outside:
        raise ConfigError(
            f"steps under {TABLE}{where}: {outside[0]} % is out of range; each step is 1 to 100."
        )
    if any(b <= a for a, b in itertools.pairwise(value)):
        raise ConfigError(f"steps under {TABLE}{where} must be increasing, e.g. [10, 50, 100]; got {value}.")
    return tuple(value)


def _rules(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, dict) or not value:
        raise ConfigError(
            f"rules under {TABLE}{where} must be a table of limits, e.g. rules = {{ error_rate = 0.01 }}."
        )
    rules: dict[str, float] = {}
    for name, limit in value.items():
        if name not in RULES:
            raise ConfigError(
                f"unknown canary rule {name!r} under {TABLE}{where}; the rules are {', '.join(RULES)}."
            )
        _, low, high = RULES[name]
        fits = isinstance(limit, int | float) and not isinstance(limit, bool) and math.isfinite(limit)
        if not fits or not low <= limit <= high:
            span = f"from {low:g} to {high:g}" if math.isfinite(high) else f"a number >= {low:g}"
            raise ConfigError(f"canary rule {name} under {TABLE}{where} must be {span}, not {limit!r}.")
        rules[name] = float(limit)
    return rules


def _number(table: dict[str, Any], key: str, default: float, where: str, *, whole: bool, low: float) -> Any:
    value = table.get(key, default)
    kind = int if whole else int | float
    fits = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value) and value >= low
    if not fits:
        wanted = f"a whole number >= {low:g}" if whole else f"a number of seconds >= {low:g}"
        raise ConfigError(f"{key} under {TABLE}{where} must be {wanted}, not {value!r}.")
    return value


def _text(table: dict[str, Any], key: str, default: str, where: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f'{key} under {TABLE}{where} must be a metric name, e.g. "quality.accuracy".')
    return value.strip()
