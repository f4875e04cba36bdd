"""The window a canary step is judged on, and the rules that judge it.

Every answered request adds to its version's counters (a few list appends under one lock, on the
request's thread; no store call): requests, server errors, latencies and the predictions' values.
A step's verdict compares the challenger with the champion *on the same window*, so a slow minute
for the machine is a slow minute for both. The performance rule is the one that needs the store:
labels arrive later, through ``nbops.monitor.log_labels``, onto the versions' monitoring runs.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from .canary_config import RULES

#: Prediction values kept per version and step: enough for a distance, bounded in memory.
MAX_VALUES = 5000
#: Latencies kept per version and step: a uniform sample (reservoir) once a step sees more.
MAX_LATENCIES = 20_000


@dataclass
class Counters:
    """One version's traffic in the current step."""

    requests: int = 0
    errors: int = 0
    timed: int = 0  # requests whose latency counts (all but 4xx); ``latencies`` samples them
    latencies: list[float] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": self.error_rate(),
            "latency_p95_ms": self.p95(),
        }

    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    def p95(self) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


class Window:
    """The counters of the champion's and the challenger's versions since the step began."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_version: dict[str, Counters] = {}

    def observe(self, version: str, status: int, latency_ms: float, values: list[Any]) -> None:
        with self._lock:
            counters = self.by_version.setdefault(str(version), Counters())
            counters.requests += 1
            if status >= 500:
                counters.errors += 1
            if status < 400 or status >= 500:  # a refused request (4xx) says nothing of the model's speed
                counters.timed += 1
                if len(counters.latencies) < MAX_LATENCIES:
                    counters.latencies.append(latency_ms)
                elif (slot := random.randrange(counters.timed)) < MAX_LATENCIES:
                    counters.latencies[slot] = latency_ms
            room = MAX_VALUES - len(counters.values)
            if room > 0 and values:
                counters.values.extend(values[:room])

    def snapshot(self, version: str) -> Counters:
        with self._lock:
            found = self.by_version.get(str(version), Counters())
            return Counters(
                found.requests, found.errors, found.timed, list(found.latencies), list(found.values)
            )


def evaluate(
    rules: dict[str, float],
    champion: Counters,
    challenger: Counters,
    performance: tuple[float | None, float | None] = (None, None),
) -> list[dict[str, Any]]:
    """Each rule's value against its limit: ``passed`` is True, False, or None (nothing to judge yet)."""
    results = []
    for name, limit in rules.items():
        value, note = _value(name, champion, challenger, performance)
        passed = None if value is None else bool(value <= limit + 1e-12)
        results.append(
            {
                "rule": name,
                "value": value,
                "limit": limit,
                "passed": passed,
                "means": RULES[name][0],
                "note": note,
            }
        )
    return results


def _value(
    name: str, champion: Counters, challenger: Counters, performance: tuple[float | None, float | None]
) -> tuple[float | None, str]:
    if name == "error_rate":
        a, b = champion.error_rate(), challenger.error_rate()
        if a is None or b is None:
            return None, "no requests yet"
        return b - a, f"challenger {b:.1%} vs champion {a:.1%} errors"
    if name == "latency_p95":
        a, b = champion.p95(), challenger.p95()
        if a is None or b is None:
            return None, "no answered requests yet"
        return b / max(a, 1e-6), f"challenger p95 {b:.1f} ms vs champion {a:.1f} ms"
    if name == "prediction_drift":
        if not champion.values or not challenger.values:
            return None, "no predictions yet"
        return distance(champion.values, challenger.values), "distance of the prediction distributions"
    base, new = performance
    if base is None or new is None:
        return None, "no labels for both versions yet"
    return base - new, f"challenger {new:.4g} vs champion {base:.4g}"


def distance(a: list[Any], b: list[Any]) -> float:
    """0 when two samples of predictions look alike, 1 when they never overlap.

    Numbers with many distinct values: the two-sample Kolmogorov–Smirnov statistic. Classes (or few
    distinct values): the total variation distance of their frequencies.
    """
    import numpy as np

    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (*a, *b))
    if numeric and len(set(a) | set(b)) > 20:
        x, y = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
        grid = np.concatenate([x, y])
        cdf_x = np.searchsorted(x, grid, side="right") / len(x)
        cdf_y = np.searchsorted(y, grid, side="right") / len(y)
        return float(np.max(np.abs(cdf_x - cdf_y)))
    keys = [str(v) for v in a], [str(v) for v in b]
    labels = set(keys[0]) | set(keys[1])
    share = [{k: s.count(k) / len(s) for k in labels} for s in keys]
    return float(sum(abs(share[0][k] - share[1][k]) for k in labels) / 2)


def prediction_values(predictions: Any, rows: int) -> list[Any]:
    """A request's predictions as one plain value per row (none when they are not one per row)."""
    from .inference_log import _predictions

    array, values = _predictions(predictions, rows)
    return [] if array is None else [v for v in values if v is not None]
