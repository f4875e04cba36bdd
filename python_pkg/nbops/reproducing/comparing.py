"""Judging a reproduction: metrics within a relative tolerance, and the likely causes of a difference.

Pure functions over what the store returned (the original run, the new run, the version's pinned
requirements): no MLflow import here, so they are cheap to test and to reuse.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import ConfigError

#: The relative tolerance when neither ``--tolerance`` nor ``[tool.nbops.reproduce]`` names one.
DEFAULT_TOLERANCE = 0.01

REPRODUCED = "reproduced"
DIFFERS = "differs"
COULD_NOT_RUN = "could not run"


@dataclass(frozen=True)
class MetricRow:
    """One metric of the original run beside its reproduction."""

    name: str
    original: float
    new: float | None
    tolerance: float
    #: |new - original| / |original| (absolute difference when the original is 0); None if missing.
    difference: float | None
    ok: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: a non-finite number (a NaN metric) is written as null."""
        return {
            k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in asdict(self).items()
        }


def tolerances(tool: Mapping[str, Any], default: float | None, where: str) -> tuple[float, dict[str, float]]:
    """The default relative tolerance and per-metric overrides from ``[tool.nbops.reproduce]``.

    ``default`` (``--tolerance``) wins over the table's ``tolerance``; per-metric entries win over both.
    """
    table = tool.get("reproduce", {})
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.nbops.reproduce] in {where} must be a table, e.g. tolerance = 0.01.")
    base = default if default is not None else table.get("tolerance", DEFAULT_TOLERANCE)
    per_metric = table.get("metrics", {})
    if not isinstance(per_metric, dict):
        raise ConfigError(f"[tool.nbops.reproduce.metrics] in {where} must map metric names to tolerances.")
    for key, value in [("tolerance", base), *per_metric.items()]:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(
                f"tolerance {key} = {value!r} under [tool.nbops.reproduce] in {where} must be a number >= 0."
            )
    return float(base), {str(k): float(v) for k, v in per_metric.items()}


def compare_metrics(
    original: Mapping[str, float], new: Mapping[str, float], base: float, per_metric: Mapping[str, float]
) -> list[MetricRow]:
    """Every metric of the original run, compared relatively with the new run's value."""
    rows = []
    for name in sorted(original):
        tolerance = per_metric.get(name, base)
        was, now = float(original[name]), new.get(name)
        if now is None:
            rows.append(MetricRow(name, was, None, tolerance, None, False))
            continue
        now = float(now)
        if math.isnan(was) or math.isnan(now):
            same = math.isnan(was) and math.isnan(now)
            rows.append(MetricRow(name, was, now, tolerance, 0.0 if same else math.inf, same))
            continue
        gap = abs(now - was)
        difference = gap / abs(was) if was != 0 else gap
        rows.append(MetricRow(name, was, now, tolerance, difference, difference <= tolerance))
    return rows


def datasets(tags: Mapping[str, str]) -> dict[str, str]:
    """Dataset name → full-content SHA-256, from a run's ``nbops.dataset.<name>.sha256`` tags."""
    return {
        key.removeprefix("nbops.dataset.").removesuffix(".sha256"): value
        for key, value in tags.items()
        if key.startswith("nbops.dataset.") and key.endswith(".sha256")
    }


def dataset_changes(original: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """One line per dataset whose content differs, or that one of the runs lacks."""
    lines = []
    for name in sorted(set(original) | set(new)):
        was, now = original.get(name), new.get(name)
        if was == now:
            continue
        if was is None:
            lines.append(f"dataset {name} is new (the original run did not log it)")
        elif now is None:
            lines.append(f"dataset {name} was not logged by the new run")
        else:
            lines.append(f"dataset {name} changed (sha256 {was[:12]}… then, {now[:12]}… now)")
    return lines


def environment_changes(pinned: list[str], installed: Mapping[str, tuple[str, str]]) -> list[str]:
    """``name pinned → installed`` for each pinned requirement this environment has at another version."""
    lines = []
    for requirement in pinned:
        name, sep, version = requirement.strip().partition("==")
        if not sep:
            continue
        found = installed.get(name.strip().lower())
        if found is None:
            lines.append(f"{name} {version} → not installed")
        elif found[1] != version.strip():
            lines.append(f"{found[0]} {version} → {found[1]}")
    return lines


def declared_parameters(notebook: Any) -> list[str]:
    """The names the notebook's ``parameters`` cell assigns (what papermill may set), in order."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                return []
            names = []
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                names += [t.id for t in targets if isinstance(t, ast.Name)]
            return names
    return []


def parameter_value(text: str) -> Any:
    """A logged parameter (MLflow keeps text) as the Python value it was: numbers, booleans, None, lists."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
