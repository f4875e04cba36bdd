"""The monitoring widgets: DriftReport (a drift table) and MetricChart (metrics over batches).

Both are pure views of data handed to them, so no MLflow store is needed: the
tests build the drift table and the series the way ``nbops.monitoring`` returns
them, and check the traits the browser gets, the static HTML and the plain text.
"""

from __future__ import annotations

import json
import math
import re
import sys
import types

import numpy as np
import pandas as pd
import pytest

from nbops.errors import InvalidInput
from nbops.widgets import DriftReport, MetricChart
from nbops.widgets.drift_report import COLUMNS
from nbops.widgets.metric_chart import EMPTY_TEXT, x_ticks, y_ticks

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
NAN = float("nan")
EVIL = "<script>alert(1)</script>"


def _bundle(widget) -> dict:
    data = widget._repr_mimebundle_()
    return data[0] if isinstance(data, tuple) else data


def drift_table() -> pd.DataFrame:
    """A table shaped like ``nbops.monitoring.drift.drift``'s: every column, in order."""
    # fmt: off
    rows = [
        # feature, kind, n_reference, n_current, missing_current, statistic, p_value, ks, ks_pvalue,
        # wasserstein, psi, chi2, chi2_pvalue, unseen_share, effect, drifted, schema_violation, note
        ["age", "numeric", 1000, 950, 0, 0.031, 0.42, 0.031, 0.42, 0.37, 0.012, NAN, NAN, NAN, 0.031, False, False, ""],
        ["income", "numeric", 1000, 950, 12, 0.29, 3.1e-12, 0.29, 3.1e-12, 5421.5, 0.91, NAN, NAN, NAN, 0.29, True, False, ""],
        ["city", "categorical", 1000, 950, 0, 48.7, 2.2e-4, NAN, NAN, NAN, 0.31, 48.7, 2.2e-4, 0.042, 0.21, True, False, ""],
        [EVIL, "categorical", 1000, 950, 0, 1.2, 0.55, NAN, NAN, NAN, 0.004, 1.2, 0.55, 0.0, 0.01, False, False, ""],
        ["zip", "numeric", 1000, 0, 950, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, False, True, "missing from the batch"],
        ["tenure", "numeric", 1000, 0, 950, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, False, False, "<b>no values</b> in the batch"],
    ]
    # fmt: on
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    return table.astype({"n_reference": "int64", "n_current": "int64", "missing_current": "int64"})


def series() -> dict[str, list[dict]]:
    start = 1_714_550_400_000  # 2024-05-01 08:00 UTC
    share = [0.0, 0.1, 0.2, 0.15, 0.45, 0.5]
    psi = [0.01, 0.05, 0.12, 0.1, 0.3, 0.36]
    return {
        "drift.share": [
            {"step": i, "timestamp": start + i * 3_600_000, "value": v} for i, v in enumerate(share)
        ],
        # Unsorted, numpy scalars and a NaN, as a careless caller might hand them over.
        "psi.max": [
            {"step": np.int64(i), "timestamp": start + i * 3_600_000, "value": np.float64(v)}
            for i, v in reversed(list(enumerate(psi)))
        ]
        + [{"step": 6, "timestamp": start + 6 * 3_600_000, "value": NAN}],
    }


# -- DriftReport ---------------------------------------------------------------------------


def test_drift_report_rows_are_json_safe_and_drifted_first() -> None:
    report = DriftReport(drift_table(), title="batch 7")
    rows = report.rows
    # Drifted (by PSI), then the schema problem, then the rest (by PSI, none last).
    assert [r["feature"] for r in rows] == ["income", "city", "zip", "age", EVIL, "tenure"]
    income, city, zip_, age, _, _ = rows
    assert list(income)[: len(COLUMNS)] == list(COLUMNS)
    assert income["psi"] == 0.91 and income["p_value"] == 3.1e-12 and income["drifted"] is True
    assert income["chi2"] is None and income["unseen_share"] is None  # NaN → None
    assert city["ks"] is None and city["wasserstein"] is None and city["unseen_share"] == 0.042
    assert zip_["schema_violation"] is True and zip_["statistic"] is None and zip_["psi"] is None
    assert zip_["note"] == "missing from the batch"
    assert type(age["n_current"]) is int and type(age["drifted"]) is bool  # no numpy scalars
    state = report.get_state()
    json.dumps(state["rows"], allow_nan=False)  # what JSON.parse in the browser accepts
    assert state["title"] == "batch 7"
    assert "export default" in state["_esm"]  # drift_report.js
    # The share is drift_share's: drifted features of those evaluated (rows without a note).
    assert report.summary_text() == "2 of 4 features drifted (50%) · 2 not evaluated · 1 schema problem"


def test_drift_report_rows_set_later_are_made_json_safe_too() -> None:
    report = DriftReport()
    assert report.rows == [] and report.summary_text() == "No features compared."
    report.rows = [{"feature": "a", "psi": NAN, "wasserstein": math.inf, "n_current": np.int64(3)}]
    assert report.rows == [{"feature": "a", "psi": None, "wasserstein": None, "n_current": 3}]


def test_drift_report_without_a_feature_column_is_refused() -> None:
    with pytest.raises(InvalidInput, match="'feature' column"):
        DriftReport(pd.DataFrame({"x": [1]}))
    with pytest.raises(InvalidInput):
        DriftReport([{"feature": "a"}])


def test_drift_report_static_html_escapes_and_draws_bars() -> None:
    bundle = _bundle(DriftReport(drift_table(), title="<i>batch</i>"))
    assert bundle[WIDGET_VIEW]["model_id"]  # JupyterLab still renders the live widget
    static = bundle["text/html"]
    assert "<script>" not in static and "<b>" not in static and "<i>" not in static
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in static
    assert "&lt;b&gt;no values&lt;/b&gt; in the batch" in static and "&lt;i&gt;batch&lt;/i&gt;" in static
    assert "<p>2 of 4 features drifted (50%) · 2 not evaluated · 1 schema problem</p>" in static
    # Bars: PSI on a scale of max(0.5, the largest PSI) = 0.91; drifted red, the rest green.
    widths = re.findall(r'nbops-drift-static-bar" style="width: ([\d.]+)%; [^"]*background: ([^"]+)"', static)
    assert widths == [
        ("100.0", "var(--jp-error-color1, #d32f2f)"),
        (f"{100 * 0.31 / 0.91:.1f}", "var(--jp-error-color1, #d32f2f)"),
        (f"{100 * 0.012 / 0.91:.1f}", "var(--jp-success-color1, #388e3c)"),
        (f"{100 * 0.004 / 0.91:.1f}", "var(--jp-success-color1, #388e3c)"),
    ]  # zip and tenure have no PSI: no bar
    warn = "var(--jp-warn-color1, #f57c00)"
    assert f'<span style="color: {warn}">missing from the batch</span>' in static
    assert f'<span style="color: {warn}">schema problem</span>' in static
    # Numbers: p-values below 1e-3 in scientific notation; unseen share as a percentage.
    assert "<td>3.1e-12</td>" in static and "<td>2.2e-04</td>" in static and "<td>0.42</td>" in static
    assert "<td>5,422</td>" in static and "<td>4.2% unseen</td>" in static


def test_drift_report_plain_text_summarises_each_feature() -> None:
    plain = _bundle(DriftReport(drift_table()))["text/plain"]
    lines = plain.splitlines()
    assert lines[0] == "DriftReport: 2 of 4 features drifted (50%) · 2 not evaluated · 1 schema problem"
    assert lines[1] == "  ✗ income (numeric): drifted, PSI 0.91, p 3.1e-12"
    assert lines[3] == "  ! zip (numeric): schema problem, PSI —, p —; missing from the batch"
    assert lines[5] == f"  ✓ {EVIL} (categorical): no drift, PSI 0.004, p 0.55"
    assert lines[6] == "  · tenure (numeric): not evaluated, PSI —, p —; <b>no values</b> in the batch"


def test_from_data_calls_drift_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_drift(reference, current, **kw):
        calls.append((reference, current, kw))
        return drift_table()

    fake = types.ModuleType("nbops.monitoring.drift")
    fake.drift = fake_drift
    monkeypatch.setitem(sys.modules, "nbops.monitoring.drift", fake)
    report = DriftReport.from_data("ref", "cur", title="t", alpha=0.01)
    assert calls == [("ref", "cur", {"alpha": 0.01})]
    assert report.title == "t" and len(report.rows) == 6


def test_from_data_on_real_frames() -> None:
    rng = np.random.default_rng(0)
    colors = ["red", "green", "blue"]
    reference = pd.DataFrame(
        {
            "stable": rng.normal(0, 1, 2000),
            "shifted": rng.normal(0, 1, 2000),
            "color": rng.choice(colors, 2000),
        }
    )
    current = pd.DataFrame(
        {
            "stable": rng.normal(0, 1, 1500),
            "shifted": rng.normal(2, 1, 1500),
            "color": rng.choice(colors, 1500),
        }
    )
    report = DriftReport.from_data(reference, current.drop(columns="color"), title="batch 1")
    by_name = {r["feature"]: r for r in report.rows}
    assert set(by_name) == {"stable", "shifted", "color"}
    assert report.rows[0]["feature"] == "shifted" and by_name["shifted"]["drifted"] is True
    assert by_name["shifted"]["psi"] > 0.5 and by_name["shifted"]["p_value"] < 1e-3
    assert by_name["stable"]["drifted"] is False and by_name["stable"]["chi2"] is None
    assert by_name["color"]["kind"] == "categorical" and by_name["color"]["schema_violation"] is True
    json.dumps(report.get_state()["rows"], allow_nan=False)
    bundle = _bundle(report)
    assert bundle["text/plain"].startswith(
        "DriftReport 'batch 1': 1 of 2 features drifted (50%) · 1 not evaluated · 1 schema problem"
    )
    assert "nbops-drift-static-bar" in bundle["text/html"]


# -- MetricChart -------------------------------------------------------------------------


def test_metric_chart_traits_are_sorted_json_safe_points() -> None:
    chart = MetricChart(series(), title="churn v3", thresholds={"drift.share": np.float64(0.3)})
    assert list(chart.series) == ["drift.share", "psi.max"]
    psi = chart.series["psi.max"]
    assert [p["step"] for p in psi] == [0, 1, 2, 3, 4, 5]  # sorted; the NaN point left out
    assert psi[-1] == {"step": 5, "timestamp": 1_714_550_400_000 + 5 * 3_600_000, "value": 0.36}
    assert type(psi[0]["step"]) is int and type(psi[0]["value"]) is float
    assert chart.thresholds == {"drift.share": 0.3}
    state = chart.get_state()
    json.dumps({k: state[k] for k in ("series", "title", "thresholds")}, allow_nan=False)
    assert "export default" in state["_esm"]  # metric_chart.js
    chart.series = {"x": [{"step": 2, "timestamp": None, "value": np.float32(1.5)}]}  # set later: cleaned too
    assert chart.series == {"x": [{"step": 2, "timestamp": None, "value": 1.5}]}


def test_metric_chart_refuses_malformed_series() -> None:
    with pytest.raises(InvalidInput, match="series must map metric names"):
        MetricChart([1, 2])
    with pytest.raises(InvalidInput, match="each point of 'm' needs an integer 'step'"):
        MetricChart({"m": [{"value": 1.0}]})
    with pytest.raises(InvalidInput, match="the threshold of 'm' must be a number"):
        MetricChart({"m": []}, thresholds={"m": "high"})


def test_metric_chart_static_fallback_is_an_svg_and_the_last_values() -> None:
    bundle = _bundle(MetricChart(series(), title="<b>churn</b>", thresholds={"drift.share": 0.3}))
    assert bundle[WIDGET_VIEW]["model_id"]
    static = bundle["text/html"]
    assert "<b>churn" not in static and "&lt;b&gt;churn&lt;/b&gt;" in static
    assert static.count("<svg") == 1 and static.count('class="nbops-chart-static-line"') == 2
    assert static.count('class="nbops-chart-static-threshold"') == 1 and 'stroke-dasharray="6 4"' in static
    assert "var(--jp-brand-color1, #1976d2)" in static and "var(--jp-warn-color1, #f57c00)" in static
    assert static.count("<circle") == 12
    # The y axis: gridlines from 0 to 0.6 cover the values and the threshold.
    labels = re.findall(r'text-anchor="end"[^>]*>([^<]+)</text>', static)
    assert labels == ["0", "0.2", "0.4", "0.6"]
    assert "<td>drift.share</td><td>0.5</td><td>5</td>" in static
    assert "<td>0.3</td><td>6</td>" in static  # threshold and number of batches
    plain = bundle["text/plain"]
    assert plain.startswith("MetricChart '<b>churn</b>': 2 metrics\n  drift.share: 0.5 at step 5 (")
    assert plain.endswith("6 batches")
    assert ", 6 batches; threshold 0.3\n" in plain


def test_metric_chart_empty_state() -> None:
    for empty in ({}, {"drift.share": []}):
        bundle = _bundle(MetricChart(empty))
        assert EMPTY_TEXT in bundle["text/html"] and "<svg" not in bundle["text/html"]
        assert bundle["text/plain"] == f"MetricChart: {EMPTY_TEXT}"
    assert EMPTY_TEXT == "No monitoring batches yet — log one with nbops.monitor.log_batch(...)"


def test_metric_chart_for_version_asks_monitoring_series(monkeypatch: pytest.MonkeyPatch) -> None:
    import nbops.monitoring

    calls = []

    def fake_series(name, version, metrics=None, start=None):
        calls.append((name, version, metrics, start))
        return series()

    monkeypatch.setattr(nbops.monitoring, "series", fake_series, raising=False)
    chart = MetricChart.for_version("churn", 3, thresholds={"drift.share": 0.3})
    assert calls == [("churn", 3, ["drift.share"], None)]
    assert chart.title == "churn version 3" and chart.thresholds == {"drift.share": 0.3}
    assert len(chart.series["drift.share"]) == 6
    MetricChart.for_version("churn", "2", metrics=None, start="/somewhere", title="")
    assert calls[-1] == ("churn", "2", None, "/somewhere")
    MetricChart.for_version("churn", 2, metrics="drift.*")  # a pattern, not a list of letters
    assert calls[-1] == ("churn", 2, "drift.*", None)


def test_ticks_are_nice_and_cover_the_range() -> None:
    assert y_ticks(0.0, 0.5) == [0.0, 0.2, 0.4, 0.6]  # 4 gridlines fit tighter than 5
    assert y_ticks(0.0, 1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert y_ticks(0.11, 0.19) == [0.1, 0.125, 0.15, 0.175, 0.2]
    assert y_ticks(-3, 12) == [-5.0, 0.0, 5.0, 10.0, 15.0]
    assert y_ticks(0.3, 0.3) == [0.26, 0.28, 0.3, 0.32, 0.34]  # one value: a band around it
    for low, high in [(0.0013, 0.0091), (17, 9431), (-1e6, 1)]:
        ticks = y_ticks(low, high)
        assert len(ticks) in (4, 5) and ticks[0] <= low and ticks[-1] >= high
    assert x_ticks(0, 5) == [0, 1, 2, 3, 4, 5]
    assert x_ticks(0, 11) == [0, 2, 4, 6, 8, 10]
    assert x_ticks(3, 3) == [3]
    assert len(x_ticks(1, 1000)) <= 8


def test_monitoring_widgets_load_lazily() -> None:
    import subprocess

    code = (
        "import sys, nbops.widgets as w\n"
        "print(sorted(m for m in ('anywidget', 'pandas', 'nbops.widgets.drift_report') if m in sys.modules))\n"
        "w.DriftReport, w.MetricChart\n"
        "print('mlflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "False"]
