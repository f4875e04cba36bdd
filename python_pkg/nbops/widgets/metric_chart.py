"""``MetricChart``: monitoring metrics of a model version over its batches, as a line chart.

The series are what ``nbops.monitoring.series`` returns: metric name → points
``{"step", "timestamp" (ms since the epoch), "value"}``. The browser draws an SVG
line chart (x: the batch step, y: the value) with a legend, optional dashed
threshold lines and a tooltip on hover or keyboard focus. Its mimebundle also
carries a small static SVG of the same chart with the last values, and a
plain-text summary, for viewers that do not run widgets.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..errors import InvalidInput
from .common import css, esm, format_number, format_time, with_static_fallback

#: Line colours, in order of the metrics (metric_chart.js uses the same).
LINE_COLORS = (
    "var(--jp-brand-color1, #1976d2)",
    "var(--jp-warn-color1, #f57c00)",
    "var(--jp-error-color1, #d32f2f)",
    "var(--jp-success-color1, #388e3c)",
    "var(--jp-info-color1, #0097a7)",
    "var(--jp-brand-color3, #90caf9)",
)
EMPTY_TEXT = "No monitoring batches yet — log one with nbops.monitor.log_batch(...)"
#: The static chart: size and margins in px (the live one has its own in metric_chart.js).
WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 12, 32
#: Markers in the static chart only up to this many points per metric.
STATIC_MARKERS = 200


class MetricChart(anywidget.AnyWidget):
    """Monitoring metrics over batches: one line per metric, thresholds dashed."""

    _esm = esm("metric_chart.js")
    _css = css("metric_chart.css")

    #: Metric name → points ``{"step": int, "timestamp": int | None, "value": float}``, by step.
    series = traitlets.Dict().tag(sync=True)
    #: A line above the chart; empty for none.
    title = traitlets.Unicode("").tag(sync=True)
    #: Metric name → a value drawn as a dashed horizontal line (e.g. the alert level).
    thresholds = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        series: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        title: str = "",
        thresholds: Mapping[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        # Cleaned here too: a list where a dict belongs should be InvalidInput, not a TraitError.
        super().__init__(
            series=clean_series({} if series is None else series),
            title=title,
            thresholds=clean_thresholds(thresholds),
            **kwargs,
        )

    @classmethod
    def for_version(
        cls,
        name: str,
        version: str | int,
        metrics: Sequence[str] | str | None = ("drift.share",),
        start: Path | str | None = None,
        *,
        title: str | None = None,
        thresholds: Mapping[str, float] | None = None,
    ) -> MetricChart:
        """The monitoring metrics of version ``version`` of model ``name``.

        ``metrics`` are names or shell-style patterns (``"drift.*"``); ``None`` means all
        but the per-feature ones, as ``nbops.monitoring.series`` reads them.
        """
        from .. import monitoring

        wanted = metrics if metrics is None or isinstance(metrics, str) else list(metrics)
        series = monitoring.series(name, version, wanted, start=start)
        return cls(
            series, title=f"{name} version {version}" if title is None else title, thresholds=thresholds
        )

    @traitlets.validate("series")
    def _clean_series(self, proposal: Any) -> dict[str, list[dict[str, Any]]]:
        return clean_series(proposal["value"])

    @traitlets.validate("thresholds")
    def _clean_thresholds(self, proposal: Any) -> dict[str, float]:
        return clean_thresholds(proposal["value"])

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | dict | None:
        return with_static_fallback(
            super()._repr_mimebundle_(**kwargs),
            chart_html(self.series, self.title, self.thresholds),
            chart_text(self.series, self.title, self.thresholds),
        )


# -- the data ---------------------------------------------------------------------------


def _epoch_ms(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(value)


def clean_series(series: Any) -> dict[str, list[dict[str, Any]]]:
    """Points as JSON-safe dicts sorted by step; points whose value is NaN or infinite are left out."""
    if not isinstance(series, Mapping):
        raise InvalidInput(
            f"series must map metric names to lists of points, not {type(series).__name__}: "
            "use nbops.monitoring.series(...)."
        )
    clean: dict[str, list[dict[str, Any]]] = {}
    for name, points in series.items():
        shown = []
        for point in points or ():
            try:
                step, value = int(point["step"]), float(point["value"])
                timestamp = _epoch_ms(point.get("timestamp"))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise InvalidInput(
                    f"each point of {name!r} needs an integer 'step', a numeric 'value' and "
                    f"a 'timestamp' in ms since the epoch; got {point!r}."
                ) from exc
            if math.isfinite(value):
                shown.append({"step": step, "timestamp": timestamp, "value": value})
        shown.sort(key=lambda p: (p["step"], p["timestamp"] or 0))
        clean[str(name)] = shown
    return clean


def clean_thresholds(thresholds: Any) -> dict[str, float]:
    if thresholds is None:
        return {}
    if not isinstance(thresholds, Mapping):
        raise InvalidInput(f"thresholds must map metric names to numbers, not {type(thresholds).__name__}.")
    clean = {}
    for name, value in thresholds.items():
        try:
            value = float(value)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"the threshold of {name!r} must be a number, got {value!r}.") from exc
        if math.isfinite(value):
            clean[str(name)] = value
    return clean


# -- scales (metric_chart.js computes the same) -------------------------------------------

_MANTISSAS = (1.0, 2.0, 2.5, 5.0)


def _nice_steps(raw: float) -> list[float]:
    """Nice step sizes (1, 2, 2.5, 5 × 10^k) of at least ``raw``, smallest first."""
    exponent = math.floor(math.log10(raw))
    steps = (m * 10.0**e for e in range(exponent, exponent + 3) for m in _MANTISSAS)
    return [step for step in steps if step >= raw * (1 - 1e-9)]


def y_ticks(low: float, high: float) -> list[float]:
    """Four or five gridline values, a nice step apart, from at or below ``low`` to at or above ``high``.

    Of the nice steps that cover the range in 3 or 4 intervals, the tightest fit wins.
    """
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    best: tuple[float, int, float, float] | None = None
    for step in _nice_steps((high - low) / 4):
        start = math.floor(low / step + 1e-9) * step
        for intervals in (4, 3):
            if start + intervals * step >= high - 1e-9 * step:
                fit = (intervals * step, -intervals, start, step)
                best = fit if best is None or fit < best else best
    assert best is not None  # the largest nice step covers any range in three intervals
    _span, intervals, start, step = best
    return [float(f"{start + i * step:.10g}") for i in range(-intervals + 1)]


def x_ticks(first: int, last: int, most: int = 8) -> list[int]:
    """Integer steps between ``first`` and ``last``, a nice distance apart, at most ``most`` of them."""
    if last <= first:
        return [first]
    step = int(next(s for s in _nice_steps(max((last - first) / (most - 1), 1)) if s == int(s)))
    return list(range(math.ceil(first / step) * step, last + 1, step))


# -- static rendering ---------------------------------------------------------------------


def _shown(series: Mapping[str, list[dict[str, Any]]]) -> list[tuple[str, list[dict[str, Any]], str]]:
    """(metric, points, colour) of each metric, colours by position like the live chart."""
    return [
        (name, points, LINE_COLORS[i % len(LINE_COLORS)]) for i, (name, points) in enumerate(series.items())
    ]


def chart_svg(series: Mapping[str, list[dict[str, Any]]], thresholds: Mapping[str, float]) -> str:
    """A small inline SVG of the chart: gridlines with labels, one polyline per metric, thresholds dashed."""
    shown = _shown(series)
    points = [p for _, pts, _ in shown for p in pts]
    if not points:
        return ""
    steps = [p["step"] for p in points]
    ticks = y_ticks(
        min([p["value"] for p in points] + list(thresholds.values())),
        max([p["value"] for p in points] + list(thresholds.values())),
    )
    first, last = min(steps), max(steps)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(step: int) -> float:
        return LEFT + (plot_w / 2 if last == first else 8 + (step - first) * (plot_w - 16) / (last - first))

    def y(value: float) -> float:
        return TOP + plot_h - (value - ticks[0]) * plot_h / (ticks[-1] - ticks[0])

    text = 'style="fill: var(--jp-ui-font-color2, #616161)" font-size="11"'
    grid = 'style="stroke: var(--jp-border-color2, #e0e0e0)"'
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="nbops-chart-static-svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(", ".join(series), quote=True)} by batch">'
    ]
    for tick in ticks:
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" {grid}/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" {text}>{format_number(tick)}</text>'
        )
    for step in x_ticks(first, last):
        parts.append(
            f'<text x="{x(step):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" {text}>{step}</text>'
        )
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 2}" text-anchor="middle" {text}>batch (step)</text>'
    )
    colors = {name: color for name, _, color in shown}
    for name, value in thresholds.items():
        color = colors.get(name, "var(--jp-warn-color1, #f57c00)")
        parts.append(
            f'<line class="nbops-chart-static-threshold" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" '
            f'y2="{y(value):.1f}" stroke-dasharray="6 4" style="stroke: {color}"/>'
        )
    for name, pts, color in shown:
        if not pts:
            continue
        coords = " ".join(f"{x(p['step']):.1f},{y(p['value']):.1f}" for p in pts)
        parts.append(
            f'<polyline class="nbops-chart-static-line" points="{coords}" fill="none" stroke-width="2" '
            f'style="stroke: {color}"><title>{html.escape(name)}</title></polyline>'
        )
        if len(pts) <= STATIC_MARKERS:
            for p in pts:
                label = html.escape(
                    f"{name} · step {p['step']} · {format_time(p['timestamp'])} · {format_number(p['value'])}"
                )
                parts.append(
                    f'<circle cx="{x(p["step"]):.1f}" cy="{y(p["value"]):.1f}" r="3" style="fill: {color}">'
                    f"<title>{label}</title></circle>"
                )
    parts.append("</svg>")
    return "".join(parts)


def chart_html(
    series: Mapping[str, list[dict[str, Any]]], title: str = "", thresholds: Mapping[str, float] | None = None
) -> str:
    """The chart as static HTML: the SVG and a table of each metric's last value; all text escaped."""
    esc = html.escape
    thresholds = thresholds or {}
    parts = ['<div class="nbops-chart-static">']
    if title:
        parts.append(f"<p><strong>{esc(title)}</strong></p>")
    if not any(series.values()):
        parts.append(f"<p>{esc(EMPTY_TEXT)}</p></div>")
        return "".join(parts)
    parts.append(chart_svg(series, thresholds))
    parts.append("<table><thead><tr><th></th><th>Metric</th><th>Last value</th><th>Step</th><th>Time</th>")
    parts.append("<th>Threshold</th><th>Batches</th></tr></thead><tbody>")
    for name, points, color in _shown(series):
        last = points[-1] if points else None
        cells = [
            f'<span style="color: {color}">■</span>',
            esc(name),
            esc(format_number(last["value"])) if last else "—",
            str(last["step"]) if last else "—",
            esc(format_time(last["timestamp"])) if last else "—",
            esc(format_number(thresholds[name])) if name in thresholds else "",
            str(len(points)),
        ]
        parts.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    parts.append("</tbody></table></div>")
    return "".join(parts)


def chart_text(
    series: Mapping[str, list[dict[str, Any]]], title: str = "", thresholds: Mapping[str, float] | None = None
) -> str:
    """The last value of each metric, one line each."""
    thresholds = thresholds or {}
    head = f"MetricChart{f' {title!r}' if title else ''}"
    if not any(series.values()):
        return f"{head}: {EMPTY_TEXT}"
    lines = [f"{head}: {len(series)} metric{'' if len(series) == 1 else 's'}"]
    for name, points in series.items():
        if not points:
            lines.append(f"  {name}: no points")
            continue
        last = points[-1]
        line = f"  {name}: {format_number(last['value'])} at step {last['step']} ({format_time(last['timestamp'])})"
        line += f", {len(points)} batch{'' if len(points) == 1 else 'es'}"
        if name in thresholds:
            line += f"; threshold {format_number(thresholds[name])}"
        lines.append(line)
    return "\n".join(lines)
